import fhirpath from 'fhirpath';

/**
 * A compiler from the part of FHIRPath the report definitions are written in to PostgreSQL
 * expressions, so that a month of episodes is evaluated by the database in one statement instead of
 * loading every resource into JavaScript.
 *
 * Two targets share it:
 * - **document** (a ViewDefinition's columns over a resource): a path is compiled to an SQL/JSON path
 *   over the resource's top-level element, read from a `json_to_record` of the content. SQL/JSON
 *   paths in lax mode flatten arrays the way FHIRPath collections do (`type.coding.code` reads every
 *   coding of every type), and `where()` becomes a filter `? (…)`. `first()` is the first in document
 *   order, as in FHIRPath.
 * - **row** (a Measure's criteria over the report rows): a name is a column of the row.
 *
 * Empty propagates as SQL NULL does: `=` with an empty side is empty, `and`/`or` are three-valued
 * like FHIRPath's, and a criterion counts a row only when it is true. Anything outside the subset is
 * refused when the definitions are loaded, with the expression and why — never at report time.
 * test/reports/sql-view.test.ts holds the SQL of every report view to the view engine's answers.
 */
export type SqlType = 'text' | 'boolean' | 'timestamptz' | 'numeric' | 'date' | 'interval';

export interface SqlExpression {
  sql: string;
  type: SqlType;
}

export class SqlFhirPathError extends Error {
  override readonly name = 'SqlFhirPathError';
}

interface Ast {
  type: string;
  text?: string;
  value?: string;
  unit?: string;
  children?: Ast[];
}

/** Where names are read from. */
export type Target =
  | {
      kind: 'document';
      /** SQL of a top-level element as jsonb (it is added to the record read from the content). */
      element(name: string): string;
      /** SQL of the resource's id and type (`getResourceKey()`, `id`). */
      id: string;
      resourceType: string;
    }
  | {
      kind: 'row';
      /** SQL of a column and its type; undefined for an unknown name. */
      column(name: string): SqlExpression | undefined;
    };

export interface CompileOptions {
  /** %names known when compiling (a view's constants): inlined as literals. */
  constants?: Record<string, string | number | boolean>;
  /** %names bound at run time, with their SQL (a parameter) and type. */
  variables?: Record<string, SqlExpression>;
  /** Minutes east of UTC of the local calendar (localDate()). */
  localOffsetMinutes: number;
}

/** A path under construction: an element of the resource and an SQL/JSON path below it. */
interface JsonPath {
  kind: 'json';
  element: string;
  path: string;
  /** first() was applied: the path ends here (FHIRPath's first of the whole collection has no SQL/JSON equivalent mid-path). */
  ended?: boolean;
}

type Compiled = SqlExpression | JsonPath | { kind: 'literal-set'; items: SqlExpression[] };

const isJson = (c: Compiled): c is JsonPath => 'kind' in c && c.kind === 'json';

export const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;
/** An SQL/JSON path string literal (its escapes are JSON's). */
const jsonPathString = (s: string) => JSON.stringify(s);

export function compileSql(expression: string, target: Target, options: CompileOptions): SqlExpression {
  let ast: Ast;
  try {
    ast = fhirpath.parse(expression) as Ast;
  } catch (e) {
    throw new SqlFhirPathError(`"${expression}" is not valid FHIRPath: ${(e as Error).message.split('\n')[0]}`);
  }
  try {
    return new Compiler(target, options).value(ast);
  } catch (e) {
    if (e instanceof SqlFhirPathError) throw new SqlFhirPathError(`"${expression}": ${e.message}`);
    throw e;
  }
}

class Compiler {
  constructor(
    private readonly target: Target,
    private readonly options: CompileOptions,
  ) {}

  /** The expression as one SQL value (a path read as its first item). */
  value(ast: Ast): SqlExpression {
    const c = this.compile(ast);
    if (isJson(c)) return this.asValue(c);
    if ('kind' in c) throw new SqlFhirPathError('a collection of literals is only allowed after `in`');
    return c;
  }

