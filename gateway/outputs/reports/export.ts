import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formCsv } from './csv.js';
import type { ReportEngine } from './evaluate.js';
import { render } from './dashboard.js';
import { periodOfLabel } from './parameters.js';
import { rolloutReport, type RolloutReport } from './rollout.js';

/**
 * `npm run cli -- report --period 2025-03`: the period's report as files, for the Department of
 * Health's monthly evaluation and the six-monthly submission on the Ministry's site:
 *
 *   <out>/bao-cao-2025-03/
 *     bieu-mau.csv                      the six-monthly form, every facility (province-wide)
 *     bang-dieu-khien.html              the dashboard page, self-contained
 *     MeasureReport-<measure>.json      the four MeasureReports
 *     co-so-<MA_CSKCB>/bieu-mau.csv, MeasureReport-<measure>.json   each facility's own
 *
 * Each facility's report is evaluated on its own (its episodes only), with a progress bar over the
 * facilities on stderr when it is a terminal.
 */
export interface ExportOptions {
  period: string;
  outDir: string;
  now?: Date;
  /** Where the progress bar goes; drawn only on a TTY. */
  progress?: NodeJS.WriteStream;
}

export interface ExportResult {
  folder: string;
  files: string[];
  report: RolloutReport;
}

export async function exportReport(engine: ReportEngine, options: ExportOptions): Promise<ExportResult> {
  const period = periodOfLabel(options.period);
  const now = options.now ?? new Date();
  const folder = join(options.outDir, `bao-cao-${options.period}`);
  mkdirSync(folder, { recursive: true });
  const files: string[] = [];
  const write = (path: string, text: string) => {
    writeFileSync(path, text);
    files.push(path);
  };
  const writeReports = (dir: string, report: RolloutReport) => {
    write(join(dir, 'bieu-mau.csv'), formCsv(report));
    for (const r of report.reports) write(join(dir, `MeasureReport-${r.measure.split('/').pop()}.json`), `${JSON.stringify(r, null, 2)}\n`);
  };

  const province = await rolloutReport(engine, { period, scope: { kind: 'province' }, now });
  writeReports(folder, province);
  write(join(folder, 'bang-dieu-khien.html'), render(province, options.period, 'Toàn tỉnh', 'vi'));

  const bar = progressBar(options.progress, province.facilities.length);
  for (const [i, f] of province.facilities.entries()) {
    bar(i, f.code ?? f.facility);
    const dir = join(folder, `co-so-${(f.code ?? f.facility.split('/')[1]).replace(/[^A-Za-z0-9.-]/g, '_')}`);
    mkdirSync(dir, { recursive: true });
    const display = `${f.name ?? f.facility}${f.code ? ` (${f.code})` : ''}`;
    writeReports(dir, await rolloutReport(engine, { period, scope: { kind: 'facility', facility: f.facility }, subject: { reference: f.facility, display }, now }));
  }
  bar(province.facilities.length, '');
  return { folder, files, report: province };
}

/** `[██████░░░░] 3/6 cơ sở 10085` redrawn in place; nothing when the stream is not a terminal (a log, a pipe). */
function progressBar(stream: NodeJS.WriteStream | undefined, total: number): (done: number, current: string) => void {
  if (!stream?.isTTY || total === 0) return () => {};
  const width = 24;
  return (done, current) => {
    const filled = Math.round((done / total) * width);
    stream.write(`\r[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${done}/${total} cơ sở ${current}`.padEnd(width + 40));
    if (done === total) stream.write('\n');
  };
}
