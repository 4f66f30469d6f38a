import { dateRange, type Range } from '../../fhir/dates.js';
import { badRequest, notSupported, type Text } from '../../fhir/outcome.js';
import { ID_PATTERN } from '../../fhir/resource-types.js';
import { foldText } from '../../fhir/text.js';
import { identifierForms } from '../../fhir/vn.js';
import { keyPrefixes, keys } from './index-keys.js';
import { searchParams, type SearchParam } from './params.js';

export type Prefix = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le' | 'sa' | 'eb' | 'ap';
export interface DateValue {
  prefix: Prefix;
  range: Range;
}

/** One condition of a search; a search is the AND of its filters, and each filter the OR of its values. */
export type Filter =
  | { kind: 'id'; ids: string[]; not: boolean }
  | { kind: 'lastUpdated'; values: DateValue[] }
  /**
   * The resource holds one of these index keys (exact match, through the GIN index); with
   * `alsoCoverageOf`, a Patient also matches when it is the beneficiary of a Coverage holding one.
   */
  | { kind: 'keys'; param: string; keys: string[]; not: boolean; alsoCoverageOf?: boolean }
  /** The resource holds a key starting with one of these (a scan of its keys: for rarer searches). */
  | { kind: 'keyPrefix'; param: string; prefixes: string[]; not: boolean }
  | { kind: 'text'; param: string; prefixes: string[]; contains: boolean }
  | { kind: 'date'; param: string; values: DateValue[] }
  | { kind: 'dateMissing'; param: string; missing: boolean };

export interface SortRule {
  param: string;
  descending: boolean;
}

export interface IncludeRule {
  sourceType: string;
  param: SearchParam;
  targetType?: string;
  iterate: boolean;
}

export interface SearchRequest {
  resourceType: string;
  filters: Filter[];
  sort: SortRule[];
  count: number;
  offset: number;
  total: 'none' | 'estimate' | 'accurate' | undefined;
  include: IncludeRule[];
  revinclude: IncludeRule[];
  summary?: 'true' | 'false' | 'text' | 'data' | 'count';
  elements?: string[];
  /** The parameters that were applied, as `name=value` pairs, for the `self` link. */
  applied: [string, string][];
}

export const DEFAULT_COUNT = 20;
export const MAX_COUNT = 1000;

export interface ParseOptions {
  /** `Prefer: handling=strict`: unknown or unsupported parameters are errors instead of being ignored. */
  strict: boolean;
  /** Strips this base from absolute reference values (`https://gw/fhir/Patient/1` → `Patient/1`). */
  baseUrl?: string;
}

/** Parameters the HTTP layer handles itself; never an error, never echoed in `self`. */
const TRANSPORT_PARAMS = new Set(['_format', '_pretty']);

export function parseSearch(resourceType: string, query: [string, string][], options: ParseOptions): SearchRequest {
  const params = searchParams(resourceType);
  const req: SearchRequest = {
    resourceType, filters: [], sort: [], count: DEFAULT_COUNT, offset: 0, total: undefined, include: [], revinclude: [], applied: [],
  };
  const ignore = (name: string, why: Text) => {
    if (options.strict) throw notSupported(bilingual(why, ' (Prefer: handling=strict)'), name);
  };

  for (const [rawName, value] of query) {
    if (TRANSPORT_PARAMS.has(rawName)) continue;
    const [name, modifier] = splitModifier(rawName);
    let applied = true;
    switch (name) {
      case '_count':
        req.count = Math.min(nonNegativeInt(rawName, value), MAX_COUNT);
        break;
      case '_offset':
        req.offset = nonNegativeInt(rawName, value);
        break;
      case '_total':
        if (!['none', 'estimate', 'accurate'].includes(value)) throw badRequest(oneOf('_total', 'none, estimate, accurate', value), rawName);
        req.total = value as SearchRequest['total'];
        break;
      case '_summary':
        if (!['true', 'false', 'text', 'data', 'count'].includes(value)) throw badRequest(oneOf('_summary', 'true, false, text, data, count', value), rawName);
        req.summary = value as SearchRequest['summary'];
        break;
      case '_elements':
        req.elements = value.split(',').map((e) => e.trim()).filter(Boolean);
        break;
      case '_sort': {
        const kept: string[] = [];
        for (const s of value.split(',')) {
          const descending = s.startsWith('-');
          const code = descending ? s.slice(1) : s;
          if (code === '_id' || code === '_lastUpdated' || params.get(code)?.type === 'date') {
            req.sort.push({ param: code, descending });
            kept.push(s);
          } else ignore(rawName, { vi: `Không sắp xếp được theo "${code}"; hãy dùng _id, _lastUpdated hoặc một tham số ngày`, en: `Sorting by "${code}" is not supported; sort by _id, _lastUpdated or a date parameter` });
        }
        // `self` names only the sort keys applied: an ignored one must not look as if the results were sorted by it.
        if (kept.length < value.split(',').length) {
          applied = false;
          if (kept.length > 0) req.applied.push([rawName, kept.join(',')]);
        }
        break;
      }
      case '_include':
      case '_revinclude': {
        const rule = parseInclude(name, value, modifier, resourceType);
        if (rule) (name === '_include' ? req.include : req.revinclude).push(rule);
        else {
          ignore(rawName, { vi: `${name} "${value}" không xác định`, en: `Unknown ${name} "${value}"` });
          applied = false;
        }
        break;
      }
      default: {
        const filter = parseFilter(resourceType, name, modifier, value, options);
        if (typeof filter === 'string' || !('kind' in filter)) {
          ignore(rawName, filter as Text);
          applied = false;
        } else {
          req.filters.push(filter as Filter);
        }
      }
    }
    if (applied) req.applied.push([rawName, value]);
  }
  return req;
}

