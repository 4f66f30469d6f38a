import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import fhirpath from 'fhirpath';
import { mappingFolders, type MappingFolders } from '../../mapping/folders.js';
import { CONTEXT_VARIABLES, compileMapping } from '../../mapping/mappings.js';
import { memberPathType } from '../../mapping/view-fhirpath.js';
import { ViewError, type ViewDefinition } from '../../mapping/view.js';
import { BOOK_VARIABLES } from '../../outputs/healthbook/definition.js';
import { XML_STANDARDS, type FieldDefinition, type TableDefinition } from '../../outputs/xml/table-definition.js';
import { isCodeSystemUrl, knownCodeSystems } from './code-systems.js';
import { parseJsonLocated, parseYamlLocated, type JsonPath, type Located, type Position } from './positions.js';
import { viewColumns, viewExpressions } from './view-walk.js';

/**
 * The mapping linter: every problem in mappings/ and profiles/ that would make a claim file or a
 * health book wrong, said as `file:line:column: severity: message` before any episode meets it.
 *
 * Errors: JSON/YAML syntax, FHIRPath syntax, views that do not compile, columns that are not fields
 * of their table, required fields no column fills, values whose type cannot be written in the field
 * (a CodeableConcept in a text field, a date in a number), code systems that exist nowhere, book
 * sections showing columns their views lack. Warnings: optional or conditionally required fields no
 * column fills — many are optional by the standard, and the warning lists what a table leaves empty.
 * Fields the engine fills itself (STT, the line amounts of XML2/XML3) are not reported.
 */
export interface LintFinding {
  file: string;
  line: number;
  column: number;
  severity: 'error' | 'warning';
  message: string;
}

export function formatFinding(f: LintFinding): string {
  return `${f.file}:${f.line}:${f.column}: ${f.severity}: ${f.message}`;
}

/** Filled by the engine when the mapping leaves them out (row numbers; QĐ 4750 §3.8 line amounts). */
const ENGINE_FILLED = ['STT'];
/** Reserved by the standard for later use: always empty. */
const RESERVED = ['DU_PHONG'];
const LINE_AMOUNTS = ['THANH_TIEN_BV', 'THANH_TIEN_BH', 'T_BNTT', 'T_BNCCT', 'T_BHTT', 'T_NGUONKHAC', 'T_NGUONKHAC_NSNN', 'T_NGUONKHAC_VTNN', 'T_NGUONKHAC_VTTN', 'T_NGUONKHAC_CL', 'DON_GIA_BH', 'TYLE_TT_DV'];
const TABLE_VARIABLES = Array.from({ length: 16 }, (_, i) => `XML${i}`);

class Findings {
  readonly list: LintFinding[] = [];
  private readonly seen = new Set<string>();
  add(file: string, position: Position, severity: LintFinding['severity'], message: string): void {
    const f = { file: displayPath(file), ...position, severity, message };
    const key = formatFinding(f);
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.list.push(f);
  }
}

export function lintFolders(folders: MappingFolders = mappingFolders()): LintFinding[] {
  const findings = new Findings();
  const known = knownCodeSystems(folders.profiles, folders.mappings);
  const definitions = lintTableDefinitions(folders.profiles, findings);
  lintClaimRules(folders.profiles, findings);
  lintClaimMappings(folders.mappings, definitions, known, findings);
  lintBook(join(folders.mappings, 'healthbook'), known, findings);
  return findings.list.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
}

// --- profiles/qd4750 --------------------------------------------------------------------------------

interface LoadedDefinition {
  file: string;
  definition: TableDefinition;
}

