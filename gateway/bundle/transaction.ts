import { randomUUID } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import jsonpatch, { type Operation } from 'fast-json-patch';
import { FhirError, joinPath, textIn, type Issue, type Text } from '../fhir/outcome.js';
import { isBundleLocalUrl, isConditionalReference } from '../fhir/references.js';
import { parseQueryString } from '../fhir/url.js';
import { ID_PATTERN, isAcceptedType } from '../fhir/resource-types.js';
import { identifierForms, PERSON_IDENTIFIER_SYSTEMS, SID } from '../fhir/vn.js';
import { retryingTransaction, withRetries, type Database } from '../store/database.js';
import { MAX_VERSIONS_PER_STATEMENT, Repository, type StoredVersion, type VersionWrite } from '../store/repository.js';
import { indexResource, keys, type ResourceIndex } from '../store/search/index-keys.js';
import { matchesFilters } from '../store/search/match.js';
import { parseSearch, type SearchRequest } from '../store/search/query.js';
import type { ResourceValidator } from '../validation/validator.js';
import { mapReferences, pathExpression } from './references.js';

/** One write, as a client asked for it: a bundle entry, or a single create/update/patch/delete. */
export interface WriteRequest {
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Relative to the base: `Patient`, `Patient/1`, `Patient?identifier=…`. */
  url: string;
  resource?: Resource;
  /** JSON Patch operations, for PATCH. */
  patch?: unknown;
  fullUrl?: string;
  ifMatch?: string;
  ifNoneExist?: string;
  /** Where the request sits in the client's document, for error locations: `Bundle.entry[3]`, or '' for a single write. */
  at: string;
}

export interface WriteOutcome {
  status: number;
  /** The version now current (for a conditional create that matched: the existing resource). */
  resource?: Resource;
  versionId?: number;
  /** What validation warned about (the write went through). */
  warnings?: Issue[];
}

export interface WriteContext {
  /** Bound to the database transaction the writes run in. */
  repo: Repository;
  validator: ResourceValidator;
  baseUrl?: string;
  /** Milliseconds since the epoch; tests may fix it. */
  clock?: () => number;
  /** What else happens, in the same transaction, when resources are written (the submission outbox). */
  hooks?: readonly WriteHook[];
}

/**
 * Work that must be atomic with a write: it runs inside the write's database transaction, after the
 * versions are written, and may write more (an outbox row, a Task). If it throws, nothing is written.
 */
export interface WriteHook {
  /** Whether it may act on this request; such writes always run in an explicit transaction. */
  wants(req: WriteRequest): boolean;
  /**
   * Issues to return with the written resources, by `Type/id` (warnings: the write itself went
   * through). `unit` is shared by the unit's hooks: what one of them derives from the written state
   * (an episode gathered from the store) the next reuses instead of reading it again.
   */
  afterWrite(written: readonly VersionWrite[], repo: Repository, unit: UnitMemo): Promise<Map<string, Issue[]>>;
  /** Optional: every request of the unit with its outcome, once decided, still inside the transaction (the audit trail of the writes). */
  recorded?(requests: readonly WriteRequest[], outcomes: readonly WriteOutcome[], repo: Repository): Promise<void>;
}

/**
 * Values derived once per write unit, after its writes, for all its hooks: what the store held
 * after the unit's own writes. Hooks write Tasks, dossiers and the book's Compositions, which no
 * claim file or book part reads, so an episode gathered by one hook is still right for the next.
 */
export class UnitMemo {
  private readonly values = new Map<string, Promise<unknown>>();

  /** `written`: the unit's own new versions (empty outside a write, e.g. an operation's). */
  constructor(readonly written: readonly VersionWrite[] = []) {}

  get<T>(key: string, make: () => Promise<T>): Promise<T> {
    let value = this.values.get(key) as Promise<T> | undefined;
    if (!value) this.values.set(key, (value = make()));
    return value;
  }
}

/**
 * Runs writes against the database. Plain creates — no condition, no conditional reference — need
 * no read before the one statement that stores them, which is atomic on its own: they skip the
 * explicit transaction and its round trips (the hot path of a hospital posting episodes). Anything
 * else runs in one transaction. Either way a retryable conflict runs the whole thing again.
 */
