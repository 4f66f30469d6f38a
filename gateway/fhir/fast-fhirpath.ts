import fhirpath from 'fhirpath';
import r4Model from 'fhirpath/fhir-context/r4';

/**
 * A compiler from FHIRPath to closures over plain JSON, for the part of the language our invariants,
 * mapping files and table rules are written in. fhirpath.js is the reference and stays in charge of
 * everything else: it wraps every node it visits in a typed ResourceNode, clones its evaluation
 * context for every argument and re-reads string literals at run time, which costs ~5–40 µs per
 * evaluation of a typical mapping path (~25 ms of an outpatient claim file, ~300 ms of a stay of 150
 * resources); the closures below visit the JSON as it is and cost ~0.1–2 µs for the same paths.
 *
 * The semantics are fhirpath.js 5.2's with the R4 model, quirks included: collections, empty
 * propagation, three-valued logic, singleton evaluation (a lone non-boolean is `true`), both operands
 * of an operator always evaluated, `where()` keeping an item whose criterion is a truthy node, numbers
 * equal to 8 decimals, choice elements (`value` reads `valueQuantity`), primitives with their `_x`
 * extensions. Parsing is fhirpath.js's own (its syntax tree), so precedence and escapes cannot differ.
 *
 * Two ways out:
 * - compile time: an expression using anything outside the subset is declined (`{ declined: why }`)
 *   and the caller compiles it with fhirpath.js;
 * - run time: when an input needs what only typed evaluation can tell — a date compared with a
 *   date (FHIR temporal semantics), a Quantity or any complex value compared for equality, a type
 *   test on a value whose type is unknown, anything fhirpath.js would raise an error on — the closure
 *   throws a FallBack signal and the caller evaluates the same input with fhirpath.js.
 *
 * test/fhir/fast-fhirpath.test.ts (invariants over examples and mutants), test/mapping/fast-views.test.ts
 * (every mapping view in both modes over every example episode) and the SQL-on-FHIR suite hold the two
 * engines to the same answers.
 */

export type Collection = unknown[];
/** %name → value, looked up with `in` (a prototype chain of scopes works), as fhirpath.js does. */
export type Variables = Record<string, unknown>;

/**
 * A function callers add to FHIRPath (resolve(), getResourceKey() …), fast version: plain inputs
 * (primitives unwrapped), each argument evaluated to a collection (an `Identifier` parameter: its
 * text), the run's variables. It may call fallBack() for an input it leaves to fhirpath.js.
 */
export type FastFunction = (inputs: Collection, args: Collection[], variables: Variables) => Collection;

export interface FastFunctionEntry {
  /** Absent: the function exists only for fhirpath.js, and expressions calling it are declined. */
  fast?: FastFunction;
  /** fhirpath.js's parameter types by arity (`{ 1: ['String'] }`); absent: no parameters. */
  arity?: Partial<Record<number, readonly string[]>>;
  /** fhirpath.js's flag: an empty input or argument gives empty without calling the function. */
  nullable?: boolean;
}

export interface FastOptions {
  /** Functions added to (or replacing) FHIRPath's, as fhirpath.js's userInvocationTable does. */
  functions?: Readonly<Record<string, FastFunctionEntry>>;
  /**
   * %names whose values are known when compiling (a ViewDefinition's constants, plain JSON): read
   * once, and what is computed from them alone (`%cs + 'loai-kcb'`) is computed once.
   */
  constants?: Readonly<Record<string, unknown>>;
  /**
   * The data has no FHIR types (the rows of the XML tables, plain objects without resourceType), as
   * fhirpath.js sees it: strings are only strings (a date-like one compares as text), a `value` is
   * only `value` (no choice elements), a boolean is no FHIR primitive to hasValue(). Type tests fall back.
   */
  untyped?: boolean;
}

/**
 * A variable that makes evaluations share a cache for one run (a view over an episode): give
 * `{ [RUN_CACHE]: new Map() }` among the variables. Sub-expressions that read neither the focus nor
 * a variable that changes within a run (VARYING: %resource, %rootResource, %rowIndex, %context) are
 * then computed once per run instead of once per row — `%encounter.identifier.where(system = %maLk)`
 * in every line of a table, `'Encounter/' + %encounter.id` in a view's `where`. User functions must
 * be functions of their inputs, arguments and the run's variables for this to hold.
 */
export const RUN_CACHE = Symbol('fast-fhirpath run cache');

/** Variables that change within a run. */
const VARYING = new Set(['resource', 'rootResource', 'rowIndex', 'context']);

/** A compiled expression: its result collection; throws a FallBack signal (see isFallBack) for an input it leaves to fhirpath.js. */
export interface FastPath {
  /** Results as nodes, to be the focus of another expression (a primitive with extensions stays wrapped). */
  nodes(focus: unknown, variables?: Variables): Collection;
  /** Results as plain JSON values (primitives unwrapped); objects are the input's own, not copies. */
  values(focus: unknown, variables?: Variables): Collection;
  /** Whether it reads %resource or %rootResource (a result then depends on more than the focus). */
  readsResource: boolean;
}

export type FastCompiled = { path: FastPath; declined?: undefined } | { path?: undefined; declined: string };

/** The run-time signal: this input needs fhirpath.js. A plain object (no stack trace to capture: throwing it is cheap). */
class FallBackSignal {
  constructor(readonly reason: string) {}
}

export function fallBack(reason: string): never {
  throw new FallBackSignal(reason);
}

export function isFallBack(e: unknown): boolean {
  return e instanceof FallBackSignal;
}

/** The reason a FallBack signal gives, for tests and diagnostics. */
export function fallBackReason(e: unknown): string | undefined {
  return e instanceof FallBackSignal ? e.reason : undefined;
}

/** Why an expression is declined at compile time. */
class Declined extends Error {}

const cache = new Map<string, FastCompiled>();

/**
 * Compiles `expression` (once, when no functions are added: the validator's and the rules' case; a
 * caller adding functions keeps what it compiles). Declines (`{ declined }`) what the subset does not
 * cover; throws only if fhirpath.js cannot parse it.
 */
export function compileFast(expression: string, options: FastOptions = {}): FastCompiled {
  if ((options.functions && Object.keys(options.functions).length > 0) || options.constants || options.untyped) {
    return compileAst(fhirpath.parse(expression) as Ast, options);
  }
  let compiled = cache.get(expression);
  if (!compiled) {
    compiled = compileUncached(expression, NO_FUNCTIONS);
    cache.set(expression, compiled);
  }
  return compiled;
}

const NO_FUNCTIONS: Readonly<Record<string, FastFunctionEntry>> = Object.freeze({});
const NO_CONSTANTS: Readonly<Record<string, unknown>> = Object.freeze(Object.create(null) as Record<string, unknown>);

/** compileFast() of an expression fhirpath.parse() has already parsed (the view engine parses once for both engines). */
export function compileFastParsed(parsed: unknown, options: FastOptions = {}): FastCompiled {
  return compileAst(parsed as Ast, options);
}

function compileUncached(expression: string, functions: Readonly<Record<string, FastFunctionEntry>>): FastCompiled {
  return compileAst(fhirpath.parse(expression) as Ast, { functions });
}

function compileAst(ast: Ast, options: FastOptions): FastCompiled {
  const compiler = new Compiler(options.functions ?? NO_FUNCTIONS, options.constants ?? NO_CONSTANTS, !options.untyped);
  let fn: Fn;
  try {
    fn = compiler.expression(ast, { iteration: false, aggregate: false, region: { mutated: false }, invariant: false });
  } catch (e) {
    if (e instanceof Declined) return { declined: e.message };
    throw e;
  }
  const usesDefine = compiler.usesDefine;
  const nodes = (focus: unknown, variables: Variables = EMPTY_VARS): Collection => {
    const root = focus === undefined || focus === null ? [] : Array.isArray(focus) ? focus : [focus];
    const env: Env = { vars: variables, root, self: root, index: -1, total: EMPTY, defined: usesDefine ? {} : null };
    const out = fn(root, env);
    for (let i = 0; i < out.length; i++) if (out[i] instanceof Computed) fallBack('a computed date or quantity as a result');
    return out;
  };
  return {
    path: {
      nodes,
      values: (focus, variables) => {
        const out = nodes(focus, variables);
        for (let i = 0; i < out.length; i++) if (out[i] instanceof Prim) return out.map(plain);
        return out;
      },
      readsResource: compiler.readsResource,
    },
  };
}

/**
 * A boolean check (an invariant, a rule): true, false, undefined for empty (the rule does not apply),
 * or FALL_BACK when this input needs fhirpath.js (including a result that is not one boolean).
 */
export type FastCheck = (node: unknown, variables?: Variables) => boolean | undefined | typeof FALL_BACK;

export const FALL_BACK = Symbol('fall back to fhirpath.js');

/** compileFast() as a boolean check, or undefined when the expression is declined. */
export function compileFastCheck(expression: string, options?: FastOptions): FastCheck | undefined {
  const { path } = compileFast(expression, options);
  if (!path) return undefined;
  return (node, variables) => {
    let c: Collection;
    try {
      c = path.nodes(node, variables);
    } catch (e) {
      if (e instanceof FallBackSignal) return FALL_BACK;
      throw e;
    }
    if (c.length === 0) return undefined;
    const v = plain(c[0]);
    return c.length === 1 && typeof v === 'boolean' ? v : FALL_BACK;
  };
}

// --- values -------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Prim) && !(v instanceof Computed);

