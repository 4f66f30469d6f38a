import type { Resource } from '@medplum/fhirtypes';
import type { Issue, IssueCode, Text } from '../fhir/outcome.js';
import { parseReference } from '../fhir/references.js';
import { CANONICAL } from '../fhir/vn.js';
import { ID_PATTERN, isAcceptedType } from '../fhir/resource-types.js';
import { contains, type Child, type CompiledProfile, type Constraint, type ElementNode, type TypeRef } from './compile.js';
import { messages } from './messages.js';
import { checkPrimitive, isPrimitiveType, jsonTypeOf } from './primitives.js';
import type { ProfileRegistry } from './registry.js';
import { dedupe, type ResourceValidator } from './validator.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

interface Walk {
  issues: Issue[];
  /** The resource the walk is in, for %resource in constraints: a Bundle entry's or a contained resource is its own. */
  resource: Obj;
  /** The outermost resource of a contained one (%rootResource), else the same as `resource`. */
  rootResource: Obj;
  profile: CompiledProfile;
}

/**
 * Validates resources against compiled StructureDefinitions: the profiles a resource declares in
 * meta.profile (each must be known), and the gateway's default profile for its type unless a declared
 * one derives from it. Checks
 * cardinality, JSON and primitive types, unknown elements, fixed and pattern values, slices,
 * maximum lengths, required bindings and FHIRPath invariants; every issue carries a stable code and
 * the FHIRPath of the offending element (`Patient.identifier[0].value`), and says what is wrong in
 * Vietnamese and English.
 *
 * Written here rather than taken from @medplum/core's validator because that one does not check
 * required bindings, does not evaluate constraints inside slices (where the VN identifier rules
 * live), speaks English only, and costs ~0.15 ms per resource where this compiled walk costs a
 * fraction — validation runs on every write of every bundle.
 */
export class ProfileValidator implements ResourceValidator {
  constructor(private readonly registry: ProfileRegistry) {}

  validate(resource: Resource): Issue[] {
    const type = resource.resourceType;
    const declared = (resource.meta?.profile ?? []).filter((p) => typeof p === 'string');
    const issues: Issue[] = [];
    const urls: string[] = [];
    declared.forEach((url, i) => {
      const sd = this.registry.definition(url);
      const expression = [`${type}.meta.profile[${i}]`];
      if (!sd) issues.push({ severity: 'error', code: 'not-supported', message: messages.unknownProfile(url), expression });
      else if (sd.type !== type) issues.push({ severity: 'error', code: 'invalid', message: messages.profileForOtherType(url, sd.type!), expression });
      else urls.push(url);
    });
    // The gateway's own profile applies whatever the resource declares: declaring the core profile
    // (or any other) must not be a way around the rules the XML export depends on.
    const fallback = this.registry.defaultProfile(resource);
    if (!urls.some((url) => this.derivesFrom(url, fallback))) urls.push(fallback);
    for (const url of urls) {
      const profile = this.registry.profile(url);
      if (profile) this.validateRoot(resource as unknown as Obj, profile, type, issues);
    }
    return dedupe(issues);
  }

  /** Validates against one profile (by URL), whatever the resource declares. */
  validateAgainst(resource: Resource, url: string): Issue[] {
    const profile = this.registry.profile(url);
    if (!profile) return [{ severity: 'error', code: 'not-supported', message: messages.unknownProfile(url), expression: [resource.resourceType] }];
    const issues: Issue[] = [];
    this.validateRoot(resource as unknown as Obj, profile, resource.resourceType, issues);
    return dedupe(issues);
  }

  /** Whether a profile is `base` or is derived from it (hb-discharge-paper from hb-paper from Composition). */
  private derivesFrom(url: string, base: string): boolean {
    const target = base.split('|')[0];
    for (let sd = this.registry.definition(url), n = 0; sd && n < 20; sd = sd.baseDefinition ? this.registry.definition(sd.baseDefinition) : undefined, n++) {
      if (sd.url === target) return true;
    }
    return false;
  }

  private validateRoot(resource: Obj, profile: CompiledProfile, expr: string, issues: Issue[]): void {
    const w: Walk = { issues, resource, rootResource: resource, profile };
    this.resourceId(w, resource, expr);
    this.complex(w, resource, profile.root, profile.type, expr, true);
  }