export function runWrites(db: Database, requests: WriteRequest[], ctx: Omit<WriteContext, 'repo'>): Promise<WriteOutcome[]> {
  const hooked = ctx.hooks?.some((h) => requests.some((r) => h.wants(r))) ?? false;
  if (!hooked && requests.length <= MAX_VERSIONS_PER_STATEMENT && requests.every(isPlainCreate)) return withRetries(() => processWrites(requests, { ...ctx, repo: new Repository(db) }));
  return retryingTransaction(db, (tx) => processWrites(requests, { ...ctx, repo: new Repository(tx) }));
}

function isPlainCreate(req: WriteRequest): boolean {
  if (req.method !== 'POST' || req.ifNoneExist) return false;
  if (personIdentifiers(req.resource).length > 0) return false; // needs the conflict check, under a lock
  let conditional = false;
  mapReferences(req.resource, (value, key) => {
    if (key === 'reference' && isConditionalReference(value)) conditional = true;
    return undefined;
  });
  return !conditional;
}

/** The work decided for one request before anything is written. */
interface Planned {
  req: WriteRequest;
  type: string;
  id?: string;
  condition?: SearchRequest;
  /** Body after reference rewriting (POST, PUT) or patch operations (PATCH). */
  body?: Resource;
  patch?: Operation[];
  /** Decided without writing (a conditional create that matched, a delete of nothing). */
  outcome?: WriteOutcome;
  index?: ResourceIndex;
}

/**
 * Processes writes as one unit, in the order the FHIR transaction rules give (deletes, creates,
 * updates and patches), inside the caller's database transaction: ids are assigned first,
 * conditional creates, updates and references resolved, `urn:uuid` references rewritten
 * everywhere, current versions locked, every resulting resource validated, and then all versions
 * written at once. Any failure throws a FhirError naming the request, and nothing is written.
 * Outcomes come back in request order.
 */
export async function processWrites(requests: WriteRequest[], ctx: WriteContext): Promise<WriteOutcome[]> {
  const planned = requests.map((req) => plan(req, ctx));
  const order = processingOrder(planned);

  await resolveConditions(order, ctx);
  const references = await referenceMap(order, ctx);
  rewriteBodies(order, references);
  checkDistinctTargets(order);
  const writes = await decideVersions(order, ctx);
  const warnings = validate(writes, ctx.validator);
  await checkPersonIdentifiers(writes, ctx);
  await ctx.repo.write(writes.map((w) => w.write));
  const hookIssues = new Map<string, Issue[]>();
  const unit = new UnitMemo(writes.map((w) => w.write));
  for (const hook of ctx.hooks ?? []) {
    if (!requests.some((r) => hook.wants(r))) continue;
    for (const [key, issues] of await hook.afterWrite(unit.written, ctx.repo, unit)) hookIssues.set(key, [...(hookIssues.get(key) ?? []), ...issues]);
  }

  const written = new Map<string, VersionWrite>();
  for (const w of writes) {
    const fromHooks = hookIssues.get(`${w.planned.type}/${w.planned.id}`) ?? [];
    const warned = [...(warnings.get(w) ?? []), ...fromHooks].length > 0 ? [...(warnings.get(w) ?? []), ...fromHooks] : undefined;
    w.planned.outcome = { status: w.status, resource: w.write.resource, versionId: w.write.versionId, ...(warned ? { warnings: warned } : {}) };
    written.set(`${w.planned.type}/${w.planned.id}`, w.write);
  }
  // A conditional create that matched a resource created earlier in this transaction answers with it.
  for (const p of planned) {
    const w = p.outcome && !p.outcome.resource ? written.get(`${p.type}/${p.id}`) : undefined;
    if (w) p.outcome = { status: p.outcome!.status, resource: w.resource, versionId: w.versionId };
  }
  const outcomes = planned.map((p) => p.outcome!);
  for (const hook of ctx.hooks ?? []) {
    if (hook.recorded && requests.some((r) => hook.wants(r))) await hook.recorded(requests, outcomes, ctx.repo);
  }
  return outcomes;
}

const METHOD_ORDER = { DELETE: 0, POST: 1, PUT: 2, PATCH: 2 } as const;

function processingOrder(planned: Planned[]): Planned[] {
  return [...planned].sort((a, b) => METHOD_ORDER[a.req.method] - METHOD_ORDER[b.req.method]);
}

