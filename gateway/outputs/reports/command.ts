import { parseArgs } from 'node:util';
import { loadConfig } from '../../config.js';
import { FhirError, textIn } from '../../fhir/outcome.js';
import { openDatabase } from '../../server.js';
import { migrate } from '../../store/migrations.js';
import { ReportEngine } from './evaluate.js';
import { exportReport } from './export.js';

/**
 * `npm run cli -- report [--period 2025-03] [--out reports]`: opens the gateway's database as the
 * server would (DATABASE_URL, else the PGlite folder — which only one process may hold: stop the
 * server first, or use PostgreSQL), and writes the period's report files. Prints where, and
 * counts only: nothing about a patient reaches the terminal.
 */
export async function reportCommand(args: string[], usage: string): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { period: { type: 'string' }, out: { type: 'string', default: 'reports' } } });
  if (positionals.length > 0) {
    console.error(usage);
    return 2;
  }
  const config = loadConfig();
  const period = values.period ?? lastMonth(config.localOffsetMinutes);
  const db = await openDatabase(config);
  try {
    await migrate(db);
    const engine = new ReportEngine(db, { localOffsetMinutes: config.localOffsetMinutes });
    const started = Date.now();
    const { folder, files, report } = await exportReport(engine, { period, outDir: values.out!, progress: process.stderr });
    const t = report.totals;
    console.log(`${folder}: ${files.length} files in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    console.log(`  ${t['initial-population']} episodes, ${t['da-gui']} sent, ${t['da-tiep-nhan']} accepted, ${t['bi-tu-choi']} rejected, ${t['dang-cho']} pending; ${report.facilities.length} facilities, ${report.facilitiesWithoutData.length} without data`);
    return 0;
  } catch (e) {
    if (e instanceof FhirError) {
      console.error(e.issues.map((i) => textIn(i.message, 'vi')).join('; '));
      return 2;
    }
    throw e;
  } finally {
    await db.close();
  }
}

function lastMonth(offsetMinutes: number): string {
  const local = new Date(Date.now() + offsetMinutes * 60_000);
  return new Date(Date.UTC(local.getUTCFullYear(), local.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
}
