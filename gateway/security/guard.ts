import type { Resource } from '@medplum/fhirtypes';
import type { WriteHook, WriteOutcome, WriteRequest } from '../bundle/transaction.js';
import { FhirError, textIn } from '../fhir/outcome.js';
import { parseReference } from '../fhir/references.js';
import { mapReferences } from '../bundle/references.js';
import { queryValues, type FhirRequest, type FhirResponse } from '../rest/request.js';
import type { Repository, VersionWrite } from '../store/repository.js';
import type { Issue } from '../fhir/outcome.js';
import { auditBundle, auditEvent, type AuditLog, type PendingAudit } from './audit-log.js';
import { securityContext, type SecurityContext } from './context.js';
import { checkWrites, classify, forbidden, isWrite, type AccessPolicy, type Action } from './policy.js';
import type { Principal } from './principal.js';

/** The router's hook around every interaction (HTTP request, bundle entry, nested call of an operation). */
export interface RouterGuard {
  around(req: FhirRequest, repo: Repository, run: () => Promise<FhirResponse>): Promise<FhirResponse>;
}

export function unauthenticated(reason: string): FhirError {
  return new FhirError(401, [{ severity: 'error', code: 'login', message: { vi: `Cần mã truy cập hợp lệ (${reason})`, en: `A valid access token is required (${reason})` } }], {
    'WWW-Authenticate': `Bearer error="invalid_token", error_description="${reason.replace(/["\\]/g, '')}"`,
  });
}

const INTERACTION_CODE: Record<Action['interaction'], string> = {
  read: 'read', vread: 'vread', search: 'search-type', history: 'history-instance', create: 'create', update: 'update', patch: 'patch', delete: 'delete', operation: 'operation', bundle: 'transaction', capabilities: 'capabilities',
};
const ACTION_CODE: Record<Action['interaction'], 'C' | 'R' | 'U' | 'D' | 'E'> = {
  read: 'R', vread: 'R', search: 'E', history: 'R', create: 'C', update: 'U', patch: 'U', delete: 'D', operation: 'E', bundle: 'E', capabilities: 'R',
};