  private compile(ast: Ast): Compiled {
    switch (ast.type) {
      case 'EntireExpression':
      case 'TermExpression':
      case 'InvocationTerm':
      case 'LiteralTerm':
        return this.compile(only(ast));
      case 'ParenthesizedTerm': {
        const inner = only(ast);
        if (inner.type === 'UnionExpression') return { kind: 'literal-set', items: this.union(inner) };
        return this.compile(inner);
      }
      case 'StringLiteral':
        return { sql: sqlString(unquote(ast.text!)), type: 'text' };
      case 'NumberLiteral':
        return { sql: String(Number(ast.text)), type: 'numeric' };
      case 'BooleanLiteral':
        return { sql: ast.text === 'true' ? 'true' : 'false', type: 'boolean' };
      case 'QuantityLiteral':
        return { sql: interval(ast), type: 'interval' };
      case 'ExternalConstantTerm':
        return this.constant(nameOf(ast));
      case 'MemberInvocation':
        return this.member(ast.text!);
      case 'FunctionInvocation':
        return this.call(functionName(ast), functionArgs(ast), undefined);
      case 'InvocationExpression': {
        const [left, right] = ast.children!;
        if (right.type === 'MemberInvocation') return this.step(this.compile(left), right.text!);
        if (right.type === 'FunctionInvocation') return this.call(functionName(right), functionArgs(right), this.compile(left));
        throw new SqlFhirPathError(`${right.type} is not supported`);
      }
      case 'EqualityExpression':
      case 'InequalityExpression': {
        const op = ast.text!;
        if (!['=', '!=', '<', '<=', '>', '>='].includes(op)) throw new SqlFhirPathError(`operator ${op} is not supported`);
        const [l, r] = ast.children!.map((c) => this.value(c));
        return { sql: `(${l.sql} ${op === '!=' ? '<>' : op} ${r.sql})`, type: 'boolean' };
      }
      case 'AndExpression':
      case 'OrExpression': {
        const op = ast.text === 'and' ? 'AND' : ast.text === 'or' ? 'OR' : undefined;
        if (!op) throw new SqlFhirPathError(`operator ${ast.text} is not supported`);
        const [l, r] = ast.children!.map((c) => this.boolean(c));
        return { sql: `(${l} ${op} ${r})`, type: 'boolean' };
      }
      case 'MembershipExpression': {
        if (ast.text !== 'in') throw new SqlFhirPathError(`operator ${ast.text} is not supported`);
        const left = this.value(ast.children![0]);
        const right = this.compile(ast.children![1]);
        const items = 'kind' in right && right.kind === 'literal-set' ? right.items : [this.value(ast.children![1])];
        return { sql: `(${left.sql} IN (${items.map((i) => i.sql).join(', ')}))`, type: 'boolean' };
      }
      case 'AdditiveExpression': {
        const [left, right] = ast.children!.map((c) => this.value(c));
        if (right.type === 'interval') {
          if (left.type !== 'timestamptz') throw new SqlFhirPathError('a time quantity can only be added to a dateTime');
          return { sql: `(${left.sql} ${ast.text === '-' ? '-' : '+'} ${right.sql})`, type: 'timestamptz' };
        }
        if (ast.text === '&' || (ast.text === '+' && left.type === 'text' && right.type === 'text')) return { sql: `(${left.sql} || ${right.sql})`, type: 'text' };
        throw new SqlFhirPathError(`operator ${ast.text} is only supported for text and for a dateTime plus a time quantity`);
      }
      default:
        throw new SqlFhirPathError(`${ast.type} is not supported in report definitions`);
    }
  }

  private union(ast: Ast): SqlExpression[] {
    return ast.children!.flatMap((c) => (c.type === 'UnionExpression' ? this.union(c) : [this.value(c)]));
  }

  private boolean(ast: Ast): string {
    const c = this.compile(ast);
    if (isJson(c)) return `jsonb_path_exists(${c.element}, ${sqlString(c.path)})`;
    const v = c as SqlExpression;
    // FHIRPath's singleton evaluation: a lone value that is not a boolean counts as true.
    return v.type === 'boolean' ? v.sql : `(${v.sql} IS NOT NULL)`;
  }

  private constant(name: string): SqlExpression {
    const known = this.options.constants?.[name];
    if (known !== undefined) {
      return typeof known === 'string' ? { sql: sqlString(known), type: 'text' } : typeof known === 'number' ? { sql: String(known), type: 'numeric' } : { sql: String(known), type: 'boolean' };
    }
    const variable = this.options.variables?.[name];
    if (variable) return variable;
    throw new SqlFhirPathError(`%${name} is not defined`);
  }

  private member(name: string): Compiled {
    if (this.target.kind === 'row') {
      const column = this.target.column(name);
      if (!column) throw new SqlFhirPathError(`${name} is not a column of the report rows`);
      return column;
    }
    if (name === 'id') return { sql: this.target.id, type: 'text' };
    if (name === this.target.resourceType) throw new SqlFhirPathError(`start paths at the element, not at ${name}`);
    return { kind: 'json', element: this.target.element(name), path: '$' };
  }

