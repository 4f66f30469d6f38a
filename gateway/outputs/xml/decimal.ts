/**
 * Exact decimal arithmetic for amounts, quantities and prices: a value is an integer of units of
 * 10^-SCALE (BigInt). Binary floating point would round 1.005 down to 1.00 and make the XML1 totals
 * disagree with the lines the portal adds up; the standard rounds half up at 2 or 3 decimals.
 */
export type Decimal = bigint;

/** Six decimals: a quantity (3 dp) times a price (3 dp) is exact; ratios are divided last. */
export const SCALE = 6;
const ONE = 10n ** BigInt(SCALE);

/**
 * A JSON number or numeric string as a Decimal, or undefined when it is not a finite decimal.
 * A number is read through its shortest decimal form (`1.005` → 1.005), which is what the sender wrote.
 */
export function toDecimal(value: unknown): Decimal | undefined {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return undefined;
    // Most amounts, quantities and ratios are whole: no text to go through (~10× cheaper).
    if (Number.isSafeInteger(value)) return BigInt(value) * ONE;
    text = numberText(value);
  } else if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim())) {
    text = value.trim();
  } else {
    return undefined;
  }
  const negative = text.startsWith('-');
  const [whole, fraction = ''] = (negative ? text.slice(1) : text).split('.');
  // Digits beyond SCALE are rounded half up, as any further rounding would be.
  const kept = fraction.slice(0, SCALE).padEnd(SCALE, '0');
  let units = BigInt(whole) * ONE + BigInt(kept);
  if (fraction.length > SCALE && fraction.charCodeAt(SCALE) >= 53 /* '5' */) units += 1n;
  return negative ? -units : units;
}

/** `1e21` and `1e-7` are not decimal text; expand them. */
function numberText(n: number): string {
  const s = String(n);
  if (!/e/i.test(s)) return s;
  if (Math.abs(n) >= 1e21) return BigInt(n).toString(); // an integer in a double at that size
  return n.toFixed(SCALE + 2).replace(/\.?0+$/, '');
}

export const fromInteger = (n: number | bigint): Decimal => BigInt(n) * ONE;

/** Rounds half up (away from zero) to `places` decimals. */
export function round(d: Decimal, places: number): Decimal {
  const step = 10n ** BigInt(SCALE - places);
  const half = step / 2n;
  const magnitude = d < 0n ? -d : d;
  const rounded = ((magnitude + half) / step) * step;
  return d < 0n ? -rounded : rounded;
}

export const multiply = (a: Decimal, b: Decimal): Decimal => (a * b) / ONE;

/** a × percent / 100, exact to SCALE then left for the caller to round. */
export const percent = (a: Decimal, pct: number | bigint): Decimal => (a * BigInt(pct)) / 100n;

export const max = (a: Decimal, b: Decimal): Decimal => (a > b ? a : b);

/** Fixed decimals, `.` separator, no thousands separator: `38700.000`, `12.50`, `0`. */
export function formatDecimal(d: Decimal, places: number): string {
  const r = round(d, places);
  const negative = r < 0n;
  const magnitude = negative ? -r : r;
  const whole = magnitude / ONE;
  const fraction = (magnitude % ONE).toString().padStart(SCALE, '0').slice(0, places);
  return `${negative ? '-' : ''}${whole}${places > 0 ? `.${fraction}` : ''}`;
}

/** Back to a JS number, for FHIRPath rules over rows (only ever at 2–3 decimals, exact in a double). */
export const toNumber = (d: Decimal): number => Number(formatDecimal(d, SCALE));
