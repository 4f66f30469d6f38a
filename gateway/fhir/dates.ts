/**
 * FHIR date, dateTime and instant values as millisecond ranges. A partial value stands for the
 * whole span it names: `2024-05` is every instant of May 2024.
 *
 * A value without a time-zone offset is read in the deployment's local zone, which for Vietnam
 * is UTC+07:00 (no daylight saving). Configurable because a value's zone is not in the data.
 */
export let LOCAL_OFFSET_MINUTES = 7 * 60;

export function setLocalOffsetMinutes(minutes: number): void {
  LOCAL_OFFSET_MINUTES = minutes;
}

export type Range = readonly [low: number, high: number];

const DATE_TIME =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** The range a FHIR date/dateTime/instant covers, or undefined if the text is not one. */
export function dateRange(text: string): Range | undefined {
  const m = DATE_TIME.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  const month = mo ? Number(mo) - 1 : 0;
  const day = d ? Number(d) : 1;
  // Date.UTC would roll 30 February over into March: check each part against the calendar.
  if (month > 11 || day < 1 || day > new Date(Date.UTC(year, month + 1, 0)).getUTCDate()) return undefined;
  if ((h && Number(h) > 23) || (mi && Number(mi) > 59) || (s && Number(s) > 59)) return undefined;
  if (zone && zone !== 'Z' && (Number(zone.slice(1, 3)) > 14 || Number(zone.slice(4, 6)) > 59)) return undefined;
  const offset = zone === undefined || zone === '' ? LOCAL_OFFSET_MINUTES : zone === 'Z' ? 0 : zoneMinutes(zone);
  const ms = frac ? Math.floor(Number(`0.${frac}`) * 1000) : 0;
  const low = Date.UTC(year, month, day, h ? Number(h) : 0, mi ? Number(mi) : 0, s ? Number(s) : 0, ms) - offset * 60_000;
  if (Number.isNaN(low)) return undefined;
  // The end of the span: one unit of the given precision later, minus one millisecond.
  let next: number;
  if (!mo) next = Date.UTC(year + 1, 0, 1) - offset * 60_000;
  else if (!d) next = Date.UTC(year, month + 1, 1) - offset * 60_000;
  else if (!h) next = Date.UTC(year, month, day + 1) - offset * 60_000;
  else if (!s) next = low + 60_000;
  else if (!frac) next = low + 1000;
  else next = low + 1;
  return [low, next - 1];
}

function zoneMinutes(zone: string): number {
  const sign = zone[0] === '-' ? -1 : 1;
  return sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
}

/** An instant as the deployment's wall clock reads it: `YYYY-MM-DDTHH:mm:ss.sss` (no zone). */
export function localIso(ms: number): string {
  return new Date(ms + LOCAL_OFFSET_MINUTES * 60_000).toISOString().slice(0, 23);
}

export const OPEN_LOW = Number.NEGATIVE_INFINITY;
export const OPEN_HIGH = Number.POSITIVE_INFINITY;

/** A millisecond bound as PostgreSQL `timestamptz` text (infinite bounds included). */
export function toTimestamp(ms: number): string {
  if (ms === OPEN_LOW) return '-infinity';
  if (ms === OPEN_HIGH) return 'infinity';
  return new Date(ms).toISOString();
}
