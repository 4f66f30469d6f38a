import { fallBackReason, isFallBack, RUN_CACHE, type FastPath } from '../fhir/fast-fhirpath.js';
import {
  BUILT_IN_VARIABLES,
  compileExpression,
  constantValue,
  isResourceType,
  memberPathType,
  toPlain,
  toPlainFast,
  VIEW_FUNCTIONS,
  type Evaluator,
  type Expression,
  type UserFunction,
  type Variables,
} from './view-fhirpath.js';

/**
 * SQL-on-FHIR v2 ViewDefinitions (https://sql-on-fhir.org/ig/latest/): a view turns each resource
 * of one type into rows, with FHIRPath for every column. The engine behind the declarative mapping
 * files (FHIR → the national XML tables).
 *
 * compileView() checks the whole view and compiles each distinct expression once; a bad view fails
 * there, with the place in the view (`select[1].column[0] (name: MA_LK): …`). Running it only
 * evaluates. Rows follow the spec's processing model: a select's rows are the cartesian product of
 * its columns, its nested selects and its unionAll, for each node its forEach / forEachOrNull /
 * repeat yields.
 *
 * Two engines run views. A view whose every expression compiles to the fast path (fast-fhirpath.ts:
 * closures over the plain JSON) runs there: ~1 µs per expression and resource where fhirpath.js takes
 * ~10–40 µs. Otherwise the whole view runs on fhirpath.js: the two cannot be mixed within a view,
 * since an iteration's nodes are plain JSON on one and typed nodes on the other (fhirpath.js handed a
 * plain `Extension` would not know its `value` is `valueString`). When an input needs what only
 * fhirpath.js does (a date compared with a date, a complex value for equality …), the fast path says
 * so and that resource is run again on fhirpath.js, whole: its rows are always one engine's.
 */

export type { UserFunction } from './view-fhirpath.js';

/** ViewDefinition.constant: a name and one value[x] of a primitive type, read as %name. */
export interface Constant {
  name: string;
  [valueX: `value${string}`]: unknown;
}

export interface Column {
  name: string;
  path: string;
  description?: string;
  /** The column holds an array of every value; otherwise more than one value is an error. */
  collection?: boolean;
  /** The FHIR type of the values: informative here, a value is whatever the path yields. */
  type?: string;
  tag?: { name: string; value: string }[];
}

export interface SelectClause {
  column?: Column[];
  select?: SelectClause[];
  forEach?: string;
  forEachOrNull?: string;
  /** Paths followed recursively: every node they reach, depth first, is a row. */
  repeat?: string[];
  unionAll?: SelectClause[];
}

export interface ViewDefinition {
  resourceType?: 'ViewDefinition';
  url?: string;
  name?: string;
  title?: string;
  status?: string;
  description?: string;
  resource: string;
  constant?: Constant[];
  /** A resource has rows only if every path is true (empty counts as false). */
  where?: { path: string; description?: string }[];
  select: SelectClause[];
}

export interface ColumnInfo {
  name: string;
  /** For a unionAll column, the path in its first branch. */
  path: string;
  type?: string;
  collection: boolean;
  /** The forEach/forEachOrNull/repeat paths above it, outermost first (a repeat as `repeat(item, answer.item)`). */
  context: string[];
}

export interface ViewOptions {
  /**
   * Extra FHIRPath functions, e.g. resolve() over an episode's resources: fhirpath.js userInvocationTable
   * entries, each with an optional `fast` version for the fast path (without one, a view calling it runs on fhirpath.js).
   */
  functions?: Record<string, UserFunction>;
  /** Names of %variables the caller will supply at run time (besides the view's constants), so that an unknown %name is a compile-time error. */
  variables?: string[];
  /** 'fhirpath': run on fhirpath.js even when the view compiles to the fast path (parity tests). Default 'auto'. */
  engine?: 'auto' | 'fhirpath';
  /** Told when a resource of a fast view is run again on fhirpath.js, and why (diagnostics, tests). */
  onFallBack?: (resource: unknown, reason: string) => void;
}