/** Where a request's resource sits, for expressions: `Bundle.entry[3].resource`, or the type itself. */
function resourcePath(req: WriteRequest, type: string): string {
  return req.at ? `${req.at}.resource` : type;
}

function fail(req: WriteRequest, status: number, code: Issue['code'], message: Text, expression?: string): FhirError {
  return new FhirError(status, [{ severity: 'error', code, message, expression: [expression ?? (req.at || 'url')] }]);
}

const badId = (id: string) => ({ vi: `"${id}" không phải mã tài nguyên hợp lệ`, en: `"${id}" is not a valid resource id` });

/** Where a patch problem sits: the operation in the body, or the entry's Binary in a bundle. */
const patchPath = (req: WriteRequest, index?: number) => (req.at ? `${req.at}.resource` : index === undefined ? 'body' : `body[${index}]`);

function plan(req: WriteRequest, ctx: WriteContext): Planned {
  const [path, query] = splitUrl(req.url, ctx.baseUrl);
  const segments = path.split('/').filter(Boolean);
  const type = segments[0] ?? '';
  const urlAt = req.at ? `${req.at}.request.url` : 'url';
  if (!isAcceptedType(type)) throw fail(req, 404, 'not-supported', { vi: `Không hỗ trợ loại tài nguyên "${type}"`, en: `Resource type "${type}" is not supported` }, urlAt);
  const p: Planned = { req, type };

  if (req.method === 'POST') {
    if (segments.length !== 1 || query) {
      throw fail(req, 400, 'invalid', { vi: `Tạo mới được POST tới loại ("${type}"), không phải "${req.url}"`, en: `A create is posted to the type ("${type}"), not to "${req.url}"` }, urlAt);
    }
    p.id = randomUUID();
    if (req.ifNoneExist) p.condition = condition(req, type, req.ifNoneExist.replace(/^[^?]*\?/, ''), req.at ? `${req.at}.request.ifNoneExist` : 'If-None-Exist');
  } else if (segments.length === 2 && !query) {
    if (!ID_PATTERN.test(segments[1])) throw fail(req, 400, 'value', badId(segments[1]), urlAt);
    p.id = segments[1];
  } else if (segments.length === 1 && query) {
    p.condition = condition(req, type, query, urlAt);
  } else {
    throw fail(req, 400, 'invalid', { vi: `${req.method} cần "${type}/[id]" hoặc "${type}?[tìm kiếm]", không phải "${req.url}"`, en: `${req.method} needs "${type}/[id]" or "${type}?[search]", not "${req.url}"` }, urlAt);
  }

  if (req.method === 'POST' || req.method === 'PUT') {
    const resource = req.resource;
    const at = resourcePath(req, type);
    if (!resource || typeof resource !== 'object' || Array.isArray(resource)) {
      throw fail(req, 400, 'required', { vi: `${req.method} cần một tài nguyên ${type}`, en: `${req.method} needs a ${type} resource` }, at);
    }
    if (resource.resourceType !== type) {
      throw fail(req, 400, 'invalid', { vi: `Tài nguyên là ${String(resource.resourceType)} nhưng URL là ${type}`, en: `The resource is a ${String(resource.resourceType)} but the URL says ${type}` }, `${at}.resourceType`);
    }
    if (req.method === 'PUT' && p.id !== undefined && resource.id !== p.id) {
      throw fail(req, 400, 'invalid', resource.id === undefined
        ? { vi: `${type} phải mang id "${p.id}" như trong URL`, en: `The ${type} must carry id "${p.id}", as in the URL` }
        : { vi: `id "${resource.id}" của tài nguyên không khớp id "${p.id}" trong URL`, en: `The resource id "${resource.id}" does not match the id "${p.id}" in the URL` }, `${at}.id`);
    }
    p.body = resource;
  } else if (req.method === 'PATCH') {
    if (!Array.isArray(req.patch)) {
      throw fail(req, 400, 'invalid', { vi: 'PATCH cần một tài liệu JSON Patch (mảng các thao tác)', en: 'PATCH needs a JSON Patch document (an array of operations)' }, req.at ? `${req.at}.resource` : 'body');
    }
    const error = jsonpatch.validate(req.patch as Operation[]);
    if (error) {
      const detail = error.message.split('\n')[0];
      throw fail(req, 400, 'invalid', { vi: `JSON Patch không hợp lệ: ${detail}`, en: `Invalid JSON Patch: ${detail}` }, patchPath(req, error.index));
    }
    p.patch = req.patch as Operation[];
  }
  return p;
}

