import { toTimestamp } from '../../fhir/dates.js';
import { dateCondition } from './date-compare.js';
import { keys } from './index-keys.js';
import type { Filter, SearchRequest } from './query.js';

/** Collects positional parameters while SQL text is built. */
export class SqlParams {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** WHERE clause over `resources r` for a search; every value goes through a parameter. */
export function whereClause(req: SearchRequest, p: SqlParams): string {
  const conditions = [`r.resource_type = ${p.add(req.resourceType)}`, 'NOT r.deleted'];
  for (const f of req.filters) conditions.push(filterCondition(f, p));
  return conditions.join(' AND ');
}

function filterCondition(f: Filter, p: SqlParams): string {
  switch (f.kind) {
    case 'id':
      return `${f.not ? 'NOT ' : ''}r.id = ANY(${p.add(f.ids)}::text[])`;
    case 'lastUpdated':
      return or(f.values.map((v) => dateCondition(v.prefix, 'r.last_updated', 'r.last_updated', () => ts(p, v.range[0]), () => ts(p, v.range[1]))));
    case 'keys': {
      const keysParam = p.add(f.keys);
      if (f.alsoCoverageOf) {
        // The ids of both sets, then the Patients by primary key: an OR with a correlated EXISTS
        // would read every Patient (20 ms at 10,000 patients, growing with the table).
        const prefix = p.add(keys.reference('beneficiary', 'Patient/'));
        return `r.id IN (SELECT x.id FROM resources x WHERE x.resource_type = 'Patient' AND NOT x.deleted AND x.tokens && ${keysParam}::text[]
          UNION SELECT substr(t, length(${prefix}) + 1) FROM resources c, unnest(c.tokens) t
            WHERE c.resource_type = 'Coverage' AND NOT c.deleted AND c.tokens && ${keysParam}::text[] AND starts_with(t, ${prefix}))`;
      }
      return `${f.not ? 'NOT ' : ''}r.tokens && ${keysParam}::text[]`;
    }
    case 'keyPrefix':
      return `${f.not ? 'NOT ' : ''}${anyKeyLike(f.prefixes.map((s) => escapeLike(s) + '%'), p)}`;
    case 'text':
      return anyKeyLike(f.prefixes.map((s) => escapeLike(keys.text(f.param, '')) + (f.contains ? '%' : '') + escapeLike(s) + '%'), p);
    case 'date': {
      const matches = or(f.values.map((v) => dateCondition(v.prefix, 'd.low', 'd.high', () => ts(p, v.range[0]), () => ts(p, v.range[1]))));
      return `EXISTS (SELECT 1 FROM resource_dates d WHERE d.resource_type = r.resource_type AND d.id = r.id AND d.param = ${p.add(f.param)} AND ${matches})`;
    }
    case 'dateMissing': {
      const present = `EXISTS (SELECT 1 FROM resource_dates d WHERE d.resource_type = r.resource_type AND d.id = r.id AND d.param = ${p.add(f.param)})`;
      return f.missing ? `NOT ${present}` : present;
    }
  }
}

export function orderBy(req: SearchRequest, p: SqlParams): string {
  const rules = req.sort.map((s) => {
    const dir = s.descending ? 'DESC' : 'ASC';
    if (s.param === '_id') return `r.id ${dir}`;
    if (s.param === '_lastUpdated') return `r.last_updated ${dir}`;
    const agg = s.descending ? 'max(d.high)' : 'min(d.low)';
    return `(SELECT ${agg} FROM resource_dates d WHERE d.resource_type = r.resource_type AND d.id = r.id AND d.param = ${p.add(s.param)}) ${dir} NULLS LAST`;
  });
  // A stable tiebreaker, so that pages neither repeat nor skip rows.
  rules.push('r.last_updated ASC', 'r.id ASC');
  return rules.join(', ');
}

const or = (parts: string[]) => (parts.length === 1 ? parts[0] : `(${parts.join(' OR ')})`);
const ts = (p: SqlParams, ms: number) => `${p.add(toTimestamp(ms))}::timestamptz`;
const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** Some key of the resource is LIKE one of the patterns: a scan of its keys, not the GIN index. */
const anyKeyLike = (patterns: string[], p: SqlParams) => `EXISTS (SELECT 1 FROM unnest(r.tokens) t WHERE t LIKE ANY(${p.add(patterns)}::text[]))`;