/** The subject of the book's first Composition in a `$summary` document. */
const BOOK_SUBJECT = /"subject":\{"reference":"Patient\/([A-Za-z0-9\-.]{1,64})"/;

export interface GuardOptions {
  policy: AccessPolicy;
  /** Undefined when audit is off. */
  audit?: AuditLog;
  /** Whether every interaction needs a principal (authentication configured). */
  authRequired: boolean;
}

/**
 * Enforces the policy and writes the audit trail around each interaction the router handles. The
 * outermost interaction of a request keeps a context (AsyncLocalStorage) that its bundle entries,
 * the nested calls of its operations and the write hooks read; it writes the audit events of reads
 * and refusals once, in one insert, before its answer goes back.
 */
export class SecurityGuard implements RouterGuard {
  constructor(private readonly o: GuardOptions) {}

  async around(req: FhirRequest, repo: Repository, run: () => Promise<FhirResponse>): Promise<FhirResponse> {
    const outer = securityContext.getStore();
    const internal = req.principal === undefined && outer !== undefined;
    const principal = req.principal ?? outer?.principal;
    const action = classify(req);
    if (action.interaction === 'capabilities') return run();
    if (this.o.authRequired && !principal) throw unauthenticated('no access token');
    // Append-only whatever the configuration: no route changes or removes an audit record.
    if (action.type === 'AuditEvent' && (action.interaction === 'update' || action.interaction === 'patch' || action.interaction === 'delete')) {
      throw forbidden({ vi: 'Nhật ký kiểm toán chỉ được ghi thêm', en: 'The audit log is append-only' });
    }
    const ctx: SecurityContext = { principal, internal, requestId: req.requestId ?? outer?.requestId, pending: outer?.pending ?? [] };
    const exec = () => this.guarded(req, repo, run, action, ctx);
    if (outer) return securityContext.run(ctx, exec);
    try {
      return await securityContext.run(ctx, exec);
    } finally {
      // Before the answer is sent: an access that cannot be recorded is not answered.
      if (this.o.audit && ctx.pending.length) await this.o.audit.record(ctx.pending.splice(0));
    }
  }

  private async guarded(req: FhirRequest, repo: Repository, run: () => Promise<FhirResponse>, action: Action, ctx: SecurityContext): Promise<FhirResponse> {
    const p = ctx.principal;
    const checked = p && !ctx.internal;
    try {
      if (checked) await this.o.policy.before(p, action, req, repo);
      // A bundle's writes do not come back through the router: their role, type and scope are checked
      // here, before any work (their content is checked by the write hook, once written).
      if (checked && action.interaction === 'bundle') for (const entry of bundleWrites(req)) await this.o.policy.before(p, classify(entry), entry, repo);
      let res: FhirResponse;
      if (this.o.authRequired && action.type === 'AuditEvent' && !isWrite(action)) res = await this.auditQuery(req, action);
      else res = await run();
      if (checked) res = await this.filter(p, action, req, res, repo);
      // Writes are recorded by the write hook, in their own transaction; a bundle by its entries.
      if (this.o.audit && !isWrite(action) && action.interaction !== 'bundle') ctx.pending.push(this.readEvent(ctx, action, req, res));
      return res;
    } catch (e) {
      if (this.o.audit) ctx.pending.push(this.failureEvent(ctx, action, req, e));
      throw e;
    }
  }

  /** What of an answer the client may see (see AccessPolicy.filterBody); the book by identifier checked on its subject. */
  private async filter(p: Principal, a: Action, req: FhirRequest, res: FhirResponse, repo: Repository): Promise<FhirResponse> {
    if (p.role !== 'hospital' && p.role !== 'citizen') return res;
    if (a.interaction === 'operation') {
      if (a.operation === 'summary' && !a.id && res.document) {
        const subject = BOOK_SUBJECT.exec(res.document.text)?.[1];
        if (!subject || !(await this.o.policy.mayReadBook(p, subject, repo))) {
          throw forbidden({ vi: 'Không được phép: sổ sức khỏe của người bệnh khác', en: 'Not allowed: the health book of a patient you may not see' });
        }
      }
      // Answers that list stored resources ($match, $at-risk) are filtered; the others were checked on their target.
      if (res.body?.resourceType === 'Bundle' && a.operation !== 'summary') return { ...res, body: await this.o.policy.filterBody(p, a, res.body, repo) };
      return res;
    }
    if (!res.body || p.role !== 'hospital') return res;
    const body = await this.o.policy.filterBody(p, a, res.body, repo);
    if (body === res.body) return res;
    return body ? { ...res, body } : { status: res.status, location: res.location, etag: res.etag, lastModified: res.lastModified };
  }

  /** The audit log for an auditor, as AuditEvents: by id, or searched by patient, agent (client id) and date. */
  private async auditQuery(req: FhirRequest, a: Action): Promise<FhirResponse> {
    const audit = this.o.audit!;
    if (a.interaction === 'read' || a.interaction === 'vread') {
      const [event] = await audit.search({ id: a.id, count: 1, offset: 0 });
      if (!event) throw new FhirError(404, [{ severity: 'error', code: 'not-found', message: { vi: `Không có AuditEvent/${a.id}`, en: `AuditEvent/${a.id} is not known` } }]);
      return { status: 200, body: event };
    }
    const patient = queryValues(req.query, 'patient')[0] ?? queryValues(req.query, 'entity')[0];
    const dates = queryValues(req.query, 'date');
    const count = Math.min(Number(queryValues(req.query, '_count')[0] ?? 50) || 50, 1000);
    const offset = Number(queryValues(req.query, '_offset')[0] ?? 0) || 0;
    const events = await audit.search({
      patient: patient ? parseReference(patient)?.id ?? patient : undefined,
      client: queryValues(req.query, 'agent')[0],
      since: dates.find((d) => d.startsWith('ge'))?.slice(2),
      until: dates.find((d) => d.startsWith('lt'))?.slice(2),
      count,
      offset,
    });
    return { status: 200, body: auditBundle(events, req.baseUrl) };
  }

  private readEvent(ctx: SecurityContext, a: Action, req: FhirRequest, res: FhirResponse): PendingAudit {
    const resources = bodyResources(res.body);
    const patients = new Set<string>();
    for (const r of resources) patientsOf(r).forEach((id) => patients.add(id));
    if (a.type === 'Patient' && a.id) patients.add(a.id);
    if (a.operation === 'summary' && res.document) {
      const subject = BOOK_SUBJECT.exec(res.document.text)?.[1];
      if (subject) patients.add(subject);
    }
    return auditEvent({
      principal: ctx.principal, internal: ctx.internal, requestId: ctx.requestId,
      interaction: a.interaction === 'history' && !a.id ? (a.type ? 'history-type' : 'history-system') : INTERACTION_CODE[a.interaction],
      action: ACTION_CODE[a.interaction],
      operation: a.operation,
      entities: a.id ? [`${a.type}/${a.id}`] : resources.filter((r) => r.resourceType !== 'OperationOutcome' && r.id).map((r) => `${r.resourceType}/${r.id}`),
      patients: [...patients],
      query: req.query.length ? `${req.path.join('/')}?${new URLSearchParams(req.query)}` : undefined,
      outcome: '0',
    });
  }

  private failureEvent(ctx: SecurityContext, a: Action, req: FhirRequest, e: unknown): PendingAudit {
    const fhir = e instanceof FhirError ? e : undefined;
    const status = fhir?.status ?? 500;
    // The reason without data: the status and the gateway's own message (never the client's body).
    const reason = fhir ? `${status} ${fhir.issues.slice(0, 1).map((i: Issue) => i.code).join('')}${status === 401 || status === 403 ? `: ${textIn(fhir.issues[0].message, 'en')}` : ''}` : '500 unexpected error';
    return auditEvent({
      principal: ctx.principal, internal: ctx.internal, requestId: ctx.requestId,
      interaction: INTERACTION_CODE[a.interaction],
      action: ACTION_CODE[a.interaction],
      operation: a.operation,
      entities: a.type && a.id ? [`${a.type}/${a.id}`] : a.type ? [a.type] : [],
      patients: a.type === 'Patient' && a.id ? [a.id] : [],
      query: req.query.length ? `${req.path.join('/')}?${new URLSearchParams(req.query)}` : undefined,
      outcome: status >= 500 ? '8' : '4',
      outcomeDesc: reason,
    });
  }
}

/**
 * The write side: inside each write's transaction, checks what was written against the policy
 * (a refusal rolls the transaction back) and records one AuditEvent per request, in the same
 * transaction, so an acknowledged write always has its record.
 */
export function securityWriteHook(o: GuardOptions): WriteHook {
  return {
    wants(req: WriteRequest) {
      const ctx = securityContext.getStore();
      return !!o.audit || !!(ctx?.principal && !ctx.internal) || /^\/?AuditEvent\b/.test(req.url);
    },
    async afterWrite(written: readonly VersionWrite[], repo: Repository) {
      const ctx = securityContext.getStore();
      // Append-only whatever the configuration (a transaction entry does not pass the guard).
      const audit = written.find((w) => w.resource.resourceType === 'AuditEvent' && (w.deleted || w.versionId > 1));
      if (audit) throw forbidden({ vi: 'Nhật ký kiểm toán chỉ được ghi thêm', en: 'The audit log is append-only' });
      if (ctx?.principal && !ctx.internal) {
        const previous = await previousVersions(repo, written);
        await checkWrites(o.policy, ctx.principal, written.map((w) => ({ resource: w.resource, versionId: w.versionId, deleted: w.deleted, previous: previous.get(`${w.resource.resourceType}/${w.resource.id}`) })), repo);
      }
      return new Map<string, Issue[]>();
    },
    async recorded(requests: readonly WriteRequest[], outcomes: readonly WriteOutcome[], repo: Repository) {
      if (!o.audit) return;
      const ctx = securityContext.getStore();
      const events = requests.map((req, i) => {
        const out = outcomes[i];
        const r = out?.resource;
        const interaction = req.method === 'POST' ? 'create' : req.method === 'PUT' ? 'update' : req.method === 'PATCH' ? 'patch' : 'delete';
        const matched = req.method === 'POST' && out?.status === 200;
        return auditEvent({
          principal: ctx?.principal, internal: ctx?.internal, requestId: ctx?.requestId,
          interaction,
          action: matched ? 'R' : req.method === 'POST' ? 'C' : req.method === 'DELETE' ? 'D' : 'U',
          entities: [r?.id ? `${r.resourceType}/${r.id}/_history/${out.versionId}` : req.url.split('?')[0]],
          patients: r ? patientsOf(r) : [],
          outcome: '0',
          ...(matched ? { outcomeDesc: 'conditional create matched an existing resource' } : {}),
        });
      });
      await o.audit.append(repo.queryable, events);
    },
  };
}

/** A bundle's write entries as requests (method and path only), for the type-level checks. */
function bundleWrites(req: FhirRequest): FhirRequest[] {
  const entries = (req.body as { entry?: unknown } | undefined)?.entry;
  if (!Array.isArray(entries)) return [];
  return entries.flatMap((e: { request?: { method?: unknown; url?: unknown } }) => {
    const method = e?.request?.method;
    const url = e?.request?.url;
    if (typeof method !== 'string' || typeof url !== 'string' || method === 'GET' || method === 'HEAD') return [];
    if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) return [];
    const relative = url.startsWith(req.baseUrl) ? url.slice(req.baseUrl.length) : url;
    const [path] = relative.replace(/^\/+/, '').split('?');
    return [{ ...req, method: method as FhirRequest['method'], path: path.split('/').filter(Boolean), query: [], body: undefined }];
  });
}