/**
 * Values the fast path computes that are not JSON: a date made by toDate() and a number of days
 * made by toQuantity(), for the table rules' date arithmetic (`….toDate() + (n.toString() + ' days').toQuantity() = ….toDate()`).
 * Only full dates (`2025-05-12`) and whole days, added or compared: everything else falls back, and
 * they never leave an evaluation.
 */
abstract class Computed {}

class FastDate extends Computed {
  /** `days`: since 1970-01-01, in the proleptic Gregorian calendar (fhirpath.js adds days in local calendar dates: the same). */
  constructor(readonly days: number) {
    super();
  }
}

class FastDays extends Computed {
  constructor(readonly count: number) {
    super();
  }
}

const FULL_DATE = /^([1-9]\d{3})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const DAY_MS = 86_400_000;

/** toDate() of a string: a full date only. */
function toFastDate(s: string): FastDate {
  const m = FULL_DATE.exec(s);
  if (!m) return fallBack('toDate() of other than a full date');
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  // fhirpath.js refuses 2025-02-30 (no date: empty); left to it.
  if (new Date(ms).getUTCDate() !== d) return fallBack('toDate() of a day the month does not have');
  return new FastDate(ms / DAY_MS);
}

function plusDays(date: FastDate, days: number): FastDate {
  const result = new FastDate(date.days + days);
  const year = new Date(result.days * DAY_MS).getUTCFullYear();
  if (year < 1000 || year > 9999) fallBack('a date out of four-digit years');
  return result;
}

/**
 * A FHIR primitive that has a `_name` sibling (an id, extensions): fhirpath.js keeps both on one
 * node, so that `birthDate.extension(…)` finds the extension while `birthDate` compares as a date.
 * The only wrapper the fast path uses; every other value is the JSON itself.
 */
export class Prim {
  constructor(
    readonly value: string | number | boolean,
    readonly ext: Obj,
  ) {}
}

/** The plain value of a node. */
export function plain(v: unknown): unknown {
  return v instanceof Prim ? v.value : v;
}

const EMPTY: Collection = [];
const EMPTY_VARS: Variables = Object.freeze(Object.create(null) as Variables);

interface Env {
  vars: Variables;
  /** %context: the focus the evaluation started on. */
  root: Collection;
  /** $this. */
  self: Collection;
  /** $index; -1 outside an iteration. */
  index: number;
  /** $total (in aggregate()). */
  total: Collection;
  /** Variables of defineVariable(), when the expression uses it. */
  defined: Record<string, Collection> | null;
}

/** A compiled sub-expression: its result from the input collection. */
type Fn = (input: Collection, env: Env) => Collection;

// --- the R4 model: choice elements and types ----------------------------------------------------

interface Model {
  choiceTypePaths: Record<string, string[]>;
  type2Parent: Record<string, string>;
  path2Type: Record<string, string>;
  path2Repeating?: Record<string, boolean>;
  availableTypes: Set<string>;
}
const model = r4Model as unknown as Model;

const upperFirst = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * Choice elements are read as fhirpath.js reads them, from the same R4 model: on a resource,
 * exactly by its type's choice paths (`Observation.value` → `valueQuantity`, …); on any other object,
 * by key (`value` + a type name), except for the few keys that are an ordinary element of some type
 * (`ClinicalImpression.finding.itemReference`, `MarketingStatus.dateRange`), where only the type
 * could tell and fhirpath.js is asked. A key holding an array is never a choice (they do not repeat).
 */
const CHOICE_NAMES = new Set<string>();
/** `valueQuantity` → 'Quantity', `valueString` → 'string' (the FHIR type of a choice key's suffix). */
const SUFFIX_TYPE = new Map<string, string>();
const CONFLICT_KEYS = new Set<string>();
for (const t of model.availableTypes) SUFFIX_TYPE.set(upperFirst(t), t);
for (const path of Object.keys(model.choiceTypePaths)) CHOICE_NAMES.add(path.slice(path.lastIndexOf('.') + 1));
for (const path of Object.keys(model.path2Type)) {
  const dot = path.lastIndexOf('.');
  if (dot < 0) continue;
  const parent = path.slice(0, dot);
  const element = path.slice(dot + 1);
  if (!parent.includes('.') && isResourceType(parent)) continue; // a resource's own elements: exact by resourceType
  if (model.path2Repeating?.[path]) continue;
  for (let i = 1; i < element.length; i++) {
    const code = element.charCodeAt(i);
    if (code < 65 || code > 90) continue;
    const name = element.slice(0, i);
    if (CHOICE_NAMES.has(name) && SUFFIX_TYPE.has(element.slice(i)) && !model.choiceTypePaths[`${parent}.${name}`]) CONFLICT_KEYS.add(element);
  }
}

function isType(type: string | undefined, superType: string): boolean {
  for (let t = type; t; t = model.type2Parent[t]) if (t === superType) return true;
  return false;
}

function isResourceType(type: string): boolean {
  return isType(type, 'Resource');
}

/** Names a member invocation at the start of a path may mean as a type (`Patient.name`, `Resource.id`). */
const SYSTEM_TYPES = new Set(['Boolean', 'String', 'Integer', 'Long', 'Decimal', 'Date', 'DateTime', 'Time', 'Quantity']);
const PRIMITIVE_TYPES = new Set([...model.availableTypes].filter((t) => /^[a-z]/.test(t)));

/**
 * The FHIR types of objects found under a choice key (`valueCoding` → Coding), for `is`/`as`/`ofType`
 * on them later: the only type information the fast path keeps. Recorded only by expressions that
 * test types. An object whose type is not known makes a type test fall back.
 */
const knownTypes = new WeakMap<object, string>();

/** The FHIR type of an object, when the fast path can know it. */
function objectType(v: Obj): string | undefined {
  return typeof v.resourceType === 'string' ? v.resourceType : knownTypes.get(v);
}

// --- member access ------------------------------------------------------------------------------

/** A member name, prepared once: its `_name` key, whether it is a choice element somewhere. */
interface Member {
  name: string;
  extKey: string;
  choice: boolean;
  /** Record the types of objects found under a typed key (for a later `is`). */
  record: boolean;
}

const memberOf = (name: string, record: boolean): Member => ({ name, extKey: `_${name}`, choice: CHOICE_NAMES.has(name), record });

/**
 * The children named `name` of each item, as fhirpath.js's makeChildResNodes gives them: arrays
 * flattened, a choice element under its typed key, a primitive with its `_name` sibling wrapped, and
 * the children of a wrapped primitive read from its `_name` object (`birthDate.extension`).
 */
function children(items: Collection, m: Member, into?: Collection): Collection {
  const fresh = into === undefined;
  const out = into ?? [];
  for (let i = 0; i < items.length; i++) {
    let item = items[i];
    if (item instanceof Prim) {
      item = item.ext;
    } else if (item instanceof Computed) {
      fallBack(`.${m.name} of a computed value`);
    } else if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      // fhirpath.js reads the property of the JavaScript value ('abc'.length is 3): never what is meant.
      if (item !== null && item !== undefined && (item as Record<string, unknown>)[m.name] !== undefined) fallBack(`.${m.name} of a primitive`);
      continue;
    }
    const obj = item as Obj;
    let key = m.name;
    let v = obj[key];
    let ext = obj[m.extKey];
    if (v === undefined && ext === undefined && m.choice) {
      const typed = choiceKey(obj, m.name);
      if (typed !== undefined) {
        key = typed;
        v = obj[typed];
        ext = obj[`_${typed}`];
      }
    }
    if (ext === undefined || ext === null) {
      if (v === undefined || v === null) continue;
      if (typeof v !== 'object') {
        if (typeof v === 'function') fallBack(`.${m.name} is not data`);
        out.push(v);
      } else if (Array.isArray(v)) {
        for (let j = 0; j < v.length; j++) {
          // fhirpath.js keeps a null array item as an empty node that counts in exists() and count().
          if (v[j] === null || v[j] === undefined) fallBack('null in an array');
        }
        // The one item's array is the result as it is (no closure changes a collection it is given).
        if (items.length === 1 && out.length === 0 && fresh) return v;
        for (let j = 0; j < v.length; j++) out.push(v[j]);
      } else {
        if (m.record && key !== m.name) knownTypes.set(v, SUFFIX_TYPE.get(key.slice(m.name.length))!);
        out.push(v);
      }
      continue;
    }
    // A primitive with a `_name` sibling.
    if (Array.isArray(v) && Array.isArray(ext) && ext.length <= v.length) {
      for (let j = 0; j < v.length; j++) {
        const x = v[j];
        const e = ext[j];
        if (x === null || x === undefined || typeof x === 'object') fallBack('a primitive array with gaps');
        out.push(isObj(e) ? new Prim(x as string, e) : x);
      }
    } else if (isObj(ext) && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) {
      out.push(new Prim(v, ext));
    } else {
      fallBack(`_${key} without a value`);
    }
  }
  return out;
}

/** The typed key of choice element `name` in `obj` (`valueQuantity`), or undefined. */
function choiceKey(obj: Obj, name: string): string | undefined {
  const rt = obj.resourceType;
  if (typeof rt === 'string') {
    // A resource: exactly as its definition says.
    const types = model.choiceTypePaths[`${rt}.${name}`];
    if (!types) return undefined;
    for (const t of types) {
      const key = name + t;
      if (obj[key] !== undefined || obj[`_${key}`] !== undefined) return key;
    }
    return undefined;
  }
  for (const key in obj) {
    let k = key;
    if (k.charCodeAt(0) === 95) k = k.slice(1); // `_valueString`: fhirpath.js finds the extension-only form too
    if (k.length <= name.length || !k.startsWith(name)) continue;
    const code = k.charCodeAt(name.length);
    if (code < 65 || code > 90 || !SUFFIX_TYPE.has(k.slice(name.length))) continue;
    if (Array.isArray(obj[k])) continue;
    if (CONFLICT_KEYS.has(k)) fallBack(`${k} may be an element of its own`);
    return k;
  }
  return undefined;
}

