import type { ElementDefinition, ElementDefinitionConstraint, StructureDefinition } from '@medplum/fhirtypes';
import { dateRange } from '../fhir/dates.js';
import { compilePath } from '../fhir/fhirpath.js';
import { compileFastCheck, FALL_BACK } from '../fhir/fast-fhirpath.js';
import type { Text } from '../fhir/outcome.js';

/** One allowed type of an element: its code, and for references the resource types it may point to. */
export interface TypeRef {
  code: string;
  /** Profiles the value must conform to (extension definitions, for Extension). */
  profiles: string[];
  /** For Reference: allowed target types ('Resource' allows any). */
  targets: string[];
}

export interface Constraint {
  key: string;
  severity: 'error' | 'warning';
  human: Text;
  /**
   * true (holds), false (violated) or an error message when the expression cannot be evaluated.
   * `resource` is %resource (the resource the node is in: a contained one, a Bundle entry's),
   * `rootResource` is %rootResource (for a contained resource, its container).
   */
  check(node: unknown, resource: unknown, rootResource: unknown): boolean | string;
}

export interface Slicing {
  rules: 'open' | 'closed' | 'openAtEnd';
  slices: Slice[];
}

export interface Slice {
  name: string;
  node: ElementNode;
  matches(item: unknown): boolean;
}

/** An element of a profile, compiled for validation. */
export interface ElementNode {
  path: string;
  min: number;
  max: number;
  /** The JSON form is an array (the base element repeats), whatever the profile's max. */
  array: boolean;
  types: TypeRef[];
  /** Children named in this profile's snapshot, by JSON key (choice types: one key per type). */
  children: Map<string, Child>;
  contentReference?: string;
  fixed?: unknown;
  pattern?: unknown;
  maxLength?: number;
  binding?: { strength: string; valueSet: string };
  constraints: Constraint[];
  slicing?: Slicing;
}

export interface Child {
  node: ElementNode;
  /** The type a JSON key selects (`valueQuantity` → Quantity). */
  type: TypeRef;
  /** FHIRPath name of the key: `value.ofType(Quantity)` for a choice, else the key. */
  expression: string;
}

export interface CompiledProfile {
  url: string;
  type: string;
  root: ElementNode;
  /** Nodes by element id, for contentReference (`#Questionnaire.item`). */
  byPath: Map<string, ElementNode>;
}

const FHIR_TYPE_EXT = 'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type';
const BEST_PRACTICE = 'http://hl7.org/fhir/StructureDefinition/elementdefinition-bestpractice';
const TRANSLATION = 'http://hl7.org/fhir/StructureDefinition/translation';

/** The FHIR type code of a type entry (`id` elements are typed System.String with an extension naming `string`). */
function typeCode(t: NonNullable<ElementDefinition['type']>[number]): string {
  if (t.code.startsWith('http://hl7.org/fhirpath/System.')) {
    return t.extension?.find((e) => e.url === FHIR_TYPE_EXT)?.valueUrl ?? 'string';
  }
  return t.code;
}

const upperFirst = (s: string) => s[0].toUpperCase() + s.slice(1);

export function compileProfile(sd: StructureDefinition): CompiledProfile {
  const elements = sd.snapshot?.element;
  if (!elements?.length) throw new Error(`${sd.url} has no snapshot`);
  const nodes = new Map<string, ElementNode>();
  const byPath = new Map<string, ElementNode>();
  for (const el of elements) {
    const node = compileElement(el, sd);
    nodes.set(el.id!, node);
    if (!el.sliceName) byPath.set(el.path!, node);
  }
  for (const el of elements.slice(1)) {
    const id = el.id!;
    const node = nodes.get(id)!;
    const dot = id.lastIndexOf('.');
    const parentId = id.slice(0, dot);
    const last = id.slice(dot + 1);
    const colon = last.indexOf(':');
    if (colon >= 0) {
      const sliced = nodes.get(`${parentId}.${last.slice(0, colon)}`);
      sliced?.slicing?.slices.push({ name: last.slice(colon + 1), node, matches: () => false });
      continue;
    }
    const parent = nodes.get(parentId);
    if (!parent) continue;
    const name = last;
    if (name.endsWith('[x]')) {
      const base = name.slice(0, -3);
      for (const t of node.types) parent.children.set(base + upperFirst(t.code), { node, type: t, expression: `${base}.ofType(${t.code})` });
    } else {
      parent.children.set(name, { node, type: node.types[0] ?? { code: 'BackboneElement', profiles: [], targets: [] }, expression: name });
    }
  }
  // Slices are matched by their discriminators, once all their children are known.
  for (const el of elements) {
    if (!el.slicing) continue;
    const node = nodes.get(el.id!)!;
    for (const slice of node.slicing!.slices) slice.matches = sliceMatcher(el.slicing.discriminator ?? [], slice.node);
  }
  return { url: sd.url!, type: sd.type!, root: nodes.get(elements[0].id!)!, byPath };
}

