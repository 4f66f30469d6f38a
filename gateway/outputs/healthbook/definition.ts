import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Coding } from '@medplum/fhirtypes';
import { compileMapping } from '../../mapping/mappings.js';
import type { CompiledView, ViewDefinition } from '../../mapping/view.js';
import { mappingsDir } from '../../mapping/folders.js';
import { reloadableCache } from '../../mapping/reload.js';

/**
 * mappings/healthbook/book.json: the health book's layout as data — its sections in order, the
 * views (mapping files in the same folder) that fill each one, how each column is labelled and
 * shown, and what must never reach the citizen. Compiled once per folder.
 */
export type Scope = 'patient' | 'episode';

export interface ColumnLayout {
  name: string;
  label: string;
  /** How a value is shown: `date` dd/MM/yyyy, `datetime` dd/MM/yyyy HH:mm (Vietnam time); text otherwise. */
  format?: 'date' | 'datetime';
}

export interface SectionDefinition {
  key: string;
  block: 'A' | 'B' | 'C' | 'D';
  title: string;
  titleEn: string;
  code?: Coding;
  scope: Scope | 'both';
  views: string[];
  /** fields: one record shown as label/value pairs; table: one row per record; episodes/papers: a sub-section per record. */
  layout: 'fields' | 'table' | 'episodes' | 'papers';
  empty?: string;
  columns: ColumnLayout[];
  /** Columns that order the rows inside a part (ascending), before the part order. */
  order?: string[];
  /** For sub-sections: their code (fixed, or from columns of the row). */
  instanceCode?: Coding & { systemColumn?: string; codeColumn?: string; displayColumn?: string };
  /** Columns joined (with ' – ') to title each sub-section. */
  instanceTitle?: string[];
  /** For the episodes section: the columns joined into an episode's line in the book's list. */
  summary?: string[];
  /** Papers are sub-sections of their episode's sub-section. */
  nestedIn?: string;
}

export interface BookDefinition {
  document: { type: Coding; title: string };
  sensitiveLabels: { system: string; codes: string[] }[];
  /** The view (one row, column `withheld`) that says whether an episode stays out of the book. */
  withheldEpisodes: string;
  /** The patient's own resources besides the Patient: each type and the search parameter that points at the patient. */
  patientResources: { type: string; param: string }[];
  sections: SectionDefinition[];
  /** For each resource type the book may cite, the elements its document copy keeps (`value[x]` for any choice). */
  entryElements: Record<string, string[]>;
}

export interface CompiledBook extends BookDefinition {
  views: ReadonlyMap<string, CompiledView>;
  withheld: CompiledView;
  /** Resource types each scope's views read (what a part is built from). */
  typesOf: Record<Scope, ReadonlySet<string>>;
}

/** The variables book views may read. Not %patient: see book.json's description. */
export const BOOK_VARIABLES = ['subject', 'encounter', 'organization', 'resources'] as const;

const cache = reloadableCache<string, CompiledBook>();

export function healthBook(dir = join(mappingsDir(), 'healthbook')): CompiledBook {
  let book = cache.get(dir);
  if (!book) {
    book = compileBook(dir);
    cache.set(dir, book);
  }
  return book;
}

function compileBook(dir: string): CompiledBook {
  const definition = JSON.parse(readFileSync(join(dir, 'book.json'), 'utf8')) as BookDefinition;
  const names = new Set([definition.withheldEpisodes, ...definition.sections.flatMap((s) => s.views)]);
  const views = new Map<string, CompiledView>();
  for (const name of names) {
    const file = join(dir, `${name}.json`);
    try {
      views.set(name, compileMapping(JSON.parse(readFileSync(file, 'utf8')) as ViewDefinition, { variables: [...BOOK_VARIABLES] }));
    } catch (e) {
      throw new Error(`${file}: ${(e as Error).message}`);
    }
  }
  const typesOf: Record<Scope, Set<string>> = { patient: new Set(), episode: new Set() };
  for (const section of definition.sections) {
    const columns = new Set(section.views.flatMap((name) => views.get(name)!.columns.map((c) => c.name)));
    for (const column of section.columns) {
      if (!columns.has(column.name)) throw new Error(`${join(dir, 'book.json')}: section ${section.key} shows column ${column.name}, which none of its views has`);
    }
    for (const name of section.views) {
      const view = views.get(name)!;
      if (!view.columns.some((c) => c.name === 'entry')) throw new Error(`${join(dir, `${name}.json`)}: a book view needs an 'entry' column (the resource a row cites)`);
      if (section.scope !== 'episode') typesOf.patient.add(view.resource);
      if (section.scope !== 'patient') typesOf.episode.add(view.resource);
    }
  }
  return { ...definition, views, withheld: views.get(definition.withheldEpisodes)!, typesOf };
}