export interface CompiledView {
  readonly resource: string;
  readonly columns: ColumnInfo[];
  /** Whether it runs on the fast path (every expression compiled there). */
  readonly fast: boolean;
  /** The expressions that keep it on fhirpath.js, with why; empty for a fast view. */
  readonly slowPaths: readonly { location: string; path: string; reason: string }[];
  /**
   * Rows of every resource of the view's type, in input order. `variables` are bound as %name in
   * every expression; each one declared to compileView() must be there.
   */
  run(resources: Iterable<unknown>, variables?: Record<string, unknown>): Row[];
  /** Same, each row with the resource it came from (for error messages naming the source element). */
  runWithSource(resources: Iterable<unknown>, variables?: Record<string, unknown>): { row: Row; resource: unknown }[];
}

export type Row = Record<string, unknown>;

/** A bad view (from compileView) or an expression failing on a resource (from run). */
export class ViewError extends Error {
  override readonly name = 'ViewError';
  /** Where in the view: `select[1].column[0] (name: MA_LK)`, `where[0]`, `constant[2] (name: x)`, `resource`. */
  readonly location: string;

  constructor(location: string, detail: string, options?: ErrorOptions) {
    super(`${location}: ${detail}`, options);
    this.location = location;
  }
}

export function compileView(view: ViewDefinition, options: ViewOptions = {}): CompiledView {
  return new ViewCompiler(options).compile(view);
}

// --- compiling --------------------------------------------------------------------------------

/** A select, compiled. Its rows are tuples: the values of its columns, nested selects' and unionAll's, in view order. */
interface SelectPlan {
  iterate?: Iteration;
  columns: ColumnPlan[];
  selects: SelectPlan[];
  /** Its unionAll's branches; empty when it has none. */
  unionAll: SelectPlan[];
}

/** An expression and where it is in the view. */
interface Located {
  location: string;
  evaluate: Evaluator;
  fast?: FastPath;
  /** Its results are the focus of further expressions (an iteration): nodes, not values. */
  nodes: boolean;
}

interface Iteration {
  location: string;
  /** One path for forEach and forEachOrNull; repeat's paths, followed recursively. */
  paths: Located[];
  recursive: boolean;
  /** forEachOrNull: finding nothing still makes one row. */
  orNull: boolean;
}

interface ColumnPlan extends Located {
  collection: boolean;
}

interface CompiledSelect {
  plan: SelectPlan;
  columns: (ColumnInfo & { location: string })[];
}

/** Column and constant names (the spec's pattern): they become SQL/XML names. */
const NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

const SELECT_KEYS = ['column', 'select', 'forEach', 'forEachOrNull', 'repeat', 'unionAll', 'id', 'extension'];
const COLUMN_KEYS = ['name', 'path', 'description', 'collection', 'type', 'tag', 'id', 'extension'];
const WHERE_KEYS = ['path', 'description', 'id', 'extension'];

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

class ViewCompiler {
  private readonly functions: Record<string, UserFunction>;
  private readonly declared: string[];
  /** Every %name an expression may read. */
  private readonly known = new Set(BUILT_IN_VARIABLES);
  private readonly constants: Variables = {};
  /** The constants as the fast path reads them: plain JSON (dates as their text). */
  private readonly plainConstants: Variables = {};
  /** By kind and text: an expression used in several places is compiled once. */
  private readonly compiled = new Map<string, Expression>();
  private readonly slowPaths: { location: string; path: string; reason: string }[] = [];
  private readonly options: ViewOptions;

  constructor(options: ViewOptions) {
    this.functions = { ...VIEW_FUNCTIONS, ...options.functions };
    this.declared = options.variables ?? [];
    this.options = options;
  }