/** Each layer's table definitions (`4750/XML1.yaml` …), checked; the 3176 layer replaces tables of 4750. */
function lintTableDefinitions(profilesDir: string, findings: Findings): Map<string, Map<string, LoadedDefinition>> {
  const byStandard = new Map<string, Map<string, LoadedDefinition>>();
  const layers = new Map<string, Map<string, LoadedDefinition>>();
  for (const layer of XML_STANDARDS) {
    const dir = join(profilesDir, 'qd4750', layer);
    const tables = new Map<string, LoadedDefinition>();
    for (const name of listFiles(dir, /^XML\d+\.yaml$/)) {
      const file = join(dir, name);
      const parsed = parseYamlLocated(readFileSync(file, 'utf8'));
      for (const e of parsed.errors) findings.add(file, e.position, 'error', e.message);
      const def = parsed.value as TableDefinition | undefined;
      if (!def) continue;
      (def.fields ?? []).forEach((f, i) => {
        if (f.type !== 'string' && f.type !== 'number') findings.add(file, parsed.at(['fields', i, 'type']), 'error', `field ${f.name}: type is string or number, not ${JSON.stringify(f.type)}`);
        if (f.codes && !existsSync(join(profilesDir, 'fhir', `CodeSystem-${f.codes}.json`))) {
          findings.add(file, parsed.at(['fields', i, 'codes']), 'error', `field ${f.name}: unknown code system ${f.codes} (no profiles/fhir/CodeSystem-${f.codes}.json)`);
        }
        if (f.requiredWhen) checkSyntax(file, parsed, ['fields', i, 'requiredWhen'], f.requiredWhen, findings);
      });
      if (def.includeWhen) checkSyntax(file, parsed, ['includeWhen'], def.includeWhen, findings);
      (def.rules ?? []).forEach((r, i) => r.expression && checkSyntax(file, parsed, ['rules', i, 'expression'], r.expression, findings));
      tables.set(def.table, { file, definition: { ...def, fields: def.fields ?? [], rules: def.rules ?? [] } });
    }
    layers.set(layer, tables);
  }
  for (const standard of XML_STANDARDS) {
    const merged = new Map(layers.get('4750'));
    if (standard !== '4750') for (const [t, d] of layers.get(standard) ?? []) merged.set(t, d);
    byStandard.set(standard, merged);
  }
  return byStandard;
}

function lintClaimRules(profilesDir: string, findings: Findings): void {
  const file = join(profilesDir, 'qd4750', 'claim-rules.yaml');
  if (!existsSync(file)) return;
  const parsed = parseYamlLocated(readFileSync(file, 'utf8'));
  for (const e of parsed.errors) findings.add(file, e.position, 'error', e.message);
  const rules = (parsed.value as { rules?: { expression?: string }[] } | undefined)?.rules ?? [];
  rules.forEach((r, i) => r.expression && checkSyntax(file, parsed, ['rules', i, 'expression'], r.expression, findings));
}

// --- mappings/XMLn.json --------------------------------------------------------------------------------

function lintClaimMappings(dir: string, definitions: Map<string, Map<string, LoadedDefinition>>, known: (url: string) => boolean, findings: Findings): void {
  const files = [
    ...listFiles(dir, /^XML\d+\.json$/).map((name) => ({ file: join(dir, name), table: name.slice(0, -5), layer: undefined as string | undefined })),
    ...XML_STANDARDS.flatMap((s) => listFiles(join(dir, s), /^XML\d+\.json$/).map((name) => ({ file: join(dir, s, name), table: name.slice(0, -5), layer: s as string | undefined }))),
  ];
  for (const { file, table, layer } of files) {
    const parsed = lintView(file, [...CONTEXT_VARIABLES, ...TABLE_VARIABLES], known, findings);
    if (!parsed) continue;
    // The standards this file serves: its own layer's, or those without a file of their own for the table.
    const standards = layer ? [layer] : XML_STANDARDS.filter((s) => !existsSync(join(dir, s, `${table}.json`)));
    for (const standard of standards) {
      const loaded = definitions.get(standard)?.get(table);
      if (!loaded) {
        findings.add(file, parsed.key(['resource']), 'error', `${table} has no table definition in profiles/qd4750 for QĐ ${standard}`);
        continue;
      }
      checkAgainstDefinition(file, parsed, loaded, findings);
    }
  }
}

function checkAgainstDefinition(file: string, parsed: Located & { value: unknown }, loaded: LoadedDefinition, findings: Findings): void {
  const { definition: def } = loaded;
  const defFile = displayPath(loaded.file);
  const resource = (parsed.value as ViewDefinition).resource;
  const columns = viewColumns(parsed.value).filter((c) => !c.laterBranch);
  for (const c of columns) {
    const field = def.fields.find((f) => f.name === c.name);
    if (!field) {
      findings.add(file, parsed.at([...c.path, 'name']), 'error', `column ${c.name} is not a field of ${def.table} (${defFile})`);
      continue;
    }
    const type = c.type ?? (c.iterated ? undefined : pathType(resource, c.expression));
    const problem = type ? typeMismatch(type, field) : undefined;
    if (problem) findings.add(file, parsed.at([...c.path, c.type ? 'type' : 'path']), 'error', `column ${c.name}: ${problem} (${defFile})`);
  }
  const filled = new Set(columns.map((c) => c.name));
  const engine = new Set([...ENGINE_FILLED, ...RESERVED, ...(def.derive === 'line-amounts' ? LINE_AMOUNTS : [])]);
  for (const f of def.fields) {
    if (filled.has(f.name) || engine.has(f.name)) continue;
    const why = f.required ? 'is required' : f.requiredWhen ? `is required when ${f.requiredWhen}` : 'is optional';
    findings.add(file, parsed.key(['select']), f.required ? 'error' : 'warning', `field ${f.name} of ${def.table} ${why} and no column fills it (${defFile})`);
  }
}