function splitUrl(url: string, baseUrl?: string): [string, string] {
  let u = url.trim();
  if (baseUrl && u.startsWith(baseUrl)) u = u.slice(baseUrl.length);
  u = u.replace(/^\/+/, '');
  const q = u.indexOf('?');
  return q < 0 ? [u, ''] : [u.slice(0, q), u.slice(q + 1)];
}

/** Conditions must be exact: an ignored parameter would widen the match onto the wrong resource. */
function condition(req: WriteRequest, type: string, query: string, at: string): SearchRequest {
  let search: SearchRequest;
  try {
    search = parseSearch(type, parseQueryString(query, at), { strict: true });
  } catch (e) {
    throw e instanceof FhirError ? new FhirError(e.status, e.issues.map((i) => ({ ...i, expression: [at] }))) : e;
  }
  if (search.filters.length === 0) throw fail(req, 400, 'invalid', { vi: `Điều kiện "${query}" không có tiêu chí tìm kiếm`, en: `The condition "${query}" has no search criteria` }, at);
  return search;
}

const conditionKey = (type: string, search: SearchRequest) =>
  `${type}?${[...search.applied].map(([k, v]) => `${k}=${v}`).sort().join('&')}`;

/**
 * Decides the target of every conditional request. Creates and updates that test the same
 * condition and find nothing are serialised by an advisory lock, so that two concurrent
 * transactions cannot both miss and both create. A condition that already matches a stored
 * resource takes no lock: the facility and its practitioners, found by identifier in every bundle
 * a hospital sends, would otherwise serialise all of its transactions.
 */
async function resolveConditions(order: Planned[], ctx: WriteContext): Promise<void> {
  const creating = order.filter((p) => p.condition && (p.req.method === 'POST' || p.req.method === 'PUT'));
  const found = new Map<Planned, Resource[]>();
  const misses: Planned[] = [];
  const firstLook = await ctx.repo.searchEach(creating.map((p) => ({ ...p.condition!, sort: [], offset: 0 })), 2);
  creating.forEach((p, i) => {
    if (firstLook[i].length > 0) found.set(p, firstLook[i]);
    else misses.push(p);
  });
  // Whoever locks after a miss searches again below, and sees what a concurrent winner committed.
  await ctx.repo.lockConditions(misses.map((p) => conditionKey(p.type, p.condition!)));

  for (const p of order) {
    if (!p.condition) continue;
    const at = p.req.at ? `${p.req.at}.request` : 'url';
    const matches = await findMatches(p.type, p.condition, order, p, ctx, found.get(p));
    if (matches.length > 1) {
      throw fail(p.req, 412, 'multiple-matches', { vi: `Điều kiện khớp nhiều hơn một ${p.type}; hãy thu hẹp điều kiện`, en: `The condition matches more than one ${p.type}; make it more selective` }, at);
    }
    const match = matches[0];
    switch (p.req.method) {
      case 'POST':
        if (match) {
          p.id = match.id;
          p.outcome = { status: 200, resource: match.resource, versionId: match.versionId };
        }
        break;
      case 'PUT':
        if (match) {
          if (p.body?.id !== undefined && p.body.id !== match.id) {
            throw fail(p.req, 400, 'invalid', {
              vi: `Điều kiện khớp ${p.type}/${match.id} nhưng tài nguyên ghi id "${p.body.id}"`,
              en: `The condition matches ${p.type}/${match.id} but the resource says id "${p.body.id}"`,
            }, `${resourcePath(p.req, p.type)}.id`);
          }
          p.id = match.id;
        } else {
          p.id = p.body?.id ?? randomUUID();
          if (!ID_PATTERN.test(p.id)) throw fail(p.req, 400, 'value', badId(p.id), `${resourcePath(p.req, p.type)}.id`);
        }
        break;
      case 'PATCH':
        if (!match) throw fail(p.req, 404, 'not-found', { vi: `Không có ${p.type} nào khớp điều kiện`, en: `No ${p.type} matches the condition` }, at);
        p.id = match.id;
        break;
      case 'DELETE':
        if (!match) p.outcome = { status: 204 };
        else p.id = match.id;
        break;
    }
  }
}