  compile(view: unknown): CompiledView {
    if (!isObject(view)) throw new ViewError('view', 'must be a JSON object');
    if (view.resourceType !== undefined && view.resourceType !== 'ViewDefinition') {
      throw new ViewError('resourceType', `must be ViewDefinition, got ${JSON.stringify(view.resourceType)}`);
    }
    const resource = view.resource;
    if (typeof resource !== 'string' || resource === '') throw new ViewError('resource', 'is required: the resource type the view reads');
    if (!isResourceType(resource)) throw new ViewError('resource', `${resource} is not an R4 resource type`);

    this.readConstants(view.constant);
    for (const name of this.declared) {
      if (this.known.has(name)) throw new ViewError('variables', `%${name} is already a constant of the view or a built-in variable`);
      this.known.add(name);
    }

    const wheres = this.list(view.where, 'where').map((w, i) => this.where(w, `where[${i}]`, resource));
    if (view.select === undefined) throw new ViewError('select', 'is required: a view needs columns');
    const selects = this.list(view.select, 'select').map((s, i) => this.select(s, `select[${i}]`, []));
    const columns = selects.flatMap((s) => s.columns);
    const seen = new Set<string>();
    for (const c of columns) {
      if (seen.has(c.name)) throw new ViewError(c.location, `column ${c.name} is already defined; names must be unique in a view`);
      seen.add(c.name);
    }
    const root: SelectPlan = { columns: [], selects: selects.map((s) => s.plan), unionAll: [] };
    const fast = this.options.engine !== 'fhirpath' && this.slowPaths.length === 0;
    return runnable({
      resource,
      columns: columns.map(({ location: _, ...info }) => info),
      root,
      wheres,
      constants: this.constants,
      plainConstants: fast ? this.plainConstants : undefined,
      declared: this.declared,
      slowPaths: this.slowPaths,
      onFallBack: this.options.onFallBack,
    });
  }

  private readConstants(raw: unknown): void {
    this.list(raw, 'constant').forEach((c, i) => {
      const location = isObject(c) && typeof c.name === 'string' ? `constant[${i}] (name: ${c.name})` : `constant[${i}]`;
      if (!isObject(c)) throw new ViewError(location, 'must be an object with a name and a value[x]');
      const values = Object.keys(c).filter((k) => k.startsWith('value'));
      const unknown = Object.keys(c).find((k) => !values.includes(k) && !['name', 'id', 'extension'].includes(k));
      if (unknown) throw new ViewError(location, `has an unknown property "${unknown}"`);
      if (typeof c.name !== 'string' || !NAME.test(c.name)) throw new ViewError(location, 'needs a name of letters, digits and _, starting with a letter');
      if (values.length !== 1) throw new ViewError(location, values.length === 0 ? 'has no value[x]' : `has ${values.length} values (${values.join(', ')}); it takes one`);
      if (this.known.has(c.name)) throw new ViewError(location, `%${c.name} is already defined`);
      try {
        this.constants[c.name] = constantValue(values[0], c[values[0]]);
        this.plainConstants[c.name] = c[values[0]];
      } catch (e) {
        throw new ViewError(location, (e as Error).message);
      }
      this.known.add(c.name);
    });
  }

  private where(raw: unknown, location: string, resource: string): Located {
    this.checkObject(raw, location, WHERE_KEYS);
    const expression = this.expression(location, raw.path, false);
    // A plain path of a known non-boolean type can be refused now rather than on the first resource.
    const type = expression.memberPath && memberPathType(resource, expression.memberPath);
    if (type && type !== 'boolean' && type !== 'System.Boolean') {
      throw new ViewError(location, `must be true or false, but ${String(raw.path)} is a ${type}`);
    }
    return this.locatedExpression(location, raw.path, expression, false);
  }

  private select(raw: unknown, location: string, context: string[]): CompiledSelect {
    this.checkObject(raw, location, SELECT_KEYS);
    const kinds = (['forEach', 'forEachOrNull', 'repeat'] as const).filter((k) => raw[k] !== undefined);
    if (kinds.length > 1) throw new ViewError(location, `has both ${kinds.join(' and ')}; a select iterates over one`);

    let iterate: Iteration | undefined;
    let inner = context;
    if (kinds[0] === 'repeat') {
      const paths = this.list(raw.repeat, `${location}.repeat`);
      const located = paths.map((p, i) => this.located(`${location}.repeat[${i}]`, p, true));
      iterate = { location: `${location}.repeat`, paths: located, recursive: true, orNull: false };
      inner = [...context, `repeat(${paths.join(', ')})`];
    } else if (kinds[0]) {
      const iterLocation = `${location}.${kinds[0]}`;
      iterate = { location: iterLocation, paths: [this.located(iterLocation, raw[kinds[0]], true)], recursive: false, orNull: kinds[0] === 'forEachOrNull' };
      inner = [...context, raw[kinds[0]] as string];
    }

    const columns = this.list(raw.column, `${location}.column`).map((c, i) => this.column(c, `${location}.column[${i}]`, inner));
    const selects = this.list(raw.select, `${location}.select`).map((s, i) => this.select(s, `${location}.select[${i}]`, inner));
    const branches = this.list(raw.unionAll, `${location}.unionAll`).map((s, i) => this.select(s, `${location}.unionAll[${i}]`, inner));
    const names = (s: CompiledSelect) => s.columns.map((c) => c.name).join(', ');
    branches.forEach((b, i) => {
      if (names(b) !== names(branches[0])) {
        throw new ViewError(`${location}.unionAll[${i}]`, `has columns (${names(b)}) but unionAll[0] has (${names(branches[0])}); every branch needs the same names in the same order`);
      }
    });

    return {
      plan: { iterate, columns: columns.map((c) => c.plan), selects: selects.map((s) => s.plan), unionAll: branches.map((b) => b.plan) },
      columns: [...columns.map((c) => c.info), ...selects.flatMap((s) => s.columns), ...(branches[0]?.columns ?? [])],
    };
  }