/** The FHIR type of a column's path when it is a plain member path of the resource (`birthDate`), else undefined. */
function pathType(resource: string, expression: string): string | undefined {
  if (!/^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$/.test(expression)) return undefined;
  return memberPathType(resource, expression.split('.'));
}

const TEMPORAL = new Set(['date', 'dateTime', 'instant', 'time']);
const NUMERIC = new Set(['integer', 'decimal', 'positiveInt', 'unsignedInt', 'integer64']);

/** Why values of FHIR `type` cannot be written in `field`; undefined when they can. */
export function typeMismatch(type: string, field: FieldDefinition): string | undefined {
  const t = type.replace(/^System\./, '');
  const complex = /^[A-Z]/.test(t) && !['String', 'Boolean', 'Integer', 'Decimal', 'Date', 'DateTime', 'Time'].includes(t);
  if (complex) return `a ${t} cannot be written in ${field.name} (${field.type}); select one of its elements`;
  const lower = t.charAt(0).toLowerCase() + t.slice(1);
  if (field.format && (NUMERIC.has(lower) || lower === 'boolean')) return `a ${lower} is not a date or time, but ${field.name} is written ${field.format}`;
  if (!field.format && (field.type === 'number' || field.decimals !== undefined) && TEMPORAL.has(lower)) return `a ${lower} is not a number, but ${field.name} is one`;
  return undefined;
}

// --- views (claim tables and the health book) ------------------------------------------------------------

/** Checks one view file: JSON, FHIRPath syntax, compilation and code systems. Answers the parsed file, or undefined when it is not JSON. */
function lintView(file: string, variables: string[], known: (url: string) => boolean, findings: Findings): ReturnType<typeof parseJsonLocated> | undefined {
  const parsed = parseJsonLocated(readFileSync(file, 'utf8'));
  for (const e of parsed.errors) findings.add(file, e.position, 'error', e.message);
  if (parsed.errors.length || parsed.value === undefined) return undefined;
  let syntaxErrors = 0;
  for (const { path, expression } of viewExpressions(parsed.value)) if (!checkSyntax(file, parsed, path, expression, findings)) syntaxErrors++;
  if (syntaxErrors === 0) {
    try {
      compileMapping(parsed.value as ViewDefinition, { variables });
    } catch (e) {
      if (!(e instanceof ViewError)) throw e;
      findings.add(file, parsed.at(viewErrorPath(e.location)), 'error', e.message);
    }
  }
  checkCodeSystems(file, parsed, known, findings);
  return parsed;
}

/** `select[1].column[0] (name: MA_LK)` → ['select', 1, 'column', 0]. */
export function viewErrorPath(location: string): JsonPath {
  const path: JsonPath = [];
  for (const m of location.replace(/ \(name: [^)]*\)/g, '').matchAll(/([A-Za-z_]+)|\[(\d+)\]/g)) path.push(m[1] ?? Number(m[2]));
  return path;
}