const noModifier = (modifier: string, name: string): Text => ({ vi: `Không hỗ trợ bổ ngữ :${modifier} cho "${name}"`, en: `Modifier :${modifier} is not supported on "${name}"` });
const oneOf = (name: string, allowed: string, value: string): Text => ({ vi: `${name} nhận một trong ${allowed}, không phải "${value}"`, en: `${name} must be one of ${allowed}, not "${value}"` });
const bilingual = (text: Text, suffix: string): Text => (typeof text === 'string' ? text + suffix : { vi: text.vi + suffix, en: text.en + suffix });

function splitModifier(name: string): [string, string | undefined] {
  const i = name.indexOf(':');
  return i < 0 ? [name, undefined] : [name.slice(0, i), name.slice(i + 1)];
}

function nonNegativeInt(name: string, value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw badRequest({ vi: `${name} phải là số nguyên không âm, không phải "${value}"`, en: `${name} must be a non-negative integer, not "${value}"` }, name);
  return Number(value);
}

function parseInclude(name: string, value: string, modifier: string | undefined, resourceType: string): IncludeRule | undefined {
  const [sourceType, code, targetType] = value.split(':');
  if (modifier && modifier !== 'iterate') return undefined;
  const param = searchParams(sourceType ?? '').get(code ?? '');
  if (!param || param.type !== 'reference') return undefined;
  if (name === '_include' && sourceType !== resourceType && modifier !== 'iterate') return undefined;
  return { sourceType, param, ...(targetType ? { targetType } : {}), iterate: modifier === 'iterate' };
}

/** A filter, or the reason this parameter cannot be applied. */
function parseFilter(resourceType: string, name: string, modifier: string | undefined, value: string, options: ParseOptions): Filter | Text {
  if (name === '_id') {
    if (modifier && modifier !== 'not') return noModifier(modifier, '_id');
    const ids = splitValues(value).map(unescape);
    for (const id of ids) if (!ID_PATTERN.test(id)) throw badRequest({ vi: `"${id}" không phải mã tài nguyên hợp lệ`, en: `"${id}" is not a valid resource id` }, name);
    return { kind: 'id', ids, not: modifier === 'not' };
  }
  if (name === '_lastUpdated') {
    if (modifier) return noModifier(modifier, '_lastUpdated');
    return { kind: 'lastUpdated', values: splitValues(value).map((v) => parseDateValue(name, unescape(v))) };
  }
  if (name.includes('.')) return { vi: `Không hỗ trợ tham số chuỗi "${name}"`, en: `Chained parameter "${name}" is not supported` };
  const param = searchParams(resourceType).get(name);
  if (!param) return { vi: `Tham số tìm kiếm "${name}" không xác định cho ${resourceType}`, en: `Unknown search parameter "${name}" for ${resourceType}` };
  const raw = splitValues(value);
  const values = raw.map(unescape);
  if (modifier === 'missing') {
    if (value !== 'true' && value !== 'false') throw badRequest(oneOf(':missing', 'true, false', value), `${name}:missing`);
    const missing = value === 'true';
    return param.type === 'date'
      ? { kind: 'dateMissing', param: name, missing }
      : { kind: 'keyPrefix', param: name, prefixes: keyPrefixes.anyValue(name), not: missing };
  }
  switch (param.type) {
    case 'token': {
      if (modifier && modifier !== 'not') return noModifier(modifier, name);
      const not = modifier === 'not';
      const systemsOnly = raw.map(systemOnly);
      if (systemsOnly.every((s) => s !== undefined)) {
        return { kind: 'keyPrefix', param: name, prefixes: systemsOnly.flatMap((s) => keyPrefixes.system(name, s!)), not };
      }
      if (systemsOnly.some((s) => s !== undefined)) return { vi: `Không trộn giá trị "system|" với mã trong cùng "${name}"`, en: `Mixing "system|" and code values in one "${name}" is not supported` };
      const tokenKeys = raw.flatMap((v) => (param.identifier ? identifierKeys(name, v) : [tokenKey(name, v)]));
      if (param.identifier && resourceType === 'Patient' && name === 'identifier' && !not) {
        // A patient is received by CCCD, personal ID or BHYT card (QĐ 2733): the card may be on a Coverage only.
        return { kind: 'keys', param: name, keys: tokenKeys, not, alsoCoverageOf: true };
      }
      return { kind: 'keys', param: name, keys: tokenKeys, not };
    }
    case 'reference': {
      let targets = param.targets;
      if (modifier) {
        if (!param.targets.includes(modifier)) return { vi: `:${modifier} không phải loại đích của tham số tham chiếu "${name}"`, en: `Modifier :${modifier} is not a target type of reference parameter "${name}"` };
        targets = [modifier];
      }
      return { kind: 'keys', param: name, keys: values.flatMap((v) => referenceKeys(name, v, targets, options.baseUrl)), not: false };
    }
    case 'uri':
      if (modifier) return noModifier(modifier, name);
      return { kind: 'keys', param: name, keys: values.map((v) => keys.uri(name, v)), not: false };
    case 'string':
      if (modifier && modifier !== 'contains') return noModifier(modifier, name);
      return { kind: 'text', param: name, prefixes: values.map(foldText), contains: modifier === 'contains' };
    case 'date':
      if (modifier) return noModifier(modifier, name);
      return { kind: 'date', param: name, values: values.map((v) => parseDateValue(name, v)) };
  }
}

