import fhirpath, { type UserInvocationTable } from 'fhirpath';
import r4Model from 'fhirpath/fhir-context/r4';
import { compileFastParsed, fallBack, Prim, type FastFunction, type FastPath } from '../fhir/fast-fhirpath.js';
import { parseReference } from '../fhir/references.js';

/**
 * The FHIRPath side of the ViewDefinition engine (view.ts): compiling an expression once, reading
 * what the engine checks from its syntax tree, the functions SQL-on-FHIR adds to FHIRPath, and
 * turning constants and results into the values fhirpath.js and the rows expect.
 */

type InvocationEntry = UserInvocationTable[string];

/**
 * An entry of fhirpath.js's `userInvocationTable`: `{ fn(inputs, ...params), arity: { n: paramTypes } }`.
 * `arity` may be left out for a function without parameters, as fhirpath.js allows. `fn` sees the
 * evaluation context as `this` (with `this.vars`, the variables given to run()) only with
 * `internalStructures: true`, and then gets fhirpath.js's nodes (`.data` is the value).
 *
 * `fast` is the same function for the fast path (fast-fhirpath.ts): plain inputs, each argument
 * evaluated to a collection (a typed parameter: empty or its one value; an `Identifier`: its text),
 * the run's variables. A view calling a function without one runs on fhirpath.js.
 */
export type UserFunction = Omit<InvocationEntry, 'arity'> & Partial<Pick<InvocationEntry, 'arity'>> & { fast?: FastFunction };

/** %name → value. fhirpath.js looks names up with `in`, so a prototype chain of scopes works. */
export type Variables = Record<string, unknown>;

/**
 * A compiled expression. The focus is a resource, a node from an iterating expression (kept as
 * fhirpath.js's typed node, so that `value.ofType(string)` still knows where it is), or `[]` for
 * nothing at all (forEachOrNull's null row).
 */
export type Evaluator = (focus: unknown, variables: Variables) => unknown[];

export interface Expression {
  /** fhirpath.js. */
  evaluate: Evaluator;
  /** The fast path, when the expression compiles there: plain JSON in, plain JSON (or nodes) out. */
  fast?: FastPath;
  /** Why it does not compile to the fast path. */
  declined?: string;
  /** The %variables it reads, except those it defines itself with defineVariable(). */
  variables: string[];
  /** Its steps when it is a plain member path (`name.family`), to type a `where` before any data. */
  memberPath?: string[];
}

/** Variables every expression has: fhirpath.js's own, and those the engine binds. */
export const BUILT_IN_VARIABLES: ReadonlySet<string> = new Set(['context', 'ucum', 'factory', 'resource', 'rootResource', 'rowIndex']);

/** `trace()` must never print: it would put health data on stdout. */
const silent = () => {};

/**
 * Compiles `source` for the R4 model (without it choice types and `extension()` silently yield
 * nothing). With `nodes`, results stay fhirpath.js's typed nodes, to be the focus of further
 * expressions; otherwise they are plain values. Throws the parser's message on a syntax error.
 * Also for the fast path, with the view's `constants` (plain JSON) folded in.
 */
export function compileExpression(source: string, nodes: boolean, functions: Record<string, UserFunction>, constants?: Variables): Expression {
  // Parsed a second time by compile(), which keeps its tree to itself; both happen once per view. The
  // fast path compiles from this tree.
  const ast = fhirpath.parse(source) as AstNode;
  const fn = fhirpath.compile(source, r4Model, { userInvocationTable: functions as UserInvocationTable, traceFn: silent, resolveInternalTypes: !nodes });
  const { path: fast, declined } = compileFastParsed(ast, { functions, constants });
  return {
    evaluate: (focus, variables) => fn(focus, variables) as unknown[],
    ...(fast ? { fast } : { declined }),
    variables: readVariables(ast),
    memberPath: memberPath(ast),
  };
}

interface AstNode {
  type: string;
  text?: string;
  delimitedText?: string;
  children?: AstNode[];
}