/** Code systems a view names: in its constants, in string literals, and as `%base + 'name'` of a base constant ending in /CodeSystem/. */
function checkCodeSystems(file: string, parsed: ReturnType<typeof parseJsonLocated>, known: (url: string) => boolean, findings: Findings): void {
  const view = parsed.value as ViewDefinition;
  const constants = new Map<string, { value: string; index: number }>();
  (view.constant ?? []).forEach((c, i) => {
    const key = Object.keys(c).find((k) => k.startsWith('value'));
    const value = key ? c[key as `value${string}`] : undefined;
    if (typeof value !== 'string') return;
    constants.set(c.name, { value, index: i });
    if (isCodeSystemUrl(value) && !known(value)) findings.add(file, parsed.at(['constant', i, key!]), 'error', `unknown code system ${value} (constant %${c.name}): not in profiles/fhir, profiles/catalogues or mappings/lint.json`);
  });
  for (const { path, expression } of viewExpressions(view)) {
    for (const m of expression.matchAll(/'((?:[^'\\]|\\.)*)'/g)) {
      if (isCodeSystemUrl(m[1]) && !known(m[1])) findings.add(file, parsed.inString(path, m.index!), 'error', `unknown code system ${m[1]}`);
    }
    for (const m of expression.matchAll(/%([A-Za-z][A-Za-z0-9_]*)\s*\+\s*'([^']*)'/g)) {
      const base = constants.get(m[1]);
      if (!base || !base.value.endsWith('/CodeSystem/')) continue;
      const url = base.value + m[2];
      if (!known(url)) findings.add(file, parsed.inString(path, m.index!), 'error', `unknown code system ${url} (%${m[1]} + '${m[2]}')`);
    }
  }
}

/** Reports a FHIRPath syntax error at its character; true when the expression parses. */
function checkSyntax(file: string, located: Located, path: JsonPath, expression: string, findings: Findings): boolean {
  try {
    fhirpath.parse(expression);
    return true;
  } catch (e) {
    const message = (e as Error).message;
    const m = /line: (\d+); column: (\d+); message: (.*)/s.exec(message);
    const index = m ? offsetInText(expression, Number(m[1]), Number(m[2])) : 0;
    findings.add(file, located.inString(path, index), 'error', `FHIRPath syntax error: ${(m ? m[3] : message).split('\n')[0]}`);
    return false;
  }
}

/** A (line from 1, column from 0) place in a text as an offset. */
function offsetInText(text: string, line: number, column: number): number {
  const lines = text.split('\n');
  return lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0) + column;
}

// --- mappings/healthbook -----------------------------------------------------------------------------------

function lintBook(dir: string, known: (url: string) => boolean, findings: Findings): void {
  const bookFile = join(dir, 'book.json');
  if (!existsSync(bookFile)) return;
  const book = parseJsonLocated(readFileSync(bookFile, 'utf8'));
  for (const e of book.errors) findings.add(bookFile, e.position, 'error', e.message);
  const value = book.value as { withheldEpisodes?: string; sections?: { key: string; views?: string[]; columns?: { name: string }[] }[] } | undefined;
  if (!value) return;
  const views = new Map<string, string[]>();
  const sectionViews = new Set((value.sections ?? []).flatMap((s) => s.views ?? []));
  const viewColumnsOf = (name: string): string[] | undefined => {
    if (!views.has(name)) {
      const file = join(dir, `${name}.json`);
      if (!existsSync(file)) return undefined;
      const parsed = lintView(file, [...BOOK_VARIABLES], known, findings);
      const columns = parsed ? viewColumns(parsed.value).map((c) => c.name) : [];
      if (parsed && sectionViews.has(name) && !columns.includes('entry')) findings.add(file, parsed.key(['select']), 'error', "a book view needs an 'entry' column: the resource a row cites");
      views.set(name, columns);
    }
    return views.get(name);
  };
  if (value.withheldEpisodes && !viewColumnsOf(value.withheldEpisodes)) findings.add(bookFile, book.at(['withheldEpisodes']), 'error', `no view ${value.withheldEpisodes}.json in ${displayPath(dir)}`);
  (value.sections ?? []).forEach((s, i) => {
    const columns = new Set<string>();
    (s.views ?? []).forEach((v, j) => {
      const found = viewColumnsOf(v);
      if (!found) findings.add(bookFile, book.at(['sections', i, 'views', j]), 'error', `section ${s.key}: no view ${v}.json in ${displayPath(dir)}`);
      for (const c of found ?? []) columns.add(c);
    });
    (s.columns ?? []).forEach((c, k) => {
      if (!columns.has(c.name)) findings.add(bookFile, book.at(['sections', i, 'columns', k, 'name']), 'error', `section ${s.key} shows column ${c.name}, which none of its views (${(s.views ?? []).join(', ')}) has`);
    });
  });
}

// --- files -------------------------------------------------------------------------------------------------

function listFiles(dir: string, pattern: RegExp): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => pattern.test(f)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true })) : [];
}

function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}
