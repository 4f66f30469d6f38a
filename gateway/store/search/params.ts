import type { Resource, SearchParameter } from '@medplum/fhirtypes';
import { r4SearchParameters, typeSchema } from '../../fhir/definitions.js';
import { compilePath } from '../../fhir/fhirpath.js';
import { referenceType } from '../../fhir/references.js';
import { isAcceptedType } from '../../fhir/resource-types.js';
import { readProfileJson } from '../../paths.js';

/** The search parameter types the store indexes; the rest (number, quantity, composite, special) are not offered. */
export type ParamType = 'token' | 'reference' | 'date' | 'string' | 'uri';
const INDEXED_TYPES = new Set<string>(['token', 'reference', 'date', 'string', 'uri']);

/** A value found in a resource, with its FHIR data type when the path tells it. */
export interface TypedValue {
  value: unknown;
  type: string | undefined;
}

export interface SearchParam {
  code: string;
  type: ParamType;
  /** Resource types a reference parameter may point to. */
  targets: string[];
  /** Canonical URL of the R4 SearchParameter it implements. */
  definition?: string;
  documentation?: string;
  expression: string;
  /** Its values are Identifiers: searched with normalisation and BHYT ↔ BHXH-number equivalence. */
  identifier: boolean;
  values(resource: Resource): TypedValue[];
}

/** `_id` and `_lastUpdated` are columns of the store, not index keys. */
export const COLUMN_PARAMS = new Set(['_id', '_lastUpdated']);

let byBase: Map<string, SearchParameter[]> | undefined;
let indexed: Record<string, string[]> | undefined;
const registry = new Map<string, ReadonlyMap<string, SearchParam>>();

/**
 * Which parameters are indexed is data (profiles/search/indexed-parameters.json): every indexed
 * parameter costs every write of its type, and a gateway that mostly ingests keeps the set to what
 * its clients search by. The definitions themselves are the R4 SearchParameters.
 */
function indexedCodes(resourceType: string): Set<string> {
  indexed ??= readProfileJson<Record<string, string[]>>('search/indexed-parameters.json');
  return new Set([...(indexed['*'] ?? []), ...(indexed[resourceType] ?? [])]);
}

/** The search parameters the store supports for a resource type (empty for types it does not accept). */
export function searchParams(resourceType: string): ReadonlyMap<string, SearchParam> {
  let params = registry.get(resourceType);
  if (!params) {
    params = isAcceptedType(resourceType) ? buildParams(resourceType) : new Map();
    registry.set(resourceType, params);
  }
  return params;
}

