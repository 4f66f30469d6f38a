import { createHash } from 'node:crypto';
import type { Composition, CompositionSection, Reference } from '@medplum/fhirtypes';
import { canonical } from '../../fhir/vn.js';
import { escapeHtml } from '../html.js';
import type { CompiledBook, SectionDefinition } from './definition.js';
import type { BookPart, BookRow } from './projection.js';

/**
 * The book as FHIR Compositions, one per part, so that a write rewrites only what it changed:
 *
 * - the book itself (`book-<patient id>`, LOINC 60591-5): the patient's own sections (block A,
 *   allergies, problems outside episodes, immunisations) and the episodes section, with one
 *   sub-section per episode, newest first, citing that episode's Composition;
 * - one Composition per episode (`book-ep-<Encounter id>`, LOINC 34133-9): the episode's fields
 *   (block C and the treatment summary D), its diagnoses, indices, results, drugs and procedures,
 *   its papers as sub-sections.
 *
 * Each section has a Vietnamese narrative and entries citing the resources of its rows. Pure and
 * deterministic: the same parts give the same Compositions (dated by their latest source change).
 */
export const BOOK_PROFILE = canonical('StructureDefinition', 'hb-health-book');
export const EPISODE_PROFILE = canonical('StructureDefinition', 'hb-health-book-episode');
const EPISODE_NOTE = { system: 'http://loinc.org', code: '34133-9', display: 'Summary of episode note' };
const AUTHOR = [{ display: 'Cổng liên thông Sổ sức khỏe điện tử' }];
const NIL_KNOWN = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/list-empty-reason', code: 'nilknown', display: 'Nil Known' }] };

/** What the book shows of an episode in its list: a title and one line, and where the rest is. */
export interface EpisodeLine {
  compositionId: string;
  title: string;
  text: string;
  updated: string;
}

/** FHIR ids are at most 64 characters: a long source id is replaced by its hash. */
function ownId(prefix: string, id: string): string {
  const whole = `${prefix}${id}`;
  return whole.length <= 64 ? whole : `${prefix}${createHash('sha256').update(id).digest('hex').slice(0, 40)}`;
}

export const bookCompositionId = (patientId: string) => ownId('book-', patientId);
export const episodeCompositionId = (encounterId: string) => ownId('book-ep-', encounterId);

/** The episode's line in the book's list; undefined for a withheld episode (it is not listed). */
export function episodeLine(book: CompiledBook, part: BookPart): EpisodeLine | undefined {
  const section = episodesSection(book);
  const row = part.sections[section.key]?.[0];
  if (part.withheld || !row) return undefined;
  return {
    compositionId: episodeCompositionId(part.key.slice(part.key.indexOf('/') + 1)),
    title: instanceTitle(section, row),
    text: (section.summary ?? []).map((c) => row[c]).filter(Boolean).join(' — '),
    updated: part.updated,
  };
}

/** The book's own Composition: the patient's sections, then the list of episodes (newest first). */
export function bookComposition(book: CompiledBook, patientId: string, own: BookPart | undefined, lines: EpisodeLine[]): Composition {
  const list = episodesSection(book);
  const sections: CompositionSection[] = book.sections
    .filter((s) => s.scope !== 'episode')
    .map((s) => tableSection(s, own?.sections[s.key] ?? []));
  const newestFirst = [...lines].reverse();
  sections.push({
    title: list.title,
    ...(list.code ? { code: { coding: [list.code] } } : {}),
    text: { status: 'generated', div: div(newestFirst.length === 0 ? `<p>${escapeHtml(list.empty ?? '')}</p>` : `<ul>${newestFirst.map((l) => `<li><b>${escapeHtml(l.title)}</b>${l.text ? `: ${escapeHtml(l.text)}` : ''}</li>`).join('')}</ul>`) },
    ...(newestFirst.length ? { entry: newestFirst.map((l) => ({ reference: `Composition/${l.compositionId}` })) } : { emptyReason: NIL_KNOWN }),
  });
  const date = [own?.updated ?? '', ...lines.map((l) => l.updated)].reduce((max, d) => (d > max ? d : max), '') || '1970-01-01T00:00:00Z';
  return {
    resourceType: 'Composition',
    id: bookCompositionId(patientId),
    meta: { profile: [BOOK_PROFILE] },
    status: 'final',
    type: { coding: [book.document.type], text: book.document.title },
    subject: { reference: `Patient/${patientId}` },
    date,
    author: AUTHOR,
    title: book.document.title,
    section: sections,
  };
}

