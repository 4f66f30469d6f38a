import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CodeSystem, CodeSystemConcept } from '@medplum/fhirtypes';
import { compilePathFast } from '../../fhir/fhirpath.js';
import type { IssueCode, Text } from '../../fhir/outcome.js';
import { profilesDir } from '../../mapping/folders.js';
import type { FieldDefinition, TableDefinition } from './table-definition.js';

/**
 * The checks a table definition declares, compiled once per table: presence (required, required
 * when), length, pattern, code list, and the row rules. A row is checked as the text that will be
 * written, and its FHIRPath rules see it typed: numbers as numbers, the rest as strings, empty
 * fields absent.
 */
export type TypedRow = Record<string, string | number>;

export interface RowProblem {
  /** The field at fault; undefined for a rule over several fields. */
  field?: string;
  severity: 'error' | 'warning';
  code: IssueCode;
  message: Text;
}

export type RowCheck = (texts: readonly string[], row: TypedRow) => RowProblem[];

const NUMBER_TEXT = /^-?\d+(\.\d+)?$/;

/** Field texts (in field order) → the typed row FHIRPath rules and later tables see. */
export function typedRow(def: TableDefinition, texts: readonly string[]): TypedRow {
  const row: TypedRow = {};
  const fields = def.fields;
  for (let i = 0; i < fields.length; i++) {
    const t = texts[i];
    if (t === undefined || t === '') continue;
    const f = fields[i];
    row[f.name] = f.type === 'number' && !f.multiple && NUMBER_TEXT.test(t) ? Number(t) : t;
  }
  return row;
}

const checks = new Map<TableDefinition, RowCheck>();

export function rowCheck(def: TableDefinition): RowCheck {
  let check = checks.get(def);
  if (!check) {
    check = compileChecks(def);
    checks.set(def, check);
  }
  return check;
}

function compileChecks(def: TableDefinition): RowCheck {
  const fieldChecks = def.fields.map((f, i) => fieldCheck(def, f, i));
  const rules = def.rules.map((r) => {
    const fn = compiled(def, r.key, r.expression);
    return (row: TypedRow): RowProblem | undefined =>
      isFalse(fn(row)) ? { severity: r.severity, code: 'invariant', message: withKey(r.message, r.key) } : undefined;
  });
  return (texts, row) => {
    const problems: RowProblem[] = [];
    for (const check of fieldChecks) check(texts, row, problems);
    for (const rule of rules) {
      const p = rule(row);
      if (p) problems.push(p);
    }
    return problems;
  };
}

type FieldCheck = (texts: readonly string[], row: TypedRow, out: RowProblem[]) => void;

function fieldCheck(def: TableDefinition, f: FieldDefinition, index: number): FieldCheck {
  const requiredWhen = f.requiredWhen ? compiled(def, `${f.name}.requiredWhen`, f.requiredWhen) : undefined;
  const pattern = f.pattern ? new RegExp(f.pattern, 'u') : undefined;
  const allowed = codeList(f);
  // Runs for every field of every row (~3,000 times for a stay of 150 resources): no closure or
  // array is made on the way when the field is fine.
  return (texts, row, out) => {
    const text = texts[index] ?? '';
    if (text === '') {
      if (f.required) problem(out, f, 'required', { vi: `${f.name} là bắt buộc`, en: `${f.name} is required` });
      else if (requiredWhen && isTrue(requiredWhen(row))) {
        problem(out, f, 'required', { vi: `${f.name} là bắt buộc khi ${f.requiredWhen}`, en: `${f.name} is required when ${f.requiredWhen}` });
      }
      return;
    }
    // Lengths count characters, as the portal does (a Vietnamese name is longer in UTF-8 bytes);
    // a text no longer in UTF-16 units has no more characters.
    if (f.length !== undefined && text.length > f.length) {
      const length = [...text].length;
      if (length > f.length) {
        problem(out, f, 'too-long', { vi: `${f.name} dài ${length} ký tự, tối đa ${f.length}`, en: `${f.name} is ${length} characters long, at most ${f.length}` });
      }
    }
    if (!pattern && !allowed) return;
    for (const value of f.multiple ? text.split(';') : [text]) {
      if (pattern && !pattern.test(value)) {
        problem(out, f, 'value', { vi: `${f.name}: "${value}" không đúng định dạng ${f.pattern}`, en: `${f.name}: "${value}" does not match ${f.pattern}` });
      }
      if (allowed && !allowed.has(value)) {
        problem(out, f, 'code-invalid', {
          vi: `${f.name}: "${value}" không có trong danh mục ${f.codes ?? [...allowed].join(', ')}`,
          en: `${f.name}: "${value}" is not in the code list ${f.codes ?? [...allowed].join(', ')}`,
        });
      }
    }
  };
}

function problem(out: RowProblem[], f: FieldDefinition, code: IssueCode, message: Text, severity: 'error' | 'warning' = 'error'): void {
  out.push({ field: f.name, severity, code, message });
}

/** The allowed texts of a field: a project CodeSystem's codes, or its inline values. */
function codeList(f: FieldDefinition): ReadonlySet<string> | undefined {
  if (f.values) return new Set(f.values.map(String));
  if (!f.codes) return undefined;
  const file = join(profilesDir(), 'fhir', `CodeSystem-${f.codes}.json`);
  if (!existsSync(file)) throw new Error(`${f.name}: no CodeSystem ${f.codes} in profiles/fhir`);
  const cs = JSON.parse(readFileSync(file, 'utf8')) as CodeSystem;
  const codes = new Set<string>();
  const add = (concepts: CodeSystemConcept[] | undefined) => {
    for (const c of concepts ?? []) {
      codes.add(c.code);
      add(c.concept);
    }
  };
  add(cs.concept);
  return codes;
}

function compiled(def: TableDefinition, where: string, expression: string) {
  try {
    // Rows are plain data: the fast path evaluates nearly every rule (fhirpath.js the few it declines).
    return compilePathFast(expression);
  } catch (e) {
    throw new Error(`${def.table} ${where}: ${(e as Error).message}`);
  }
}

const isTrue = (r: unknown[]) => r.length === 1 && r[0] === true;
const isFalse = (r: unknown[]) => r.length === 1 && r[0] === false;

function withKey(message: Text, key: string): Text {
  return typeof message === 'string' ? `${message} (${key})` : { vi: `${message.vi} (${key})`, en: `${message.en} (${key})` };
}