function compileElement(el: ElementDefinition, sd: StructureDefinition): ElementNode {
  const base = el.base?.max ?? el.max;
  const node: ElementNode = {
    path: el.path!,
    min: el.min ?? 0,
    max: el.max === '*' || el.max === undefined ? Infinity : Number(el.max),
    array: base !== '1' && base !== '0' && el.path!.includes('.'),
    types: (el.type ?? []).map((t) => ({
      code: typeCode(t),
      profiles: t.profile ?? [],
      targets: (t.targetProfile ?? []).map((p) => p.slice(p.lastIndexOf('/') + 1)),
    })),
    children: new Map(),
    constraints: (el.constraint ?? []).flatMap((c) => compileConstraint(c, el.path!, sd)),
  };
  if (el.contentReference) node.contentReference = el.contentReference.slice(el.contentReference.indexOf('#') + 1);
  const fixedKey = Object.keys(el).find((k) => k.startsWith('fixed'));
  const patternKey = Object.keys(el).find((k) => k.startsWith('pattern'));
  if (fixedKey) node.fixed = (el as unknown as Record<string, unknown>)[fixedKey];
  if (patternKey) node.pattern = (el as unknown as Record<string, unknown>)[patternKey];
  if (el.maxLength) node.maxLength = el.maxLength;
  if (el.binding?.valueSet && el.binding.strength === 'required') node.binding = { strength: el.binding.strength, valueSet: el.binding.valueSet };
  if (el.slicing) node.slicing = { rules: el.slicing.rules ?? 'open', slices: [] };
  return node;
}

/**
 * Constraints, compiled once. ele-1 is checked structurally (no empty values); best-practice
 * guidelines are not errors; a few core invariants that hit nearly every resource are written out
 * natively — the same rule, ~50× cheaper than evaluating FHIRPath on each Reference or Extension.
 */
function compileConstraint(c: ElementDefinitionConstraint, path: string, sd: StructureDefinition): Constraint[] {
  if (c.key === 'ele-1' || !c.expression) return [];
  if (c.extension?.some((e) => e.url === BEST_PRACTICE && e.valueBoolean)) return [];
  const translated = (c as { _human?: { extension?: { url: string; extension?: { url: string; valueCode?: string; valueString?: string }[] }[] } })._human?.extension
    ?.find((e) => e.url === TRANSLATION && e.extension?.some((p) => p.url === 'lang' && p.valueCode === 'en'))
    ?.extension?.find((p) => p.url === 'content')?.valueString;
  const human: Text = translated ? { vi: c.human, en: translated } : c.human;
  const severity = c.severity === 'warning' ? 'warning' : 'error';
  const native = NATIVE[c.key];
  if (native && native.expression === c.expression) return [{ key: c.key, severity, human, check: native.check }];
  if (c.key === 'txt-1' || c.key === 'txt-2') return []; // htmlChecks(): the xhtml primitive check does it.
  let fn: ReturnType<typeof compilePath>;
  try {
    fn = compilePath(c.expression, path);
  } catch (e) {
    throw new Error(`${sd.url}: constraint ${c.key} on ${path} does not compile: ${(e as Error).message}`);
  }
  // dom-2…dom-5 are about contained resources, and dom-3 walks every descendant: skip when there are none.
  const onlyWithContained = CONTAINED_RULES.has(c.key);
  // Most invariants compile to closures over the JSON (fast-fhirpath.ts): ~50× cheaper than fhirpath.js.
  const fast = compileFastCheck(c.expression);
  return [{
    key: c.key,
    severity,
    human,
    check(node, resource, rootResource) {
      if (onlyWithContained && !(isObj(node) && Array.isArray(node.contained))) return true;
      if (fast) {
        const quick = fast(node, { resource, rootResource });
        if (quick !== FALL_BACK) return quick !== false; // empty (undefined): the rule does not apply
      }
      try {
        const result = fn(node, { resource, rootResource });
        // An empty result is not a failure (FHIRPath: the rule does not apply).
        return !(result.length === 1 && result[0] === false);
      } catch (e) {
        return e instanceof Error ? e.message : String(e);
      }
    },
  }];
}