interface Match {
  id: string;
  resource?: Resource;
  versionId?: number;
}

/** At most two stored resources matching a condition (two are enough to say "more than one"). */
const searchStored = (search: SearchRequest, ctx: WriteContext) => ctx.repo.search({ ...search, sort: [], offset: 0 }, 2);

/**
 * Stored resources matching a search (`stored`, when already looked up), plus those this
 * transaction creates before `self`.
 */
async function findMatches(type: string, search: SearchRequest, order: Planned[], self: Planned | undefined, ctx: WriteContext, stored?: Resource[]): Promise<Match[]> {
  stored ??= await searchStored(search, ctx);
  const matches: Match[] = stored.map((r) => ({ id: r.id!, resource: r, versionId: Number(r.meta?.versionId) }));
  const now = (ctx.clock ?? Date.now)();
  for (const other of order) {
    if (other === self) break;
    if (other.type !== type || !other.body || other.outcome || !other.id) continue;
    if (other.req.method !== 'POST' && other.req.method !== 'PUT') continue;
    other.index ??= indexResource(other.body);
    if (matchesFilters(other.id, now, other.index, search.filters) && !matches.some((m) => m.id === other.id)) {
      matches.push({ id: other.id });
    }
  }
  return matches;
}

/** fullUrl → `Type/id` for every entry, and each distinct conditional reference → the one resource it matches. */
async function referenceMap(order: Planned[], ctx: WriteContext): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  const fullUrlAt = new Map<string, Planned>();
  for (const p of order) {
    const fullUrl = p.req.fullUrl;
    if (!fullUrl) continue;
    if (fullUrlAt.has(fullUrl)) {
      throw fail(p.req, 400, 'duplicate', { vi: `fullUrl "${fullUrl}" cũng được ${fullUrlAt.get(fullUrl)!.req.at} dùng`, en: `fullUrl "${fullUrl}" is used by ${fullUrlAt.get(fullUrl)!.req.at} too` }, `${p.req.at}.fullUrl`);
    }
    fullUrlAt.set(fullUrl, p);
    if (p.id) map.set(fullUrl, `${p.type}/${p.id}`);
  }

  for (const p of order) {
    const document = p.body ?? p.patch;
    if (!document || ownsItsLinks(p)) continue;
    const pending: { value: string; expression: string }[] = [];
    mapReferences(document, (value, key, path) => {
      if (key === 'reference' && isConditionalReference(value) && !map.has(value)) {
        pending.push({ value, expression: pathExpression(resourcePath(p.req, p.type), path) });
      }
      return undefined;
    });
    for (const { value, expression } of pending) {
      if (map.has(value)) continue;
      const [type, query] = [value.slice(0, value.indexOf('?')), value.slice(value.indexOf('?') + 1)];
      if (!isAcceptedType(type)) throw fail(p.req, 400, 'invalid', { vi: `Tham chiếu có điều kiện "${value}": loại tài nguyên không xác định`, en: `Conditional reference "${value}": unknown resource type` }, expression);
      let search: SearchRequest;
      try {
        search = parseSearch(type, parseQueryString(query, expression), { strict: true });
      } catch (e) {
        throw e instanceof FhirError
          ? new FhirError(e.status, e.issues.map((i) => ({
              ...i,
              message: { vi: `Tham chiếu có điều kiện "${value}": ${textIn(i.message, 'vi')}`, en: `Conditional reference "${value}": ${textIn(i.message, 'en')}` },
              expression: [expression],
            })))
          : e;
      }
      const matches = await findMatches(type, search, order, undefined, ctx);
      if (matches.length === 0) {
        throw fail(p.req, 400, 'not-found', { vi: `Tham chiếu có điều kiện "${value}" không khớp ${type} nào`, en: `Conditional reference "${value}" matches no ${type}` }, expression);
      }
      if (matches.length > 1) {
        throw fail(p.req, 412, 'multiple-matches', { vi: `Tham chiếu có điều kiện "${value}" khớp nhiều hơn một ${type}`, en: `Conditional reference "${value}" matches more than one ${type}` }, expression);
      }
      map.set(value, `${type}/${matches[0].id}`);
    }
  }
  return map;
}

/** A stored Bundle (a document, a collection) resolves its `urn:uuid` links among its own entries. */
const ownsItsLinks = (p: Planned) => p.type === 'Bundle';

