import { isDeepStrictEqual } from 'node:util';
import type { Composition, Resource } from '@medplum/fhirtypes';
import { UnitMemo, type WriteHook } from '../../bundle/transaction.js';
import { mapReferences } from '../../bundle/references.js';
import { parseReference } from '../../fhir/references.js';
import { episodeRules, type EpisodeRules } from '../../mapping/episode.js';
import { storeSource, unitEpisode, unitSource } from '../../mapping/sources.js';
import { putOwned } from '../../outbox/task.js';
import type { Repository } from '../../store/repository.js';
import { healthBook, type CompiledBook } from './definition.js';
import { bookComposition, bookCompositionId, episodeComposition, episodeCompositionId, episodeLine } from './document.js';
import { BookParts } from './parts.js';
import { episodePartKey, patientPartKey, projectEpisode, projectPatient, type BookPart } from './projection.js';

/**
 * Keeps the health book in step with the store, in the transaction of each write: the parts a write
 * can change are projected again — the parts built from the written resources (which covers deletes
 * and a resource moved to another episode) and the parts the new version joins (its episode, its
 * patient) — and only the Compositions whose content changed are rewritten: the episode's, and the
 * book's own when the patient's sections or the list of episodes changed. Nothing is recomputed on
 * read; fullRecompute() exists to check that nothing drifted.
 *
 * Concurrent writers serialise on an advisory lock per part, then per patient, each taken after the
 * writes and before the reads, so the last one to project a part sees every committed change.
 */
export function healthBookHook(given?: CompiledBook, givenRules?: EpisodeRules): WriteHook {
  // Without a book given, the current one of the mapping folders, read on each write: in development
  // the files are reloaded while the gateway runs (gateway/tools/dev/watch.ts).
  let last: { book: CompiledBook; rules: EpisodeRules; types: Set<string> } | undefined;
  const current = () => {
    const book = given ?? healthBook();
    const rules = givenRules ?? episodeRules();
    if (last?.book !== book || last.rules !== rules) {
      // Every type a part can be built from: an episode's members and what they refer to, the patient's own.
      last = { book, rules, types: new Set(['Patient', 'Encounter', ...rules.members.map((m) => m.type), ...rules.follow, ...book.patientResources.map((p) => p.type)]) };
    }
    return last;
  };
  return {
    wants: (req) => current().types.has(req.resource?.resourceType ?? req.url.split(/[/?]/)[0]),
    async afterWrite(written, repo, unit) {
      const { book, types } = current();
      // A resource the server has just created under a new id cannot be in any part's dependencies.
      const keys = written.filter((w) => !w.freshId).map((w) => `${w.resource.resourceType}/${w.resource.id}`);
      const live = written.filter((w) => !w.deleted && types.has(w.resource.resourceType)).map((w) => w.resource as Resource);
      const affected = new Set([...(await new BookParts(repo.queryable).dependingOn(keys)), ...live.flatMap((r) => joins(book, r))]);
      if (affected.size > 0) await reproject(repo, book, [...affected], unit);
      return new Map();
    },
  };
}

/** The parts a resource belongs to by its own references (before any part was built from it). */
export function joins(book: CompiledBook, resource: Resource): string[] {
  if (resource.resourceType === 'Patient') return [patientPartKey(resource.id!)];
  if (resource.resourceType === 'Encounter') return [episodePartKey(resource.id!)];
  const out = new Set<string>();
  const ownType = book.patientResources.some((p) => p.type === resource.resourceType);
  mapReferences(resource, (value) => {
    const ref = parseReference(value);
    if (ref?.type === 'Encounter') out.add(episodePartKey(ref.id));
    if (ref?.type === 'Patient' && ownType) out.add(patientPartKey(ref.id));
    return undefined;
  });
  return [...out];
}

/**
 * Projects these parts again and stores what changed: the part, its episode's Composition, and the
 * book's own Composition when the patient's sections or the list of episodes changed.
 */
