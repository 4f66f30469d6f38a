import { compileView, type CompiledView, type ViewDefinition } from '../../mapping/view.js';
import { compileSql, sqlString, SqlFhirPathError, type SqlType } from './sql-fhirpath.js';

/**
 * A report ViewDefinition compiled to one SELECT over the `resources` table: a row per live
 * resource of the view's type, every column an SQL expression. The content is read once per resource
 * (`json_to_record` keeps only the top-level elements the view names, as small jsonb values), so the
 * database parses each document once whatever the number of columns.
 *
 * The same view is also compiled by the view engine (compileView): that checks it exactly as the
 * mapping files are checked, and gives the reference answers the SQL is tested against.
 *
 * Report views are flat — one row per resource, columns and `where` — which is what set-wise
 * aggregation needs; forEach/unionAll (rows per element) are refused here.
 */
export interface SqlViewColumn {
  name: string;
  type: SqlType;
  /** The value as the FHIRPath gives it (text, or a boolean). */
  sql: string;
  /** The value as its declared type, from the raw value in `v."name"`. */
  typed: string;
}

export interface SqlView {
  name: string;
  resource: string;
  columns: SqlViewColumn[];
  /** The engine's compilation of the same view (reference answers, tests). */
  engine: CompiledView;
  /**
   * `SELECT <columns> FROM resources r … WHERE …`; `extraWhere` are further conditions on `r`
   * (which resources: a period's episodes, the patients of those).
   */
  select(extraWhere?: string[]): string;
}

const TYPES: Record<string, SqlType> = {
  dateTime: 'timestamptz', instant: 'timestamptz', date: 'date', boolean: 'boolean',
  integer: 'numeric', decimal: 'numeric', positiveInt: 'numeric', unsignedInt: 'numeric',
};

export function compileSqlView(view: ViewDefinition, options: { localOffsetMinutes: number; file?: string }): SqlView {
  const where = options.file ? ` (${options.file})` : '';
  const engine = compileView(view);
  const elements = new Set<string>();
  const target = {
    kind: 'document' as const,
    element: (name: string) => {
      elements.add(name);
      return `x.${quoteIdent(name)}`;
    },
    id: 'r.id',
    resourceType: view.resource,
  };
  const constants = Object.fromEntries((view.constant ?? []).map((c) => [c.name, Object.entries(c).find(([k]) => k.startsWith('value'))![1] as string | number | boolean]));
  const compile = (path: string, location: string) => {
    try {
      return compileSql(path, target, { constants, localOffsetMinutes: options.localOffsetMinutes });
    } catch (e) {
      if (e instanceof SqlFhirPathError) throw new SqlFhirPathError(`${view.name ?? view.resource}${where} ${location}: ${e.message}`);
      throw e;
    }
  };

  if (view.select.length !== 1 || view.select[0].forEach || view.select[0].forEachOrNull || view.select[0].repeat || view.select[0].unionAll || view.select[0].select) {
    throw new SqlFhirPathError(`${view.name ?? view.resource}${where}: a report view has one select of columns (one row per resource)`);
  }
  const columns = (view.select[0].column ?? []).map((c, i): SqlViewColumn => {
    const compiled = compile(c.path, `select[0].column[${i}] (name: ${c.name})`);
    const type = TYPES[c.type ?? ''] ?? (compiled.type === 'boolean' ? 'boolean' : 'text');
    return { name: c.name, type, sql: compiled.sql, typed: convert(`v.${quoteIdent(c.name)}`, compiled.type, type, options.localOffsetMinutes) };
  });
  const wheres = (view.where ?? []).map((w, i) => {
    const c = compile(w.path, `where[${i}]`);
    return c.type === 'boolean' ? c.sql : `(${c.sql} IS NOT NULL)`;
  });
  const record = [...elements].map((e) => `${quoteIdent(e)} jsonb`).join(', ');

  return {
    name: view.name ?? view.resource,
    resource: view.resource,
    columns,
    engine,
    select(extraWhere = []) {
      const lateral = record ? ` CROSS JOIN LATERAL json_to_record(r.content) AS x(${record})` : '';
      const conditions = [`r.resource_type = ${sqlString(view.resource)}`, 'NOT r.deleted', ...extraWhere, ...wheres];
      // Two levels: the raw values once per resource, then their conversion to the declared types.
      // OFFSET 0 keeps PostgreSQL from merging the levels, which would compute a value again for
      // every test the conversion makes on it.
      const raw = `SELECT ${columns.map((c) => `${c.sql} AS ${quoteIdent(c.name)}`).join(', ')} FROM resources r${lateral} WHERE ${conditions.join(' AND ')} OFFSET 0`;
      return `SELECT ${columns.map((c) => `${c.typed} AS ${quoteIdent(c.name)}`).join(', ')} FROM (${raw}) v`;
    },
  };
}

/**
 * A column's text as its declared type. A FHIR dateTime without a zone is read in Vietnam time (as the
 * gateway reads dates everywhere); a partial one (a day, a month) is no instant and reads as null.
 */
function convert(sql: string, from: SqlType, to: SqlType, offsetMinutes: number): string {
  if (from === to || to === 'text') return sql;
  if (to === 'timestamptz') {
    const sign = offsetMinutes < 0 ? '-' : '+';
    const abs = Math.abs(offsetMinutes);
    const zone = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
    // Tested by position, not by a regular expression: this runs for every episode.
    const v = sql;
    return `(CASE WHEN length(${v}) >= 16 AND substr(${v}, 11, 1) = 'T' THEN (CASE WHEN right(${v}, 1) = 'Z' OR (substr(${v}, length(${v}) - 5, 1) IN ('+', '-') AND substr(${v}, length(${v}) - 2, 1) = ':') THEN ${v} ELSE ${v} || '${zone}' END)::timestamptz END)`;
  }
  if (to === 'date') return `(CASE WHEN ${sql} ~ '^\\d{4}-\\d{2}-\\d{2}$' THEN (${sql})::date END)`;
  if (to === 'numeric') return `(CASE WHEN ${sql} ~ '^-?\\d+(\\.\\d+)?$' THEN (${sql})::numeric END)`;
  if (to === 'boolean') return `(${sql})::boolean`;
  return sql;
}

export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