  /** Resource.id is typed `string` in the R4 snapshots; its real rule (1–64 of [A-Za-z0-9-.]) is checked here. */
  private resourceId(w: Walk, resource: Obj, expr: string): void {
    if (resource.id !== undefined && (typeof resource.id !== 'string' || !ID_PATTERN.test(resource.id))) {
      issue(w, 'error', 'value', messages.badFormat(resource.id, 'id'), `${expr}.id`);
    }
  }

  /** An object value: its elements, cardinalities, slices and constraints. */
  private complex(w: Walk, value: unknown, node: ElementNode, typeCode: string, expr: string, isRoot = false): void {
    if (!isObj(value)) {
      issue(w, 'error', 'structure', messages.notObject(expr, typeCode), expr);
      return;
    }
    const children = this.childrenOf(w, node, typeCode);
    const present = new Map<ElementNode, { child: Child; key: string; items: unknown[] }[]>();
    /** Elements already reported (empty, or a choice of a type the profile does not allow): not also as missing. */
    const reported = new Set<ElementNode>();
    let size = 0;
    for (const key in value) {
      if (isRoot && key === 'resourceType') continue;
      const raw = value[key];
      // JSON has no undefined: a property set to undefined in memory is absent from what is stored.
      if (raw === undefined) continue;
      size++;
      if (key.startsWith('_')) {
        this.primitiveExtension(w, children.get(key.slice(1)), raw, `${expr}.${key.slice(1)}`, key, typeCode);
        continue;
      }
      const child = children.get(key);
      if (!child) {
        const excluded = this.excludedChoice(children, key, typeCode);
        if (excluded) {
          reported.add(excluded.allowed.node);
          issue(w, 'error', 'structure', messages.typeNotAllowed(`${expr}.${excluded.base}`, excluded.type, excluded.allowed.node.types.map((t) => t.code)), `${expr}.${excluded.base}.ofType(${excluded.type})`);
        } else {
          issue(w, 'error', 'structure', messages.unknownElement(key, typeCode), `${expr}.${key}`);
        }
        continue;
      }
      const at = `${expr}.${child.expression}`;
      if (raw === null || (Array.isArray(raw) && raw.length === 0)) {
        issue(w, 'error', 'structure', messages.empty(at), at);
        reported.add(child.node);
        continue;
      }
      if (child.node.array && !Array.isArray(raw)) issue(w, 'error', 'structure', messages.mustBeArray(at), at);
      if (!child.node.array && Array.isArray(raw)) issue(w, 'error', 'structure', messages.mustNotBeArray(at), at);
      const list = present.get(child.node) ?? [];
      list.push({ child, key, items: Array.isArray(raw) ? raw : [raw] });
      present.set(child.node, list);
    }
    // ele-1: an element has a value or children. An empty one is that one fault, not also its missing
    // children, bindings and invariants. (A resource is not an element: `{"resourceType":"Patient"}` is
    // valid in R4, and a profile that wants more says so by its required elements.)
    if (size === 0 && !isRoot) {
      issue(w, 'error', 'structure', messages.empty(expr), expr);
      return;
    }

    const { elements, required } = summaryOf(children);
    // Elements present: cardinality, then their items.
    for (const [elementNode, entries] of present) {
      const name = `${expr}.${elements.get(elementNode)!.name}`;
      const count = entries.reduce((n, e) => n + e.items.length, 0);
      if (count < elementNode.min) issue(w, 'error', 'required', messages.tooFew(name, elementNode.min, count), name);
      if (count > elementNode.max) issue(w, 'error', 'structure', messages.tooMany(name, elementNode.max, count), name);
      this.items(w, elementNode, entries, expr, typeCode);
    }
    // Elements absent that must be there (a primitive carried only by its extension `_x` counts as present).
    for (const { node: elementNode, name: element, key, primitive } of required) {
      if (present.has(elementNode) || reported.has(elementNode)) continue;
      const name = `${expr}.${element}`;
      if (elementNode.min > 0) {
        if (!(primitive && value[`_${key}`] !== undefined)) issue(w, 'error', 'required', messages.required(name), name);
      } else {
        // A required element that is absent was reported above; only an optional one reports its required slices.
        for (const slice of elementNode.slicing?.slices ?? []) {
          if (slice.node.min > 0) issue(w, 'error', 'required', messages.sliceTooFew(name, slice.name, slice.node.min, 0), name);
        }
      }
    }
    this.rules(w, value, node, expr, typeCode);
  }

