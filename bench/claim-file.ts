import { readFileSync } from 'node:fs';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { gatherEpisode, type Episode } from '../gateway/mapping/episode.js';
import { bundleSource } from '../gateway/mapping/sources.js';
import { buildClaimFile } from '../gateway/outputs/xml/claim-file.js';

/**
 * Claim-file cost per episode, from the episode in memory to the unsigned GIAMDINHHS (every
 * mapping, formatting, money rules, row and claim checks, serialisation, base64): the outpatient
 * example (24 resources) and an inpatient stay grown to ~150 resources by repeating the example's
 * day of care (its drug and service lines, results and progress notes) over further days.
 */
export async function claimFileBench(seconds = 2): Promise<{ name: string; resources: number; msPerClaim: number }[]> {
  const examples = (name: string) => JSON.parse(readFileSync(new URL(`../profiles/examples/${name}.json`, import.meta.url), 'utf8')) as Bundle;
  const out = [];
  for (const [name, bundle] of [
    ['outpatient', examples('outpatient-visit')],
    ['inpatient', longerStay(examples('inpatient-stay'), 150)],
  ] as const) {
    const episode = await episodeOf(bundle);
    // A server builds claim files all day: measure the optimised code, after a second of warm-up.
    runFor(1000, () => buildClaimFile(episode));
    const { ms, runs } = runFor(seconds * 1000, () => buildClaimFile(episode));
    out.push({ name, resources: episode.resources.length, msPerClaim: ms / runs });
  }
  return out;
}

/** Calls `fn` for about `ms` milliseconds (whole calls): how long it took and how many calls. */
function runFor(ms: number, fn: () => void): { ms: number; runs: number } {
  const start = performance.now();
  let runs = 0;
  while (performance.now() - start < ms) {
    fn();
    runs++;
  }
  return { ms: performance.now() - start, runs };
}

/** The claim file of the outpatient example or of the 150-resource stay (for the signing bench). */
export async function claimFileOf(kind: 'outpatient' | 'inpatient') {
  const examples = (name: string) => JSON.parse(readFileSync(new URL(`../profiles/examples/${name}.json`, import.meta.url), 'utf8')) as Bundle;
  const bundle = kind === 'outpatient' ? examples('outpatient-visit') : longerStay(examples('inpatient-stay'), 150);
  return buildClaimFile(await episodeOf(bundle));
}

async function episodeOf(bundle: Bundle): Promise<Episode> {
  const { source, resources } = bundleSource(bundle);
  const encounter = resources.find((r) => r.resourceType === 'Encounter')!;
  return (await gatherEpisode(source, encounter.id!))!;
}

/** The stay with its repeatable resources copied (new fullUrls) until the episode has `target` resources. */
function longerStay(bundle: Bundle, target: number): Bundle {
  const repeatable = new Set(['ChargeItem', 'Observation', 'ClinicalImpression', 'MedicationRequest']);
  const copies = (bundle.entry ?? []).filter((e) => repeatable.has(e.resource?.resourceType ?? ''));
  const entry: BundleEntry[] = [...(bundle.entry ?? [])];
  for (let round = 1; entry.length < target; round++) {
    for (const e of copies) {
      if (entry.length >= target) break;
      entry.push({ ...e, fullUrl: `${e.fullUrl}-${round}`, resource: structuredClone(e.resource) as Resource });
    }
  }
  return { ...bundle, entry };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await claimFileBench()) console.log(`${r.name}: ${r.resources} resources, ${r.msPerClaim.toFixed(3)} ms per claim file`);
}
