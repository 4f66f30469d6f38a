import type { Resource } from '@medplum/fhirtypes';
import { dateRange, OPEN_HIGH, OPEN_LOW, type Range } from '../../fhir/dates.js';
import { parseReference } from '../../fhir/references.js';
import { foldText } from '../../fhir/text.js';
import { identifierForms } from '../../fhir/vn.js';
import { COLUMN_PARAMS, searchParams, type SearchParam, type TypedValue } from './params.js';

/**
 * What the store indexes for a resource: string keys for token, reference, string and uri
 * parameters (kept in one GIN-indexed array), and date ranges (kept as rows). The same keys are
 * built for queries here, so a search in SQL and a match in memory cannot disagree.
 */
export interface DateEntry {
  param: string;
  low: number;
  high: number;
}

export interface ResourceIndex {
  tokens: string[];
  dates: DateEntry[];
}

/**
 * Key formats. The character after the parameter code says which kind of key it is, so that every
 * key of one parameter starts with the code and one of `|#>~@` (`:missing` and `system|` searches
 * match by that prefix). Each key costs the GIN index on every write: a token is stored under its
 * code (`#`), and also under system and code when it has a system (`|s|c`) or under the bare
 * no-system form when a Coding or Identifier has none (`||c`).
 */
export const keys = {
  /** token with this system and code */
  systemCode: (p: string, system: string, code: string) => `${p}|${system}|${code}`,
  /** token with no system (`|code` in a query) */
  noSystem: (p: string, code: string) => `${p}||${code}`,
  /** token with this code, any system */
  code: (p: string, code: string) => `${p}#${code}`,
  reference: (p: string, ref: string) => `${p}>${ref}`,
  /** folded text; queried by prefix */
  text: (p: string, text: string) => `${p}~${text}`,
  uri: (p: string, uri: string) => `${p}@${uri}`,
};

/** Key prefixes: every key of a parameter (for `:missing`), or every token of one system (`system|`). */
export const keyPrefixes = {
  anyValue: (p: string) => ['|', '#', '>', '~', '@'].map((kind) => `${p}${kind}`),
  system: (p: string, system: string) => [`${p}|${system}|`],
};

export function indexResource(resource: Resource): ResourceIndex {
  const tokens = new Set<string>();
  const dates: DateEntry[] = [];
  for (const param of searchParams(resource.resourceType).values()) {
    if (COLUMN_PARAMS.has(param.code)) continue;
    const values = param.values(resource);
    if (values.length === 0) continue;
    if (param.type === 'date') {
      for (const v of values) {
        const range = valueRange(v);
        if (range) dates.push({ param: param.code, low: range[0], high: range[1] });
      }
      continue;
    }
    for (const v of values) addKeys(param, v, tokens);
  }
  return { tokens: [...tokens], dates };
}

/** The reference keys (`Type/id`) one parameter of a resource points at (for `_include`). */
export function referencesOf(param: SearchParam, resource: Resource): string[] {
  const out: string[] = [];
  for (const v of param.values(resource)) {
    const ref = referenceValue(v);
    if (ref) out.push(ref);
  }
  return out;
}

function addKeys(param: SearchParam, v: TypedValue, out: Set<string>): void {
  const p = param.code;
  switch (param.type) {
    case 'token':
      for (const t of tokenParts(v)) {
        // Identifiers are found however they are typed: spaces and case normalised, BHYT ↔ BHXH number.
        const forms = t.identifier ? identifierForms(t.system, t.code) : [{ system: t.system, value: t.code }];
        for (const f of forms) {
          out.add(keys.code(p, f.value));
          if (f.system) out.add(keys.systemCode(p, f.system, f.value));
          else if (t.coded) out.add(keys.noSystem(p, f.value));
        }
      }
      return;
    case 'reference': {
      const ref = referenceValue(v);
      if (ref) out.add(keys.reference(p, ref));
      return;
    }
    case 'string':
      for (const s of stringParts(v)) out.add(keys.text(p, s));
      return;
    case 'uri':
      if (typeof v.value === 'string') out.add(keys.uri(p, v.value));
      return;
    case 'date':
      return;
  }
}