/** Keys of an identifier value: normalised, and with its BHXH number when it is a BHYT card (as indexed). */
function identifierKeys(param: string, value: string): string[] {
  const bar = indexOfUnescaped(value, '|');
  const system = bar < 0 ? undefined : unescape(value.slice(0, bar));
  const code = unescape(bar < 0 ? value : value.slice(bar + 1));
  return identifierForms(system || undefined, code).map((f) =>
    bar < 0 ? keys.code(param, f.value) : system ? keys.systemCode(param, system, f.value) : keys.noSystem(param, f.value),
  );
}

function tokenKey(param: string, value: string): string {
  const bar = indexOfUnescaped(value, '|');
  if (bar < 0) return keys.code(param, unescape(value));
  const system = unescape(value.slice(0, bar));
  const code = unescape(value.slice(bar + 1));
  return system ? keys.systemCode(param, system, code) : keys.noSystem(param, code);
}

/** The system of a `system|` value (any code in that system), else undefined. */
function systemOnly(value: string): string | undefined {
  const bar = indexOfUnescaped(value, '|');
  return bar > 0 && bar === value.length - 1 ? unescape(value.slice(0, bar)) : undefined;
}

function referenceKeys(param: string, value: string, targets: string[], baseUrl?: string): string[] {
  let ref = value;
  if (baseUrl && ref.startsWith(`${baseUrl}/`)) ref = ref.slice(baseUrl.length + 1);
  ref = ref.replace(/\/_history\/[^/]+$/, '');
  if (ref.includes('/')) return [keys.reference(param, ref)];
  // A bare id matches that id in any of the parameter's target types.
  return targets.map((t) => keys.reference(param, `${t}/${ref}`));
}

const PREFIXES = new Set(['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap']);

function parseDateValue(name: string, value: string): DateValue {
  const prefix = PREFIXES.has(value.slice(0, 2)) ? (value.slice(0, 2) as Prefix) : 'eq';
  const text = PREFIXES.has(value.slice(0, 2)) ? value.slice(2) : value;
  const range = dateRange(text);
  if (!range) throw badRequest({ vi: `"${text}" không phải date hoặc dateTime FHIR hợp lệ (cho ${name})`, en: `"${text}" is not a valid FHIR date or dateTime (for ${name})` }, name);
  return { prefix, range };
}

/** Splits a parameter value on commas not escaped with a backslash. */
function splitValues(value: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    if (value[i] === '\\') i++;
    else if (value[i] === ',') {
      out.push(value.slice(start, i));
      start = i + 1;
    }
  }
  out.push(value.slice(start));
  return out;
}

function indexOfUnescaped(value: string, char: string): number {
  for (let i = 0; i < value.length; i++) {
    if (value[i] === '\\') i++;
    else if (value[i] === char) return i;
  }
  return -1;
}

const unescape = (s: string) => s.replace(/\\([\\,|$])/g, '$1');