/** Rewrites links to bundle entries and conditional references; a `urn:` reference to no entry is an error. */
function rewriteBodies(order: Planned[], map: Map<string, string>): void {
  const issues: Issue[] = [];
  for (const p of order) {
    if (p.outcome || ownsItsLinks(p)) continue;
    const visit = (value: string, key: 'reference' | 'url', path: (string | number)[]) => {
      const mapped = map.get(value);
      if (mapped) return mapped;
      if (key === 'reference' && isBundleLocalUrl(value)) {
        issues.push({
          severity: 'error', code: 'not-found',
          message: {
            vi: `Tham chiếu "${value}" không khớp fullUrl nào trong ${p.req.at ? 'bundle' : 'yêu cầu'} này`,
            en: `Reference "${value}" matches no fullUrl in this ${p.req.at ? 'bundle' : 'request'}`,
          },
          expression: [pathExpression(resourcePath(p.req, p.type), path)],
        });
      }
      return undefined;
    };
    if (p.body) {
      const before = p.body;
      p.body = mapReferences(p.body, visit);
      if (p.body !== before) p.index = undefined;
    }
    if (p.patch) p.patch = rewritePatch(p.patch, map, visit);
  }
  if (issues.length > 0) throw new FhirError(400, issues);
}

/** In a patch, a reference can also be a bare string value (`{"path": "/subject/reference", "value": "urn:uuid:…"}`). */
function rewritePatch(ops: Operation[], map: Map<string, string>, visit: Parameters<typeof mapReferences>[1]): Operation[] {
  return mapReferences(ops, visit).map((op) => {
    if ('value' in op && typeof op.value === 'string' && op.path.endsWith('/reference') && map.has(op.value)) {
      return { ...op, value: map.get(op.value) } as Operation;
    }
    return op;
  });
}

function checkDistinctTargets(order: Planned[]): void {
  const seen = new Map<string, Planned>();
  for (const p of order) {
    if (p.outcome || !p.id) continue;
    const key = `${p.type}/${p.id}`;
    const other = seen.get(key);
    if (other) {
      throw fail(p.req, 400, 'duplicate', {
        vi: `${key} cũng là đích của ${other.req.at || 'một yêu cầu khác'}; mỗi transaction chỉ được tác động một tài nguyên một lần`,
        en: `${key} is the target of ${other.req.at || 'another request'} too; a transaction may touch each resource once`,
      }, p.req.at || undefined);
    }
    seen.set(key, p);
  }
}

interface DecidedWrite {
  planned: Planned;
  status: number;
  write: VersionWrite;
}

const versionOf = (ifMatch: string) => /^(?:W\/)?"?([^"]*)"?$/.exec(ifMatch.trim())?.[1] ?? ifMatch;

/**
 * Locks the current versions of updated and deleted resources and decides each new version. The
 * instant every new version carries is read only now, once the locks are held, and never earlier
 * than a version it replaces: a writer that queued behind another cannot stamp its version first.
 */