  private step(on: Compiled, name: string): JsonPath {
    if (!isJson(on)) throw new SqlFhirPathError(`.${name} can only follow a path into the resource`);
    if (on.ended) throw new SqlFhirPathError('first() is supported at the end of a path only');
    return { ...on, path: `${on.path}.${jsonPathKey(name)}` };
  }

  private call(name: string, args: Ast[], on: Compiled | undefined): Compiled {
    const arity = (n: number) => {
      if (args.length !== n) throw new SqlFhirPathError(`${name}() takes ${n} argument${n === 1 ? '' : 's'}`);
    };
    if (on && isJson(on) && on.ended && name !== 'exists' && name !== 'empty' && name !== 'getReferenceKey' && name !== 'localDate') {
      throw new SqlFhirPathError('first() is supported at the end of a path only');
    }
    switch (name) {
      case 'where': {
        arity(1);
        if (!on || !isJson(on)) throw new SqlFhirPathError('where() can only filter a path into the resource');
        return { ...on, path: `${on.path} ? (${this.filter(args[0])})` };
      }
      case 'extension': {
        arity(1);
        if (!on || !isJson(on)) throw new SqlFhirPathError('extension() can only follow a path into the resource');
        return { ...on, path: `${on.path}.extension ? (@.url == ${jsonPathString(this.literalText(args[0]))})` };
      }
      case 'ofType': {
        arity(1);
        // Only a choice element read by its type (`value.ofType(code)` is `valueCode`).
        if (!on || !isJson(on) || !/\.(value|"value")$/.test(on.path)) throw new SqlFhirPathError('ofType() is supported on `value` only');
        const type = identifierText(args[0]);
        return { ...on, path: on.path.replace(/\.(value|"value")$/, `.${jsonPathKey('value' + type.charAt(0).toUpperCase() + type.slice(1))}`) };
      }
      case 'first': {
        arity(0);
        if (!on) throw new SqlFhirPathError('first() needs something before it');
        return isJson(on) ? { ...on, ended: true } : on;
      }
      case 'exists':
      case 'empty': {
        if (!on) throw new SqlFhirPathError(`${name}() needs something before it`);
        let test: string;
        if (isJson(on)) {
          const path = args.length === 1 ? `${on.path} ? (${this.filter(args[0])})` : (arity(0), on.path);
          test = `jsonb_path_exists(${on.element}, ${sqlString(path)})`;
        } else {
          arity(0);
          test = `(${(on as SqlExpression).sql} IS NOT NULL)`;
        }
        return { sql: name === 'exists' ? test : `(NOT ${test})`, type: 'boolean' };
      }
      case 'not': {
        if (on) {
          arity(0);
          return { sql: `(NOT ${this.booleanOf(on)})`, type: 'boolean' };
        }
        arity(1);
        return { sql: `(NOT ${this.boolean(args[0])})`, type: 'boolean' };
      }
      case 'iif': {
        if (on) throw new SqlFhirPathError('iif() is a function of its own, not of a path');
        if (args.length !== 3) throw new SqlFhirPathError('iif() takes a criterion, a value if true and a value if not (3 arguments here)');
        const [then, otherwise] = [this.value(args[1]), this.value(args[2])];
        return { sql: `(CASE WHEN ${this.boolean(args[0])} THEN ${then.sql} ELSE ${otherwise.sql} END)`, type: then.type === otherwise.type ? then.type : 'text' };
      }
      case 'getResourceKey': {
        arity(0);
        if (this.target.kind !== 'document' || on) throw new SqlFhirPathError('getResourceKey() is read on the resource itself');
        return { sql: `(${sqlString(this.target.resourceType + '/')} || ${this.target.id})`, type: 'text' };
      }
      case 'getReferenceKey': {
        arity(1);
        if (!on || !isJson(on)) throw new SqlFhirPathError('getReferenceKey() follows a Reference of the resource');
        const type = identifierText(args[0]);
        if (!/^[A-Z][A-Za-z]+$/.test(type)) throw new SqlFhirPathError(`getReferenceKey(${type}): not a resource type`);
        const ref = on.path === '$' ? `(${on.element}->>'reference')` : `(jsonb_path_query_first(${on.element}, ${sqlString(on.path + '.reference')}) #>> '{}')`;
        // A literal reference `Type/id`, relative or absolute, with or without a version: its key. The
        // relative form the gateway stores is tested without a regular expression (one per row is slow).
        const prefix = sqlString(type + '/');
        const regex = sqlString(`(?:^|/)${type}/([A-Za-z0-9.-]{1,64})(?:/_history/[^/]+)?$`);
        return {
          sql: `(CASE WHEN starts_with(${ref}, ${prefix}) AND strpos(substr(${ref}, ${type.length + 2}), '/') = 0 THEN ${ref} WHEN strpos(${ref}, ${prefix}) > 0 THEN ${prefix} || substring(${ref} from ${regex}) END)`,
          type: 'text',
        };
      }
      case 'localDate': {
        arity(0);
        const v = on ? this.asValue(on) : undefined;
        if (!v || v.type !== 'timestamptz') throw new SqlFhirPathError('localDate() is read on a dateTime');
        return { sql: `((${v.sql} AT TIME ZONE 'UTC') + interval '${this.options.localOffsetMinutes} minutes')::date`, type: 'date' };
      }
      case 'hoursUntil': {
        arity(1);
        const from = on ? this.asValue(on) : undefined;
        const to = this.value(args[0]);
        if (from?.type !== 'timestamptz' || to.type !== 'timestamptz') throw new SqlFhirPathError('hoursUntil() is read between two dateTimes');
        return { sql: `(extract(epoch from (${to.sql} - ${from.sql})) / 3600.0)`, type: 'numeric' };
      }
      default:
        throw new SqlFhirPathError(`${name}() is not supported in report definitions`);
    }
  }

