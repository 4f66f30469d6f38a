import { randomUUID } from 'node:crypto';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { mapReferences } from '../bundle/references.js';
import { UnitMemo } from '../bundle/transaction.js';
import { parseReference } from '../fhir/references.js';
import { ID_PATTERN } from '../fhir/resource-types.js';
import type { Repository } from '../store/repository.js';
import { keys, referencesOf } from '../store/search/index-keys.js';
import { searchParams } from '../store/search/params.js';
import type { SearchRequest } from '../store/search/query.js';
import { gatherEpisode, type Episode, type ReferringQuery, type ResourceSource } from './episode.js';

/** More lines than any real episode has; a guard, not a page size. */
const MAX_PER_TYPE = 50_000;

/** Episodes from the store: every member type in one round trip, each round of references in one more. */
export function storeSource(repo: Repository): ResourceSource {
  return {
    referring: (queries) => repo.searchEach(queries.map(referringSearch), MAX_PER_TYPE),
    async read(references) {
      const targets = references.map(parseReference).filter((r) => r !== undefined).map((r) => ({ type: r.type, id: r.id }));
      return repo.fetch(targets);
    },
  };
}

/** The episode of an Encounter as the store holds it now, gathered once per write unit. */
export const unitEpisode = (repo: Repository, encounterId: string, unit = new UnitMemo()): Promise<Episode | undefined> =>
  unit.get(`episode:${encounterId}`, () => gatherEpisode(unitSource(repo, unit), encounterId));

/**
 * The store as a write unit leaves it, without reading back what the unit itself wrote: its new
 * versions are served from memory, and what refers to a resource the unit created under a fresh
 * id can only be among the unit's own writes (no stored resource could name that id), so those
 * searches need no round trip either. Everything else is read in the unit's transaction.
 */
export function unitSource(repo: Repository, unit: UnitMemo): ResourceSource {
  const store = storeSource(repo);
  if (unit.written.length === 0) return store;
  const mine = new Map(unit.written.map((w) => [`${w.resource.resourceType}/${w.resource.id}`, w]));
  const live = unit.written.filter((w) => !w.deleted);
  const fresh = new Set(unit.written.filter((w) => w.freshId).map((w) => `${w.resource.resourceType}/${w.resource.id}`));
  return {
    async referring(queries) {
      const out: Resource[][] = new Array(queries.length);
      const stored: number[] = [];
      queries.forEach((q, i) => {
        const param = fresh.has(q.target) ? searchParams(q.type).get(q.param) : undefined;
        const found = param ? live.filter((w) => w.resource.resourceType === q.type && referencesOf(param, w.resource).includes(q.target)) : [];
        // In the store's order (last updated, then id: one instant for the unit, and fresh ids are
        // UUIDs, which every collation orders alike); a client-named id goes to the store.
        if (!param || found.some((w) => !w.freshId)) return void stored.push(i);
        out[i] = found.map((w) => w.resource as Resource).sort((a, b) => (a.id! < b.id! ? -1 : a.id! > b.id! ? 1 : 0));
      });
      if (stored.length > 0) (await store.referring(stored.map((i) => queries[i]))).forEach((list, j) => (out[stored[j]] = list));
      return out;
    },
    async read(references) {
      const rest = references.filter((ref) => !mine.has(refKey(ref)));
      const fromStore = new Map((rest.length > 0 ? await store.read(rest) : []).map((r) => [`${r.resourceType}/${r.id}`, r]));
      return references
        .map((ref) => {
          const w = mine.get(refKey(ref));
          return w ? (w.deleted ? undefined : (w.resource as Resource)) : fromStore.get(refKey(ref));
        })
        .filter((r): r is Resource => r !== undefined);
    },
  };
}

/** `Type/id` of a reference (relative or absolute), as the unit keys its writes. */
function refKey(reference: string): string {
  const ref = parseReference(reference);
  return ref ? `${ref.type}/${ref.id}` : reference;
}

function referringSearch(q: ReferringQuery): SearchRequest {
  return {
    resourceType: q.type,
    filters: [{ kind: 'keys', param: q.param, keys: [keys.reference(q.param, q.target)], not: false }],
    sort: [],
    count: MAX_PER_TYPE,
    offset: 0,
    total: undefined,
    include: [],
    revinclude: [],
    applied: [],
  };
}

/**
 * Episodes from the resources of a Bundle that is not stored ($xml130 with a Bundle, the CLI).
 * Entries without an id get one (the uuid of their `urn:uuid:` fullUrl when they have one), and
 * references to fullUrls are rewritten to `Type/id`, as a transaction would store them.
 */
export function bundleSource(bundle: Bundle): { source: ResourceSource; resources: Resource[]; entryOf: Map<Resource, number> } {
  const idOf = new Map<string, string>();
  const entries = (bundle.entry ?? []).map((e, index) => ({ ...e, index })).filter((e) => e.resource?.resourceType);
  const withIds = entries.map((e) => {
    const r = e.resource!;
    const fromUrl = e.fullUrl?.startsWith('urn:uuid:') ? e.fullUrl.slice(9) : e.fullUrl ? parseReference(e.fullUrl)?.id : undefined;
    const id = r.id ?? (fromUrl && ID_PATTERN.test(fromUrl) ? fromUrl : randomUUID());
    if (e.fullUrl) idOf.set(e.fullUrl, `${r.resourceType}/${id}`);
    return { ...r, id } as Resource;
  });
  const resources = withIds.map((r) => mapReferences(r, (value) => idOf.get(value)));
  const byKey = new Map(resources.map((r) => [`${r.resourceType}/${r.id}`, r]));
  return {
    resources,
    /** Each resource's index in `Bundle.entry`, so that problems can be located in the client's document. */
    entryOf: new Map(resources.map((r, i) => [r, entries[i].index])),
    source: {
      async referring(queries) {
        return queries.map((q) => {
          const param = searchParams(q.type).get(q.param);
          if (!param) return [];
          return resources.filter((r) => r.resourceType === q.type && referencesOf(param, r).includes(q.target));
        });
      },
      async read(references) {
        return references.map((ref) => byKey.get(ref)).filter((r): r is Resource => r !== undefined);
      },
    },
  };
}
