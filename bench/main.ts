import { claimFileBench } from './claim-file.js';
import { healthBookBench, printHealthBook } from './healthbook.js';
import { ingestBench } from './ingest.js';
import { signingBench } from './signing.js';
import { validationBench } from './validation.js';

/**
 * `npm run bench`: the gateway's own measurements, printed as figures (never asserted in tests).
 * Each stage of the pipeline adds its benchmark here. BENCH_DATABASE_URL: measure ingest on that
 * PostgreSQL server instead of embedded PGlite.
 */
console.log('validation (every resource against its default VN profile)');
for (const r of validationBench()) console.log(`  ${r.name}: ${r.resources} resources, ${r.msPerBundle.toFixed(3)} ms per bundle`);

console.log('claim file (episode in memory → unsigned GIAMDINHHS)');
for (const r of await claimFileBench()) console.log(`  ${r.name}: ${r.resources} resources, ${r.msPerClaim.toFixed(3)} ms per claim file`);

console.log('signing (RSA-2048, SHA-256): floor = SHA-256 of the file + one RSA signature');
for (const r of await signingBench()) {
  console.log(`  ${r.name} (${r.kb.toFixed(1)} KB): floor ${r.floorMs.toFixed(3)} ms, gateway ${r.gatewayMs.toFixed(3)} ms (${(r.gatewayMs / r.floorMs).toFixed(2)}× the floor), xml-crypto ${r.xmlCryptoMs.toFixed(3)} ms (${(r.xmlCryptoMs / r.gatewayMs).toFixed(1)}× the gateway)`);
}

const ingest = await ingestBench();
console.log(`ingest (transaction bundles of ${ingest.resourcesPerBundle} resources, 8 connections, ${ingest.store})`);
console.log(`  ${ingest.bundlesPerSecond.toFixed(0)} bundles/s, p50 ${ingest.p50Ms} ms, p99 ${ingest.p99Ms} ms, ${ingest.failures} failed`);

printHealthBook(await healthBookBench());
