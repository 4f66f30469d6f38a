import type { Encounter, Resource } from '@medplum/fhirtypes';
import { mapReferences } from '../../bundle/references.js';
import { dateRange, localIso } from '../../fhir/dates.js';
import { parseReference } from '../../fhir/references.js';
import { episodeOrganization, type Episode } from '../../mapping/episode.js';
import { RESOLVE_INDEX } from '../../mapping/mappings.js';
import type { CompiledBook, Scope, SectionDefinition } from './definition.js';
import { BOOK_PROFILE, EPISODE_PROFILE } from './document.js';

/**
 * The health book, part by part: what the book's views make of a patient's own resources (block A
 * and history) or of one episode (block C). Pure: the same resources give the same part, which is
 * what lets the gateway keep parts incrementally and check them against a full recompute.
 */
export interface BookPart {
  /** `patient/<id>` or `episode/<Encounter id>`. */
  key: string;
  patientId: string;
  /** Episodes by start, oldest first ('' for the patient's own part, which comes first). */
  sortKey: string;
  /** The episode holds HIV care or sensitive data: nothing of it is shown. */
  withheld: boolean;
  /** The latest change among its sources (meta.lastUpdated). */
  updated: string;
  /** Section key → rows: each column's value as shown, and `entry`, the resource the row cites. */
  sections: Record<string, BookRow[]>;
  /** The cited resources, reduced to what the book shows (meta.tag SUBSETTED), ordered by key. */
  entries: Resource[];
  /** `Type/id` of every resource the part was built from. */
  dependsOn: string[];
}

export type BookRow = Record<string, string>;

export const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED', display: 'subsetted' };

export const patientPartKey = (patientId: string) => `patient/${patientId}`;
export const episodePartKey = (encounterId: string) => `episode/${encounterId}`;

/** The patient's own part: Patient, cards, representatives, allergies, immunisations, problems outside episodes. */
export function projectPatient(book: CompiledBook, patientId: string, resources: Resource[]): BookPart {
  const shown = resources.filter((r) => !isSensitive(book, r) && !(r.resourceType === 'Condition' && r.encounter));
  const subject = `Patient/${patientId}`;
  const part = emptyPart(patientPartKey(patientId), patientId, '', resources);
  fill(book, 'patient', part, shown, { subject, encounter: [], organization: [], resources: shown, [RESOLVE_INDEX]: indexOf(shown) });
  return part;
}

/** One episode's part; undefined when the Encounter has no patient (nothing to attach it to). */
export function projectEpisode(book: CompiledBook, episode: Episode): BookPart | undefined {
  const subjectRef = episode.encounter.subject?.reference ? parseReference(episode.encounter.subject.reference) : undefined;
  if (subjectRef?.type !== 'Patient') return undefined;
  // The patient and the cards are the patient part's: an episode neither reads nor depends on them;
  // nor on the book's own Composition of the episode (it points at the Encounter too).
  const resources = episode.resources.filter((r) => r.resourceType !== 'Coverage' && !(r.resourceType === 'Patient' && r.id === subjectRef.id) && !isBookComposition(r));
  const part = emptyPart(episodePartKey(episode.encounter.id!), subjectRef.id, sortKeyOf(episode.encounter), resources);
  const variables = {
    subject: `Patient/${subjectRef.id}`,
    encounter: episode.encounter,
    organization: episodeOrganization(episode) ?? [],
    resources,
    [RESOLVE_INDEX]: episode.byReference,
  };
  const withheld = resources.some((r) => isSensitive(book, r)) || book.withheld.run([episode.encounter], variables).some((row) => row.withheld === true);
  if (withheld) return { ...part, withheld: true };
  fill(book, 'episode', part, resources, variables);
  return part;
}

function emptyPart(key: string, patientId: string, sortKey: string, sources: Resource[]): BookPart {
  const updated = sources.reduce((max, r) => (r.meta?.lastUpdated && r.meta.lastUpdated > max ? r.meta.lastUpdated : max), '');
  return { key, patientId, sortKey, withheld: false, updated, sections: {}, entries: [], dependsOn: [...new Set(sources.map(keyOf))].sort() };
}

function fill(book: CompiledBook, scope: Scope, part: BookPart, resources: Resource[], variables: Record<string, unknown>): void {
  const cited = new Set<string>();
  for (const section of book.sections.filter((s) => s.scope === scope || s.scope === 'both')) {
    const rows = section.views.flatMap((name) => book.views.get(name)!.run(resources, variables)).map((raw) => shownRow(section, raw));
    if (rows.length === 0) continue;
    part.sections[section.key] = sortRows(rows).map(({ shown }) => shown);
    for (const row of part.sections[section.key]) if (row.entry) cited.add(row.entry);
  }
  part.entries = subsetted(book, cited, indexOf(resources));
}

