import type { Prefix } from './query.js';

/**
 * How a date search value [ql, qh] matches a resource's range [rl, rh], per the FHIR search rules
 * for prefixes. Written twice side by side — for SQL and for memory — so they stay the same.
 */
export function dateMatches(prefix: Prefix, ql: number, qh: number, rl: number, rh: number): boolean {
  switch (prefix) {
    case 'eq': return rl >= ql && rh <= qh;
    case 'ne': return !(rl >= ql && rh <= qh);
    case 'gt': return rh > qh;
    case 'lt': return rl < ql;
    case 'ge': return rh >= ql;
    case 'le': return rl <= qh;
    case 'sa': return rl > qh;
    case 'eb': return rh < ql;
    case 'ap': return rl <= qh && rh >= ql;
  }
}

/**
 * The same condition in SQL, over columns `low`/`high`. The query bounds come as functions that add
 * a parameter and return its placeholder, called only for the bounds the prefix compares: `gt`, `lt`,
 * `ge`, `le`, `sa` and `eb` use one bound, and a parameter the statement never mentions has no type
 * PostgreSQL can infer: the search failed with "could not determine data type of parameter $n".
 */
export function dateCondition(prefix: Prefix, low: string, high: string, ql: () => string, qh: () => string): string {
  switch (prefix) {
    case 'eq': return `(${low} >= ${ql()} AND ${high} <= ${qh()})`;
    case 'ne': return `NOT (${low} >= ${ql()} AND ${high} <= ${qh()})`;
    case 'gt': return `${high} > ${qh()}`;
    case 'lt': return `${low} < ${ql()}`;
    case 'ge': return `${high} >= ${ql()}`;
    case 'le': return `${low} <= ${qh()}`;
    case 'sa': return `${low} > ${qh()}`;
    case 'eb': return `${high} < ${ql()}`;
    case 'ap': return `(${low} <= ${qh()} AND ${high} >= ${ql()})`;
  }
}
