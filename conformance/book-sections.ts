import type { Bundle, Composition, CompositionSection } from '@medplum/fhirtypes';
import { DOMParser } from '@xmldom/xmldom';
import type { CompiledBook, SectionDefinition } from '../gateway/outputs/healthbook/definition.js';
import type { BookPart } from '../gateway/outputs/healthbook/projection.js';
import { wantGot } from './xml-diff.js';

/**
 * A case's health book as its expectations are written (`expected/healthbook.json`): section key
 * (book.json) → rows, each the section's columns as the book shows them (formatted text, empty
 * ones left out). Made the same way from the book's parts (in process) and from a `$summary`
 * document (against a deployment, from the Compositions' narratives), so that one expectation
 * serves both.
 */
export type BookSections = Record<string, Record<string, string>[]>;

export interface BookExpectation {
  description?: string;
  /** The sections to compare; a section left out is not checked, an empty list means it must be empty. */
  sections: BookSections;
}

/** The shown sections of the patient's part, then of each episode's part (withheld ones show nothing). */
export function sectionsOfParts(book: CompiledBook, parts: BookPart[]): BookSections {
  const out: BookSections = {};
  for (const part of parts.filter((p) => !p.withheld)) {
    for (const s of book.sections) {
      for (const row of part.sections[s.key] ?? []) (out[s.key] ??= []).push(shownColumns(s, row));
    }
  }
  return out;
}

/** A value as the narrative can carry it: line breaks are <br/> there, so CRLF and CR read as one break. */
const lineBreaks = (text: string) => text.replace(/\r\n?/g, '\n');
const shownColumns = (s: SectionDefinition, row: Record<string, string>) => Object.fromEntries(s.columns.filter((c) => row[c.name]).map((c) => [c.name, lineBreaks(row[c.name])]));

/**
 * The same read from a `$summary` document: the book's Composition for the patient's sections, and
 * the episode Composition of `encounter` (`Encounter/<id>`) for the episode's — its first section
 * holds the episode's fields and the papers as sub-sections.
 */
export function sectionsOfDocument(book: CompiledBook, document: Bundle, encounter: string): BookSections {
  const compositions = (document.entry ?? []).map((e) => e.resource).filter((r): r is Composition => r?.resourceType === 'Composition');
  const own = compositions.find((c) => !c.encounter);
  const episode = compositions.find((c) => c.encounter?.reference === encounter);
  const out: BookSections = {};
  const add = (s: SectionDefinition, rows: Record<string, string>[]) => rows.length && (out[s.key] ??= []).push(...rows);
  for (const s of book.sections.filter((x) => x.scope !== 'episode' && x.layout !== 'episodes')) {
    const section = own?.section?.find((x) => x.title === s.title);
    if (section) add(s, rowsOfNarrative(s, section));
  }
  if (episode) {
    const list = book.sections.find((s) => s.layout === 'episodes');
    const papers = book.sections.find((s) => s.nestedIn === list?.key);
    const [first, ...rest] = episode.section ?? [];
    if (list && first) add(list, rowsOfNarrative(list, first));
    if (papers) for (const sub of first?.section ?? []) add(papers, rowsOfNarrative(papers, sub));
    for (const s of book.sections.filter((x) => x.scope !== 'patient' && x !== list && !x.nestedIn)) {
      const section = rest.find((x) => x.title === s.title);
      if (section) add(s, rowsOfNarrative(s, section));
    }
  }
  return out;
}

/** A section's narrative table back into rows: label/value pairs (`fields`) or a header and body rows. */
function rowsOfNarrative(s: SectionDefinition, section: CompositionSection): Record<string, string>[] {
  const div = section.text?.div;
  if (!div) return [];
  const doc = new DOMParser().parseFromString(div, 'text/xml');
  const byLabel = new Map(s.columns.map((c) => [c.label, c.name]));
  const trs = Array.from(doc.getElementsByTagName('tr'));
  const head = doc.getElementsByTagName('thead')[0];
  if (!head) {
    // fields: one row of <tr><th>label</th><td>value</td></tr>.
    const row: Record<string, string> = {};
    for (const tr of trs) {
      const name = byLabel.get(text(tr.getElementsByTagName('th')[0]));
      const value = text(tr.getElementsByTagName('td')[0]);
      if (name && value) row[name] = value;
    }
    return Object.keys(row).length ? [row] : [];
  }
  const labels = Array.from(head.getElementsByTagName('th')).map(text);
  return trs
    .filter((tr) => tr.getElementsByTagName('td').length > 0)
    .map((tr) => {
      const row: Record<string, string> = {};
      Array.from(tr.getElementsByTagName('td')).forEach((td, i) => {
        const name = byLabel.get(labels[i]);
        const value = text(td);
        if (name && value) row[name] = value;
      });
      return row;
    });
}

/** An element's text with `<br/>` as a line break, as the book wrote multi-line values. */
function text(node: Node | undefined): string {
  if (!node) return '';
  let out = '';
  for (let n = node.firstChild; n; n = n.nextSibling) {
    // A raw line break in the narrative's text is a CR the book left beside its <br/>: the <br/> is the break.
    if (n.nodeType === 3) out += (n.nodeValue ?? '').replace(/[\r\n]/g, '');
    else if ((n as Element).tagName === 'br') out += '\n';
    else out += text(n);
  }
  return out;
}

/**
 * `-want +got` per section, row and column, for the sections the expectation names. Rows are matched
 * whatever their order: rows the book sorts equal (two papers of the same day and kind) come in the
 * order of their resources' ids, which a store assigns; the book's ordering is tested in
 * test/healthbook. Unmatched rows are compared pairwise, in order, field by field.
 */
export function diffBookSections(want: BookExpectation, got: BookSections): string[] {
  const out: string[] = [];
  const same = (a: Record<string, string>, b: Record<string, string>) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
  for (const [key, rows] of Object.entries(want.sections)) {
    const actual = got[key] ?? [];
    if (rows.length !== actual.length) out.push(`book ${key} rows: ${wantGot(String(rows.length), String(actual.length))}`);
    const unmatched = [...actual.keys()];
    const missing = [...rows.keys()].filter((i) => {
      const j = unmatched.findIndex((k) => same(rows[i], actual[k]));
      if (j < 0) return true;
      unmatched.splice(j, 1);
      return false;
    });
    missing.forEach((i, n) => {
      const k = unmatched[n];
      if (k === undefined) return;
      for (const column of [...new Set([...Object.keys(rows[i]), ...Object.keys(actual[k])])]) {
        const [w, g] = [rows[i][column], actual[k][column]];
        if (w !== g) out.push(`book ${key} row ${i + 1} ${column}: ${wantGot(w === undefined ? '(empty)' : JSON.stringify(w), g === undefined ? '(empty)' : JSON.stringify(g))}`);
      }
    });
  }
  return out;
}