/**
 * `name.ofType(T)` on a choice element: the keys whose type is T or derives from it
 * (`value.ofType(Quantity)` reads `valueQuantity`, `valueAge`, …).
 */
function choiceOfType(items: Collection, name: string, type: string): Collection {
  const out: Collection = [];
  for (const item of items) {
    if (!isObj(item)) {
      if (item instanceof Prim) fallBack('ofType() under a primitive');
      continue;
    }
    if (item[name] !== undefined || item[`_${name}`] !== undefined) {
      // Not a choice here: the type of what is there decides.
      for (const v of children([item], memberOf(name, false))) if (isOfType(v, type)) out.push(v);
      continue;
    }
    const key = choiceKey(item, name);
    if (key === undefined) continue;
    const t = SUFFIX_TYPE.get(key.slice(name.length));
    if (!isType(t, type)) continue;
    children([item], memberOf(key, false), out);
  }
  return out;
}

/** Whether a value is of type T (T a FHIR type name). Falls back when the fast path cannot know. */
function isOfType(v: unknown, type: string): boolean {
  if (isObj(v)) {
    const t = objectType(v);
    if (t !== undefined) return isType(t, type);
    // An object without resourceType is no resource and no primitive; any other type needs its definition.
    if (isResourceType(type) || PRIMITIVE_TYPES.has(type)) return false;
    return fallBack(`type of an object (is ${type})`);
  }
  // A primitive is of no complex type; which primitive type it is needs its definition.
  if (!PRIMITIVE_TYPES.has(type)) return false;
  return fallBack(`type of a primitive (is ${type})`);
}

// --- comparisons --------------------------------------------------------------------------------

/**
 * Strings fhirpath.js may hold as dates or times (when the element is typed date, dateTime, instant
 * or time): they compare by FHIR temporal rules (precision, time zones), so the fast path never
 * compares two of them.
 */
const TEMPORAL = /^(\d{4}(-\d{2}(-\d{2}(T.*)?)?)?|\d{2}:\d{2}(:.*)?|T\d{2}.*)$/;
const mayBeTemporal = (s: string) => s.length >= 4 && TEMPORAL.test(s);

/** fhirpath.js's number equality: equal when rounded to 8 decimals. */
const roundToPrecision = (x: number) => Math.round(x / 1e-8) * 1e-8;
const numbersEqual = (a: number, b: number) => a === b || roundToPrecision(a) === roundToPrecision(b);

/**
 * Equality of two items (deepEqual without `fuzzy`): primitives of one kind by value, of two kinds
 * false; an object and a primitive false (but a UCUM Quantity equals a number: fhirpath.js converts
 * it). Two complex values (a Coding, a Quantity with its units), wrapped primitives (their extensions
 * count) and two date-like strings need fhirpath.js.
 */
function itemsEqual(a: unknown, b: unknown, typed: boolean): boolean {
  const ta = typeof a;
  const tb = typeof b;
  if (ta === 'string' && tb === 'string') {
    if (typed && mayBeTemporal(a as string) && mayBeTemporal(b as string)) fallBack('equality of dates');
    return a === b;
  }
  if (ta === 'number' && tb === 'number') return numbersEqual(a as number, b as number);
  if (ta !== 'object' && tb !== 'object') return a === b;
  if (a instanceof Computed || b instanceof Computed) {
    if (a instanceof FastDate && b instanceof FastDate) return a.days === b.days;
    return fallBack('equality of a computed value');
  }
  if (ta === 'object' && tb !== 'object') return objectEqualsPrimitive(a, b);
  if (tb === 'object' && ta !== 'object') return objectEqualsPrimitive(b, a);
  return fallBack('equality of complex values');
}

function objectEqualsPrimitive(o: unknown, p: unknown): boolean {
  if (!isObj(o) || Object.keys(o).length === 0 || (typeof p === 'number' && isUcumQuantity(o))) return fallBack('equality of a complex value');
  return false;
}

/** `=` on two non-empty collections: same length, item by item (an item comparison may fall back). */
function collectionsEqual(a: Collection, b: Collection, typed: boolean): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!itemsEqual(a[i], b[i], typed)) return false;
  return true;
}

/** `<` and friends: -1, 0, 1; numbers (to 8 decimals) and non-temporal strings only. */
function compareItems(a: unknown, b: unknown, typed: boolean): number {
  const x = plain(a);
  const y = plain(b);
  if (x instanceof FastDate && y instanceof FastDate) return x.days < y.days ? -1 : x.days > y.days ? 1 : 0;
  if (typeof x === 'number' && typeof y === 'number') {
    const rx = roundToPrecision(x);
    const ry = roundToPrecision(y);
    return rx < ry ? -1 : rx > ry ? 1 : 0;
  }
  if (typeof x === 'string' && typeof y === 'string') {
    if (typed && (mayBeTemporal(x) || mayBeTemporal(y))) fallBack('comparison of dates');
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return fallBack('comparison of other values');
}

/** Items without repeats (first occurrence kept), as distinct() and `|` give them. */
function distinct(items: Collection, typed: boolean): Collection {
  const out: Collection = [];
  for (const x of items) {
    if (typeof x === 'object' && x !== null) fallBack('distinct complex values');
    if (!out.some((y) => itemsEqual(x, y, typed))) out.push(x);
  }
  return out;
}

/**
 * Deep equality of two JSON values as fhirpath.js's deepEqual sees plain objects (same keys, equal
 * values, numbers to 8 decimals), for repeat()'s duplicates. Quantities with a UCUM code compare by
 * their units there: they fall back.
 */
function deepEqualPlain(a: unknown, b: unknown, typed: boolean): boolean {
  if (a === b) return true;
  if (a instanceof Prim || b instanceof Prim) fallBack('repeat() over primitives with extensions');
  if (typed && typeof a === 'string' && typeof b === 'string' && mayBeTemporal(a) && mayBeTemporal(b)) fallBack('repeat() over dates');
  if (typeof a === 'number' && typeof b === 'number') return numbersEqual(a, b);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const ob = b as Obj;
  const oa = a as Obj;
  if (isUcumQuantity(oa) && isUcumQuantity(ob)) fallBack('quantities compare by their units');
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(ob, k)) return false;
    if (!deepEqualPlain(oa[k], ob[k], typed)) return false;
  }
  return true;
}

const isUcumQuantity = (o: Obj) => o.system === 'http://unitsofmeasure.org' && typeof o.value === 'number' && typeof o.code === 'string';

// --- singletons and parameters ------------------------------------------------------------------

/** fhirpath.js's singleton evaluation as a Boolean: empty → undefined; one boolean → it; one other value → true. */
function toBoolean(c: Collection): boolean | undefined {
  if (c.length === 0) return undefined;
  if (c.length > 1) return fallBack('several values where one boolean is expected');
  const v = plain(c[0]);
  if (v === null || v === undefined) return undefined;
  return typeof v === 'boolean' ? v : true;
}

/** util.isTrue: one item whose value is true (iif(), all()). */
const isTrue = (c: Collection) => c.length === 1 && plain(c[0]) === true;

/** A `String` parameter or input: undefined when empty; one string, or fhirpath.js raises an error. */
function singleString(c: Collection): string | undefined {
  if (c.length === 0) return undefined;
  if (c.length > 1) return fallBack('several values where one string is expected');
  const v = plain(c[0]);
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'string') return fallBack('not a string');
  return v;
}

function singleInteger(c: Collection): number | undefined {
  if (c.length === 0) return undefined;
  if (c.length > 1) return fallBack('several values where one integer is expected');
  const v = plain(c[0]);
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) return fallBack('not an integer');
  return v;
}

function singleNumber(c: Collection): number | undefined {
  if (c.length === 0) return undefined;
  if (c.length > 1) return fallBack('several values where one number is expected');
  const v = plain(c[0]);
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'number') return fallBack('not a number');
  return v;
}

/** One item, or undefined for none; several are an error in fhirpath.js. */
function single(c: Collection, what: string): unknown {
  if (c.length > 1) fallBack(`several values for ${what}`);
  return c.length === 0 ? undefined : c[0];
}

const one = (v: unknown): Collection => (v === undefined || v === null ? [] : [v]);

/** FHIRPath string escapes (fhirpath.js's handleStringEscapes): \n \t \r \f \uXXXX, a backslash before anything else dropped. */
function unescape(s: string): string {
  return s.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (match, c: string) => {
    switch (match) {
      case '\\r':
        return '\r';
      case '\\n':
        return '\n';
      case '\\t':
        return '\t';
      case '\\f':
        return '\f';
      default:
        return c.length > 1 ? String.fromCharCode(parseInt(c.slice(1), 16)) : c;
    }
  });
}

/** A string literal or delimited identifier without its quotes, escapes read. */
function literalText(text: string): string {
  if (text.length >= 2 && (text[0] === "'" || text[0] === '`') && text[text.length - 1] === text[0]) return unescape(text.slice(1, -1));
  return text;
}