/** The versions written ones replaced, in one query. */
async function previousVersions(repo: Repository, written: readonly VersionWrite[]): Promise<Map<string, Resource>> {
  const replaced = written.filter((w) => w.versionId > 1);
  const out = new Map<string, Resource>();
  if (replaced.length === 0) return out;
  const { rows } = await repo.queryable.query<{ content: Resource; deleted: boolean }>(
    `SELECT h.content, h.deleted FROM unnest($1::text[], $2::text[], $3::int[]) AS k(t, i, v)
       JOIN resource_history h ON h.resource_type = k.t AND h.id = k.i AND h.version_id = k.v`,
    [replaced.map((w) => w.resource.resourceType), replaced.map((w) => w.resource.id), replaced.map((w) => w.versionId - 1)],
  );
  for (const r of rows) if (!r.deleted) out.set(`${r.content.resourceType}/${r.content.id}`, r.content);
  return out;
}

function bodyResources(body: Resource | undefined): Resource[] {
  if (!body) return [];
  if (body.resourceType === 'Bundle') return ((body as { entry?: { resource?: Resource }[] }).entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
  return [body];
}

/** The patients a resource is about: itself, or those it refers to. */
function patientsOf(r: Resource): string[] {
  if (r.resourceType === 'Patient') return r.id ? [r.id] : [];
  const out = new Set<string>();
  mapReferences(r, (value, key) => {
    if (key === 'reference') {
      const ref = parseReference(value);
      if (ref?.type === 'Patient') out.add(ref.id);
    }
    return undefined;
  });
  return [...out];
}