const unquote = (text: string) => text.replace(/^(['`])(.*)\1$/s, '$2');

function readVariables(ast: AstNode): string[] {
  const read = new Set<string>();
  const defined = new Set<string>();
  const visit = (node: AstNode) => {
    if (node.type === 'ExternalConstantTerm') read.add(unquote(node.delimitedText ?? node.text ?? ''));
    if (node.type === 'Functn' && node.text === 'defineVariable') {
      const name = node.children?.find((c) => c.type === 'ParamList')?.children?.[0]?.text;
      if (name) defined.add(unquote(name));
    }
    node.children?.forEach(visit);
  };
  visit(ast);
  return [...read].filter((name) => !defined.has(name));
}

/** `name.family` → ['name', 'family']; undefined for anything but member steps. */
function memberPath(node: AstNode): string[] | undefined {
  const children = node.children ?? [];
  switch (node.type) {
    case 'EntireExpression':
    case 'TermExpression':
    case 'InvocationTerm':
      return children.length === 1 ? memberPath(children[0]) : undefined;
    case 'InvocationExpression': {
      const [head, tail] = children.map(memberPath);
      return head && tail ? [...head, ...tail] : undefined;
    }
    case 'MemberInvocation':
      return [unquote(node.text ?? '')];
    default:
      return undefined;
  }
}

/**
 * The FHIR type of a member path from a resource (`name.family` on Patient → 'string'), or
 * undefined when the model cannot tell (a choice element like `deceased`, an unknown name).
 */
export function memberPathType(resourceType: string, steps: string[]): string | undefined {
  const names = steps[0] === resourceType ? steps.slice(1) : steps;
  let owner = resourceType; // a type name, or for a backbone element its full path
  let type: string | undefined = resourceType;
  for (const name of names) {
    const path = elementPath(owner, name);
    type = path && r4Model.path2Type[path];
    if (!path || !type) return undefined;
    owner = type === 'BackboneElement' || type === 'Element' ? path : type;
  }
  return type;
}

/** The model's key for element `name` of `owner`, looking through base types (`id` is Resource's). */
function elementPath(owner: string, name: string): string | undefined {
  for (let t: string | undefined = owner; t; t = r4Model.type2Parent[t] ?? (t.includes('.') ? 'BackboneElement' : undefined)) {
    const path = `${t}.${name}`;
    // Recursive elements (Questionnaire.item.item) are described once, at their first occurrence.
    const canonical = r4Model.pathsDefinedElsewhere[path] ?? path;
    if (canonical in r4Model.path2Type) return canonical;
  }
  return undefined;
}

export function isResourceType(name: string): boolean {
  for (let t: string | undefined = name; t; t = r4Model.type2Parent[t]) if (t === 'Resource') return true;
  return false;
}

/** The primitive types a constant may have (ViewDefinition.constant.value[x]), by the JSON type of their value. */
const CONSTANT_TYPES: Record<string, 'string' | 'boolean' | 'integer' | 'number'> = {
  base64Binary: 'string', canonical: 'string', code: 'string', date: 'string', dateTime: 'string',
  id: 'string', instant: 'string', markdown: 'string', oid: 'string', string: 'string', time: 'string',
  uri: 'string', url: 'string', uuid: 'string', boolean: 'boolean', decimal: 'number',
  integer: 'integer', positiveInt: 'integer', unsignedInt: 'integer',
};

/** Dates and times compare by their meaning, which a bare string would not (`birthDate = %bd` would be false). */
const TEMPORAL = new Set(['date', 'dateTime', 'instant', 'time']);

/**
 * The %variable value of a constant given as `key` (`valueDate`): the value itself, or for a date or
 * time a typed fhirpath.js node. Throws a message when the type is not allowed or the value does not fit it.
 */
export function constantValue(key: string, value: unknown): unknown {
  const type = key.charAt(5).toLowerCase() + key.slice(6);
  const json = CONSTANT_TYPES[type];
  if (!json) throw new Error(`${key} is not a type a constant may have (only primitive types)`);
  const fits = json === 'integer' ? Number.isInteger(value) : typeof value === json;
  if (!fits) throw new Error(`${key} needs a JSON ${json}, got ${JSON.stringify(value)}`);
  if (!TEMPORAL.has(type)) return value;
  return fhirpath.evaluate(value, { base: type, expression: '$this' }, undefined, r4Model, { resolveInternalTypes: false })[0];
}

/**
 * The functions SQL-on-FHIR adds to FHIRPath or defines differently. getResourceKey() and
 * getReferenceKey([type]) give `Type/id`, so that a reference's key equals the key of the resource it
 * points to; a reference that is not literal (`urn:uuid:`, `#contained`, identifier only) has none,
 * as the spec asks. Each has a fast version doing the same on plain values.
 */
export const VIEW_FUNCTIONS: Record<string, UserFunction> = {
  getResourceKey: {
    fn: (nodes: unknown[]) => resourceKeys(nodes),
    fast: (nodes) => resourceKeys(nodes),
    arity: { 0: [] },
  },
  getReferenceKey: {
    // 'Identifier' accepts both forms in use: getReferenceKey(Patient) and getReferenceKey('Patient').
    fn: (nodes: unknown[], type?: string) => referenceKeys(nodes, type),
    fast: (nodes, args) => referenceKeys(nodes, args[0]?.[0] as string | undefined),
    arity: { 0: [], 1: ['Identifier'] },
  },
  // The spec's join() of nothing is '' (a column value), where fhirpath.js gives nothing (null).
  join: {
    fn: (values: unknown[], separator = '') => joined(values, separator),
    fast: (values, args) => {
      // fhirpath.js hands an empty separator over as [] (which joins with ''): left to it.
      if (args.length > 0 && args[0].length === 0) fallBack('join() with an empty separator');
      // Numbers reach fhirpath.js's version as decimal objects, and fail there.
      if (values.some((v) => typeof v === 'number')) fallBack('join() of numbers');
      return joined(values, args.length > 0 ? (args[0][0] as string) : '');
    },
    arity: { 0: [], 1: ['String'] },
  },
};

function resourceKeys(nodes: unknown[]): string[] {
  return nodes.flatMap((n) => (isKeyed(n) ? [`${n.resourceType}/${n.id}`] : []));
}

function referenceKeys(nodes: unknown[], type: string | undefined): string[] {
  const wanted = type === undefined ? undefined : unquote(type);
  if (wanted !== undefined && !isResourceType(wanted)) throw new Error(`getReferenceKey(${type}): ${wanted} is not a resource type`);
  return nodes.flatMap((n) => {
    const ref = typeof n === 'object' && n !== null && 'reference' in n && typeof n.reference === 'string' ? parseReference(n.reference) : undefined;
    return ref && (wanted === undefined || ref.type === wanted) ? [`${ref.type}/${ref.id}`] : [];
  });
}

function joined(values: unknown[], separator: string): string[] {
  const strings = values.filter((v) => v != null);
  if (!strings.every((v) => typeof v === 'string')) throw new Error('join() needs a collection of strings');
  return [strings.join(separator)];
}

function isKeyed(n: unknown): n is { resourceType: string; id: string } {
  const r = n as { resourceType?: unknown; id?: unknown } | null;
  return typeof r?.resourceType === 'string' && typeof r.id === 'string';
}

/**
 * A result as a row value: complex values are copied, so that rows neither alias the input
 * resources nor carry fhirpath.js's hidden bookkeeping.
 */
export function toPlain(value: unknown): unknown {
  return typeof value === 'object' && value !== null ? structuredClone(value) : value;
}

/**
 * A fast-path result as a row value: the same as toPlain() gives for fhirpath.js's (a primitive's
 * value; a copy of a complex value), without structuredClone (~2 µs even for a small object): the
 * fast path's values are JSON already.
 */
export function toPlainFast(value: unknown): unknown {
  if (value instanceof Prim) return value.value;
  return typeof value === 'object' && value !== null ? copyJson(value) : value;
}

function copyJson(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(copyJson);
  const out: Record<string, unknown> = {};
  for (const key in value) {
    if (Object.prototype.hasOwnProperty.call(value, key)) out[key] = copyJson((value as Record<string, unknown>)[key]);
  }
  return out;
}