  private column(raw: unknown, at: string, context: string[]): { plan: ColumnPlan; info: CompiledSelect['columns'][number] } {
    const location = isObject(raw) && typeof raw.name === 'string' ? `${at} (name: ${raw.name})` : at;
    this.checkObject(raw, location, COLUMN_KEYS);
    const { name, type, collection } = raw;
    if (typeof name !== 'string' || !NAME.test(name)) throw new ViewError(location, 'needs a name of letters, digits and _, starting with a letter');
    if (collection !== undefined && typeof collection !== 'boolean') throw new ViewError(location, 'collection must be true or false');
    if (type !== undefined && typeof type !== 'string') throw new ViewError(location, 'type must be a FHIR type name');
    const expression = this.expression(location, raw.path, false);
    return {
      plan: { ...this.locatedExpression(location, raw.path, expression, false), collection: collection === true },
      info: { name, path: raw.path as string, ...(type !== undefined && { type }), collection: collection === true, context, location },
    };
  }

  private located(location: string, source: unknown, nodes: boolean): Located {
    return this.locatedExpression(location, source, this.expression(location, source, nodes), nodes);
  }

  private locatedExpression(location: string, source: unknown, expression: Expression, nodes: boolean): Located {
    if (!expression.fast) this.slowPaths.push({ location, path: String(source), reason: expression.declined ?? 'not compiled' });
    return { location, evaluate: expression.evaluate, fast: expression.fast, nodes };
  }

  /** Compiles `source` (once per view) and checks that every %name it reads will be bound. */
  private expression(location: string, source: unknown, nodes: boolean): Expression {
    if (typeof source !== 'string' || source.trim() === '') {
      throw new ViewError(location, `needs a FHIRPath expression (a non-empty string), got ${JSON.stringify(source) ?? 'nothing'}`);
    }
    const key = `${nodes ? 'nodes' : 'values'}\u0000${source}`;
    let expression = this.compiled.get(key);
    if (!expression) {
      try {
        expression = compileExpression(source, nodes, this.functions, this.plainConstants);
      } catch (e) {
        throw new ViewError(location, `"${source}" is not valid FHIRPath: ${(e as Error).message.replace(/\n/g, '; ')}`, { cause: e });
      }
      this.compiled.set(key, expression);
    }
    const unbound = expression.variables.find((v) => !this.known.has(v));
    if (unbound !== undefined) {
      throw new ViewError(location, `"${source}" reads %${unbound}, which is neither a constant of the view nor a variable declared to compileView()`);
    }
    return expression;
  }

  private checkObject(raw: unknown, location: string, allowed: string[]): asserts raw is Json {
    if (!isObject(raw)) throw new ViewError(location, 'must be an object');
    const unknown = Object.keys(raw).find((k) => !allowed.includes(k));
    if (unknown) throw new ViewError(location, `has an unknown property "${unknown}" (allowed: ${allowed.join(', ')})`);
  }

  /** An optional array property: absent is empty; present, it must have items (FHIR has no empty arrays). */
  private list(raw: unknown, location: string): unknown[] {
    if (raw === undefined) return [];
    if (!Array.isArray(raw) || raw.length === 0) throw new ViewError(location, 'must be a non-empty array');
    return raw;
  }
}

// --- running ----------------------------------------------------------------------------------

/** Deeper than any real recursion (Questionnaire items): a repeat path that leads back to its input. */
const MAX_REPEAT_DEPTH = 64;

