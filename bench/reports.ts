import { ReportEngine } from '../gateway/outputs/reports/evaluate.js';
import type { Database } from '../gateway/store/database.js';
import { migrate } from '../gateway/store/migrations.js';
import { openPglite } from '../gateway/store/pglite.js';
import { openPostgres } from '../gateway/store/postgres.js';
import { simulateMonth, writeSimulation } from '../gateway/tools/month-simulation.js';
import { adminQuery } from './postgres-admin.js';

/**
 * The rollout report over a simulated month (`npx tsx bench/reports.ts`): BENCH_EPISODES episodes
 * (default 100,000) across the simulation's facilities, written to a fresh store — PostgreSQL when
 * BENCH_DATABASE_URL names a server (a scratch database is created and dropped), else embedded
 * PGlite — then every report Measure evaluated for the month, province-wide and for one facility.
 * Prints figures; asserts nothing.
 */
export interface ReportBenchResult {
  store: string;
  episodes: number;
  writeSeconds: number;
  /** Every Measure, the whole province, each run (ms). */
  provinceMs: number[];
  facilityMs: number[];
}

export async function reportBench(episodes = Number(process.env.BENCH_EPISODES ?? 100_000), runs = 3): Promise<ReportBenchResult> {
  const serverUrl = process.env.BENCH_DATABASE_URL;
  const name = `gw_bench_reports_${process.pid}`;
  let db: Database;
  if (serverUrl) {
    await adminQuery(serverUrl, `CREATE DATABASE ${name}`);
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    db = openPostgres({ connectionString: url.toString(), poolSize: 4, statementTimeoutMs: 600_000 });
  } else {
    db = await openPglite();
  }
  try {
    await migrate(db);
    const sim = simulateMonth({ seed: 2025, month: '2025-03', episodes });
    let started = Date.now();
    let shown = -1;
    await writeSimulation(db, sim, (done) => {
      const pct = Math.floor(done * 10) * 10;
      if (pct !== shown && process.stderr.isTTY) process.stderr.write(`\r  writing the simulated month: ${(shown = pct)} %`);
    });
    if (process.stderr.isTTY) process.stderr.write('\n');
    await db.query('ANALYZE');
    const writeSeconds = (Date.now() - started) / 1000;

    const engine = new ReportEngine(db, { localOffsetMinutes: 420 });
    const period = { start: '2025-03-01', end: '2025-03-31' };
    const provinceMs: number[] = [];
    const facilityMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      started = performance.now();
      const { reports } = await engine.evaluate(engine.measures, { period, scope: { kind: 'province' }, now: sim.now });
      provinceMs.push(performance.now() - started);
      if (i === 0) {
        const received = reports.find((r) => r.measure.endsWith('/lien-thong-ho-so'))!.group![0].population![0].count;
        if (received !== episodes) throw new Error(`the report counted ${received} episodes of ${episodes}`);
      }
      started = performance.now();
      await engine.evaluate(engine.measures, { period, scope: { kind: 'facility', facility: `Organization/${sim.facilities[0].organizationId}` }, now: sim.now });
      facilityMs.push(performance.now() - started);
    }
    return { store: serverUrl ? 'PostgreSQL' : 'PGlite', episodes, writeSeconds, provinceMs, facilityMs };
  } finally {
    await db.close();
    if (serverUrl) await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await reportBench();
  const ms = (list: number[]) => list.map((v) => (v / 1000).toFixed(2)).join(' s, ') + ' s';
  console.log(`rollout report (${r.store}, ${r.episodes.toLocaleString('en')} episodes in the month, written in ${r.writeSeconds.toFixed(0)} s)`);
  console.log(`  every Measure, whole province: ${ms(r.provinceMs)}`);
  console.log(`  every Measure, one facility:   ${ms(r.facilityMs)}`);
}
