import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Coverage, Encounter, Patient, Resource } from '@medplum/fhirtypes';
import { parseReference } from '../fhir/references.js';
import { mappingsDir } from './folders.js';
import { reloadableCache } from './reload.js';

/**
 * One episode of care (one Encounter, one MA_LK, one claim file) with everything the mappings read:
 * the resources that belong to it and the ones they refer to. Plain data, gathered once; the mapping
 * engine never goes back to the store.
 */
export interface Episode {
  encounter: Encounter;
  patient?: Patient;
  /** The patient's BHYT cards, oldest first (a card replaced during the episode is a second one). */
  coverages: Coverage[];
  /** Every resource of the episode once, the Encounter and the Patient included. */
  resources: Resource[];
  /** `Type/id` → resource, for resolve(). */
  byReference: ReadonlyMap<string, Resource>;
}

/** Where episodes come from: the store, or an inline Bundle ($xml130 POST, the CLI). */
export interface ResourceSource {
  /** For each query, the resources of its type whose reference parameter `param` points at `target`. */
  referring(queries: ReferringQuery[]): Promise<Resource[][]>;
  /** Resources by `Type/id`; missing ones are left out. */
  read(references: string[]): Promise<Resource[]>;
}

export interface ReferringQuery {
  type: string;
  param: string;
  target: string;
}

/** mappings/episode.json: which resources belong to an episode (data, so that a mapping author can add a type). */
export interface EpisodeRules {
  members: { type: string; param: string }[];
  ofPatient: { type: string; param: string }[];
  follow: string[];
}

const rulesCache = reloadableCache<string, EpisodeRules>();

export function episodeRules(dir = mappingsDir()): EpisodeRules {
  let rules = rulesCache.get(dir);
  if (!rules) {
    const file = join(dir, 'episode.json');
    try {
      rules = JSON.parse(readFileSync(file, 'utf8')) as EpisodeRules;
    } catch (e) {
      throw new Error(`${file}: ${(e as Error).message}`);
    }
    rulesCache.set(dir, rules);
  }
  return rules;
}

/** The facility of the episode (the Encounter's serviceProvider), when the episode holds it. */
export function episodeOrganization(episode: Episode): Resource | undefined {
  const ref = episode.encounter.serviceProvider?.reference ? parseReference(episode.encounter.serviceProvider.reference) : undefined;
  return ref ? episode.byReference.get(`${ref.type}/${ref.id}`) : undefined;
}

/** References are followed this many rounds (a paper → its author → nothing further, a line → its drug). */
const FOLLOW_ROUNDS = 4;

/** The episode of `Encounter/{id}`, or undefined when there is no such Encounter. */
export async function gatherEpisode(source: ResourceSource, encounterId: string, rules = episodeRules()): Promise<Episode | undefined> {
  const [encounter] = (await source.read([`Encounter/${encounterId}`])) as Encounter[];
  if (!encounter) return undefined;
  const target = `Encounter/${encounterId}`;
  const patientRef = encounter.subject?.reference ? parseReference(encounter.subject.reference) : undefined;
  const queries: ReferringQuery[] = [
    ...rules.members.map((m) => ({ ...m, target })),
    ...(patientRef ? rules.ofPatient.map((m) => ({ ...m, target: `${patientRef.type}/${patientRef.id}` })) : []),
  ];
  const found = new Map<string, Resource>([[target, encounter]]);
  for (const list of await source.referring(queries)) for (const r of list) found.set(keyOf(r), r);

  const follow = new Set(rules.follow);
  let frontier = [...found.values()];
  for (let round = 0; round < FOLLOW_ROUNDS && frontier.length > 0; round++) {
    const wanted = new Set<string>();
    for (const r of frontier) collectReferences(r, follow, found, wanted);
    frontier = wanted.size > 0 ? await source.read([...wanted]) : [];
    for (const r of frontier) found.set(keyOf(r), r);
  }
  return assemble(encounter, found);
}

function assemble(encounter: Encounter, found: Map<string, Resource>): Episode {
  const subject = encounter.subject?.reference ? parseReference(encounter.subject.reference) : undefined;
  const patient = subject ? (found.get(`${subject.type}/${subject.id}`) as Patient | undefined) : undefined;
  const patientKey = patient ? keyOf(patient) : undefined;
  const coverages = [...found.values()]
    .filter((r): r is Coverage => r.resourceType === 'Coverage')
    .filter((c) => !patientKey || refKey(c.beneficiary?.reference) === patientKey)
    .sort((a, b) => (a.period?.start ?? '').localeCompare(b.period?.start ?? ''));
  return { encounter, patient, coverages, resources: [...found.values()], byReference: found };
}

const keyOf = (r: Resource) => `${r.resourceType}/${r.id}`;

function refKey(reference: string | undefined): string | undefined {
  const ref = reference ? parseReference(reference) : undefined;
  return ref ? `${ref.type}/${ref.id}` : undefined;
}

/** `Type/id` of every reference in `node` to a type in `follow` that is not already `known`. */
function collectReferences(node: unknown, follow: ReadonlySet<string>, known: ReadonlyMap<string, Resource>, out: Set<string>): void {
  if (Array.isArray(node)) {
    for (const item of node) collectReferences(item, follow, known, out);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'reference' && typeof value === 'string') {
      const ref = parseReference(value);
      if (ref && follow.has(ref.type) && !known.has(`${ref.type}/${ref.id}`)) out.add(`${ref.type}/${ref.id}`);
    } else if (typeof value === 'object') {
      collectReferences(value, follow, known, out);
    }
  }
}