/** How expressions are evaluated and results become row values: fhirpath.js, or the fast path. */
interface Engine {
  evaluate(expression: Located, focus: unknown, scope: Variables): unknown[];
  plain(value: unknown): unknown;
}

const FHIRPATH_JS: Engine = {
  evaluate: (expression, focus, scope) => expression.evaluate(focus, scope),
  plain: toPlain,
};

const FAST: Engine = {
  evaluate: (expression, focus, scope) => (expression.nodes ? expression.fast!.nodes(focus, scope) : expression.fast!.values(focus, scope)),
  plain: toPlainFast,
};

interface Runnable {
  resource: string;
  columns: ColumnInfo[];
  root: SelectPlan;
  wheres: Located[];
  constants: Variables;
  /** Present when the view runs on the fast path. */
  plainConstants?: Variables;
  declared: string[];
  slowPaths: CompiledView['slowPaths'];
  onFallBack?: ViewOptions['onFallBack'];
}

function runnable({ resource, columns, root, wheres, constants, plainConstants, declared, slowPaths, onFallBack }: Runnable): CompiledView {
  const names = columns.map((c) => c.name);

  /** The rows of one resource on one engine. */
  const rowsOf = (engine: Engine, r: Record<string, unknown>, variables: Variables): unknown[][] => {
    const scope = scopeOf(variables, { resource: r, rootResource: r, rowIndex: 0 });
    for (const w of wheres) if (!holds(engine, w, r, scope)) return [];
    return rowsAt(engine, root, r, scope);
  };

  const each = (resources: Iterable<unknown>, supplied: Record<string, unknown> | undefined, emit: (row: Row, source: unknown) => void) => {
    let variables: Variables | undefined;
    let fastVariables: Variables | undefined;
    if (plainConstants) {
      fastVariables = bindVariables(plainConstants, declared, supplied);
      // Sub-expressions that do not change within the run are computed once in it (fast-fhirpath.ts).
      (fastVariables as Record<symbol, unknown>)[RUN_CACHE] = new Map();
    } else {
      variables = bindVariables(constants, declared, supplied);
    }
    for (const r of resources) {
      if (!isObject(r) || r.resourceType !== resource) continue;
      let tuples: unknown[][] | undefined;
      if (fastVariables) {
        try {
          tuples = rowsOf(FAST, r, fastVariables);
        } catch (e) {
          if (!isFallBack(e)) throw e;
          onFallBack?.(r, fallBackReason(e) ?? '');
        }
      }
      tuples ??= rowsOf(FHIRPATH_JS, r, (variables ??= bindVariables(constants, declared, supplied)));
      for (const tuple of tuples) {
        const row: Row = {};
        for (let i = 0; i < names.length; i++) row[names[i]] = tuple[i];
        emit(row, r);
      }
    }
  };

  return {
    resource,
    columns,
    fast: plainConstants !== undefined,
    slowPaths,
    run(resources, variables) {
      const rows: Row[] = [];
      each(resources, variables, (row) => rows.push(row));
      return rows;
    },
    runWithSource(resources, variables) {
      const rows: { row: Row; resource: unknown }[] = [];
      each(resources, variables, (row, source) => rows.push({ row, resource: source }));
      return rows;
    },
  };
}

/**
 * The variables of a run: the declared ones must be given; others are bound too, for functions
 * that read `this.vars` (an expression cannot name them). Constants win over a name clash.
 */
function bindVariables(constants: Variables, declared: string[], supplied: Record<string, unknown> = {}): Variables {
  for (const name of declared) {
    if (!(name in supplied)) throw new ViewError('variables', `%${name} was declared to compileView() but not given to run()`);
  }
  // One object, filled in place (a spread and a copy made two, of ~25 names each, for every view of a claim file).
  const scope = Object.create(null) as Variables;
  for (const name in supplied) scope[name] = supplied[name];
  for (const symbol of Object.getOwnPropertySymbols(supplied)) (scope as Record<symbol, unknown>)[symbol] = (supplied as Record<symbol, unknown>)[symbol];
  for (const name in constants) scope[name] = constants[name];
  return scope;
}

/**
 * A child scope: fhirpath.js reads %names with `in`, which follows the prototype chain, so a row's
 * scope costs one small object whatever the number of constants. The root has no prototype, so
 * that `%constructor` is not Object's.
 */
