import type { Bundle } from '@medplum/fhirtypes';
import { gatherEpisode, type Episode } from '../gateway/mapping/episode.js';
import { bundleSource } from '../gateway/mapping/sources.js';
import { buildClaimFile } from '../gateway/outputs/xml/claim-file.js';
import { selfSignedCredentials } from '../gateway/signing/keys.js';
import { keySigner } from '../gateway/signing/signer.js';
import { signDocument } from '../gateway/signing/xmldsig.js';
import { EpisodeGenerator, type EpisodeKind } from '../gateway/tools/generate/episodes.js';
import { drive } from './report.js';

/**
 * The outbox's work per episode, on one core: the claim file built from the gathered episode (every
 * mapping, row and claim rule: the validation the portal would do), checked clean, and signed —
 * claim files per second for generated outpatient visits and 150-entry inpatient stays.
 */
export interface PipelineResult {
  kind: EpisodeKind;
  filesPerSecond: number;
  msPerFile: number;
}

export async function episodesOf(kind: EpisodeKind, count: number, seed = 7): Promise<Episode[]> {
  const generator = new EpisodeGenerator({ seed });
  const out: Episode[] = [];
  for (let index = 0; index < count; index++) out.push(await episodeOf(generator.episode({ kind, index })));
  return out;
}

export async function episodeOf(bundle: Bundle): Promise<Episode> {
  const { source, resources } = bundleSource(bundle);
  const encounter = resources.find((r) => r.resourceType === 'Encounter')!;
  return (await gatherEpisode(source, encounter.id!))!;
}

export async function pipelineBench(seconds: number): Promise<PipelineResult[]> {
  const { credentials } = selfSignedCredentials('Bench facility');
  const signer = keySigner(credentials.key, credentials.certificate);
  const out: PipelineResult[] = [];
  for (const kind of ['outpatient', 'inpatient'] as const) {
    const episodes = await episodesOf(kind, kind === 'outpatient' ? 50 : 10);
    let n = 0;
    const once = async () => {
      const claim = buildClaimFile(episodes[n++ % episodes.length]);
      if (claim.issues.some((i) => i.severity === 'error')) throw new Error(`a generated ${kind} episode has claim errors`);
      await signDocument(claim.envelope, signer);
    };
    const { perSecond, msPerCall } = await drive(1, seconds, once, 1000);
    out.push({ kind, filesPerSecond: perSecond, msPerFile: msPerCall });
  }
  return out;
}
