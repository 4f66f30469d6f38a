import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import { dateRange, localIso, LOCAL_OFFSET_MINUTES } from '../fhir/dates.js';
import { parseReference } from '../fhir/references.js';
import { mappingsDir } from './folders.js';
import { reloadableCache } from './reload.js';
import { compileView, type CompiledView, type UserFunction, type ViewDefinition, type ViewOptions } from './view.js';

/**
 * The mapping files (mappings/XMLn.json, with mappings/<standard>/XMLn.json replacing a table for a
 * variant): SQL-on-FHIR ViewDefinitions, one per table, compiled once. Besides the view's own
 * constants, every expression may use the episode context the engine binds (documented in
 * mappings/README.md) and `resolve()` over the episode's resources.
 */
export interface TableMapping {
  table: string;
  view: CompiledView;
  definition: ViewDefinition;
  /** Tables whose rows it reads (`%XML2`, …): they are built first. */
  dependsOn: string[];
  /** Column → the FHIRPath that feeds it (forEach context included, constants written out), for messages. */
  sources: ReadonlyMap<string, string>;
}

/** The episode context every mapping can read. */
export const CONTEXT_VARIABLES = ['encounter', 'patient', 'coverages', 'organization', 'resources', 'today'] as const;
const TABLE_VARIABLES = Array.from({ length: 16 }, (_, i) => `XML${i}`);

/** A variable no expression names: where resolve() finds the episode's resources by `Type/id`. */
export const RESOLVE_INDEX = '__resolveIndex';

/**
 * FHIRPath `resolve()` over the episode: a Reference (or a `Type/id` string) → the resource, when the
 * episode holds it. Logical references (an identifier only) resolve to nothing; mappings read their
 * `identifier` directly.
 */
const resolve: UserFunction = {
  // internalStructures: fhirpath.js then passes `this` (the evaluation context, with its variables).
  internalStructures: true,
  fn(this: { vars?: Record<string, unknown> }, inputs: unknown[]) {
    return resolveIn(this.vars, inputs.map(valueOf));
  },
  fast: (inputs, _args, variables) => resolveIn(variables, inputs),
};

function resolveIn(variables: Record<string, unknown> | undefined, values: unknown[]): Resource[] {
  const index = variables?.[RESOLVE_INDEX] as ReadonlyMap<string, Resource> | undefined;
  if (!index) return [];
  const out: Resource[] = [];
  for (const value of values) {
    const text = typeof value === 'string' ? value : (value as { reference?: unknown })?.reference;
    const ref = typeof text === 'string' ? parseReference(text) : undefined;
    const found = ref ? index.get(`${ref.type}/${ref.id}`) : undefined;
    if (found) out.push(found);
  }
  return out;
}

/** Narrative XHTML (a paper's section text) as plain text: tags dropped, entities decoded, one line per block. */
export function plainText(xhtml: string): string {
  return xhtml
    .replace(/<br\s*\/?>|<\/(p|div|li|tr|h[1-6])>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos|nbsp);/gi, (_, e: string) => {
      const lower = e.toLowerCase();
      if (lower.startsWith('#x')) return String.fromCodePoint(parseInt(lower.slice(2), 16));
      if (lower.startsWith('#')) return String.fromCodePoint(Number(lower.slice(1)));
      return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' } as Record<string, string>)[lower];
    })
    .split('\n')
    .map((line) => line.replace(/\s+/g, ' ').trim())
    .filter(Boolean)
    .join('\n');
}

/** Calendar days from one date(Time) to another, both counted, in the deployment's zone (SO_NGAY_DTRI). */
export function calendarDays(start: string, end: string): number | undefined {
  const a = dateRange(start);
  const b = dateRange(end);
  if (!a || !b) return undefined;
  const day = (ms: number) => Math.floor((ms + LOCAL_OFFSET_MINUTES * 60_000) / 86_400_000);
  return day(b[0]) - day(a[0]) + 1;
}

/** The local calendar date (YYYY-MM-DD) of a date(Time), in the deployment's zone: the day an instant falls on in Vietnam. */
export function localDate(value: string): string | undefined {
  const range = dateRange(value);
  if (!range) return undefined;
  return localIso(range[0]).slice(0, 10);
}

const valueOf = (node: unknown) => (node as { data?: unknown })?.data ?? node;

const plainTexts = (values: unknown[]) => values.filter((v): v is string => typeof v === 'string').map(plainText);