export async function reproject(repo: Repository, book: CompiledBook, keys: string[], unit = new UnitMemo()): Promise<void> {
  await repo.lockConditions(keys.map((k) => `book:${k}`));
  const parts = new BookParts(repo.queryable);
  const before = await parts.get(keys);
  const changed = new Set<string>();
  const books = new Set<string>();
  const episodes: Composition[] = [];
  const gone: string[] = [];
  // Each part as stored once this loop is done (read again below only if it was not projected here).
  const projected = new Map<string, BookPart | undefined>();
  for (const key of [...keys].sort()) {
    const old = before.get(key);
    const next = await projectPart(repo, book, key, unit);
    projected.set(key, next);
    if (next && old && isDeepStrictEqual(next, old)) continue;
    for (const p of [old, next]) if (p) changed.add(p.patientId);
    if (key.startsWith('patient/')) {
      books.add(key.slice('patient/'.length));
    } else {
      const [oldLine, nextLine] = [old && episodeLine(book, old), next && episodeLine(book, next)];
      // The book lists the episode: a new, moved, retitled or withdrawn episode changes the list.
      if (old?.patientId !== next?.patientId || !isDeepStrictEqual(oldLine, nextLine)) for (const p of [old, next]) if (p) books.add(p.patientId);
      if (next && nextLine) episodes.push(episodeComposition(book, next));
      else gone.push(episodeCompositionId(key.slice('episode/'.length)));
    }
    if (next) await parts.save(next, next.key.startsWith('episode/') ? episodeLine(book, next) : undefined);
    else await parts.remove(key);
  }
  if (changed.size === 0) return;
  await repo.lockConditions([...changed].map((p) => `book-patient:${p}`));
  const roots: Composition[] = [];
  for (const patientId of [...books].sort()) {
    const key = patientPartKey(patientId);
    const own = projected.has(key) ? projected.get(key) : (await parts.get([key])).get(key);
    const lines = await parts.lines(patientId);
    if (own || lines.length > 0) roots.push(bookComposition(book, patientId, own, lines));
    else gone.push(bookCompositionId(patientId));
  }
  await storeCompositions(repo, [...roots, ...episodes], gone);
  await parts.bump([...changed]);
}

/** Writes the Compositions that differ from what is stored (meta aside), and deletes the gone ones. */
async function storeCompositions(repo: Repository, next: Composition[], gone: string[]): Promise<void> {
  const current = await repo.current([...next.map((c) => ({ type: 'Composition', id: c.id! })), ...gone.map((id) => ({ type: 'Composition', id }))], true);
  const stored = (id: string) => {
    const v = current.get(`Composition/${id}`);
    return v && !v.deleted ? v : undefined;
  };
  const changed = next.filter((c) => {
    const v = stored(c.id!);
    return !v || !isDeepStrictEqual(withoutMeta(v.resource as Composition), withoutMeta(c));
  });
  if (changed.length) await putOwned(repo, changed, new Date(), current);
  const lastUpdated = new Date().toISOString();
  const deletes = gone.map(stored).filter((v) => v !== undefined);
  if (deletes.length) {
    await repo.write(deletes.map((v) => ({ resource: { ...v.resource, id: v.resource.id!, meta: { ...v.resource.meta, versionId: String(v.versionId + 1), lastUpdated } }, versionId: v.versionId + 1, lastUpdated, deleted: true })));
  }
}

/** A part as its sources make it now; undefined when its Patient or Encounter is gone. */
export async function projectPart(repo: Repository, book: CompiledBook, key: string, unit = new UnitMemo()): Promise<BookPart | undefined> {
  const [kind, id] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
  if (kind === 'episode') {
    const episode = await unitEpisode(repo, id, unit);
    return episode ? projectEpisode(book, episode) : undefined;
  }
  const source = unitSource(repo, unit);
  const [patient] = await source.read([`Patient/${id}`]);
  if (!patient) return undefined;
  const own = await source.referring(book.patientResources.map((p) => ({ ...p, target: `Patient/${id}` })));
  return projectPatient(book, id, [patient, ...own.flat()]);
}

function withoutMeta(c: Composition): Omit<Composition, 'meta'> & { profile?: string[] } {
  const { meta, ...rest } = c;
  return { ...rest, profile: meta?.profile };
}

/**
 * Every part of a patient, projected from scratch (and the episodes found by search, not by the
 * parts table): what the incremental parts must equal.
 */
export async function fullRecompute(repo: Repository, book: CompiledBook, patientId: string): Promise<BookPart[]> {
  const encounters = await storeSource(repo).referring([{ type: 'Encounter', param: 'subject', target: `Patient/${patientId}` }]);
  const keys = [patientPartKey(patientId), ...encounters[0].map((e) => episodePartKey(e.id!))];
  const parts: BookPart[] = [];
  for (const key of keys) {
    const part = await projectPart(repo, book, key);
    if (part && part.patientId === patientId) parts.push(part);
  }
  return parts.sort((a, b) => (a.sortKey === b.sortKey ? (a.key < b.key ? -1 : 1) : a.sortKey < b.sortKey ? -1 : 1));
}