function scopeOf(parent: Variables | null, own: Variables): Variables {
  return Object.assign(Object.create(parent) as Variables, own);
}

/** The rows of `plan` on `focus`: one set per node it iterates over, or on the focus itself. */
function rowsFor(engine: Engine, plan: SelectPlan, focus: unknown, scope: Variables): unknown[][] {
  if (!plan.iterate) return rowsAt(engine, plan, focus, scope);
  const nodes = iterate(engine, plan.iterate, focus, scope);
  if (nodes.length === 0) {
    // Like a SQL LEFT JOIN against one all-NULL element: the select is evaluated once on nothing,
    // so paths into the element are null (a literal or %resource path still has its value).
    return plan.iterate.orNull ? rowsAt(engine, plan, [], scopeOf(scope, { rowIndex: 0 })) : [];
  }
  return nodes.flatMap((node, i) => rowsAt(engine, plan, node, scopeOf(scope, { rowIndex: i })));
}

function rowsAt(engine: Engine, plan: SelectPlan, focus: unknown, scope: Variables): unknown[][] {
  let rows = [plan.columns.map((c) => columnValue(engine, c, focus, scope))];
  for (const child of plan.selects) {
    rows = product(rows, rowsFor(engine, child, focus, scope));
    if (rows.length === 0) return rows;
  }
  if (plan.unionAll.length > 0) rows = product(rows, plan.unionAll.flatMap((branch) => rowsFor(engine, branch, focus, scope)));
  return rows;
}

function product(left: unknown[][], right: unknown[][]): unknown[][] {
  const rows: unknown[][] = [];
  for (const l of left) for (const r of right) rows.push(l.concat(r));
  return rows;
}

function iterate(engine: Engine, it: Iteration, focus: unknown, scope: Variables): unknown[] {
  if (!it.recursive) return evaluate(engine, it.paths[0], focus, scope);
  // repeat: depth first, each node before its descendants, as the spec's %rowIndex counts them.
  const nodes: unknown[] = [];
  const visit = (node: unknown, depth: number) => {
    if (depth > MAX_REPEAT_DEPTH) throw new ViewError(it.location, `goes deeper than ${MAX_REPEAT_DEPTH} levels; does a path lead back to its input? (${sourceOf(scope)})`);
    for (const path of it.paths) {
      for (const child of evaluate(engine, path, node, scope)) {
        nodes.push(child);
        visit(child, depth + 1);
      }
    }
  };
  visit(focus, 1);
  return nodes;
}

function columnValue(engine: Engine, column: ColumnPlan, focus: unknown, scope: Variables): unknown {
  const values = evaluate(engine, column, focus, scope);
  if (column.collection) return values.map(engine.plain);
  if (values.length > 1) {
    throw new ViewError(column.location, `gave ${values.length} values for one row; narrow the path or make the column a collection (${sourceOf(scope)})`);
  }
  return values.length === 1 ? engine.plain(values[0]) : null;
}

function holds(engine: Engine, where: Located, resource: unknown, scope: Variables): boolean {
  const result = evaluate(engine, where, resource, scope);
  if (result.length === 0) return false;
  if (result.length === 1 && typeof result[0] === 'boolean') return result[0];
  // The kind of value only: the value itself may be health data.
  const got = result.length > 1 ? `${result.length} values` : `a ${typeof result[0] === 'object' ? 'complex value' : typeof result[0]}`;
  throw new ViewError(where.location, `must be true or false, but gave ${got} (${sourceOf(scope)})`);
}

/**
 * Runs an expression; fhirpath.js's errors say what failed, this adds where in the view and on which
 * resource. The fast path's signal to fall back passes through, to the resource's loop.
 */
function evaluate(engine: Engine, expression: Located, focus: unknown, scope: Variables): unknown[] {
  try {
    return engine.evaluate(expression, focus, scope);
  } catch (e) {
    if (e instanceof ViewError || isFallBack(e)) throw e;
    throw new ViewError(expression.location, `${(e as Error).message} (${sourceOf(scope)})`, { cause: e });
  }
}

function sourceOf(scope: Variables): string {
  const r = scope.resource as { resourceType: string; id?: unknown };
  return `in ${r.resourceType}/${typeof r.id === 'string' ? r.id : '(no id)'}`;
}
