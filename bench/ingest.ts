import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:http';
import autocannon from 'autocannon';
import { PROJECT_ROOT } from '../gateway/paths.js';
import { selfSignedCredentials } from '../gateway/signing/keys.js';
import { percentile } from './report.js';

/**
 * Ingest over HTTP: transaction bundles posted on loopback by autocannon to a gateway running in
 * its own process (as in production: validation, durable write, outbox and health-book upkeep in
 * the write's transaction), on PostgreSQL or embedded PGlite. Every bundle is a new episode; its
 * text comes from the caller (the generator), so the client spends nothing making it.
 */
export interface IngestRun {
  bundlesPerSecond: number;
  resourcesPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  failures: number;
  /** Requests per second offered (a fixed rate), or 0 for as fast as the gateway answers. */
  offered: number;
}

export interface IngestResult {
  store: 'postgres' | 'pglite';
  connections: number;
  max: IngestRun;
  /** At half the throughput of `max`: the latency a client sees when the gateway is not saturated. */
  half: IngestRun;
  /** VmHWM of the gateway process at the end. */
  peakRssMb: number;
}

/** One test certificate for every facility of the benchmark (each facility's folder gets a copy). */
let shared: { keyPem: string; certificatePem: string } | undefined;
const benchCredentials = () => (shared ??= selfSignedCredentials('Chứng thư THỬ NGHIỆM — benchmark'));

/** A gateway in a child process on a scratch store; `stop()` removes the store. */
export interface SpawnedGateway {
  base: string;
  child: ChildProcess;
  peakRssMb(): number;
  stop(): Promise<void>;
}

/**
 * The gateway as production runs it: the compiled dist/ (`npm run build`, as in the Dockerfile)
 * when it is there, else the TypeScript sources through tsx (which holds ~70 MB more).
 */
export async function spawnGateway(databaseUrl: string | undefined, poolSize: number, port: number, facilities: string[] = []): Promise<SpawnedGateway> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gw-bench-'));
  // The facilities' development certificates, made here: a gateway makes one (an RSA key pair, a
  // few hundred ms) the first time it signs for a facility, which would land in the measured seconds.
  for (const facility of facilities) {
    const folder = join(dataDir, 'dev-credentials', facility);
    mkdirSync(folder, { recursive: true });
    const { keyPem, certificatePem } = benchCredentials();
    writeFileSync(join(folder, 'key.pem'), keyPem, { mode: 0o600 });
    writeFileSync(join(folder, 'cert.pem'), certificatePem);
  }
  const compiled = join(PROJECT_ROOT, 'dist', 'gateway', 'main.js');
  // BENCH_CPU_PROFILE=<folder>: the gateway writes a V8 CPU profile there when it stops.
  const profile = process.env.BENCH_CPU_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROFILE}`] : [];
  const args = [...profile, ...(existsSync(compiled) ? [compiled] : ['--import', 'tsx', join(PROJECT_ROOT, 'gateway/main.ts')])];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, PORT: String(port), LOG_LEVEL: 'warn', GATEWAY_DATA_DIR: dataDir, DATABASE_URL: databaseUrl ?? '', DB_POOL_SIZE: String(poolSize) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await waitReady(`http://127.0.0.1:${port}/readyz`, child);
  return {
    base: `http://127.0.0.1:${port}/fhir`,
    child,
    peakRssMb: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
    },
    async stop() {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function ingestBench(
  gateway: SpawnedGateway,
  store: IngestResult['store'],
  bundles: () => string,
  options: { seconds: number; warmUpSeconds: number; connections: number; resourcesPerBundle: number },
): Promise<IngestResult> {
  // Warm-up: the first bundles create facilities and staff that later ones find by identifier.
  for (let i = 0; i < 10; i++) await post(gateway.base, bundles());
  await load(gateway.base, bundles, { ...options, seconds: options.warmUpSeconds });
  const max = await load(gateway.base, bundles, options);
  const half = await paced(gateway.base, bundles, { ...options, rate: Math.max(1, max.bundlesPerSecond / 2) });
  return { store, connections: options.connections, max, half, peakRssMb: gateway.peakRssMb() };
}

/** As fast as the gateway answers, on `connections` keep-alive connections. */
async function load(base: string, bundles: () => string, o: { seconds: number; connections: number; resourcesPerBundle: number }): Promise<IngestRun> {
  const latencies: number[] = [];
  let failures = 0;
  let finished!: (r: autocannon.Result) => void;
  let failed!: (e: Error) => void;
  const done = new Promise<autocannon.Result>((resolve, reject) => ((finished = resolve), (failed = reject)));
  const instance = autocannon(
    {
      url: base,
      method: 'POST',
      connections: o.connections,
      duration: o.seconds,
      headers: { 'content-type': 'application/fhir+json', prefer: 'return=minimal' },
      requests: [{ setupRequest: (req) => ({ ...req, body: bundles() }) }],
    },
    (err, result) => (err ? failed(err) : finished(result)),
  );
  // autocannon's summary has no p95: keep every response time and rank them here.
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    latencies.push(ms);
    if (status >= 300) failures++;
  });
  const result = await done;
  return runOf(latencies, failures + result.errors + result.timeouts, o, 0);
}

/**
 * Open-loop load at a fixed rate: a request every 1/rate seconds whether or not the earlier ones
 * were answered, as independent hospital systems send them. (autocannon's rate limit paces each
 * connection on its own timer: its connections fire together, in bursts that measure queueing.)
 */
async function paced(base: string, bundles: () => string, o: { seconds: number; resourcesPerBundle: number; rate: number }): Promise<IngestRun> {
  const agent = new Agent({ keepAlive: true });
  const url = new URL(base);
  const latencies: number[] = [];
  let failures = 0;
  const send = (body: string) =>
    new Promise<void>((resolve) => {
      const start = performance.now();
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: { 'content-type': 'application/fhir+json', prefer: 'return=minimal' } }, (res) => {
        res.resume();
        res.on('end', () => {
          latencies.push(performance.now() - start);
          if ((res.statusCode ?? 0) >= 300) failures++;
          resolve();
        });
      });
      req.on('error', () => {
        failures++;
        resolve();
      });
      req.end(body);
    });
  const pending: Promise<void>[] = [];
  const start = performance.now();
  const count = Math.round(o.rate * o.seconds);
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / o.rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(send(bundles()));
  }
  await Promise.all(pending);
  agent.destroy();
  return runOf(latencies, failures, o, o.rate);
}

/** A run's figures from every answered request's latency. */
function runOf(latencies: number[], failures: number, o: { seconds: number; resourcesPerBundle: number }, offered: number): IngestRun {
  latencies.sort((a, b) => a - b);
  const bundlesPerSecond = latencies.length / o.seconds;
  return {
    bundlesPerSecond,
    resourcesPerSecond: bundlesPerSecond * o.resourcesPerBundle,
    p50Ms: percentile(latencies, 50),
    p95Ms: percentile(latencies, 95),
    p99Ms: percentile(latencies, 99),
    failures,
    offered,
  };
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

export async function post(base: string, body: string): Promise<Record<string, unknown>> {
  const res = await fetch(base, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body });
  const text = await res.text();
  if (!res.ok) throw new Error(`bundle refused: ${res.status} ${text.slice(0, 500)}`);
  return JSON.parse(text) as Record<string, unknown>;
}
