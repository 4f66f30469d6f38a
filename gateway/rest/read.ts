import type { Bundle, BundleEntry, BundleLink, Resource } from '@medplum/fhirtypes';
import { dateRange } from '../fhir/dates.js';
import { badRequest, gone, notFound, operationOutcome } from '../fhir/outcome.js';
import { parseReference } from '../fhir/references.js';
import { ID_PATTERN } from '../fhir/resource-types.js';
import type { Repository, ResourceKey } from '../store/repository.js';
import { keys, referencesOf } from '../store/search/index-keys.js';
import { DEFAULT_COUNT, MAX_COUNT, parseSearch, type SearchRequest } from '../store/search/query.js';
import { queryValues, versionHeaders, type FhirRequest, type FhirResponse } from './request.js';
import { subset, type SummaryMode } from './summary.js';

/** At most this many resources are added by `_include` / `_revinclude` to one page. */
export const MAX_INCLUDED = 1000;

function summaryOf(req: FhirRequest): { summary?: SummaryMode; elements?: string[] } {
  const summary = queryValues(req.query, '_summary')[0];
  if (summary !== undefined && !['true', 'false', 'text', 'data', 'count'].includes(summary)) {
    throw badRequest({ vi: `_summary nhận true, false, text, data hoặc count, không phải "${summary}"`, en: `_summary must be true, false, text, data or count, not "${summary}"` }, '_summary');
  }
  const elements = queryValues(req.query, '_elements')[0]?.split(',').map((e) => e.trim()).filter(Boolean);
  return { summary: summary as SummaryMode | undefined, elements };
}

const unknown = (type: string, id: string) => ({ vi: `Không có ${type}/${id}`, en: `${type}/${id} is not known` });
const noVersion = (type: string, id: string, v: string) => ({ vi: `${type}/${id} không có phiên bản ${v}`, en: `${type}/${id} has no version ${v}` });
const notNonNegative = (name: string) => ({ vi: `${name} phải là số nguyên không âm`, en: `${name} must be a non-negative integer` });

function checkId(id: string): void {
  if (!ID_PATTERN.test(id)) throw badRequest({ vi: `"${id}" không phải mã tài nguyên hợp lệ`, en: `"${id}" is not a valid resource id` }, 'id');
}

export async function read(repo: Repository, type: string, id: string, req: FhirRequest): Promise<FhirResponse> {
  checkId(id);
  const stored = await repo.read(type, id);
  if (!stored) throw notFound(unknown(type, id), 'id');
  if (stored.deleted) throw gone({ vi: `${type}/${id} đã bị xoá`, en: `${type}/${id} was deleted` }, 'id');
  const headers = versionHeaders(stored.resource);
  if (notModified(req, stored.resource)) return { status: 304, ...headers };
  const { summary, elements } = summaryOf(req);
  return { status: 200, body: subset(stored.resource, summary, elements), ...headers };
}