  /** The items of one element: slices, then each item against its slice (or the element). */
  private items(w: Walk, node: ElementNode, entries: { child: Child; key: string; items: unknown[] }[], parent: string, parentType: string): void {
    const slicing = node.slicing;
    const counts = new Map<string, number>();
    for (const { child, items } of entries) {
      const base = `${parent}.${child.expression}`;
      items.forEach((item, i) => {
        const expr = child.node.array ? `${base}[${i}]` : base;
        let target = node;
        if (slicing) {
          const slice = slicing.slices.find((s) => s.matches(item));
          if (slice) {
            target = slice.node;
            counts.set(slice.name, (counts.get(slice.name) ?? 0) + 1);
          } else if (slicing.rules === 'closed') {
            issue(w, 'error', 'structure', messages.noSlice(expr), expr);
          }
        }
        this.value(w, item, target, child.type, expr, parentType);
      });
    }
    if (slicing) {
      const name = `${parent}.${entries[0].child.expression}`;
      for (const slice of slicing.slices) {
        const n = counts.get(slice.name) ?? 0;
        if (n < slice.node.min) issue(w, 'error', 'required', messages.sliceTooFew(name, slice.name, slice.node.min, n), name);
        if (n > slice.node.max) issue(w, 'error', 'structure', messages.sliceTooMany(name, slice.name, slice.node.max, n), name);
      }
    }
  }

  /** One value of an element, by its type. */
  private value(w: Walk, item: unknown, node: ElementNode, type: TypeRef, expr: string, parentType: string): void {
    if (item === null || item === '') {
      issue(w, 'error', 'structure', messages.empty(expr), expr);
      return;
    }
    if (isPrimitiveType(type.code)) {
      if (!checkPrimitive(type.code, item)) {
        const json = jsonTypeOf(type.code);
        if (typeof item !== json) issue(w, 'error', 'structure', messages.wrongType(expr, type.code, json), expr);
        else issue(w, 'error', 'value', messages.badFormat(item, type.code), expr);
        return;
      }
      if (node.maxLength && typeof item === 'string' && item.length > node.maxLength) {
        issue(w, 'error', 'value', messages.tooLong(expr, item.length, node.maxLength), expr);
      }
      this.rules(w, item, node, expr, type.code);
      return;
    }
    if (type.code === 'Resource') {
      this.embedded(w, item, expr, node.path.endsWith('.contained'));
      return;
    }
    if (type.code === 'Extension' && isObj(item) && typeof item.url === 'string') {
      const sd = this.registry.definition(item.url);
      const ext = sd ? this.registry.profile(item.url) : undefined;
      if (sd && ext) {
        // An extension is defined for some places only (hb-ext-treatment-result on an Encounter, not a
        // Patient). Contexts given as type names are checked; element paths are not used by our definitions.
        const contexts = (sd.context ?? []).filter((c) => c.type === 'element').map((c) => c.expression);
        const anywhere = contexts.some((c) => c.includes('.') || ANY_CONTEXT.has(c));
        if (contexts.length > 0 && !anywhere && !contexts.includes(parentType)) {
          issue(w, 'error', 'structure', messages.extensionContext(item.url, parentType, contexts), `${expr}.url`);
        }
        this.complex({ ...w, profile: ext }, item, ext.root, 'Extension', expr);
        this.rules(w, item, node, expr, type.code);
        return;
      }
      // FHIR: a receiver must refuse a modifier extension it does not understand. A misspelt URL in
      // our own namespace would silently drop a field from the XML, so it is an error too; any other
      // unknown extension is kept, and said so.
      // (Relative URLs are the parts of a complex extension, defined by it.)
      if (!item.url.includes(':')) {
        // nothing to add: the parent extension's slicing judges its parts
      } else if (node.path.endsWith('.modifierExtension')) issue(w, 'error', 'extension', messages.unknownModifier(item.url), `${expr}.url`);
      else if (item.url.startsWith(`${CANONICAL}/`)) issue(w, 'error', 'extension', messages.unknownOwnExtension(item.url), `${expr}.url`);
      else issue(w, 'information', 'extension', messages.unknownExtension(item.url), `${expr}.url`);
    }
    if (type.code === 'Reference' && isObj(item) && typeof item.reference === 'string') {
      const ref = parseReference(item.reference);
      const allowed = type.targets.filter((t) => t !== 'Resource');
      if (ref && allowed.length > 0 && !type.targets.includes('Resource') && !allowed.includes(ref.type)) {
        issue(w, 'error', 'structure', messages.referenceTarget(ref.type, allowed), `${expr}.reference`);
      }
    }
    this.complex(w, item, node, type.code, expr);
    // Invariants of the datatype itself (per-1 on Period, ref-1 on Reference, qty-3 on Quantity,
    // sqty-1 on SimpleQuantity) sit on the root of its own definition, not on the elements using it.
    // (An empty object was reported as such; its invariants say nothing more.)
    if (isObj(item) && Object.values(item).some((v) => v !== undefined)) this.constraints(w, item, this.typeConstraints(type, node), expr);
  }