async function decideVersions(order: Planned[], ctx: WriteContext): Promise<DecidedWrite[]> {
  const targets = order.filter((p) => !p.outcome && p.req.method !== 'POST').map((p) => ({ type: p.type, id: p.id! }));
  const current = await ctx.repo.current(targets, true);
  let instant = (ctx.clock ?? Date.now)();
  for (const cur of current.values()) instant = Math.max(instant, Date.parse(cur.resource.meta?.lastUpdated ?? '') || 0);
  const now = new Date(instant).toISOString();
  const writes: DecidedWrite[] = [];

  for (const p of order) {
    if (p.outcome) continue;
    const id = p.id!;
    const cur = current.get(`${p.type}/${id}`);
    const at = p.req.at ? `${p.req.at}.request.ifMatch` : 'If-Match';
    if (p.req.ifMatch !== undefined) {
      const wanted = versionOf(p.req.ifMatch);
      // `If-Match: *` (RFC 9110) asks only that a current version exists.
      if (!cur || cur.deleted || (wanted !== '*' && String(cur.versionId) !== wanted)) {
        const state = !cur
          ? { vi: 'tài nguyên không tồn tại', en: 'it does not exist' }
          : cur.deleted
            ? { vi: 'tài nguyên đã bị xoá', en: 'it is deleted' }
            : { vi: `phiên bản hiện tại là ${cur.versionId}`, en: `the current version is ${cur.versionId}` };
        throw fail(p.req, 412, 'conflict', {
          vi: `${p.type}/${id}: If-Match yêu cầu phiên bản ${wanted} nhưng ${state.vi}`,
          en: `${p.type}/${id}: If-Match asks for version ${wanted} but ${state.en}`,
        }, at);
      }
    }
    const nextVersion = (cur?.versionId ?? 0) + 1;
    const live = cur && !cur.deleted ? cur : undefined;

    switch (p.req.method) {
      case 'POST':
        writes.push(decided(p, 201, withMeta(p.body!, id, 1, now), p.index, true));
        break;
      case 'PUT': {
        if (live && sameContent(live.resource, p.body!)) {
          // A resend of what is stored already: no new version.
          p.outcome = { status: 200, resource: live.resource, versionId: live.versionId };
          break;
        }
        writes.push(decided(p, live ? 200 : 201, withMeta(p.body!, id, nextVersion, now), p.index));
        break;
      }
      case 'PATCH': {
        if (!cur) throw fail(p.req, 404, 'not-found', { vi: `${p.type}/${id} không tồn tại`, en: `${p.type}/${id} does not exist` });
        if (cur.deleted) throw fail(p.req, 410, 'deleted', { vi: `${p.type}/${id} đã bị xoá`, en: `${p.type}/${id} has been deleted` });
        const patched = applyJsonPatch(p, cur);
        writes.push(decided(p, 200, withMeta(patched, id, nextVersion, now)));
        break;
      }
      case 'DELETE':
        if (!live) {
          p.outcome = { status: 204 };
          break;
        }
        writes.push({
          planned: p, status: 204,
          write: { resource: withMeta({ resourceType: p.type } as Resource, id, nextVersion, now), versionId: nextVersion, lastUpdated: now, deleted: true },
        });
        break;
    }
  }
  return writes;
}

function decided(p: Planned, status: number, resource: Resource & { id: string }, index?: ResourceIndex, freshId = false): DecidedWrite {
  const versionId = Number(resource.meta!.versionId);
  return { planned: p, status, write: { resource, versionId, lastUpdated: resource.meta!.lastUpdated!, deleted: false, index, ...(freshId ? { freshId } : {}) } };
}

/** The resource as stored: server-assigned id, versionId and lastUpdated, other meta kept. */
function withMeta(resource: Resource, id: string, versionId: number, lastUpdated: string): Resource & { id: string } {
  const { resourceType, id: _ignored, meta, ...rest } = resource;
  // A meta that is not an object is left as sent, for validation to refuse it where it is.
  if (meta !== undefined && (typeof meta !== 'object' || meta === null || Array.isArray(meta))) return { ...resource, id } as Resource & { id: string };
  return { resourceType, id, meta: { ...meta, versionId: String(versionId), lastUpdated }, ...rest } as Resource & { id: string };
}

function applyJsonPatch(p: Planned, cur: StoredVersion): Resource {
  let patched: Resource;
  try {
    patched = jsonpatch.applyPatch(cur.resource, p.patch!, true, false).newDocument;
  } catch (e) {
    const message = e instanceof Error ? e.message.split('\n')[0] : String(e);
    const status = (e as { name?: string }).name === 'TEST_OPERATION_FAILED' ? 412 : 422;
    const index = (e as { index?: number }).index;
    throw fail(p.req, status, 'processing', { vi: `Không áp dụng được bản vá cho ${p.type}/${p.id}: ${message}`, en: `The patch cannot be applied to ${p.type}/${p.id}: ${message}` }, patchPath(p.req, index));
  }
  if (patched?.resourceType !== p.type || patched.id !== p.id) {
    throw fail(p.req, 422, 'processing', { vi: 'Bản vá không được đổi resourceType hoặc id', en: 'A patch may not change the resourceType or id' }, patchPath(p.req));
  }
  return patched;
}

/** The identifiers of a Patient that name one person (CCCD, passport, BHYT card), with their index. */
function personIdentifiers(resource: Resource | undefined): { index: number; system: string; value: string }[] {
  if (resource?.resourceType !== 'Patient') return [];
  return (resource.identifier ?? []).flatMap((id, index) =>
    id.system && id.value && PERSON_IDENTIFIER_SYSTEMS.includes(id.system) ? [{ index, system: id.system, value: id.value }] : [],
  );
}