/** A row as the book shows it (formatted text), with the raw values it is ordered by. */
function shownRow(section: SectionDefinition, raw: Record<string, unknown>): { shown: BookRow; sortBy: string[] } {
  const shown: BookRow = {};
  if (typeof raw.entry === 'string') shown.entry = raw.entry;
  for (const column of section.columns) {
    const text = display(raw[column.name], column.format);
    if (text) shown[column.name] = text;
  }
  // The columns a sub-section's code comes from are kept even when not shown.
  for (const extra of [section.instanceCode?.systemColumn, section.instanceCode?.codeColumn]) if (extra && typeof raw[extra] === 'string') shown[extra] = raw[extra] as string;
  // By the view's order columns, then by date, then as read (first column), so that equal dates keep a stable order.
  const sortBy = [...(section.order ?? []).map((c) => String(raw[c] ?? '')), instant(raw.NGAY) ?? instant(raw.NGAY_VAO) ?? '', shown[section.columns[0]?.name] ?? '', shown.entry ?? ''];
  return { shown, sortBy };
}

function sortRows<T extends { sortBy: string[] }>(rows: T[]): T[] {
  return [...rows].sort((a, b) => {
    for (let i = 0; i < a.sortBy.length; i++) if (a.sortBy[i] !== b.sortBy[i]) return a.sortBy[i] < b.sortBy[i] ? -1 : 1;
    return 0;
  });
}

/** How a value reads in the book: dates in Vietnam time, dd/MM/yyyy[ HH:mm]; lists joined. */
export function display(value: unknown, format?: 'date' | 'datetime'): string {
  if (value === undefined || value === null || value === '') return '';
  if (Array.isArray(value)) return value.map((v) => display(v, format)).filter(Boolean).join('; ');
  if (typeof value === 'boolean') return value ? 'Có' : 'Không';
  const text = String(value);
  if (!format) return text;
  const range = dateRange(text);
  if (!range) return text;
  // A partial date shows only what it says (a year, a month).
  if (/^\d{4}$/.test(text)) return text;
  if (/^\d{4}-\d{2}$/.test(text)) return `${text.slice(5, 7)}/${text.slice(0, 4)}`;
  const local = localIso(range[0]);
  const date = `${local.slice(8, 10)}/${local.slice(5, 7)}/${local.slice(0, 4)}`;
  return format === 'datetime' && text.includes('T') ? `${date} ${local.slice(11, 16)}` : date;
}

function instant(value: unknown): string | undefined {
  const range = typeof value === 'string' ? dateRange(value) : undefined;
  return range ? new Date(range[0]).toISOString() : undefined;
}

function sortKeyOf(encounter: Encounter): string {
  return instant(encounter.period?.start) ?? instant(encounter.period?.end) ?? '';
}

/**
 * What the book cites, cut down to the elements book.json keeps for its type, plus what those
 * elements refer to in turn (a drug's Medication, a paper's author), so that the document resolves
 * its own references. Sorted by key: the same sources give the same entries.
 */
function subsetted(book: CompiledBook, cited: Set<string>, index: ReadonlyMap<string, Resource>): Resource[] {
  const out = new Map<string, Resource>();
  const queue = [...cited];
  while (queue.length > 0) {
    const key = queue.shift()!;
    const resource = index.get(key);
    if (!resource || out.has(key)) continue;
    const elements = book.entryElements[resource.resourceType];
    if (!elements) continue;
    const subset = keepElements(resource, elements);
    out.set(key, subset);
    mapReferences(subset, (value) => {
      const ref = parseReference(value);
      if (ref) queue.push(`${ref.type}/${ref.id}`);
      return undefined;
    });
  }
  return [...out.keys()].sort().map((k) => out.get(k)!);
}

function keepElements(resource: Resource, elements: readonly string[]): Resource {
  const out: Record<string, unknown> = { resourceType: resource.resourceType, id: resource.id };
  out.meta = { ...(resource.meta?.versionId ? { versionId: resource.meta.versionId } : {}), ...(resource.meta?.lastUpdated ? { lastUpdated: resource.meta.lastUpdated } : {}), tag: [SUBSETTED] };
  for (const [name, value] of Object.entries(resource)) {
    if (elements.some((e) => e === name || (e.endsWith('[x]') && name.startsWith(e.slice(0, -3)) && /^[A-Z]/.test(name.slice(e.length - 3))))) out[name] = value;
  }
  return out as unknown as Resource;
}

export function isSensitive(book: CompiledBook, resource: Resource): boolean {
  return (resource.meta?.security ?? []).some((s) => book.sensitiveLabels.some((l) => l.system === s.system && l.codes.includes(s.code ?? '')));
}

/** The gateway's own Compositions of the book (by their profile): never a source of the book. */
export const isBookComposition = (r: Resource) => r.resourceType === 'Composition' && (r.meta?.profile ?? []).some((p) => p === BOOK_PROFILE || p === EPISODE_PROFILE);

const keyOf = (r: Resource) => `${r.resourceType}/${r.id}`;

function indexOf(resources: Resource[]): Map<string, Resource> {
  return new Map(resources.map((r) => [keyOf(r), r]));
}