  /** Per element and type: the datatype's own invariants that the element does not repeat (ext-1 often does). */
  private readonly typeConstraintCache = new WeakMap<ElementNode, Map<string, Constraint[]>>();

  private typeConstraints(type: TypeRef, node: ElementNode): Constraint[] {
    const key = `${type.code}|${type.profiles.join(' ')}`;
    let byType = this.typeConstraintCache.get(node);
    if (!byType) this.typeConstraintCache.set(node, (byType = new Map()));
    let found = byType.get(key);
    if (!found) {
      const roots = [this.registry.base(type.code), ...(type.code === 'Extension' ? [] : type.profiles.map((p) => this.registry.profile(p)))];
      const byKey = new Map<string, Constraint>();
      for (const r of roots) for (const c of r?.root.constraints ?? []) if (!node.constraints.some((own) => own.key === c.key)) byKey.set(c.key, c);
      found = [...byKey.values()];
      byType.set(key, found);
    }
    return found;
  }

  /**
   * A resource inside another: its own base definition applies. A Bundle entry's resource is a
   * resource of its own (%resource and %rootResource); a contained one keeps its container as %rootResource.
   */
  private embedded(w: Walk, item: unknown, expr: string, contained: boolean): void {
    const type = isObj(item) ? item.resourceType : undefined;
    const profile = typeof type === 'string' && isAcceptedType(type) ? this.registry.base(type) : undefined;
    if (!profile) {
      issue(w, 'error', 'structure', messages.notObject(expr, 'Resource'), `${expr}.resourceType`);
      return;
    }
    const inner: Walk = { ...w, profile, resource: item as Obj, rootResource: contained ? w.rootResource : (item as Obj) };
    this.resourceId(inner, item as Obj, expr);
    this.complex(inner, item, profile.root, type as string, expr, true);
  }

  /**
   * `valueString` where the profile allows only `valueCoding`: the key is a choice of the base
   * definition whose type the profile removed. One issue (the type is wrong), not "unknown element"
   * and "value[x] is required" besides.
   */
  private excludedChoice(children: Map<string, Child>, key: string, typeCode: string): { base: string; type: string; allowed: Child } | undefined {
    const baseChild = this.registry.base(typeCode)?.root.children.get(key);
    const m = baseChild && /^(.*)\.ofType\((.*)\)$/.exec(baseChild.expression);
    if (!m) return undefined;
    const allowed = [...children.values()].find((c) => c.expression.startsWith(`${m[1]}.ofType(`));
    return allowed ? { base: m[1], type: m[2], allowed } : undefined;
  }

  /** `_birthDate`: the id and extensions of a primitive. */
  private primitiveExtension(w: Walk, child: Child | undefined, raw: unknown, expr: string, key: string, typeCode: string): void {
    if (!child || !isPrimitiveType(child.type.code)) {
      issue(w, 'error', 'structure', messages.unknownElement(key, typeCode), expr);
      return;
    }
    const element = this.registry.base('Element');
    if (!element) return;
    // `_given` lines up with `given`: an array exactly when the element repeats.
    if (child.node.array !== Array.isArray(raw)) {
      issue(w, 'error', 'structure', child.node.array ? messages.mustBeArray(key) : messages.mustNotBeArray(key), expr);
      return;
    }
    const items = Array.isArray(raw) ? raw : [raw];
    items.forEach((item, i) => {
      if (item === null) return; // a placeholder lining up with a value that has no extension
      this.complex(w, item, element.root, 'Element', Array.isArray(raw) ? `${expr}[${i}]` : expr);
    });
  }