const escapeRegExp = (s: string) => s.replace(/[-[\]{}()*+?.,\\/^$|#\s]/g, '\\$&');

/** fhirpath.js compiles every `matches()` pattern with these flags (`u`: Unicode, `s`: `.` matches newlines). */
const regexCache = new Map<string, RegExp | null>();
function regex(pattern: string): RegExp {
  let re = regexCache.get(pattern);
  if (re === undefined) {
    try {
      re = new RegExp(pattern, 'us');
    } catch {
      re = null; // fhirpath.js raises the SyntaxError: it says so itself
    }
    regexCache.set(pattern, re);
  }
  return re ?? fallBack('an invalid pattern');
}

// --- the compiler -------------------------------------------------------------------------------

interface Ast {
  type: string;
  text?: string;
  delimitedText?: string;
  atRoot?: number;
  direction?: string;
  children?: Ast[];
}

/** What the compiler knows about where a node is. */
interface Scope {
  /** Inside the criterion of an iterating function: $index is its item's index. */
  iteration: boolean;
  /** Inside aggregate()'s expression: $total is the running total. */
  aggregate: boolean;
  /**
   * Its region: the chain of invocations it is part of, evaluated on one fhirpath.js context. A call
   * there that sets $index or $total on that context (where(), select() …: fhirpath.js leaks them to
   * the rest of the chain) makes a later $index or $total in the region mean something else: declined.
   * Compiled in evaluation order, so `mutated` says whether such a call came before.
   */
  region: { mutated: boolean };
  /** Inside a sub-expression memoized per run (see RUN_CACHE): nothing below is memoized again. */
  invariant: boolean;
}

/** Functions that set $index (or $total) on the context they are called on. */
const CONTEXT_MUTATORS = new Set(['where', 'select', 'all', 'exists', 'aggregate', 'extension']);

/** Functions whose result items are new values (never nodes): where() treats their `false` as false. */
const COMPUTED_BOOLEANS = new Set([
  'exists', 'empty', 'not', 'all', 'allTrue', 'anyTrue', 'allFalse', 'anyFalse', 'hasValue', 'matches', 'startsWith',
  'endsWith', 'contains', 'isDistinct', 'is', 'subsetOf', 'supersetOf',
]);
const COMPUTED_OPERATORS = new Set([
  'EqualityExpression', 'InequalityExpression', 'AndExpression', 'OrExpression', 'ImpliesExpression', 'MembershipExpression',
  'XorExpression', 'BooleanLiteral',
]);

class Compiler {
  /** The expression calls defineVariable(): evaluations carry a table of defined variables, restored after each argument. */
  usesDefine = false;
  readsResource = false;
  /** The expression tests types: its choice reads record the types of the objects they find. */
  private record = false;

  /** Names defineVariable() defines somewhere in the expression: never constant, never run-invariant. */
  private defined = new Set<string>();

  constructor(
    private readonly functions: Readonly<Record<string, FastFunctionEntry>>,
    private readonly constants: Readonly<Record<string, unknown>>,
    /** The data is typed FHIR (resources): false for FastOptions.untyped. */
    private readonly typed: boolean,
  ) {}

  expression(ast: Ast, scope: Scope): Fn {
    this.record = testsTypes(ast);
    this.usesDefine = callsFunction(ast, 'defineVariable');
    this.defined = definedNames(ast);
    return this.regionRoot(ast, scope, true);
  }

  /**
   * A node that starts a region (an argument, an operand, a criterion): is $index/$total overwritten
   * in it? A criterion starts afresh (fhirpath.js copies the context when it calls it, after setting
   * $index); other arguments see what their enclosing region did too.
   */
  private regionRoot(ast: Ast, scope: Scope, fresh = false): Fn {
    return this.node(ast, { ...scope, region: { mutated: !fresh && scope.region.mutated } });
  }

  private node(ast: Ast, scope: Scope): Fn {
    if (!scope.invariant && worthMemoizing(ast) && this.invariant(ast)) {
      const fn = this.node(ast, { ...scope, invariant: true });
      if (constantValues.has(fn)) return fn;
      return (input, env) => {
        const cache = (env.vars as Record<symbol, unknown>)[RUN_CACHE] as Map<Fn, Collection> | undefined;
        if (!cache) return fn(input, env);
        let v = cache.get(fn);
        if (v === undefined) {
          v = fn(input, env);
          cache.set(fn, v);
        }
        return v;
      };
    }
    const kids = ast.children ?? [];
    switch (ast.type) {
      case 'EntireExpression':
      case 'TermExpression':
      case 'InvocationTerm':
      case 'ParenthesizedTerm':
        if (kids.length !== 1) throw new Declined(`${ast.type} with ${kids.length} children`);
        return this.node(kids[0], scope);
      case 'LiteralTerm':
        if (kids.length !== 1) throw new Declined('literal');
        return this.literal(kids[0]);
      case 'InvocationExpression': {
        const on = this.node(kids[0], scope);
        return this.invocation(kids[1], on, scope);
      }
      case 'MemberInvocation':
      case 'FunctionInvocation':
      case 'ThisInvocation':
      case 'IndexInvocation':
      case 'TotalInvocation':
        return this.invocation(ast, (input) => input, scope);
      case 'ExternalConstantTerm':
        return this.variable(ast);
      case 'IndexerExpression':
        return this.indexer(kids[0], kids[1], scope);
      case 'PolarityExpression': {
        const operand = this.node(kids[0], scope);
        const minus = ast.text === '-';
        return (input, env) => {
          const c = operand(input, env);
          if (c.length !== 1 || typeof plain(c[0]) !== 'number') return fallBack('polarity of a non-number');
          return [minus ? -(plain(c[0]) as number) : plain(c[0])];
        };
      }
      case 'EqualityExpression':
      case 'InequalityExpression':
      case 'AdditiveExpression':
      case 'MultiplicativeExpression':
      case 'UnionExpression':
      case 'MembershipExpression':
      case 'AndExpression':
      case 'OrExpression':
      case 'XorExpression':
      case 'ImpliesExpression':
        return this.operator(ast.text ?? '', kids[0], kids[1], scope);
      case 'TypeExpression':
        return this.typeOperator(ast.text ?? '', kids[0], kids[1], scope);
      default:
        throw new Declined(`${ast.type} is not supported`);
    }
  }

  private literal(ast: Ast): Fn {
    const text = ast.text ?? '';
    switch (ast.type) {
      case 'StringLiteral':
        return constant([literalText(text)]);
      case 'NumberLiteral': {
        const n = Number(text);
        // fhirpath.js keeps a literal's digits (1.0 prints as 1.0); a JSON number cannot.
        if (!Number.isFinite(n) || String(n) !== text) throw new Declined(`number literal ${text}`);
        return constant([n]);
      }
      case 'BooleanLiteral':
        return constant([text === 'true']);
      case 'NullLiteral':
        return constant(EMPTY);
      default:
        throw new Declined(`${ast.type} (dates, times and quantities need fhirpath.js)`);
    }
  }

  private variable(ast: Ast): Fn {
    const name = ast.delimitedText ? literalText(ast.delimitedText) : (ast.text ?? '').replace(/^%/, '');
    if (name === 'resource' || name === 'rootResource') this.readsResource = true;
    if (['factory', 'terminologies', 'fhirServerUrl'].includes(name)) throw new Declined(`%${name}`);
    if (Object.prototype.hasOwnProperty.call(this.constants, name) && !this.defined.has(name)) {
      const value = this.constants[name];
      return constant(value === undefined || value === null ? EMPTY : Array.isArray(value) ? value : [value]);
    }
    return (_input, env) => {
      const vars = env.vars;
      let value: unknown;
      if (name in vars) value = vars[name];
      else if (name === 'context') return env.root;
      else if (name === 'ucum') return UCUM;
      else if (env.defined && name in env.defined) return env.defined[name];
      else return fallBack(`%${name} is not defined`);
      return value === undefined || value === null ? EMPTY : Array.isArray(value) ? value : [value];
    };
  }

  /** `coll[index]`: both evaluated on the same input. */
  private indexer(collection: Ast, index: Ast, scope: Scope): Fn {
    const coll = this.node(collection, scope);
    const idx = this.node(index, scope);
    return (input, env) => {
      const c = coll(input, env);
      const i = idx(input, env);
      if (i.length === 0) return EMPTY;
      const n = plain(i[0]);
      if (typeof n !== 'number') return fallBack('index of a non-number');
      const k = Math.trunc(n);
      return k >= 0 && k < c.length ? [c[k]] : EMPTY;
    };
  }

  /** `on.<node>`: a member, a function, $this, $index, $total. */
  private invocation(ast: Ast, on: Fn, scope: Scope): Fn {
    switch (ast.type) {
      case 'MemberInvocation': {
        const name = literalText(ast.children?.[0]?.text ?? ast.text ?? '');
        return this.member(name, ast.atRoot ?? 0, on);
      }
      case 'FunctionInvocation':
        return this.call(ast, on, scope);
      case 'ThisInvocation':
        return (input, env) => (on(input, env), env.self);
      case 'IndexInvocation':
        if (!scope.iteration || scope.region.mutated) throw new Declined('$index outside an iteration, or after one in the same path');
        return (input, env) => (on(input, env), [env.index]);
      case 'TotalInvocation':
        if (!scope.aggregate || scope.region.mutated) throw new Declined('$total outside aggregate(), or after an iteration in the same path');
        return (input, env) => (on(input, env), env.total);
      default:
        // `a.(b)` and other shapes the grammar allows but nobody writes.
        throw new Declined(`${ast.type} after a dot`);
    }
  }

  private member(name: string, atRoot: number, on: Fn): Fn {
    const m = memberOf(name, this.record);
    // Untyped data: fhirpath.js reads `value` as `value` (a choice needs the element's definition).
    if (!this.typed) m.choice = false;
    if (isResourceType(name) && model.availableTypes.has(name)) {
      // `Patient.name`: a resource whose type is the name is itself (fhirpath.js's legacy check, at any
      // depth); at the start of a path also one deriving from it (`Resource.id`, `DomainResource.text`).
      const abstract = name === 'Resource' || name === 'DomainResource';
      if (abstract && atRoot !== 1) throw new Declined(`${name} inside a function's argument`);
      return (input, env) => {
        const items = on(input, env);
        const out: Collection = [];
        for (const x of items) {
          if (isObj(x) && (x.resourceType === name || (atRoot === 1 && typeof x.resourceType === 'string' && isType(x.resourceType, name)))) out.push(x);
          else children([x], m, out);
        }
        return out;
      };
    }
    if (atRoot && (model.availableTypes.has(name) || SYSTEM_TYPES.has(name))) {
      // A type name at the start of a path (`Coding.code`, or `code`, which is also a type): the item
      // itself when it is of that type (and fhirpath.js decides it is at the root), its child otherwise.
      return (input, env) => {
        const items = on(input, env);
        for (const x of items) if (mayBeOfTypeName(x, name)) fallBack(`${name} as a type`);
        return children(items, m);
      };
    }
    const fn: Fn = (input, env) => children(on(input, env), m);
    memberTags.set(fn, { name, parent: on });
    return fn;
  }

  /** A non-Expr argument: evaluated on $this (not on the function's input), before the function runs. */
  private argument(ast: Ast, scope: Scope): (env: Env) => Collection {
    const inner = this.regionRoot(ast, scope);
    const value = constantValues.get(inner);
    if (value) return () => value;
    const fn = this.isolated(inner);
    return (env) => fn(env.self, env);
  }

  /** Criterion of an iterating function: evaluated with $this (and the input) being one item, $index its index. */
  private criterion(ast: Ast, scope: Scope, aggregate = false): Fn {
    return this.isolated(this.regionRoot(ast, { ...scope, iteration: true, aggregate: aggregate || scope.aggregate }, true));
  }

  /** An Expr argument evaluated on the whole input, with $this being it (iif()'s, defineVariable()'s value). */
  private onInput(ast: Ast, scope: Scope, iteration = scope.iteration): Fn {
    const fn = this.isolated(this.regionRoot(ast, { ...scope, iteration }));
    return (items, env) => {
      const save = env.self;
      env.self = items;
      const r = fn(items, env);
      env.self = save;
      return r;
    };
  }

  /** defineVariable() inside an argument does not leak out of it (fhirpath.js copies its variables for each argument). */
  private isolated(fn: Fn): Fn {
    if (!this.usesDefine) return fn;
    return (input, env) => {
      const saved = env.defined;
      const r = fn(input, env);
      env.defined = saved;
      return r;
    };
  }

  private operator(op: string, left: Ast, right: Ast, scope: Scope): Fn {
    const a = this.operand(left, scope);
    const b = this.operand(right, scope);
    const fn = this.operatorFn(op, a, b);
    // Computed from constants alone (`%cs + 'loai-kcb'`, `('01' | '07')`): once, now — unless it falls back.
    if (constantValues.has(a) && constantValues.has(b)) {
      try {
        return constant(fn(EMPTY, FOLDING));
      } catch (e) {
        if (!(e instanceof FallBackSignal)) throw e;
      }
    }
    return fn;
  }

  private operatorFn(op: string, a: Fn, b: Fn): Fn {
    const typed = this.typed;
    switch (op) {
      case '=':
      case '!=': {
        const equal = op === '=';
        return (input, env) => {
          const x = a(input, env);
          const y = b(input, env);
          if (x.length === 0 || y.length === 0) return EMPTY;
          return [collectionsEqual(x, y, typed) === equal];
        };
      }
      case '<':
      case '>':
      case '<=':
      case '>=':
        return (input, env) => {
          const x = a(input, env);
          const y = b(input, env);
          if (x.length === 0 || y.length === 0) return EMPTY;
          if (x.length > 1 || y.length > 1) return fallBack('comparison of several values');
          const c = compareItems(x[0], y[0], typed);
          return [op === '<' ? c < 0 : op === '>' ? c > 0 : op === '<=' ? c <= 0 : c >= 0];
        };
      case '+':
        return (input, env) => {
          const x = a(input, env);
          const y = b(input, env);
          if (x.length === 0 || y.length === 0) return EMPTY;
          if (x.length > 1 || y.length > 1) return fallBack('+ on several values');
          const p = plain(x[0]);
          const q = plain(y[0]);
          if (typeof p === 'string' && typeof q === 'string') {
            // A date plus a string is an error in fhirpath.js (or date arithmetic): not here.
            if (typed && (mayBeTemporal(p) || mayBeTemporal(q))) return fallBack('+ on a date');
            return [p + q];
          }
          if (typeof p === 'number' && typeof q === 'number') return [p + q];
          if (p instanceof FastDate && q instanceof FastDays) return [plusDays(p, q.count)];
          return fallBack('+ on other values');
        };
      case '-':
      case '*':
      case '/':
        return (input, env) => {
          const x = a(input, env);
          const y = b(input, env);
          if (x.length === 0 || y.length === 0) return EMPTY;
          if (x.length > 1 || y.length > 1) return fallBack(`${op} on several values`);
          const p = plain(x[0]);
          const q = plain(y[0]);
          if (op === '-' && p instanceof FastDate && q instanceof FastDays) return [plusDays(p, -q.count)];
          if (typeof p !== 'number' || typeof q !== 'number') return fallBack(`${op} on other values than numbers`);
          if (op === '-') return [p - q];
          if (op === '*') return [p * q];
          return q === 0 ? EMPTY : [p / q];
        };
      case '&':
        return (input, env) => {
          const p = singleString(a(input, env));
          const q = singleString(b(input, env));
          return [(p ?? '') + (q ?? '')];
        };
      case '|':
        return (input, env) => {
          const x = a(input, env);
          const y = b(input, env);
          return distinct(x.length === 0 ? y : y.length === 0 ? x : x.concat(y), typed);
        };
      case 'in':
      case 'contains': {
        const isIn = op === 'in';
        return (input, env) => {
          const x = a(input, env);
          const y = b(input, env);
          const [element, list] = isIn ? [x, y] : [y, x];
          if (element.length === 0) return EMPTY;
          if (list.length === 0) return FALSE;
          if (element.length > 1) return fallBack(`${op} with several values`);
          for (const item of list) if (itemsEqual(item, element[0], typed)) return TRUE;
          return FALSE;
        };
      }
      case 'and':
        return (input, env) => {
          const p = toBoolean(a(input, env));
          const q = toBoolean(b(input, env));
          if (p === false || q === false) return FALSE;
          return p === true && q === true ? TRUE : EMPTY;
        };
      case 'or':
        return (input, env) => {
          const p = toBoolean(a(input, env));
          const q = toBoolean(b(input, env));
          if (p === true || q === true) return TRUE;
          return p === false && q === false ? FALSE : EMPTY;
        };
      case 'xor':
        return (input, env) => {
          const p = toBoolean(a(input, env));
          const q = toBoolean(b(input, env));
          return p === undefined || q === undefined ? EMPTY : p !== q ? TRUE : FALSE;
        };
      case 'implies':
        return (input, env) => {
          const p = toBoolean(a(input, env));
          const q = toBoolean(b(input, env));
          if (p === false) return TRUE;
          if (p === true) return q === undefined ? EMPTY : q ? TRUE : FALSE;
          return q === true ? TRUE : EMPTY;
        };
      default:
        throw new Declined(`operator ${op}`);
    }
  }

  /** An operand: evaluated on $this, in its own copy of the context (fhirpath.js's makeParam). */
  private operand(ast: Ast, scope: Scope): Fn {
    const inner = this.regionRoot(ast, scope);
    const value = constantValues.get(inner);
    if (value) return constant(value);
    const fn = this.isolated(inner);
    return (_input, env) => fn(env.self, env);
  }

  /** Whether a sub-expression reads nothing that changes within a run (see RUN_CACHE). */
  private invariant(ast: Ast): boolean {
    return isInvariant(ast, this.defined);
  }

  private typeOperator(op: string, left: Ast, right: Ast, scope: Scope): Fn {
    const type = typeName(right);
    const operand = this.operand(left, scope);
    if (op === 'is') {
      return (input, env) => {
        const c = operand(input, env);
        if (c.length === 0) return EMPTY;
        if (c.length > 1) return fallBack('is on several values');
        return isOfType(c[0], type) ? TRUE : FALSE;
      };
    }
    if (op === 'as') {
      return (input, env) => {
        const c = operand(input, env);
        if (c.length === 0) return EMPTY;
        if (c.length > 1) return fallBack('as on several values');
        return isOfType(c[0], type) ? c : EMPTY;
      };
    }
    throw new Declined(`operator ${op}`);
  }

  private call(ast: Ast, on: Fn, scope: Scope): Fn {
    const functn = ast.children?.[0];
    if (!functn || functn.type !== 'Functn') throw new Declined('function call');
    const fkids = functn.children ?? [];
    let name: string;
    let params: Ast[];
    if (functn.text === 'sort' && fkids.every((k) => k.type === 'SortDirectionArgument' || k.type === 'SortArgument')) {
      name = 'sort';
      params = fkids;
    } else {
      name = literalText(fkids[0]?.text ?? '');
      params = fkids[1]?.type === 'ParamList' ? (fkids[1].children ?? []) : [];
    }
    const user = Object.prototype.hasOwnProperty.call(this.functions, name) ? this.functions[name] : undefined;
    if (user) return this.userFunction(name, user, params, on, scope);
    const fn = this.builtIn(name, params, on, scope);
    if (CONTEXT_MUTATORS.has(name) && (name !== 'exists' || params.length > 0)) scope.region.mutated = true;
    return fn;
  }

  private userFunction(name: string, entry: FastFunctionEntry, params: Ast[], on: Fn, scope: Scope): Fn {
    const impl = entry.fast;
    if (!impl) throw new Declined(`${name}() has no fast implementation`);
    const types = entry.arity ? entry.arity[params.length] : params.length === 0 ? [] : undefined;
    if (!types) throw new Declined(`${name}() with ${params.length} arguments`);
    const args = params.map((p, i): ((env: Env) => Collection) => {
      const type = types[i];
      if (type === 'Identifier') {
        if (p.type !== 'TermExpression') throw new Declined(`${name}(): an identifier argument`);
        const text = [p.text ?? ''];
        return () => text;
      }
      const value = this.argument(p, scope);
      // Typed parameters are singletons to fhirpath.js (an error for several, or the wrong type).
      switch (type) {
        case 'Any':
        case 'AnyAtRoot':
          return value;
        case 'String':
          return (env) => one(singleString(value(env)));
        case 'Integer':
          return (env) => one(singleInteger(value(env)));
        case 'Number':
          return (env) => one(singleNumber(value(env)));
        case 'Boolean':
          return (env) => one(toBoolean(value(env)));
        default:
          throw new Declined(`${name}(): ${type} argument`);
      }
    });
    const nullable = entry.nullable === true;
    return (input, env) => {
      const items = on(input, env);
      const plainItems = items.some((x) => x instanceof Prim) ? items.map(plain) : items;
      const values = args.map((arg) => {
        const c = arg(env);
        return c.some((x) => x instanceof Prim) ? c.map(plain) : c;
      });
      if (nullable && (plainItems.length === 0 || values.some((v) => v.length === 0))) return EMPTY;
      return impl(plainItems, values, env.vars);
    };
  }

  private builtIn(name: string, params: Ast[], on: Fn, scope: Scope): Fn {
    const typed = this.typed;
    const n = params.length;
    const arity = (...allowed: number[]) => {
      if (!allowed.includes(n)) throw new Declined(`${name}() with ${n} arguments`);
    };
    const arg = (i: number) => this.argument(params[i], scope);
    switch (name) {
      case 'empty':
        arity(0);
        return (input, env) => (on(input, env).length === 0 ? TRUE : FALSE);
      case 'exists': {
        arity(0, 1);
        if (n === 0) return (input, env) => (on(input, env).length > 0 ? TRUE : FALSE);
        const where = this.where(params[0], on, scope);
        return (input, env) => (where(input, env).length > 0 ? TRUE : FALSE);
      }
      case 'not':
        arity(0);
        return (input, env) => {
          const b = toBoolean(on(input, env));
          return b === undefined ? EMPTY : b ? FALSE : TRUE;
        };
      case 'where':
        arity(1);
        return this.where(params[0], on, scope);
      case 'select': {
        arity(1);
        const criterion = this.criterion(params[0], scope);
        return (input, env) => {
          const items = on(input, env);
          const saveSelf = env.self;
          const saveIndex = env.index;
          const out: Collection = [];
          for (let i = 0; i < items.length; i++) {
            const item = [items[i]];
            env.self = item;
            env.index = i;
            const r = criterion(item, env);
            for (let j = 0; j < r.length; j++) out.push(r[j]);
          }
          env.self = saveSelf;
          env.index = saveIndex;
          return out;
        };
      }
      case 'all': {
        arity(1);
        const criterion = this.criterion(params[0], scope);
        return (input, env) => {
          const items = on(input, env);
          const saveSelf = env.self;
          const saveIndex = env.index;
          let all = true;
          for (let i = 0; i < items.length && all; i++) {
            const item = [items[i]];
            env.self = item;
            env.index = i;
            all = isTrue(criterion(item, env));
          }
          env.self = saveSelf;
          env.index = saveIndex;
          return all ? TRUE : FALSE;
        };
      }
      case 'repeat': {
        arity(1);
        // repeat() does not set $index: its criterion sees no iteration index of its own.
        const criterion = this.isolated(this.regionRoot(params[0], { ...scope, iteration: false }, true));
        return (input, env) => {
          const saveSelf = env.self;
          const result: Collection = [];
          let frontier = on(input, env);
          while (frontier.length > 0) {
            const found: Collection = [];
            for (const x of frontier) {
              const item = [x];
              env.self = item;
              const r = criterion(item, env);
              for (const y of r) found.push(y);
            }
            // fhirpath.js keeps an item only if no equal one was found before (deep equality).
            const fresh: Collection = [];
            for (const y of found) {
              if (!result.some((z) => deepEqualPlain(z, y, typed))) {
                result.push(y);
                fresh.push(y);
              }
            }
            frontier = fresh;
          }
          env.self = saveSelf;
          return result;
        };
      }
      case 'aggregate': {
        arity(1, 2);
        const criterion = this.criterion(params[0], scope, true);
        const init = n === 2 ? arg(1) : undefined;
        return (input, env) => {
          const items = on(input, env);
          const saveSelf = env.self;
          const saveIndex = env.index;
          const saveTotal = env.total;
          let total = init ? init(env) : EMPTY;
          for (let i = 0; i < items.length; i++) {
            const item = [items[i]];
            env.self = item;
            env.index = i;
            env.total = total;
            total = criterion(item, env);
          }
          env.self = saveSelf;
          env.index = saveIndex;
          env.total = saveTotal;
          return total;
        };
      }
      case 'iif': {
        arity(2, 3);
        // Expr arguments: evaluated on iif's input with $this being that input, only the branch taken.
        const cond = this.onInput(params[0], scope);
        const then = this.onInput(params[1], scope);
        const otherwise = n === 3 ? this.onInput(params[2], scope) : undefined;
        return (input, env) => {
          const items = on(input, env);
          if (isTrue(cond(items, env))) return then(items, env);
          return otherwise ? otherwise(items, env) : EMPTY;
        };
      }
      case 'first':
        arity(0);
        return (input, env) => {
          const c = on(input, env);
          return c.length <= 1 ? c : [c[0]];
        };
      case 'last':
        arity(0);
        return (input, env) => {
          const c = on(input, env);
          return c.length <= 1 ? c : [c[c.length - 1]];
        };
      case 'single':
        arity(0);
        return (input, env) => {
          const c = on(input, env);
          return c.length <= 1 ? c : fallBack('single() of several');
        };
      case 'tail':
        arity(0);
        return (input, env) => on(input, env).slice(1);
      case 'skip':
      case 'take': {
        arity(1);
        const count = arg(0);
        return (input, env) => {
          const c = on(input, env);
          const k = singleInteger(count(env));
          if (k === undefined) return fallBack(`${name}() of nothing`);
          return name === 'skip' ? c.slice(k) : c.slice(0, k);
        };
      }
      case 'count':
        arity(0);
        return (input, env) => [on(input, env).length];
      case 'distinct':
        arity(0);
        return (input, env) => distinct(on(input, env), typed);
      case 'isDistinct':
        arity(0);
        return (input, env) => {
          const c = on(input, env);
          return distinct(c, typed).length === c.length ? TRUE : FALSE;
        };
      case 'combine':
      case 'union':
      case 'intersect': {
        arity(1);
        const other = arg(0);
        return (input, env) => {
          const x = on(input, env);
          const y = other(env);
          if (name === 'combine') return x.length === 0 ? y : y.length === 0 ? x : x.concat(y);
          if (name === 'union') return distinct(x.concat(y), typed);
          if (x.length === 0 || y.length === 0) return EMPTY;
          return distinct(x, typed).filter((a) => y.some((b) => itemsEqual(a, b, typed)));
        };
      }
      case 'allTrue':
      case 'anyTrue':
      case 'allFalse':
      case 'anyFalse': {
        arity(0);
        const want = name.endsWith('True');
        const all = name.startsWith('all');
        return (input, env) => {
          const c = on(input, env);
          for (const x of c) if (typeof plain(x) !== 'boolean') fallBack(`${name}() of a non-boolean`);
          const matching = c.filter((x) => plain(x) === want).length;
          return (all ? matching === c.length : matching > 0) ? TRUE : FALSE;
        };
      }
      case 'extension': {
        arity(1);
        const url = arg(0);
        return (input, env) => {
          const items = on(input, env);
          const u = singleString(url(env));
          const out: Collection = [];
          if (u === undefined) return out;
          for (const x of items) {
            const holder = x instanceof Prim ? x.ext : isObj(x) ? x : undefined;
            const list = holder?.extension;
            if (!Array.isArray(list)) continue;
            for (const e of list) if (isObj(e) && e.url === u) out.push(e);
          }
          return out;
        };
      }
      case 'ofType': {
        arity(1);
        const type = typeName(params[0]);
        // On a choice element (`value.ofType(Quantity)`), read the typed keys directly.
        const choice = memberBefore(on);
        if (choice && CHOICE_NAMES.has(choice.name)) {
          const parent = choice.parent;
          return (input, env) => choiceOfType(parent(input, env), choice.name, type);
        }
        return (input, env) => on(input, env).filter((x) => isOfType(x, type));
      }
      case 'is':
      case 'as': {
        arity(1);
        const type = typeName(params[0]);
        return (input, env) => {
          const c = on(input, env);
          if (c.length === 0) return EMPTY;
          if (c.length > 1) return fallBack(`${name}() of several`);
          const ok = isOfType(c[0], type);
          return name === 'is' ? (ok ? TRUE : FALSE) : ok ? c : EMPTY;
        };
      }
      case 'hasValue':
        arity(0);
        return (input, env) => {
          const c = on(input, env);
          if (c.length !== 1) return FALSE;
          const v = c[0];
          // An untyped boolean (plain data) is no FHIR primitive to fhirpath.js; a typed one is.
          if (typeof plain(v) === 'boolean') return typed ? fallBack('hasValue() of a boolean') : FALSE;
          return typeof v === 'string' || typeof v === 'number' || v instanceof Prim ? TRUE : FALSE;
        };
      case 'trace': {
        arity(1, 2);
        if (n === 1) return on;
        const projection = this.onInput(params[1], scope);
        return (input, env) => {
          const c = on(input, env);
          projection(c, env); // computed (it may fail) and dropped: traces never print
          return c;
        };
      }
      case 'defineVariable': {
        arity(1, 2);
        const label = params[0];
        const literal = label.type === 'TermExpression' && label.children?.[0]?.type === 'LiteralTerm' ? label.children[0].children?.[0] : undefined;
        if (literal?.type !== 'StringLiteral') throw new Declined('defineVariable() with a computed name');
        const varName = literalText(literal.text ?? '');
        const value = n === 2 ? this.onInput(params[1], scope) : undefined;
        return (input, env) => {
          const c = on(input, env);
          const v = value ? value(c, env) : c;
          // fhirpath.js refuses to redefine a variable.
          if (varName in env.vars || varName === 'context' || varName === 'ucum') return fallBack(`%${varName} is already defined`);
          if (env.defined && varName in env.defined) return fallBack(`%${varName} is already defined`);
          env.defined = { ...env.defined, [varName]: v };
          return c;
        };
      }
      case 'sort':
        return this.sort(params, on, scope);
      case 'toString':
        arity(0);
        return (input, env) => {
          const v = plain(single(on(input, env), 'toString()'));
          if (v === undefined || v === null) return EMPTY;
          // A date's text is its toString() too (FP_DateTime keeps the string it was read from).
          if (typeof v === 'string') return [v];
          if (typeof v === 'number' || typeof v === 'boolean') return [String(v)];
          return fallBack('toString() of a complex value');
        };
      case 'toInteger':
        arity(0);
        return (input, env) => {
          const v = plain(single(on(input, env), 'toInteger()'));
          if (v === true) return [1];
          if (v === false) return [0];
          if (typeof v === 'number') return Number.isInteger(v) ? [v] : EMPTY;
          if (typeof v === 'string' && /^[+-]?\d+$/.test(v)) return [parseInt(v, 10)];
          return EMPTY;
        };
      case 'toDate':
        arity(0);
        return (input, env) => {
          const v = plain(single(on(input, env), 'toDate()'));
          if (v === undefined || v === null) return EMPTY;
          if (typeof v !== 'string') return fallBack('toDate() of a non-string');
          return [toFastDate(v)];
        };
      case 'toQuantity':
        arity(0);
        return (input, env) => {
          const v = plain(single(on(input, env), 'toQuantity()'));
          if (v === undefined || v === null) return EMPTY;
          // Whole calendar days ('4 days', '-1 day'), as the table rules build them; other quantities need fhirpath.js.
          const m = typeof v === 'string' ? /^([+-]?\d+)\s*days?$/.exec(v) : null;
          if (!m) return fallBack('toQuantity() of other than whole days');
          return [new FastDays(Number(m[1]))];
        };
      case 'toDecimal':
        arity(0);
        return (input, env) => {
          const v = plain(single(on(input, env), 'toDecimal()'));
          if (v === true) return [1];
          if (v === false) return [0];
          if (typeof v === 'number') return [v];
          if (typeof v === 'string' && /^[+-]?\d+(\.\d+)?$/.test(v)) return [parseFloat(v)];
          return EMPTY;
        };
      case 'round':
      case 'abs':
      case 'floor':
      case 'ceiling':
      case 'truncate': {
        arity(...(name === 'round' ? [0, 1] : [0]));
        const precision = n === 1 ? arg(0) : undefined;
        return (input, env) => {
          const x = singleNumber(on(input, env));
          if (x === undefined) return EMPTY;
          switch (name) {
            case 'round': {
              const p = precision ? singleInteger(precision(env)) : undefined;
              if (p === undefined) return [Math.round(x)];
              const scale = Math.pow(10, p);
              return [Math.round(x * scale) / scale];
            }
            case 'abs':
              return [Math.abs(x)];
            case 'floor':
              return [Math.floor(x)];
            case 'ceiling':
              return [Math.ceil(x)];
            default:
              return [Math.trunc(x)];
          }
        };
      }
      case 'join': {
        arity(0, 1);
        const separator = n === 1 ? arg(0) : undefined;
        return (input, env) => {
          const c = on(input, env);
          const sep = separator ? singleString(separator(env)) : '';
          if (sep === undefined) return fallBack('join() with an empty separator');
          const strings: string[] = [];
          for (const x of c) {
            const v = plain(x);
            if (typeof v === 'string') strings.push(v);
            else if (v !== null && v !== undefined) return fallBack('join() of a non-string');
          }
          return strings.length === 0 ? EMPTY : [strings.join(sep)];
        };
      }
      case 'split': {
        arity(1);
        const separator = arg(0);
        return (input, env) => {
          const s = singleString(on(input, env));
          const sep = singleString(separator(env));
          if (s === undefined) return EMPTY;
          if (sep === undefined) return fallBack('split() without a separator');
          return s.split(sep);
        };
      }
      case 'length':
      case 'upper':
      case 'lower':
      case 'trim':
      case 'toChars':
        arity(0);
        return (input, env) => {
          const s = singleString(on(input, env));
          if (s === undefined) return EMPTY;
          switch (name) {
            case 'length':
              return [s.length];
            case 'upper':
              return [s.toUpperCase()];
            case 'lower':
              return [s.toLowerCase()];
            case 'trim':
              return [s.trim()];
            default:
              return s.split('');
          }
        };
      case 'startsWith':
      case 'endsWith':
      case 'contains':
      case 'indexOf':
      case 'matches':
      case 'matchesFull': {
        arity(1);
        const other = arg(0);
        return (input, env) => {
          const s = singleString(on(input, env));
          const t = singleString(other(env));
          if (s === undefined || t === undefined) return EMPTY;
          switch (name) {
            case 'startsWith':
              return [s.startsWith(t)];
            case 'endsWith':
              return [s.endsWith(t)];
            case 'contains':
              return [s.includes(t)];
            case 'indexOf':
              return [s.indexOf(t)];
            case 'matches':
              return [regex(t).test(s)];
            default:
              return [regex(`^(?:${t})$`).test(s)];
          }
        };
      }
      case 'replace': {
        arity(2);
        const pattern = arg(0);
        const replacement = arg(1);
        return (input, env) => {
          const s = singleString(on(input, env));
          const p = singleString(pattern(env));
          const r = singleString(replacement(env));
          if (s === undefined || p === undefined || r === undefined) return EMPTY;
          return [s.replace(new RegExp(escapeRegExp(p), 'g'), r)];
        };
      }
      case 'substring': {
        arity(1, 2);
        const start = arg(0);
        const length = n === 2 ? arg(1) : undefined;
        return (input, env) => {
          const s = singleString(on(input, env));
          const from = singleInteger(start(env));
          const len = length ? singleInteger(length(env)) : undefined;
          if (s === undefined || from === undefined) return EMPTY;
          if (from < 0 || from >= s.length) return EMPTY;
          return [len === undefined ? s.substring(from) : s.substring(from, from + len)];
        };
      }
      default:
        throw new Declined(`function ${name}()`);
    }
  }

  /**
   * where(): an item stays when its criterion's first value is truthy to JavaScript, as in
   * fhirpath.js — where a value read from the data is a node object, truthy even when it holds
   * false, 0 or ''. A computed boolean (a comparison, exists() …) means what it says; for anything
   * else those three values fall back.
   */
  private where(criterionAst: Ast, on: Fn, scope: Scope): Fn {
    const criterion = this.criterion(criterionAst, scope);
    const computed = yieldsComputed(criterionAst);
    return (input, env) => {
      const items = on(input, env);
      const saveSelf = env.self;
      const saveIndex = env.index;
      const out: Collection = [];
      for (let i = 0; i < items.length; i++) {
        const x = items[i];
        const item = [x];
        env.self = item;
        env.index = i;
        const r = criterion(item, env);
        if (r.length === 0) continue;
        const v = r[0];
        if (v === true) out.push(x);
        else if (v === false || v === '' || v === 0 || v === null || v === undefined) {
          if (!computed && v !== null && v !== undefined) fallBack('where() on a value that may be a node');
        } else out.push(x);
      }
      env.self = saveSelf;
      env.index = saveIndex;
      return out;
    };
  }

  /** sort(key [asc|desc], …): a stable sort, empty keys first, keys compared as `<` does. */
  private sort(params: Ast[], on: Fn, scope: Scope): Fn {
    const typed = this.typed;
    const keys = params.map((p) => {
      const expr = p.children?.[0];
      if (!expr) throw new Declined('sort() argument');
      // fhirpath.js evaluates a key with $index unset.
      return { fn: this.isolated(this.regionRoot(expr, { ...scope, iteration: false }, true)), desc: p.direction === 'desc' };
    });
    return (input, env) => {
      const items = on(input, env);
      if (keys.length === 0) {
        return items.slice().sort((a, b) => compareSortKeys(plainOrNull([a]), plainOrNull([b]), typed));
      }
      const saveSelf = env.self;
      const decorated = items.map((item) => {
        const one = [item];
        env.self = one;
        return { item, keys: keys.map((k) => plainOrNull(k.fn(one, env))) };
      });
      env.self = saveSelf;
      decorated.sort((a, b) => {
        for (let i = 0; i < keys.length; i++) {
          const c = compareSortKeys(a.keys[i], b.keys[i], typed);
          if (c !== 0) return keys[i].desc ? -c : c;
        }
        return 0;
      });
      return decorated.map((d) => d.item);
    };
  }
}

const TRUE: Collection = [true];
const FALSE: Collection = [false];
const UCUM: Collection = ['http://unitsofmeasure.org'];

/** A sort key: null for empty, the value of one item; several items are an error in fhirpath.js. */
function plainOrNull(c: Collection): unknown {
  if (c.length === 0) return null;
  if (c.length > 1) return fallBack('a sort key with several values');
  return c[0];
}

function compareSortKeys(a: unknown, b: unknown, typed: boolean): number {
  if (a === null && b === null) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  const x = plain(a);
  const y = plain(b);
  if (typeof x === 'boolean' && typeof y === 'boolean') return x === y ? 0 : x ? 1 : -1;
  return compareItems(x, y, typed);
}

/** Types a primitive value may have (FHIR primitives, System types but Quantity). */
const PRIMITIVE_LIKE = new Set([...PRIMITIVE_TYPES, ...[...SYSTEM_TYPES].filter((t) => t !== 'Quantity')]);

/** Whether an item may be of the type a name at the start of a path names: fhirpath.js then takes the item itself. */
function mayBeOfTypeName(x: unknown, name: string): boolean {
  if (isObj(x)) {
    const t = objectType(x);
    return t !== undefined ? isType(t, name) : !PRIMITIVE_LIKE.has(name);
  }
  return PRIMITIVE_LIKE.has(name);
}

/** The FHIR type named by a type specifier argument or operand (`Quantity`, `FHIR.Coding`); System types are left to fhirpath.js. */
function typeName(ast: Ast): string {
  let text = ast.text ?? '';
  if (text.startsWith('FHIR.')) text = text.slice(5);
  text = literalText(text);
  if (!model.availableTypes.has(text)) throw new Declined(`type ${ast.text}`);
  return text;
}

/**
 * The member read just before a function, for `value.ofType(Quantity)`: the compiler tags member
 * closures with their name and the closure they apply to.
 */
const memberTags = new WeakMap<Fn, { name: string; parent: Fn }>();
function memberBefore(fn: Fn): { name: string; parent: Fn } | undefined {
  return memberTags.get(fn);
}

/** Whether an expression's result is made by an operator or a boolean function (never a node of the data). */
function yieldsComputed(ast: Ast): boolean {
  switch (ast.type) {
    case 'EntireExpression':
    case 'TermExpression':
    case 'InvocationTerm':
    case 'ParenthesizedTerm':
    case 'LiteralTerm':
      return ast.children?.length === 1 && yieldsComputed(ast.children[0]);
    case 'InvocationExpression':
      return yieldsComputed(ast.children![1]);
    case 'FunctionInvocation': {
      const functn = ast.children?.[0];
      return COMPUTED_BOOLEANS.has(literalText(functn?.children?.[0]?.text ?? ''));
    }
    case 'TypeExpression':
      return ast.text === 'is';
    default:
      return COMPUTED_OPERATORS.has(ast.type);
  }
}

/** Whether an expression calls a function. */
function callsFunction(ast: Ast, name: string): boolean {
  if (ast.type === 'Functn' && literalText(ast.children?.[0]?.text ?? '') === name) return true;
  return (ast.children ?? []).some((c) => callsFunction(c, name));
}

/** Whether an expression tests types (`is`, `as`, `ofType` not on a choice element). */
function testsTypes(ast: Ast): boolean {
  if (ast.type === 'TypeExpression') return true;
  if (ast.type === 'Functn') {
    const name = ast.children?.[0]?.text;
    if (name === 'is' || name === 'as' || name === 'ofType') return true;
  }
  return (ast.children ?? []).some(testsTypes);
}

/** Closures returning the same collection whatever the input (literals, constants, what is folded from them). */
const constantValues = new WeakMap<Fn, Collection>();

function constant(value: Collection): Fn {
  const fn: Fn = () => value;
  constantValues.set(fn, value);
  return fn;
}

/** The context constant operands are folded in: they read none of it. */
const FOLDING: Env = { vars: EMPTY_VARS, root: EMPTY, self: EMPTY, index: -1, total: EMPTY, defined: null };

/** Functions whose arguments are evaluated on each item of their input (or on the input itself), not on $this. */
const ITEM_ARGUMENTS = new Set(['where', 'select', 'exists', 'all', 'repeat', 'iif', 'sort', 'trace']);

/**
 * Whether a sub-expression, evaluated on any focus, gives the same result within a run: it starts
 * from a literal or a run-constant variable, and whatever it calls reads nothing else but the items
 * it is given. (A criterion may read its items, $this and $index: they come from the invariant input.)
 */
function isInvariant(ast: Ast, defined: ReadonlySet<string>): boolean {
  const kids = ast.children ?? [];
  switch (ast.type) {
    case 'EntireExpression':
    case 'TermExpression':
    case 'InvocationTerm':
    case 'ParenthesizedTerm':
    case 'LiteralTerm':
    case 'PolarityExpression':
      return kids.length === 1 && isInvariant(kids[0], defined);
    case 'StringLiteral':
    case 'NumberLiteral':
    case 'BooleanLiteral':
    case 'NullLiteral':
      return true;
    case 'ExternalConstantTerm': {
      const name = ast.delimitedText ? literalText(ast.delimitedText) : (ast.text ?? '').replace(/^%/, '');
      return !VARYING.has(name) && !defined.has(name);
    }
    case 'InvocationExpression':
      return isInvariant(kids[0], defined) && invariantSuffix(kids[1], defined);
    case 'IndexerExpression':
    case 'EqualityExpression':
    case 'InequalityExpression':
    case 'AdditiveExpression':
    case 'MultiplicativeExpression':
    case 'UnionExpression':
    case 'MembershipExpression':
    case 'AndExpression':
    case 'OrExpression':
    case 'XorExpression':
    case 'ImpliesExpression':
      return kids.length === 2 && isInvariant(kids[0], defined) && isInvariant(kids[1], defined);
    case 'TypeExpression':
      return isInvariant(kids[0], defined);
    default:
      return false;
  }
}

/** `….<ast>` after an invariant input. */
function invariantSuffix(ast: Ast, defined: ReadonlySet<string>): boolean {
  if (ast.type === 'MemberInvocation') return true;
  if (ast.type !== 'FunctionInvocation') return false;
  const functn = ast.children?.[0];
  const fkids = functn?.children ?? [];
  const sort = functn?.text === 'sort' && fkids.every((k) => k.type === 'SortDirectionArgument' || k.type === 'SortArgument');
  const name = sort ? 'sort' : literalText(fkids[0]?.text ?? '');
  if (name === 'defineVariable') return false;
  const params = sort ? fkids : fkids[1]?.type === 'ParamList' ? (fkids[1].children ?? []) : [];
  return params.every((p, i) => {
    if (ITEM_ARGUMENTS.has(name) || (name === 'aggregate' && i === 0)) return readsOnlyConstants(p, defined);
    if (name === 'ofType' || name === 'is' || name === 'as') return true;
    return isInvariant(p, defined);
  });
}

/** No variable in it changes within a run. */
function readsOnlyConstants(ast: Ast, defined: ReadonlySet<string>): boolean {
  if (ast.type === 'ExternalConstantTerm') return isInvariant(ast, defined);
  if (ast.type === 'Functn' && literalText(ast.children?.[0]?.text ?? '') === 'defineVariable') return false;
  return (ast.children ?? []).every((c) => readsOnlyConstants(c, defined));
}

/** Worth a cache lookup: it calls a function or reads a member (not a literal or a bare variable). */
function worthMemoizing(ast: Ast): boolean {
  if (ast.type === 'FunctionInvocation' || ast.type === 'MemberInvocation') return true;
  if (ast.type === 'ExternalConstantTerm' || ast.type === 'LiteralTerm') return false;
  return (ast.children ?? []).some(worthMemoizing);
}

/** The names defineVariable() defines in an expression (literal names; others are declined anyway). */
function definedNames(ast: Ast): Set<string> {
  const names = new Set<string>();
  const visit = (n: Ast) => {
    if (n.type === 'Functn' && literalText(n.children?.[0]?.text ?? '') === 'defineVariable') {
      const label = n.children?.[1]?.children?.[0];
      const literal = label?.children?.[0]?.children?.[0];
      if (literal?.type === 'StringLiteral') names.add(literalText(literal.text ?? ''));
    }
    n.children?.forEach(visit);
  };
  visit(ast);
  return names;
}