  private asValue(c: Compiled): SqlExpression {
    // A top-level primitive (`status`) is read as it is; only a path below it needs SQL/JSON.
    if (isJson(c) && c.path === '$') return { sql: `(${c.element} #>> '{}')`, type: 'text' };
    if (isJson(c)) return { sql: `(jsonb_path_query_first(${c.element}, ${sqlString(c.path)}) #>> '{}')`, type: 'text' };
    return c as SqlExpression;
  }

  private booleanOf(c: Compiled): string {
    if (isJson(c)) return `jsonb_path_exists(${c.element}, ${sqlString(c.path)})`;
    const v = c as SqlExpression;
    return v.type === 'boolean' ? v.sql : `(${v.sql} IS NOT NULL)`;
  }

  /** A literal string argument (`extension('…')`), a string constant included. */
  private literalText(ast: Ast): string {
    const v = this.compile(ast);
    if (!isJson(v) && !('kind' in v) && v.type === 'text' && /^'(?:[^']|'')*'$/.test(v.sql)) return v.sql.slice(1, -1).replace(/''/g, "'");
    throw new SqlFhirPathError('needs a literal string here');
  }

  // --- filters: the criterion of where() and exists(), as an SQL/JSON filter on @ -------------

  private filter(ast: Ast): string {
    switch (ast.type) {
      case 'EntireExpression':
      case 'TermExpression':
      case 'InvocationTerm':
        return this.filter(only(ast));
      case 'ParenthesizedTerm':
        return `(${this.filter(only(ast))})`;
      case 'AndExpression':
      case 'OrExpression': {
        const op = ast.text === 'and' ? '&&' : ast.text === 'or' ? '||' : undefined;
        if (!op) throw new SqlFhirPathError(`operator ${ast.text} is not supported in where()`);
        return `(${this.filter(ast.children![0])} ${op} ${this.filter(ast.children![1])})`;
      }
      case 'EqualityExpression': {
        if (ast.text !== '=' && ast.text !== '!=') throw new SqlFhirPathError(`operator ${ast.text} is not supported in where()`);
        return `(${this.filterOperand(ast.children![0])} ${ast.text === '=' ? '==' : '!='} ${this.filterOperand(ast.children![1])})`;
      }
      case 'MembershipExpression': {
        if (ast.text !== 'in') throw new SqlFhirPathError(`operator ${ast.text} is not supported in where()`);
        const left = this.filterOperand(ast.children![0]);
        const set = ast.children![1].type === 'TermExpression' ? only(ast.children![1]) : ast.children![1];
        const items = set.type === 'ParenthesizedTerm' && only(set).type === 'UnionExpression' ? this.filterUnion(only(set)) : [this.filterOperand(ast.children![1])];
        return `(${items.map((i) => `${left} == ${i}`).join(' || ')})`;
      }
      case 'InvocationExpression': {
        const [, right] = ast.children!;
        if (right.type === 'FunctionInvocation' && (functionName(right) === 'exists' || functionName(right) === 'empty')) {
          const args = functionArgs(right);
          const path = this.filterPath(ast.children![0]) + (args.length === 1 ? ` ? (${this.filter(args[0])})` : '');
          return functionName(right) === 'exists' ? `exists(${path})` : `!exists(${path})`;
        }
        throw new SqlFhirPathError('in where(), only comparisons, in, and/or and exists()/empty() are supported');
      }
      default:
        throw new SqlFhirPathError(`${ast.type} is not supported in where()`);
    }
  }

  private filterUnion(ast: Ast): string[] {
    return ast.children!.flatMap((c) => (c.type === 'UnionExpression' ? this.filterUnion(c) : [this.filterOperand(c)]));
  }

  private filterOperand(ast: Ast): string {
    const inner = ast.type === 'TermExpression' ? only(ast) : ast;
    const term = inner.type === 'InvocationTerm' || inner.type === 'LiteralTerm' ? only(inner) : inner;
    switch (term.type) {
      case 'StringLiteral':
        return jsonPathString(unquote(term.text!));
      case 'NumberLiteral':
        return String(Number(term.text));
      case 'BooleanLiteral':
        return term.text!;
      case 'ExternalConstantTerm': {
        const known = this.options.constants?.[nameOf(term)];
        if (known === undefined) throw new SqlFhirPathError(`%${nameOf(term)} is not a constant of the definition (in where(), only constants)`);
        return typeof known === 'string' ? jsonPathString(known) : String(known);
      }
      case 'AdditiveExpression': {
        // `%cs + 'loai-kcb'`: constants and literals put together when compiling.
        const parts = term.children!.map((c) => JSON.parse(this.filterOperand(c)) as unknown);
        if (term.text !== '+' || !parts.every((p) => typeof p === 'string')) throw new SqlFhirPathError('in where(), + joins literal strings only');
        return jsonPathString(parts.join(''));
      }
      default:
        return this.filterPath(ast);
    }
  }

  /** A path relative to the item being filtered (`@`). */
  private filterPath(ast: Ast): string {
    switch (ast.type) {
      case 'TermExpression':
      case 'InvocationTerm':
        return this.filterPath(only(ast));
      case 'MemberInvocation':
        return `@.${jsonPathKey(ast.text!)}`;
      case 'ThisInvocation':
        return '@';
      case 'InvocationExpression': {
        const [left, right] = ast.children!;
        if (right.type === 'MemberInvocation') return `${this.filterPath(left)}.${jsonPathKey(right.text!)}`;
        throw new SqlFhirPathError('in where(), paths are made of element names');
      }
      default:
        throw new SqlFhirPathError(`${ast.type} is not supported in where()`);
    }
  }
}