  /** Fixed and pattern values, required bindings and invariants of an element. */
  private rules(w: Walk, value: unknown, node: ElementNode, expr: string, typeCode: string): void {
    if (node.fixed !== undefined && JSON.stringify(value) !== JSON.stringify(node.fixed) && !deepEqual(value, node.fixed)) {
      issue(w, 'error', 'value', messages.fixed(expr, node.fixed), expr);
    }
    if (node.pattern !== undefined && !contains(value, node.pattern)) issue(w, 'error', 'value', messages.pattern(expr, node.pattern), expr);
    if (node.binding) this.binding(w, value, node.binding.valueSet, typeCode, expr);
    this.constraints(w, value, node.constraints, expr);
  }

  private constraints(w: Walk, value: unknown, constraints: Constraint[], expr: string): void {
    for (const c of constraints) {
      const result = c.check(value, w.resource, w.rootResource);
      if (result === true) continue;
      if (result === false) issue(w, c.severity, 'invariant', messages.invariant(c.key, c.human), expr);
      // A rule that cannot be evaluated on malformed data (already reported) says nothing more.
      else if (!w.issues.some((i) => i.severity === 'error')) issue(w, 'warning', 'processing', messages.invariantFailed(c.key, result), expr);
    }
  }

  private binding(w: Walk, value: unknown, valueSet: string, typeCode: string, expr: string): void {
    const expansion = this.registry.terminology.expand(valueSet);
    if (!expansion) return;
    const vs = valueSet.split('|')[0];
    if (typeCode === 'code' && typeof value === 'string') {
      if (!this.registry.terminology.codes(valueSet)?.has(value)) issue(w, 'error', 'code-invalid', messages.codeNotInValueSet(value, vs), expr);
      return;
    }
    const codings = typeCode === 'Coding' ? [value] : typeCode === 'CodeableConcept' && isObj(value) && Array.isArray(value.coding) ? value.coding : [];
    if (typeCode !== 'Coding' && typeCode !== 'CodeableConcept') return;
    const inSet = codings.some((c) => isObj(c) && expansion.has(`${c.system}|${c.code}`));
    if (inSet) return;
    const first = codings.find(isObj);
    if (first && typeof first.code === 'string') {
      const where = typeCode === 'Coding' ? `${expr}.code` : `${expr}.coding[0].code`;
      issue(w, 'error', 'code-invalid', messages.codeNotInValueSet(`${first.system ?? ''}|${first.code}`, vs), where);
    } else {
      issue(w, 'error', 'code-invalid', messages.noCodeFromValueSet(expr, vs), expr);
    }
  }

  private childrenOf(w: Walk, node: ElementNode, typeCode: string): Map<string, Child> {
    if (node.children.size > 0) return node.children;
    if (node.contentReference) return w.profile.byPath.get(node.contentReference)?.children ?? node.children;
    return this.registry.base(typeCode)?.root.children ?? node.children;
  }
}

interface ChildrenSummary {
  /** Each distinct element (a choice's keys share one) with its FHIRPath name. */
  elements: Map<ElementNode, { name: string }>;
  /** The elements that can be missing wrongly: required ones, and optional ones with required slices. */
  required: { node: ElementNode; name: string; key: string; primitive: boolean }[];
}

const summaries = new WeakMap<Map<string, Child>, ChildrenSummary>();

/** What the walk needs to know of a set of children, worked out once per compiled element. */
function summaryOf(children: Map<string, Child>): ChildrenSummary {
  let summary = summaries.get(children);
  if (!summary) {
    summary = { elements: new Map(), required: [] };
    for (const [key, child] of children) {
      if (summary.elements.has(child.node)) continue;
      const name = child.expression.replace(/\.ofType\(.*\)$/, '');
      summary.elements.set(child.node, { name });
      if (child.node.min > 0 || child.node.slicing?.slices.some((s) => s.node.min > 0)) {
        summary.required.push({ node: child.node, name, key, primitive: isPrimitiveType(child.type.code) });
      }
    }
    summaries.set(children, summary);
  }
  return summary;
}

/** Extension contexts this check does not narrow (any element, any resource). */
const ANY_CONTEXT = new Set(['Element', 'Resource', 'DomainResource', 'BackboneElement']);

function issue(w: Walk, severity: Issue['severity'], code: IssueCode, message: Text, expression: string): void {
  w.issues.push({ severity, code, message, expression: [expression] });
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}