const CONTAINED_RULES = new Set(['dom-2', 'dom-3', 'dom-4', 'dom-5']);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const NATIVE: Record<string, { expression: string; check: Constraint['check'] }> = {
  'ext-1': {
    expression: 'extension.exists() != value.exists()',
    check: (n) => isObj(n) && (Array.isArray(n.extension) && n.extension.length > 0) !== Object.keys(n).some((k) => k.startsWith('value')),
  },
  'ref-1': {
    expression: "reference.startsWith('#').not() or (reference.substring(1).trace('url') in %rootResource.contained.id.trace('ids'))",
    check: (n, resource, root) => {
      const ref = isObj(n) ? n.reference : undefined;
      if (typeof ref !== 'string' || !ref.startsWith('#')) return true;
      // `#` alone is a contained resource pointing at its container, which dom-3 allows; the R4
      // expression forgot it (R5 added `or (reference = '#' and %rootResource != %resource)`).
      if (ref === '#') return resource !== root;
      const contained = isObj(root) && Array.isArray(root.contained) ? root.contained : [];
      return contained.some((c) => isObj(c) && c.id === ref.slice(1));
    },
  },
  // fhirpath.js cannot evaluate this one (`descendants().as(canonical)` on a collection throws), so
  // without a native version an unreferenced contained resource was only a warning. Types are not
  // known here: any string equal to `#id` (a reference, canonical, uri or url) counts as a reference.
  'dom-3': {
    expression:
      "contained.where((('#'+id in (%resource.descendants().reference | %resource.descendants().as(canonical) | %resource.descendants().as(uri) | %resource.descendants().as(url))) or descendants().where(reference = '#').exists() or descendants().where(as(canonical) = '#').exists() or descendants().where(as(canonical) = '#').exists()).not()).trace('unmatched', id).empty()",
    check: (n) => {
      if (!isObj(n) || !Array.isArray(n.contained)) return true;
      const strings = new Set<string>();
      collectStrings(n, strings);
      return n.contained.every((c) => {
        if (!isObj(c) || typeof c.id !== 'string') return true;
        if (strings.has(`#${c.id}`)) return true;
        const inner = new Set<string>();
        collectStrings(c, inner);
        return inner.has('#'); // a contained resource that refers to its container
      });
    },
  },
  'per-1': {
    expression: 'start.hasValue().not() or end.hasValue().not() or (start <= end)',
    check: (n) => {
      if (!isObj(n) || typeof n.start !== 'string' || typeof n.end !== 'string') return true;
      const start = dateRange(n.start);
      const end = dateRange(n.end);
      // FHIRPath compares at the common precision; only a start surely after the end fails.
      return !start || !end || start[0] <= end[1];
    },
  },
};

function collectStrings(value: unknown, into: Set<string>): void {
  if (typeof value === 'string') into.add(value);
  else if (Array.isArray(value)) for (const v of value) collectStrings(v, into);
  else if (isObj(value)) for (const k in value) collectStrings(value[k], into);
}

/** Whether an item belongs to a slice, by the slicing's discriminators (value and pattern kinds). */
function sliceMatcher(discriminators: NonNullable<ElementDefinition['slicing']>['discriminator'], slice: ElementNode): Slice['matches'] {
  const tests = (discriminators ?? []).map((d) => {
    if (d.type !== 'value' && d.type !== 'pattern') throw new Error(`${slice.path}: discriminator type ${d.type} is not supported`);
    const expected = expectedAt(slice, d.path);
    if (expected === undefined) return () => true;
    // The common case (identifier system, extension url): one property holding a primitive value.
    if (!d.path.includes('.') && d.path !== '$this' && typeof expected !== 'object') {
      const key = d.path;
      return (item: unknown) => isObj(item) && item[key] === expected;
    }
    return (item: unknown) => valuesAt(item, d.path).some((v) => contains(v, expected));
  });
  return (item) => tests.every((t) => t(item));
}

/** What a slice requires at a discriminator path: a fixed or pattern value, or an extension's url. */
function expectedAt(slice: ElementNode, path: string): unknown {
  if (path === '$this') return slice.fixed ?? slice.pattern;
  if (path === 'url' && slice.types[0]?.code === 'Extension' && slice.types[0].profiles[0]) {
    const own = slice.children.get('url')?.node;
    return own?.fixed ?? slice.types[0].profiles[0];
  }
  let node: ElementNode | undefined = slice;
  for (const segment of path.split('.')) node = node?.children.get(segment)?.node;
  return node ? (node.fixed ?? node.pattern) : undefined;
}

export function valuesAt(item: unknown, path: string): unknown[] {
  if (path === '$this') return [item];
  let current: unknown[] = [item];
  for (const segment of path.split('.')) {
    current = current.flatMap((v) => {
      const next = isObj(v) ? v[segment] : undefined;
      return next === undefined ? [] : Array.isArray(next) ? next : [next];
    });
  }
  return current;
}

/** Pattern semantics: every property of `pattern` is in `value` (arrays: each pattern item in some value item). */
export function contains(value: unknown, pattern: unknown): boolean {
  if (Array.isArray(pattern)) return Array.isArray(value) && pattern.every((p) => value.some((v) => contains(v, p)));
  if (isObj(pattern)) return isObj(value) && Object.entries(pattern).every(([k, p]) => contains(value[k], p));
  return value === pattern;
}