function only(ast: Ast): Ast {
  if (ast.children?.length !== 1) throw new SqlFhirPathError(`${ast.type} with ${ast.children?.length ?? 0} parts is not supported`);
  return ast.children[0];
}

function functionName(ast: Ast): string {
  return only(ast).children![0].text!;
}

function functionArgs(ast: Ast): Ast[] {
  return only(ast).children![1]?.children ?? [];
}

function nameOf(ast: Ast): string {
  const identifier = only(only(ast));
  return (identifier.text ?? '').replace(/^`|`$/g, '');
}

/** The text of an identifier argument: getReferenceKey(Patient), ofType(code) (or the same quoted). */
function identifierText(ast: Ast): string {
  let node = ast;
  while (node.children?.length === 1 && node.type !== 'StringLiteral' && node.type !== 'MemberInvocation') node = node.children[0];
  if (node.type === 'StringLiteral') return unquote(node.text!);
  if (node.type === 'MemberInvocation' && node.text) return node.text;
  throw new SqlFhirPathError('needs a type name');
}

function unquote(text: string): string {
  return text.slice(1, -1).replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, c: string) =>
    c.length === 5 ? String.fromCharCode(parseInt(c.slice(1), 16)) : ({ n: '\n', r: '\r', t: '\t', f: '\f' } as Record<string, string>)[c] ?? c,
  );
}

const JSONPATH_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
function jsonPathKey(name: string): string {
  const clean = name.replace(/^`|`$/g, '');
  return JSONPATH_IDENTIFIER.test(clean) && !['true', 'false', 'null', 'last', 'exists', 'like_regex', 'starts', 'with', 'is', 'unknown', 'flag', 'to'].includes(clean) ? clean : jsonPathString(clean);
}

const UNITS: Record<string, string> = { hour: 'hours', hours: 'hours', minute: 'minutes', minutes: 'minutes', day: 'days', days: 'days', "'h'": 'hours', "'min'": 'minutes', "'d'": 'days' };
function interval(ast: Ast): string {
  const unit = UNITS[ast.unit ?? ''];
  if (!unit || !/^\d+(\.\d+)?$/.test(ast.value ?? '')) throw new SqlFhirPathError(`quantity ${ast.text} is not a supported time quantity (hours, minutes, days)`);
  return `interval '${ast.value} ${unit}'`;
}
