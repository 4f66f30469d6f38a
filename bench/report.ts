import { cpus, totalmem } from 'node:os';

/**
 * What `npm run bench` reports: every figure measured, and every target of the benchmark issue with
 * its figure, its goal and whether it was met, printed as a table and written to bench/results.json.
 */
export interface Figure {
  section: string;
  name: string;
  value: number;
  unit: string;
  /** What was measured, in words, when the name alone does not say it. */
  note?: string;
}

export interface Target {
  name: string;
  figure: number;
  unit: string;
  goal: string;
  met: boolean;
  /** How far off a missed target is ("3.2× short"). */
  shortBy?: string;
}

export class BenchReport {
  readonly figures: Figure[] = [];
  readonly targets: Target[] = [];
  readonly skipped: string[] = [];

  figure(section: string, name: string, value: number, unit: string, note?: string): number {
    this.figures.push({ section, name, value, unit, ...(note ? { note } : {}) });
    return value;
  }

  /** A target met when the figure is at least `goal` (throughputs, speed-ups). */
  atLeast(name: string, figure: number, goal: number, unit: string): void {
    const met = figure >= goal;
    this.targets.push({ name, figure, unit, goal: `≥ ${format(goal)} ${unit}`, met, ...(met ? {} : { shortBy: `${format(goal / figure)}× short` }) });
  }

  /** A target met when the figure is at most `goal` (latencies, ratios to a floor). */
  atMost(name: string, figure: number, goal: number, unit: string): void {
    const met = figure <= goal;
    this.targets.push({ name, figure, unit, goal: `≤ ${format(goal)} ${unit}`, met, ...(met ? {} : { shortBy: `${format(figure / goal)}× over` }) });
  }

  print(out: (line: string) => void = console.log): void {
    let section = '';
    const rows: string[][] = [];
    for (const f of this.figures) {
      if (f.section !== section) rows.push([`${f.section}`, '', '']), (section = f.section);
      rows.push([`  ${f.name}`, format(f.value), f.unit + (f.note ? `  (${f.note})` : '')]);
    }
    table(rows, out);
    out('');
    out('targets');
    table(this.targets.map((t) => [`  ${t.met ? 'met ' : 'MISS'} ${t.name}`, format(t.figure), `${t.unit}   goal ${t.goal}${t.shortBy ? `, ${t.shortBy}` : ''}`]), out);
    for (const s of this.skipped) out(`skipped: ${s}`);
  }

  toJSON(mode: string, seconds: number) {
    return { takenAt: new Date().toISOString(), mode, seconds: Math.round(seconds), machine: machine(), targets: this.targets, figures: this.figures, skipped: this.skipped };
  }
}

export function machine() {
  const cpu = cpus();
  return { cpus: cpu.length, cpuModel: cpu[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: `${process.platform}-${process.arch}` };
}

function table(rows: string[][], out: (line: string) => void): void {
  const w0 = Math.max(...rows.map((r) => r[0].length), 0);
  const w1 = Math.max(...rows.map((r) => r[1].length), 0);
  for (const [a, b, c] of rows) out(b ? `${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}` : a);
}

/** Three significant digits, grouped thousands: 1,234 · 12.3 · 0.123. */
export function format(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** Percentile of a sorted list of times (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * `workers` loops calling `fn` for `seconds`, after `warmUpMs` of the same (the JIT, the pools):
 * calls per second and mean ms per call.
 */
export async function drive(workers: number, seconds: number, fn: (n: number) => Promise<unknown>, warmUpMs = 300): Promise<{ perSecond: number; msPerCall: number }> {
  let n = 0;
  const loop = async (until: number) => {
    let calls = 0;
    while (performance.now() < until) {
      await fn(n++);
      calls++;
    }
    return calls;
  };
  await Promise.all(Array.from({ length: workers }, () => loop(performance.now() + warmUpMs)));
  const start = performance.now();
  const calls = (await Promise.all(Array.from({ length: workers }, () => loop(start + seconds * 1000)))).reduce((a, b) => a + b, 0);
  const elapsed = performance.now() - start;
  return { perSecond: (calls / elapsed) * 1000, msPerCall: (elapsed * workers) / calls };
}