const IDENTIFIER_NAMES: Record<string, { vi: string; en: string }> = {
  [SID.cccd]: { vi: 'Số CCCD/định danh cá nhân', en: 'CCCD / personal ID number' },
  [SID.passport]: { vi: 'Số hộ chiếu', en: 'Passport number' },
  [SID.bhyt]: { vi: 'Thẻ BHYT (mã số BHXH)', en: 'BHYT card (BHXH number)' },
};

/**
 * Two patients are never merged silently, and never split silently either: a Patient whose CCCD,
 * passport or BHYT card (by its BHXH number) already belongs to another Patient is refused with 409,
 * naming both. Creates that test the same identifiers serialise on advisory locks.
 */
async function checkPersonIdentifiers(writes: DecidedWrite[], ctx: WriteContext): Promise<void> {
  const claims: { key: string; write: DecidedWrite; index: number; system: string; value: string }[] = [];
  for (const w of writes) {
    if (w.write.deleted) continue;
    for (const id of personIdentifiers(w.write.resource)) {
      for (const form of identifierForms(id.system, id.value)) claims.push({ key: keys.systemCode('identifier', id.system, form.value), write: w, ...id });
    }
  }
  if (claims.length === 0) return;
  const conflict = (claim: (typeof claims)[number], owner: string): FhirError => {
    const name = IDENTIFIER_NAMES[claim.system];
    const at = `${resourcePath(claim.write.planned.req, 'Patient')}.identifier[${claim.index}]`;
    return new FhirError(409, [{
      severity: 'error', code: 'duplicate', expression: [at],
      message: {
        vi: `${name.vi} ${claim.value} đã thuộc về ${owner}: một người không có hai hồ sơ. Hãy dùng tạo có điều kiện (If-None-Exist) hoặc cập nhật ${owner}`,
        en: `${name.en} ${claim.value} already belongs to ${owner}: one person, one record. Use a conditional create (If-None-Exist) or update ${owner}`,
      },
    }]);
  };
  const byKey = new Map<string, (typeof claims)[number]>();
  for (const c of claims) {
    const other = byKey.get(c.key);
    if (other && other.write !== c.write) throw conflict(c, other.write.planned.req.at || `Patient/${other.write.write.resource.id}`);
    byKey.set(c.key, c);
  }
  await ctx.repo.lockConditions([...byKey.keys()]);
  const writing = new Set(writes.map((w) => w.write.resource.id));
  for (const holder of await ctx.repo.withAnyKey('Patient', [...byKey.keys()], 20)) {
    if (writing.has(holder.id!)) continue;
    for (const id of personIdentifiers(holder)) {
      for (const form of identifierForms(id.system, id.value)) {
        const claim = byKey.get(keys.systemCode('identifier', id.system, form.value));
        if (claim) throw conflict(claim, `Patient/${holder.id}`);
      }
    }
  }
}

/**
 * Validates every version about to be written. Any error fails the whole unit with every issue
 * found (warnings included, so that a client fixes everything in one round); warnings alone are
 * returned per write.
 */
function validate(writes: DecidedWrite[], validator: ResourceValidator): Map<DecidedWrite, Issue[]> {
  const all: Issue[] = [];
  const warnings = new Map<DecidedWrite, Issue[]>();
  for (const w of writes) {
    if (w.write.deleted) continue;
    const prefix = resourcePath(w.planned.req, w.planned.type);
    const issues = validator.validate(w.write.resource).map((i) => ({ ...i, expression: (i.expression ?? [w.planned.type]).map((e) => joinPath(prefix, e)) }));
    all.push(...issues);
    if (issues.length > 0) warnings.set(w, issues);
  }
  if (all.some((i) => i.severity === 'error' || i.severity === 'fatal')) throw new FhirError(422, all);
  return warnings;
}

/** Equal as FHIR content, ignoring key order and the server-owned meta.versionId and meta.lastUpdated. */
function sameContent(stored: Resource, incoming: Resource): boolean {
  const strip = (r: Resource) => {
    const meta = { ...r.meta };
    delete meta.versionId;
    delete meta.lastUpdated;
    const { meta: _m, ...rest } = r;
    return Object.keys(meta).length ? { ...rest, meta } : rest;
  };
  return deepEqual(strip(stored), strip(incoming));
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