function buildParams(resourceType: string): Map<string, SearchParam> {
  if (!byBase) {
    byBase = new Map();
    for (const sp of r4SearchParameters()) {
      for (const base of sp.base ?? []) {
        const list = byBase.get(base) ?? [];
        list.push(sp);
        byBase.set(base, list);
      }
    }
  }
  const params = new Map<string, SearchParam>();
  const wanted = indexedCodes(resourceType);
  for (const sp of [...(byBase.get('Resource') ?? []), ...(byBase.get('DomainResource') ?? []), ...(byBase.get(resourceType) ?? [])]) {
    if (!sp.code || !wanted.has(sp.code) || !INDEXED_TYPES.has(sp.type ?? '')) continue;
    const parts = (sp.expression ?? '')
      .split(/\s+\|\s+/)
      .map((p) => p.trim())
      .filter((p) => p.replace(/^\(/, '').startsWith(`${resourceType}.`) || p.replace(/^\(/, '').startsWith('Resource.'));
    if (parts.length === 0) continue;
    const extractors = parts.map((p) => compileSearchPath(resourceType, p));
    const leafTypes = parts.flatMap((p) => leafTypesOf(resourceType, p));
    params.set(sp.code, {
      code: sp.code,
      type: sp.type as ParamType,
      targets: (sp.target ?? []).filter(isAcceptedType),
      definition: sp.url,
      documentation: sp.description,
      expression: parts.join(' | '),
      identifier: leafTypes.length > 0 && leafTypes.every((t) => t === 'Identifier'),
      values: extractors.length === 1 ? extractors[0] : (r) => extractors.flatMap((x) => x(r)),
    });
  }
  return params;
}

type Step =
  | { kind: 'field'; options: { key: string; type: string }[] }
  | { kind: 'refType'; type: string }
  | { kind: 'system'; system: string };

/**
 * Search parameter expressions in R4 are almost all plain paths, choice-type casts and
 * `where(resolve() is X)`. Those are compiled here into direct property walks that know each
 * value's FHIR type (which `Observation.effective` is a Period, which a dateTime) and run ~20× faster
 * than general FHIRPath on every write; anything else falls back to fhirpath.js.
 */
export function compileSearchPath(resourceType: string, expression: string): (r: Resource) => TypedValue[] {
  const steps = planSteps(resourceType, expression);
  if (!steps) {
    const fn = compilePath(expression);
    return (r) => fn(r).map((value) => ({ value, type: undefined }));
  }
  return (r) => runSteps(steps, r);
}

/** The FHIR types a path ends on (empty when it is not a plain path). */
function leafTypesOf(resourceType: string, expression: string): string[] {
  const last = planSteps(resourceType, expression)?.filter((s) => s.kind === 'field').at(-1);
  return last?.kind === 'field' ? last.options.map((o) => o.type) : [];
}

function planSteps(resourceType: string, expression: string): Step[] | undefined {
  const cast = /^\((.*) as (\w+)\)(.*)$/.exec(expression);
  const normalised = cast ? `${cast[1]}.as(${cast[2]})${cast[3]}` : expression;
  const segments = splitSegments(normalised);
  if (!segments || (segments[0] !== resourceType && segments[0] !== 'Resource')) return undefined;
  const steps: Step[] = [];
  let types: string[] = [resourceType];
  for (const segment of segments.slice(1)) {
    let m: RegExpExecArray | null;
    if (/^[a-z]\w*$/.test(segment)) {
      const options = types.flatMap((t) => fieldOptions(t, segment));
      if (options.length === 0) return undefined;
      steps.push({ kind: 'field', options });
      types = [...new Set(options.map((o) => o.type))];
    } else if ((m = /^as\((\w+)\)$/.exec(segment))) {
      const last = steps.at(-1);
      const wanted = m[1].toLowerCase();
      if (last?.kind !== 'field') return undefined;
      last.options = last.options.filter((o) => o.type.toLowerCase() === wanted);
      if (last.options.length === 0) return undefined;
      types = [last.options[0].type];
    } else if ((m = /^where\(resolve\(\) is (\w+)\)$/.exec(segment))) {
      steps.push({ kind: 'refType', type: m[1] });
    } else if ((m = /^where\(system='([^']*)'\)$/.exec(segment))) {
      steps.push({ kind: 'system', system: m[1] });
    } else {
      return undefined;
    }
  }
  return steps;
}

function fieldOptions(type: string, name: string): { key: string; type: string }[] {
  let schema;
  try {
    schema = typeSchema(type);
  } catch {
    return [];
  }
  const plain = schema.elements[name];
  if (plain) return plain.type.map((t) => ({ key: name, type: t.code }));
  const choice = schema.elements[`${name}[x]`];
  if (choice) return choice.type.map((t) => ({ key: name + t.code[0].toUpperCase() + t.code.slice(1), type: t.code }));
  return [];
}

function splitSegments(expression: string): string[] | undefined {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < expression.length; i++) {
    const c = expression[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '.' && depth === 0) {
      out.push(expression.slice(start, i));
      start = i + 1;
    }
    if (depth < 0) return undefined;
  }
  out.push(expression.slice(start));
  return depth === 0 ? out : undefined;
}

function runSteps(steps: Step[], resource: Resource): TypedValue[] {
  let current: TypedValue[] = [{ value: resource, type: resource.resourceType }];
  for (const step of steps) {
    const next: TypedValue[] = [];
    for (const item of current) {
      const value = item.value as Record<string, unknown>;
      if (typeof value !== 'object' || value === null) continue;
      if (step.kind === 'field') {
        for (const o of step.options) {
          const child = value[o.key];
          if (child === undefined || child === null) continue;
          if (Array.isArray(child)) for (const c of child) next.push({ value: c, type: o.type });
          else next.push({ value: child, type: o.type });
        }
      } else if (step.kind === 'refType') {
        const ref = value.reference;
        if ((typeof ref === 'string' && referenceType(ref) === step.type) || value.type === step.type) next.push(item);
      } else if (value.system === step.system) {
        next.push(item);
      }
    }
    current = next;
  }
  return current;
}
