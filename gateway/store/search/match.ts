import { dateMatches } from './date-compare.js';
import { keys, type ResourceIndex } from './index-keys.js';
import type { Filter } from './query.js';

/**
 * Whether a resource not yet in the database (earlier in the same transaction) matches a search:
 * the in-memory twin of `whereClause`, over the same index keys.
 */
export function matchesFilters(id: string, lastUpdated: number, index: ResourceIndex, filters: Filter[]): boolean {
  return filters.every((f) => matches(id, lastUpdated, index, f));
}

function matches(id: string, lastUpdated: number, index: ResourceIndex, f: Filter): boolean {
  switch (f.kind) {
    case 'id':
      return f.ids.includes(id) !== f.not;
    case 'lastUpdated':
      return f.values.some((v) => dateMatches(v.prefix, v.range[0], v.range[1], lastUpdated, lastUpdated));
    case 'keys':
      return f.keys.some((k) => index.tokens.includes(k)) !== f.not;
    case 'keyPrefix':
      return index.tokens.some((t) => f.prefixes.some((prefix) => t.startsWith(prefix))) !== f.not;
    case 'text': {
      const head = keys.text(f.param, '');
      return index.tokens.some((t) => t.startsWith(head) && f.prefixes.some((s) => (f.contains ? t.includes(s, head.length) : t.startsWith(s, head.length))));
    }
    case 'date':
      return index.dates.some((d) => d.param === f.param && f.values.some((v) => dateMatches(v.prefix, v.range[0], v.range[1], d.low, d.high)));
    case 'dateMissing':
      return index.dates.some((d) => d.param === f.param) === !f.missing;
  }
}