/** One episode's Composition: its fields first, then its sections, its papers as sub-sections. */
export function episodeComposition(book: CompiledBook, part: BookPart): Composition {
  const list = episodesSection(book);
  const row = part.sections[list.key]?.[0] ?? {};
  const papers = book.sections.find((s) => s.nestedIn === list.key);
  const encounterId = part.key.slice(part.key.indexOf('/') + 1);
  const sections: CompositionSection[] = [
    {
      title: list.instanceTitle ? instanceTitle(list, row) : list.title,
      ...(list.instanceCode ? { code: { coding: [coding(list.instanceCode, row)] } } : {}),
      text: { status: 'generated', div: div(fields(list, row)) },
      entry: citations([row]),
      ...(papers && part.sections[papers.key]?.length ? { section: part.sections[papers.key].map((p) => paperSection(papers, p)) } : {}),
    },
  ];
  for (const s of book.sections.filter((x) => x.scope !== 'patient' && x !== list && !x.nestedIn)) {
    if (part.sections[s.key]?.length) sections.push(tableSection(s, part.sections[s.key]));
  }
  return {
    resourceType: 'Composition',
    id: episodeCompositionId(encounterId),
    meta: { profile: [EPISODE_PROFILE] },
    status: 'final',
    type: { coding: [EPISODE_NOTE], text: list.instanceCode?.display ?? list.title },
    subject: { reference: `Patient/${part.patientId}` },
    encounter: { reference: `Encounter/${encounterId}` },
    date: part.updated || '1970-01-01T00:00:00Z',
    author: AUTHOR,
    title: instanceTitle(list, row),
    section: sections,
  };
}

function episodesSection(book: CompiledBook): SectionDefinition {
  const s = book.sections.find((x) => x.layout === 'episodes');
  if (!s) throw new Error('mappings/healthbook/book.json has no section with layout "episodes"');
  return s;
}

function tableSection(section: SectionDefinition, rows: BookRow[]): CompositionSection {
  const entries = citations(rows);
  return {
    title: section.title,
    ...(section.code ? { code: { coding: [section.code] } } : {}),
    text: { status: 'generated', div: div(rows.length === 0 ? `<p>${escapeHtml(section.empty ?? 'Không có thông tin')}</p>` : section.layout === 'fields' ? fields(section, rows[0]) : table(section, rows)) },
    ...(entries.length ? { entry: entries } : { emptyReason: NIL_KNOWN }),
  };
}

function paperSection(section: SectionDefinition, row: BookRow): CompositionSection {
  return {
    title: instanceTitle(section, row),
    ...(section.instanceCode ? { code: { coding: [coding(section.instanceCode, row)] } } : {}),
    text: { status: 'generated', div: div(fields(section, row)) },
    entry: citations([row]),
  };
}

function coding(code: NonNullable<SectionDefinition['instanceCode']>, row: BookRow) {
  const system = code.systemColumn ? row[code.systemColumn] : code.system;
  const value = code.codeColumn ? row[code.codeColumn] : code.code;
  const display = code.displayColumn ? row[code.displayColumn] : code.display;
  return { ...(system ? { system } : {}), ...(value ? { code: value } : {}), ...(display ? { display } : {}) };
}

export function instanceTitle(section: SectionDefinition, row: BookRow): string {
  return (section.instanceTitle ?? []).map((c) => row[c]).filter(Boolean).join(' – ') || section.title;
}

function citations(rows: BookRow[]): Reference[] {
  const seen = new Set<string>();
  return rows.filter((r) => r.entry && !seen.has(r.entry) && seen.add(r.entry)).map((r) => ({ reference: r.entry }));
}

function fields(section: SectionDefinition, row: BookRow): string {
  const items = section.columns.filter((c) => row[c.name]).map((c) => `<tr><th>${escapeHtml(c.label)}</th><td>${lines(row[c.name])}</td></tr>`);
  return `<table><tbody>${items.join('')}</tbody></table>`;
}

function table(section: SectionDefinition, rows: BookRow[]): string {
  const head = section.columns.map((c) => `<th>${escapeHtml(c.label)}</th>`).join('');
  const body = rows.map((r) => `<tr>${section.columns.map((c) => `<td>${lines(r[c.name] ?? '')}</td>`).join('')}</tr>`).join('');
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

const div = (xhtml: string) => `<div xmlns="http://www.w3.org/1999/xhtml">${xhtml}</div>`;

const lines = (text: string) => escapeHtml(text).replace(/\r\n|\r|\n/g, '<br/>');
