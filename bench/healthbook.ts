import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../gateway/config.js';
import { createGateway } from '../gateway/server.js';
import { EpisodeGenerator } from '../gateway/tools/generate/episodes.js';
import { percentile } from './report.js';

/**
 * `$summary` latency as a patient's book grows: one patient receives generated outpatient visits
 * (the same person, a new episode each time), and at each size (1, 10, 100, 200 and 1,000 episodes
 * in the full run) the book is read `reads` times
 * over HTTP (keep-alive, one client), by a client that accepts gzip and by one that does not, and
 * once after each of a few writes (the first read of a new version renders the book).
 */
export interface BookResult {
  episodes: number;
  kb: number;
  gzipKb: number;
  /** The first read after a write: the book rendered from the projection. */
  coldMs: number;
  /** Later reads of the same version, by a client that accepts gzip (any browser or app), and one that does not. */
  gzip: { p50Ms: number; p99Ms: number };
  identity: { p50Ms: number; p99Ms: number };
}

const percentiles = (times: number[]) => {
  const sorted = [...times].sort((a, b) => a - b);
  return { p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
};

export async function healthBookBench(sizes = [1, 10, 100, 200, 1000], reads = 200): Promise<{ store: string; results: BookResult[]; ingestMsPerEpisode: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gw-book-bench-'));
  // Embedded PGlite in a scratch folder: BENCH_DATABASE_URL names a server whose databases the other
  // benchmarks create and drop; this one would have written its tables into that database itself.
  const config = loadConfig({ GATEWAY_DATA_DIR: dataDir, DATABASE_URL: '', LOG_LEVEL: 'warn' });
  const gw = await createGateway(config, pino({ level: 'warn' }), { worker: null });
  const server = gw.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const port = (server.address() as AddressInfo).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const call = (method: string, path: string, body?: string, gzip = false) =>
    new Promise<{ status: number; text: string; bytes: number }>((resolve, reject) => {
      const headers = { ...(body ? { 'content-type': 'application/fhir+json' } : {}), ...(gzip ? { 'accept-encoding': 'gzip' } : {}) };
      const req = request({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          const text = res.headers['content-encoding'] === 'gzip' ? '' : raw.toString('utf8');
          resolve({ status: res.statusCode ?? 0, text, bytes: raw.length });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  try {
    const results: BookResult[] = [];
    const generator = new EpisodeGenerator({ seed: 2026, facilities: 5 });
    const episode = (n: number) => JSON.stringify(generator.episode({ kind: 'outpatient', index: n, patient: 1 }));
    let patientId = '';
    let posted = 0;
    let ingestMs = 0;
    for (const size of sizes) {
      while (posted < size) {
        const text = episode(++posted);
        const t0 = performance.now();
        const r = await call('POST', '/fhir', text);
        ingestMs += performance.now() - t0;
        if (r.status !== 200) throw new Error(`episode ${posted}: ${r.status} ${r.text.slice(0, 300)}`);
        patientId ||= (JSON.parse(r.text) as { entry: { response: { location: string } }[] }).entry.map((e) => e.response.location).find((l) => l.startsWith('Patient/'))!.split('/')[1];
      }
      // Cold: each read follows a write that changed the book (a new version, not yet rendered).
      const cold: number[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await call('POST', '/fhir/AllergyIntolerance', JSON.stringify(allergy(patientId, i)));
        if (r.status !== 201) throw new Error(`allergy: ${r.status} ${r.text.slice(0, 300)}`);
        const t0 = performance.now();
        const s = await call('GET', `/fhir/Patient/${patientId}/$summary`, undefined, true);
        cold.push(performance.now() - t0);
        if (s.status !== 200) throw new Error(`$summary: ${s.status}`);
      }
      const warm = async (gzip: boolean) => {
        const times: number[] = [];
        let bytes = 0;
        for (let i = 0; i < reads + 20; i++) {
          const t0 = performance.now();
          const r = await call('GET', `/fhir/Patient/${patientId}/$summary`, undefined, gzip);
          const ms = performance.now() - t0;
          if (r.status !== 200) throw new Error(`$summary: ${r.status} ${r.text.slice(0, 300)}`);
          bytes = r.bytes;
          if (i >= 20) times.push(ms); // the first reads warm the sockets and the JIT
        }
        return { ...percentiles(times), bytes };
      };
      const gzip = await warm(true);
      const identity = await warm(false);
      results.push({
        episodes: size, kb: identity.bytes / 1024, gzipKb: gzip.bytes / 1024, coldMs: percentiles(cold).p50Ms,
        gzip: { p50Ms: gzip.p50Ms, p99Ms: gzip.p99Ms }, identity: { p50Ms: identity.p50Ms, p99Ms: identity.p99Ms },
      });
    }
    return { store: 'PGlite', results, ingestMsPerEpisode: ingestMs / posted };
  } finally {
    agent.destroy();
    server.close();
    await gw.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function allergy(patientId: string, n: number) {
  return {
    resourceType: 'AllergyIntolerance',
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
    patient: { reference: `Patient/${patientId}` },
    code: { text: `Dị nguyên thử ${n}` },
    recordedDate: '2025-03-10',
  };
}

export function printHealthBook({ store, results, ingestMsPerEpisode }: Awaited<ReturnType<typeof healthBookBench>>): void {
  console.log(`health book ($summary of one patient as its episodes grow, ${store})`);
  for (const r of results) {
    console.log(`  ${r.episodes} episodes (${r.kb.toFixed(0)} KB, ${r.gzipKb.toFixed(0)} KB gzip): gzip p50 ${r.gzip.p50Ms.toFixed(2)} ms, p99 ${r.gzip.p99Ms.toFixed(2)} ms; identity p50 ${r.identity.p50Ms.toFixed(2)} ms, p99 ${r.identity.p99Ms.toFixed(2)} ms; first read after a write ${r.coldMs.toFixed(1)} ms`);
  }
  console.log(`  ingest with the projection: ${ingestMsPerEpisode.toFixed(1)} ms per episode bundle (one client)`);
}

if (import.meta.url === `file://${process.argv[1]}`) printHealthBook(await healthBookBench());
