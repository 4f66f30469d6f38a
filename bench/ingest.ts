import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { PROFILES_DIR, PROJECT_ROOT } from '../gateway/paths.js';
import { outpatientText } from '../test/support/episodes.js';
import { adminQuery } from './postgres-admin.js';

/**
 * Ingest throughput: the outpatient example bundle (24 resources, validated, stored in one
 * transaction) posted by 8 connections to a gateway running in its own process, each bundle for a
 * new patient and episode. Against PostgreSQL when BENCH_DATABASE_URL names a server (a scratch
 * database is created and dropped), else embedded PGlite.
 */
export interface IngestResult {
  store: string;
  resourcesPerBundle: number;
  bundlesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
}

const example = readFileSync(join(PROFILES_DIR, 'examples', 'outpatient-visit.json'), 'utf8');
const bundleFor = (n: number) => outpatientText(n);

export async function ingestBench(seconds = 10, connections = 8): Promise<IngestResult> {
  const serverUrl = process.env.BENCH_DATABASE_URL;
  const dbName = `gw_bench_${process.pid}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'gw-bench-'));
  let databaseUrl: string | undefined;
  if (serverUrl) {
    await adminQuery(serverUrl, `CREATE DATABASE ${dbName}`);
    const url = new URL(serverUrl);
    url.pathname = `/${dbName}`;
    databaseUrl = url.toString();
  }
  const port = 18_000 + (process.pid % 1000);
  const gateway = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'gateway/main.ts')], {
    env: { ...process.env, PORT: String(port), LOG_LEVEL: 'warn', GATEWAY_DATA_DIR: dataDir, DATABASE_URL: databaseUrl ?? '', DB_POOL_SIZE: String(connections) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    const base = `http://127.0.0.1:${port}/fhir`;
    await waitReady(`http://127.0.0.1:${port}/readyz`, gateway);
    let n = 0;
    // Warm-up: the first bundle creates the facility and practitioners the others find by identifier.
    await post(base, bundleFor(n++));
    const result = await autocannon({
      url: base,
      method: 'POST',
      connections,
      duration: seconds,
      headers: { 'content-type': 'application/fhir+json', prefer: 'return=minimal' },
      requests: [{ setupRequest: (req) => ({ ...req, body: bundleFor(n++) }) }],
    });
    return {
      store: serverUrl ? 'postgres' : 'pglite',
      resourcesPerBundle: (JSON.parse(example) as { entry: unknown[] }).entry.length,
      bundlesPerSecond: result.requests.average,
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      failures: result.non2xx + result.errors,
    };
  } finally {
    gateway.kill('SIGTERM');
    await new Promise((resolve) => gateway.once('exit', resolve));
    rmSync(dataDir, { recursive: true, force: true });
    if (serverUrl) await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  }
}

async function waitReady(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`the gateway exited with ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the gateway did not become ready in 30 s');
}

async function post(base: string, body: string): Promise<void> {
  const res = await fetch(base, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body });
  if (!res.ok) throw new Error(`warm-up bundle: ${res.status} ${await res.text()}`);
}