function calendarDaysOf(start: unknown, end: unknown): number[] {
  const days = typeof start === 'string' && typeof end === 'string' ? calendarDays(start, end) : undefined;
  return days === undefined ? [] : [days];
}

/** The functions every mapping may call, each with its fast version (same behaviour, on plain values). */
const localDates = (values: unknown[]) => values.flatMap((v) => (typeof v === 'string' ? (localDate(v) ?? []) : []));

const FUNCTIONS: Record<string, UserFunction> = {
  resolve,
  localDate: {
    fn: (inputs: unknown[]) => localDates(inputs.map(valueOf)),
    fast: (inputs) => localDates(inputs),
    arity: { 0: [] },
  },
  plainText: {
    fn: (inputs: unknown[]) => plainTexts(inputs.map(valueOf)),
    fast: (inputs) => plainTexts(inputs),
    arity: { 0: [] },
  },
  calendarDays: {
    fn: (inputs: unknown[], end: unknown) => calendarDaysOf(valueOf(inputs[0]), valueOf(Array.isArray(end) ? end[0] : end)),
    fast: (inputs, [end]) => calendarDaysOf(inputs[0], end[0]),
    arity: { 1: ['Any'] as const },
  },
};

const cache = reloadableCache<string, TableMapping[]>();

/**
 * The mappings of a standard, in the order they must run (a table after the tables it reads).
 * `engine: 'fhirpath'` compiles them to run on fhirpath.js only (parity tests); by default a view
 * runs on the fast path when all its expressions compile there (see view.ts).
 */
export function tableMappings(standard: string, dir = mappingsDir(), engine: 'auto' | 'fhirpath' = 'auto'): TableMapping[] {
  const key = `${dir}\u0000${standard}\u0000${engine}`;
  let mappings = cache.get(key);
  if (!mappings) {
    const files = new Map<string, string>();
    for (const folder of [dir, join(dir, standard)]) {
      if (!existsSync(folder)) continue;
      for (const file of readdirSync(folder).filter((f) => /^XML\d+\.json$/.test(f))) files.set(file.replace(/\.json$/, ''), join(folder, file));
    }
    const loaded = [...files].map(([table, file]) => load(table, file, engine));
    mappings = runOrder(loaded);
    cache.set(key, mappings);
  }
  return mappings;
}

function load(table: string, file: string, engine: 'auto' | 'fhirpath'): TableMapping {
  const text = readFileSync(file, 'utf8');
  const definition = JSON.parse(text) as ViewDefinition;
  const dependsOn = [...new Set([...text.matchAll(/%(XML\d+)\b/g)].map((m) => m[1]))].filter((t) => t !== table);
  try {
    const view = compileMapping(definition, { engine });
    const constants = new Map((definition.constant ?? []).map((c) => [c.name, Object.entries(c).find(([k]) => k.startsWith('value'))?.[1]]));
    const inline = (path: string) => path.replace(/%([A-Za-z_][A-Za-z0-9_]*)/g, (all, name: string) => (constants.has(name) ? JSON.stringify(constants.get(name)).replace(/^"|"$/g, "'") : all));
    const sources = new Map(view.columns.map((c) => [c.name, inline([...c.context, c.path].join('.'))]));
    return { table, view, definition, dependsOn, sources };
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
}

/** A mapping file's view, compiled with the functions every mapping has and the claim tables' variables (unless told others). */
export function compileMapping(definition: ViewDefinition, options: Pick<ViewOptions, 'engine' | 'onFallBack' | 'variables'> = {}): CompiledView {
  return compileView(definition, { ...options, functions: FUNCTIONS, variables: options.variables ?? [...CONTEXT_VARIABLES, ...TABLE_VARIABLES] });
}

function runOrder(mappings: TableMapping[]): TableMapping[] {
  const byTable = new Map(mappings.map((m) => [m.table, m]));
  const ordered: TableMapping[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (m: TableMapping, path: string[]) => {
    if (state.get(m.table) === 'done') return;
    if (state.get(m.table) === 'visiting') throw new Error(`mappings read each other in a cycle: ${[...path, m.table].join(' → ')}`);
    state.set(m.table, 'visiting');
    for (const dep of m.dependsOn) {
      const d = byTable.get(dep);
      if (d) visit(d, [...path, m.table]);
    }
    state.set(m.table, 'done');
    ordered.push(m);
  };
  for (const m of [...mappings].sort((a, b) => tableNumber(a.table) - tableNumber(b.table))) visit(m, []);
  return ordered;
}

const tableNumber = (t: string) => Number(t.slice(3));