interface Token {
  system?: string;
  code: string;
  /** A Coding or Identifier (which can lack a system), not a primitive code. */
  coded?: boolean;
  identifier?: boolean;
}

function tokenParts({ value, type }: TypedValue): Token[] {
  if (value === null || value === undefined) return [];
  if (typeof value !== 'object') return [{ code: String(value) }];
  const o = value as Record<string, unknown>;
  const kind = type ?? (Array.isArray(o.coding) ? 'CodeableConcept' : 'code' in o ? 'Coding' : 'value' in o ? 'Identifier' : '');
  switch (kind) {
    case 'CodeableConcept':
      return Array.isArray(o.coding) ? o.coding.flatMap((c) => tokenParts({ value: c, type: 'Coding' })) : [];
    case 'Coding':
      return typeof o.code === 'string' ? [{ code: o.code, coded: true, ...(typeof o.system === 'string' ? { system: o.system } : {}) }] : [];
    case 'Identifier':
      return typeof o.value === 'string' ? [{ code: o.value, coded: true, identifier: true, ...(typeof o.system === 'string' ? { system: o.system } : {}) }] : [];
    case 'ContactPoint':
      return typeof o.value === 'string' ? [{ code: o.value }] : [];
    default:
      return [];
  }
}

function referenceValue({ value, type }: TypedValue): string | undefined {
  if (typeof value === 'string') return value; // canonical or uri
  if (!value || typeof value !== 'object' || (type && type !== 'Reference')) return undefined;
  const ref = (value as { reference?: unknown }).reference;
  if (typeof ref !== 'string' || ref.startsWith('#')) return undefined;
  const parsed = parseReference(ref);
  // Index `Type/id` without a version and without our own base; foreign absolute URLs stay as they are.
  return parsed && !/^https?:/.test(ref) ? `${parsed.type}/${parsed.id}` : ref;
}

const NAME_PARTS = ['text', 'family', 'given', 'prefix', 'suffix'];
const ADDRESS_PARTS = ['text', 'line', 'city', 'district', 'state', 'postalCode', 'country'];

function stringParts({ value, type }: TypedValue): string[] {
  if (typeof value === 'string') return [foldText(value)].filter(Boolean);
  if (!value || typeof value !== 'object') return [];
  const o = value as Record<string, unknown>;
  const strings = (names: string[]) => names.flatMap((n) => [o[n]].flat()).filter((s): s is string => typeof s === 'string');
  let parts: string[];
  if (type === 'HumanName' || (!type && ('family' in o || 'given' in o))) {
    parts = strings(NAME_PARTS);
    // Whole names in both orders: Vietnamese "Nguyễn Văn An" (family first) and "Văn An Nguyễn".
    const family = typeof o.family === 'string' ? o.family : '';
    const given = strings(['given']).join(' ');
    if (family && given) parts.push(`${family} ${given}`, `${given} ${family}`);
  } else if (type === 'Address' || (!type && ('line' in o || 'city' in o))) {
    parts = strings(ADDRESS_PARTS);
  } else {
    parts = strings(['text', 'display']);
  }
  return parts.map(foldText).filter(Boolean);
}

function valueRange({ value, type }: TypedValue): Range | undefined {
  if (typeof value === 'string') return dateRange(value);
  if (!value || typeof value !== 'object') return undefined;
  const o = value as Record<string, unknown>;
  if (type === 'Period' || (!type && ('start' in o || 'end' in o))) {
    const start = typeof o.start === 'string' ? dateRange(o.start) : undefined;
    const end = typeof o.end === 'string' ? dateRange(o.end) : undefined;
    if (!start && !end) return undefined;
    return [start ? start[0] : OPEN_LOW, end ? end[1] : OPEN_HIGH];
  }
  if (type === 'Timing' || (!type && 'event' in o)) {
    const events = (Array.isArray(o.event) ? o.event : []).map((e) => (typeof e === 'string' ? dateRange(e) : undefined)).filter((r): r is Range => !!r);
    if (events.length === 0) return undefined;
    return [Math.min(...events.map((r) => r[0])), Math.max(...events.map((r) => r[1]))];
  }
  return undefined;
}