function notModified(req: FhirRequest, resource: Resource): boolean {
  if (req.ifNoneMatch) {
    const tags = req.ifNoneMatch.split(',').map((t) => t.trim().replace(/^W\//, ''));
    return tags.includes(`"${resource.meta?.versionId}"`) || tags.includes('*');
  }
  if (req.ifModifiedSince && resource.meta?.lastUpdated) {
    const since = Date.parse(req.ifModifiedSince);
    // HTTP dates have whole seconds: compare at that precision.
    return !Number.isNaN(since) && Math.floor(Date.parse(resource.meta.lastUpdated) / 1000) * 1000 <= since;
  }
  return false;
}

export async function vread(repo: Repository, type: string, id: string, version: string, req: FhirRequest): Promise<FhirResponse> {
  checkId(id);
  if (!/^\d{1,9}$/.test(version)) throw notFound(noVersion(type, id, version), 'vid');
  const stored = await repo.readVersion(type, id, Number(version));
  if (!stored) throw notFound(noVersion(type, id, version), 'vid');
  if (stored.deleted) throw gone({ vi: `Phiên bản ${version} của ${type}/${id} là một lần xoá`, en: `Version ${version} of ${type}/${id} is a deletion` }, 'vid');
  const { summary, elements } = summaryOf(req);
  return { status: 200, body: subset(stored.resource, summary, elements), ...versionHeaders(stored.resource) };
}

export async function search(repo: Repository, type: string, req: FhirRequest): Promise<FhirResponse> {
  const sreq = parseSearch(type, req.query, { strict: req.prefer.handling === 'strict', baseUrl: req.baseUrl });
  const countOnly = sreq.summary === 'count' || sreq.count === 0;
  const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset' };
  let matches: Resource[] = [];
  let hasMore = false;
  if (!countOnly) {
    const rows = await repo.search(sreq, sreq.count + 1);
    hasMore = rows.length > sreq.count;
    matches = hasMore ? rows.slice(0, sreq.count) : rows;
  }
  if (countOnly || sreq.total === 'accurate' || sreq.total === 'estimate') bundle.total = await repo.count(sreq);
  else if (sreq.offset === 0 && !hasMore && sreq.total !== 'none') bundle.total = matches.length;

  bundle.link = searchLinks(req.baseUrl, sreq, hasMore);
  if (!countOnly) {
    const { included, truncated } = await includes(repo, sreq, matches);
    const entry = (resource: Resource, mode: 'match' | 'include'): BundleEntry => ({
      fullUrl: `${req.baseUrl}/${resource.resourceType}/${resource.id}`,
      resource: subset(resource, sreq.summary, sreq.elements),
      search: { mode },
    });
    bundle.entry = [...matches.map((r) => entry(r, 'match')), ...included.map((r) => entry(r, 'include'))];
    if (truncated) {
      bundle.entry.push({
        resource: operationOutcome([{
          severity: 'warning', code: 'too-costly',
          message: { vi: `Chỉ trả về ${MAX_INCLUDED} tài nguyên kèm theo đầu tiên`, en: `Only the first ${MAX_INCLUDED} included resources are returned` },
        }], req.lang),
        search: { mode: 'outcome' },
      });
    }
  }
  return { status: 200, body: bundle };
}

function searchLinks(baseUrl: string, sreq: SearchRequest, hasMore: boolean): BundleLink[] {
  const params = sreq.applied.filter(([k]) => k !== '_count' && k !== '_offset');
  const url = (offset: number) => {
    const pairs: [string, string][] = [...params, ['_count', String(sreq.count)]];
    if (offset > 0) pairs.push(['_offset', String(offset)]);
    const q = new URLSearchParams(pairs);
    return `${baseUrl}/${sreq.resourceType}?${q}`;
  };
  const links: BundleLink[] = [{ relation: 'self', url: url(sreq.offset) }];
  if (sreq.offset > 0) {
    links.push({ relation: 'first', url: url(0) });
    links.push({ relation: 'previous', url: url(Math.max(0, sreq.offset - sreq.count)) });
  }
  if (hasMore) links.push({ relation: 'next', url: url(sreq.offset + sreq.count) });
  return links;
}

/** `_include` and `_revinclude` (one level, or up to three with `:iterate`), without duplicates. */
async function includes(repo: Repository, sreq: SearchRequest, matches: Resource[]): Promise<{ included: Resource[]; truncated: boolean }> {
  const seen = new Set(matches.map((r) => `${r.resourceType}/${r.id}`));
  const included: Resource[] = [];
  let frontier = matches;
  let truncated = false;
  for (let depth = 0; depth < 3 && frontier.length > 0 && !truncated; depth++) {
    const found: Resource[] = [];
    const add = (resources: Resource[]) => {
      for (const r of resources) {
        const key = `${r.resourceType}/${r.id}`;
        if (seen.has(key)) continue;
        if (included.length + found.length >= MAX_INCLUDED) {
          truncated = true;
          return;
        }
        seen.add(key);
        found.push(r);
      }
    };
    for (const rule of sreq.include) {
      if (depth > 0 && !rule.iterate) continue;
      const targets: ResourceKey[] = [];
      for (const r of frontier) {
        if (r.resourceType !== rule.sourceType) continue;
        for (const ref of referencesOf(rule.param, r)) {
          const parsed = parseReference(ref);
          if (parsed && (!rule.targetType || parsed.type === rule.targetType) && !seen.has(`${parsed.type}/${parsed.id}`)) {
            targets.push({ type: parsed.type, id: parsed.id });
          }
        }
      }
      add(await repo.fetch(targets));
    }
    for (const rule of sreq.revinclude) {
      if (depth > 0 && !rule.iterate) continue;
      const wanted = frontier.map((r) => keys.reference(rule.param.code, `${r.resourceType}/${r.id}`));
      add(await repo.withAnyKey(rule.sourceType, wanted, MAX_INCLUDED + 1));
    }
    included.push(...found);
    frontier = found;
  }
  return { included, truncated };
}

export async function history(repo: Repository, req: FhirRequest, type?: string, id?: string): Promise<FhirResponse> {
  const count = Math.min(Number(queryValues(req.query, '_count')[0] ?? DEFAULT_COUNT), MAX_COUNT);
  const offset = Number(queryValues(req.query, '_offset')[0] ?? 0);
  const since = queryValues(req.query, '_since')[0];
  if (!Number.isInteger(count) || count < 0) throw badRequest(notNonNegative('_count'), '_count');
  if (!Number.isInteger(offset) || offset < 0) throw badRequest(notNonNegative('_offset'), '_offset');
  if (since !== undefined && !dateRange(since)) throw badRequest({ vi: `_since "${since}" không phải thời điểm hợp lệ`, en: `_since "${since}" is not a valid instant` }, '_since');
  if (id !== undefined) {
    checkId(id);
    if (!(await repo.read(type!, id))) throw notFound(unknown(type!, id), 'id');
  }
  const rows = await repo.history({ type, id, since: since && new Date(dateRange(since)![0]).toISOString(), count: count + 1, offset });
  // With _count=0 there is no next page: its link would be this very page again, and a client would loop.
  const hasMore = count > 0 && rows.length > count;
  const path = [type, id, '_history'].filter(Boolean).join('/');
  const link = (o: number) => {
    const pairs: [string, string][] = since ? [['_since', since]] : [];
    pairs.push(['_count', String(count)]);
    if (o) pairs.push(['_offset', String(o)]);
    return `${req.baseUrl}/${path}?${new URLSearchParams(pairs)}`;
  };
  const links: BundleLink[] = [{ relation: 'self', url: link(offset) }];
  if (hasMore) links.push({ relation: 'next', url: link(offset + count) });
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'history',
    link: links,
    entry: rows.slice(0, count).map(({ resource, versionId, deleted }) => {
      const url = `${resource.resourceType}/${resource.id}`;
      return {
        fullUrl: `${req.baseUrl}/${url}`,
        ...(deleted ? {} : { resource }),
        request: { method: deleted ? 'DELETE' : versionId === 1 ? 'POST' : 'PUT', url: versionId === 1 && !deleted ? resource.resourceType : url },
        response: { status: deleted ? '204' : versionId === 1 ? '201' : '200', etag: `W/"${versionId}"`, lastModified: resource.meta?.lastUpdated },
      };
    }),
  };
  return { status: 200, body: bundle };
}
