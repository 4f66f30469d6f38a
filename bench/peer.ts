import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import { drive } from './report.js';

/**
 * The peer: the same transaction bundles through `@medplum/fhir-router` 4.5.2 with its in-memory
 * repository, in this process, one at a time: no HTTP, no persistence, no validation. Its
 * transactions run in medplum's default mode: with atomic transactions switched on
 * (`config.transactions`), medplum refuses these bundles ("Transaction requires strict isolation but
 * has too many entries": conditional creates force serializable isolation, capped at 8 entries),
 * so it processes them entry by entry, as a batch.
 */
export async function peerBench(texts: string[], seconds: number): Promise<{ bundlesPerSecond: number; msPerBundle: number }> {
  const router = new FhirRouter();
  const repo = new MemoryRepository();
  let n = 0;
  const once = async () => {
    const [outcome, response] = await router.handleRequest({ method: 'POST', url: '/', pathname: '', body: JSON.parse(texts[n++ % texts.length]), params: {}, query: {} }, repo);
    if (response?.resourceType !== 'Bundle') throw new Error(`medplum refused a bundle: ${JSON.stringify(outcome).slice(0, 300)}`);
  };
  const { perSecond, msPerCall } = await drive(1, seconds, once, 1000);
  return { bundlesPerSecond: perSecond, msPerBundle: msPerCall };
}
