import type { Bundle, Encounter, Reference, Resource } from '@medplum/fhirtypes';
import { mapReferences } from '../bundle/references.js';
import { FhirError, type Text } from '../fhir/outcome.js';
import { parseReference } from '../fhir/references.js';
import { SID } from '../fhir/vn.js';
import { queryValues, type FhirRequest } from '../rest/request.js';
import type { Queryable } from '../store/database.js';
import type { Repository } from '../store/repository.js';
import { keys } from '../store/search/index-keys.js';
import { scopeAllows, type Permission, type Principal } from './principal.js';

/**
 * Who may do what: the one place the gateway decides it. The router's guard asks it before an
 * interaction runs (role, scope, the target a request names) and after (which of the resources an
 * answer holds the client may see); the write hook asks it about every version a transaction wrote
 * and the one it replaced, inside the transaction, so a refusal rolls everything back.
 *
 * - A hospital client is bound to its facility (MA_CSKCB): it reads and writes the episodes
 *   (Encounters whose serviceProvider is its Organization), what they hold, and the patients who
 *   have an episode there; it reads a patient's health book only while treating them — an open
 *   Encounter at the facility, or one ended within `treatingWindowDays`.
 * - A citizen reads their own health book (`$summary`, `/book/{id}`) and nothing else.
 * - An auditor reads the audit log; an administrator manages facilities (Organizations and their
 *   operations) and, through the command line, clients. Neither reads health data.
 * Anything not named here is refused (a new operation or resource type needs a line here first).
 */

/** What a request asks for, independent of how it arrived (HTTP or bundle entry). */
export interface Action {
  interaction: 'read' | 'vread' | 'search' | 'history' | 'create' | 'update' | 'patch' | 'delete' | 'operation' | 'bundle' | 'capabilities';
  type?: string;
  id?: string;
  operation?: string;
}

export function classify(req: FhirRequest): Action {
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  const [first, second, third, fourth] = req.path;
  if (first === undefined) return { interaction: method === 'POST' ? 'bundle' : 'search' };
  if (first === 'metadata') return { interaction: 'capabilities' };
  if (first === '_history') return { interaction: 'history' };
  if (first.startsWith('$')) return { interaction: 'operation', operation: first.slice(1) };
  const type = first;
  if (second === undefined) {
    if (method === 'GET') return { interaction: 'search', type };
    if (method === 'POST') return { interaction: 'create', type };
    return { interaction: method === 'PUT' ? 'update' : method === 'PATCH' ? 'patch' : 'delete', type };
  }
  if (second === '_search') return { interaction: 'search', type };
  if (second === '_history') return { interaction: 'history', type };
  if (second.startsWith('$')) return { interaction: 'operation', type, operation: second.slice(1) };
  if (third === undefined) {
    if (method === 'GET') return { interaction: 'read', type, id: second };
    return { interaction: method === 'PUT' ? 'update' : method === 'PATCH' ? 'patch' : method === 'DELETE' ? 'delete' : 'read', type, id: second };
  }
  if (third === '_history') return fourth === undefined ? { interaction: 'history', type, id: second } : { interaction: 'vread', type, id: second };
  if (third.startsWith('$')) return { interaction: 'operation', type, id: second, operation: third.slice(1) };
  return { interaction: 'read', type, id: second };
}

export const isWrite = (a: Action) => a.interaction === 'create' || a.interaction === 'update' || a.interaction === 'patch' || a.interaction === 'delete';

const PERMISSION: Record<Action['interaction'], Permission | undefined> = {
  read: 'r', vread: 'r', search: 's', history: 'r', create: 'c', update: 'u', patch: 'u', delete: 'd', operation: undefined, bundle: undefined, capabilities: undefined,
};

/** Not health data: directories and definitions any hospital reads, and writes when it registers its staff. */
const REFERENCE_TYPES = new Set(['Organization', 'Practitioner', 'PractitionerRole', 'Location', 'Medication', 'Device', 'Substance', 'HealthcareService', 'Endpoint']);
/** Operations a hospital may invoke, and how they are checked (see `checkHospitalOperation`). */
const HOSPITAL_OPERATIONS = new Set(['validate', 'match', 'xml130', 'xml130-checkin', 'submit', 'at-risk', 'verify-xml130', 'summary']);
/** An administrator's operations: facility onboarding and reports (aggregates, no health data). */
const ADMIN_OPERATIONS = new Set(['credentials', 'attest', 'readiness', 'check-portal', 'evaluate-measure']);
const ADMIN_TYPES = new Set(['Organization', 'Measure', 'MeasureReport']);
/** An open Encounter: the patient is being treated now. */
const OPEN_STATUSES = new Set(['planned', 'arrived', 'triaged', 'in-progress', 'onleave']);
/** The health book's own Compositions: reading one is reading the book. */
const BOOK_TYPES = new Set(['60591-5', '34133-9']);

export function forbidden(message: Text): FhirError {
  return new FhirError(403, [{ severity: 'error', code: 'forbidden', message }]);
}

const denied = (what: string) => forbidden({ vi: `Không được phép: ${what}`, en: `Not allowed: ${what}` });

export interface PolicyOptions {
  treatingWindowDays: number;
  now?: () => number;
}

export class AccessPolicy {
  private readonly orgCache = new Map<string, { ids: string[]; at: number }>();

  constructor(private readonly options: PolicyOptions) {}

  /**
   * Before an interaction runs: whether this role, with these scopes, may ask this at all, and for
   * the targets a request names directly (an instance operation), whether it may touch them.
   */
  async before(p: Principal, a: Action, req: FhirRequest, repo: Repository): Promise<void> {
    if (a.interaction === 'capabilities') return;
    if (a.interaction === 'bundle') {
      // Each entry comes back through the router and is checked on its own; a citizen or auditor has no entry it could post.
      if (p.role !== 'hospital' && p.role !== 'admin') throw denied(`${p.role} clients do not post bundles`);
      return;
    }
    if (a.type === 'AuditEvent') {
      if (isWrite(a)) throw denied('the audit log is append-only');
      if (p.role !== 'auditor' || !['read', 'vread', 'search'].includes(a.interaction)) throw denied('only an auditor reads the audit log');
      this.scope(p, 'AuditEvent', PERMISSION[a.interaction]!);
      return;
    }
    switch (p.role) {
      case 'auditor':
        throw denied('an auditor reads the audit log only');
      case 'citizen':
        return this.citizenBefore(p, a, req, repo);
      case 'admin':
        if (a.interaction === 'operation' && ADMIN_OPERATIONS.has(a.operation!)) return;
        if (a.type && ADMIN_TYPES.has(a.type) && a.interaction !== 'operation') return this.scope(p, a.type, PERMISSION[a.interaction]!);
        throw denied('an administrator manages facilities and clients, and reads no health data');
      case 'hospital':
        return this.hospitalBefore(p, a, req, repo);
    }
  }

  private scope(p: Principal, type: string, permission: Permission): void {
    if (!scopeAllows(p.scopes, type, permission)) throw denied(`the token's scopes do not grant "${permission}" on ${type}`);
  }

  private async citizenBefore(p: Principal, a: Action, req: FhirRequest, repo: Repository): Promise<void> {
    if (a.interaction !== 'operation' || a.operation !== 'summary' || a.type !== 'Patient') throw denied('a citizen reads their own health book ($summary) only');
    this.scope(p, 'Patient', 'r');
    if (a.id) {
      if (!(await this.ownPatients(p, repo)).includes(a.id)) throw denied('this is not your health book');
      return;
    }
    // By identifier: only the citizen's own CCCD (with or without its system).
    const asked = queryValues(req.query, 'identifier');
    const ok = asked.length === 1 && (asked[0] === p.cccd || asked[0] === `${SID.cccd}|${p.cccd}`);
    if (!ok) throw denied('this is not your health book');
  }

  private async hospitalBefore(p: Principal, a: Action, req: FhirRequest, repo: Repository): Promise<void> {
    if (a.interaction === 'operation') {
      if (!HOSPITAL_OPERATIONS.has(a.operation!)) throw denied(`$${a.operation} is not open to hospital clients`);
      return this.checkHospitalOperation(p, a, req, repo);
    }
    if (a.interaction === 'history' && !a.type) return; // entries filtered after
    if (!a.type) throw denied('this interaction');
    if (ADMIN_TYPES.has(a.type) && a.type !== 'Organization') throw denied(`${a.type} is managed by administrators`);
    this.scope(p, a.type, PERMISSION[a.interaction]!);
    if (a.interaction === 'search' && queryValues(req.query, '_summary').includes('count')) {
      // A bare count would say how many records match across every facility.
      throw denied('_summary=count: counts across facilities are not open to a facility client');
    }
  }

  private async checkHospitalOperation(p: Principal, a: Action, req: FhirRequest, repo: Repository): Promise<void> {
    const op = a.operation!;
    if (op === 'summary') {
      this.scope(p, 'Patient', 'r');
      if (a.id && !(await this.treating(p, [a.id], repo)).has(a.id)) throw denied('the health book of a patient this facility is not treating (no open or recent episode here)');
      return; // by identifier: checked on the answer
    }
    if ((op === 'xml130' || op === 'xml130-checkin' || op === 'submit') && a.type === 'Encounter' && a.id) {
      this.scope(p, 'Encounter', op === 'submit' ? 'u' : 'r');
      const enc = await repo.read('Encounter', a.id);
      if (enc && !enc.deleted && !(await this.ownsEncounters(p, [enc.resource as Encounter], repo))[0]) throw denied('an episode of another facility');
      return;
    }
    if (op === 'submit' && a.type === 'CoverageEligibilityRequest') {
      this.scope(p, 'CoverageEligibilityRequest', 'c');
      const body = (req.body as { resourceType?: string; parameter?: { name: string; resource?: Resource }[] } | undefined);
      const request = body?.resourceType === 'Parameters' ? body.parameter?.find((x) => x.name === 'resource')?.resource : (body as Resource | undefined);
      if (!(await this.isOwnProvider(p, (request as { provider?: Reference })?.provider, request, repo))) throw denied('a card lookup for another facility');
      return;
    }
    if (op === 'submit') throw denied('$submit on this resource');
  }

  /** Whether a `provider` reference names the client's facility (by Organization, contained Organization or identifier). */
  private async isOwnProvider(p: Principal, provider: Reference | undefined, container: Resource | undefined, repo: Repository): Promise<boolean> {
    if (!provider) return false;
    if (provider.identifier?.system === SID.maCskcb) return provider.identifier.value === p.facility;
    const ref = provider.reference ?? '';
    if (ref.startsWith('#')) {
      const contained = ((container as { contained?: Resource[] })?.contained ?? []).find((r) => r.id === ref.slice(1)) as { identifier?: { system?: string; value?: string }[] } | undefined;
      return (contained?.identifier ?? []).some((i) => i.system === SID.maCskcb && i.value === p.facility);
    }
    const parsed = parseReference(ref);
    return parsed?.type === 'Organization' && (await this.facilityOrganizations(p.facility!, repo)).includes(parsed.id);
  }

  /** The Patients a citizen is: those holding their CCCD. */
  async ownPatients(p: Principal, repo: Repository | Queryable): Promise<string[]> {
    if (!p.cccd) return [];
    const db = 'queryable' in repo ? repo.queryable : repo;
    const { rows } = await db.query<{ id: string }>(
      `SELECT id FROM resources WHERE resource_type = 'Patient' AND NOT deleted AND tokens @> ARRAY[$1]::text[]`,
      [keys.systemCode('identifier', SID.cccd, p.cccd)],
    );
    return rows.map((r) => r.id);
  }

  /** Whether a client may see a patient's health book (`$summary`, `/book/{id}`). */
  async mayReadBook(p: Principal, patientId: string, repo: Repository | Queryable): Promise<boolean> {
    if (p.role === 'citizen') return scopeAllows(p.scopes, 'Patient', 'r') && (await this.ownPatients(p, repo)).includes(patientId);
    if (p.role === 'hospital') return scopeAllows(p.scopes, 'Patient', 'r') && (await this.treating(p, [patientId], repo)).has(patientId);
    return false;
  }

  // ---- what a client may see -------------------------------------------------------------

  /** For each resource, whether the client may see it (reads, search results, includes, history). */
  async visible(p: Principal, resources: Resource[], repo: Repository): Promise<boolean[]> {
    if (p.role !== 'hospital') return resources.map(() => false);
    return this.owned(p, resources, repo, 'read');
  }

  /**
   * Whether each resource belongs to the hospital's facility. Encounters by their serviceProvider;
   * what refers to Encounters by those (all of them); what refers only to Patients by those (each
   * must have an episode at the facility); the book's Compositions only while treating; directory
   * resources always (writing an Organization only for the facility's own). Anything else: no.
   */
  async owned(p: Principal, resources: Resource[], repo: Repository, mode: 'read' | 'write'): Promise<boolean[]> {
    const facts = resources.map((r) => refsOf(r));
    const encounterIds = new Set(facts.flatMap((f) => f.encounters));
    const missing = [...encounterIds].filter((id) => !resources.some((r) => r.resourceType === 'Encounter' && r.id === id));
    const fetched = missing.length ? await repo.fetch(missing.map((id) => ({ type: 'Encounter', id }))) : [];
    const encounters = new Map<string, Encounter>([...resources, ...fetched].filter((r) => r.resourceType === 'Encounter').map((r) => [r.id!, r as Encounter]));
    const orgs = await this.facilityOrganizations(p.facility!, repo);
    const ownsEncounter = (e: Encounter | undefined) => !!e && servedBy(e, p.facility!, orgs);
    const patientIds = new Set<string>();
    const bookPatients = new Set<string>();
    resources.forEach((r, i) => {
      if (r.resourceType === 'Patient') patientIds.add(r.id!);
      else if (isBook(r)) facts[i].patients.forEach((id) => bookPatients.add(id));
      else if (facts[i].encounters.length === 0) facts[i].patients.forEach((id) => patientIds.add(id));
    });
    const inFacility = await this.patientsAtFacility(p, [...patientIds], repo);
    const treated = bookPatients.size ? await this.treating(p, [...bookPatients], repo) : new Set<string>();
    return resources.map((r, i) => {
      const f = facts[i];
      if (r.resourceType === 'AuditEvent') return false;
      if (r.resourceType === 'Organization') return mode === 'read' || orgCodes(r).every((c) => c === p.facility);
      if (REFERENCE_TYPES.has(r.resourceType)) return true;
      if (r.resourceType === 'Encounter') return ownsEncounter(r as Encounter);
      if (r.resourceType === 'Patient') return inFacility.has(r.id!);
      if (isBook(r)) return f.patients.length > 0 && f.patients.every((id) => treated.has(id));
      if (f.encounters.length > 0) return f.encounters.every((id) => ownsEncounter(encounters.get(id)));
      if (f.patients.length > 0) return f.patients.every((id) => inFacility.has(id));
      return false;
    });
  }

  async ownsEncounters(p: Principal, encounters: Encounter[], repo: Repository): Promise<boolean[]> {
    const orgs = await this.facilityOrganizations(p.facility!, repo);
    return encounters.map((e) => servedBy(e, p.facility!, orgs));
  }

  /** Patients with at least one episode at the client's facility. */
  async patientsAtFacility(p: Principal, patientIds: string[], repo: Repository | Queryable): Promise<Set<string>> {
    const rows = await this.episodesOf(p, patientIds, repo);
    return new Set(rows.map((r) => r.patient));
  }

  /** Patients the facility is treating: an open episode there, or one ended within the window. */
  async treating(p: Principal, patientIds: string[], repo: Repository | Queryable): Promise<Set<string>> {
    const since = (this.options.now ?? Date.now)() - this.options.treatingWindowDays * 86_400_000;
    const rows = await this.episodesOf(p, patientIds, repo);
    return new Set(rows.filter((r) => OPEN_STATUSES.has(r.status) || (r.status === 'finished' && (!r.ended || Date.parse(r.ended) >= since))).map((r) => r.patient));
  }

  private async episodesOf(p: Principal, patientIds: string[], repo: Repository | Queryable): Promise<{ patient: string; status: string; ended: string | null }[]> {
    if (patientIds.length === 0 || !p.facility) return [];
    const db = 'queryable' in repo ? repo.queryable : repo;
    const orgs = await this.facilityOrganizations(p.facility, db);
    // Only the few fields needed, not whole Encounters: a patient may have hundreds of episodes.
    const { rows } = await db.query<{ subject: string; org: string | null; code: string | null; status: string; ended: string | null }>(
      `SELECT content->'subject'->>'reference' AS subject, content->'serviceProvider'->>'reference' AS org,
              content->'serviceProvider'->'identifier'->>'value' AS code, content->>'status' AS status, content->'period'->>'end' AS ended
         FROM resources WHERE resource_type = 'Encounter' AND NOT deleted AND tokens && $1::text[]`,
      [patientIds.map((id) => keys.reference('subject', `Patient/${id}`))],
    );
    const out: { patient: string; status: string; ended: string | null }[] = [];
    for (const r of rows) {
      const patient = parseReference(r.subject ?? '')?.id;
      const org = parseReference(r.org ?? '');
      const own = (org?.type === 'Organization' && orgs.includes(org.id)) || (!r.org && r.code === p.facility);
      if (patient && own && patientIds.includes(patient)) out.push({ patient, status: r.status, ended: r.ended });
    }
    return out;
  }

  /**
   * The Organizations holding a facility code. Remembered for a minute once found (a facility's
   * Organization does not move); not remembered while none exists, since the facility's first
   * bundle creates it.
   */
  async facilityOrganizations(facility: string, repo: Repository | Queryable): Promise<string[]> {
    const hit = this.orgCache.get(facility);
    if (hit && Date.now() - hit.at < 60_000) return hit.ids;
    const db = 'queryable' in repo ? repo.queryable : repo;
    const { rows } = await db.query<{ id: string }>(
      `SELECT id FROM resources WHERE resource_type = 'Organization' AND NOT deleted AND tokens @> ARRAY[$1]::text[]`,
      [keys.systemCode('identifier', SID.maCskcb, facility)],
    );
    const ids = rows.map((r) => r.id);
    if (ids.length) this.orgCache.set(facility, { ids, at: Date.now() });
    return ids;
  }

  /**
   * The parts of an answer the client may see: a read of something it may not see is refused; the
   * entries of a search, history or operation result it may not see are left out (and the total
   * with them); a write's answer keeps its status and location but not a body it may not see (a
   * conditional create that matched another facility's patient).
   */
  async filterBody(p: Principal, a: Action, body: Resource, repo: Repository): Promise<Resource | undefined> {
    if (body.resourceType === 'OperationOutcome' || body.resourceType === 'CapabilityStatement') return body;
    if (body.resourceType !== 'Bundle') {
      const [ok] = await this.visible(p, [body], repo);
      if (ok) return body;
      if (isWrite(a)) return undefined;
      throw denied(`${body.resourceType} outside this facility's episodes and patients`);
    }
    const bundle = body as Bundle;
    const entries = bundle.entry ?? [];
    const withResource = entries.filter((e) => e.resource && e.resource.resourceType !== 'OperationOutcome');
    const seen = await this.visible(p, withResource.map((e) => e.resource!), repo);
    const ok = new Set(withResource.filter((_, i) => seen[i]));
    if (bundle.type === 'transaction-response' || bundle.type === 'batch-response') {
      return { ...bundle, entry: entries.map((e) => (e.resource && !ok.has(e) && e.resource.resourceType !== 'OperationOutcome' ? { ...e, resource: undefined } : e)) } as Bundle;
    }
    const kept = entries.filter((e) => ok.has(e) || e.resource?.resourceType === 'OperationOutcome');
    const removed = kept.length !== entries.length;
    const out: Bundle = { ...bundle, entry: kept };
    if (removed) {
      const onePage = !bundle.link?.some((l) => l.relation === 'next' || l.relation === 'previous');
      if (onePage && bundle.total !== undefined) out.total = kept.filter((e) => e.search?.mode !== 'include' && e.search?.mode !== 'outcome').length;
      else delete out.total;
    }
    return out;
  }
}

/** The Encounters and Patients a resource refers to (literal references anywhere in it). */
function refsOf(r: Resource): { encounters: string[]; patients: string[] } {
  const encounters = new Set<string>();
  const patients = new Set<string>();
  if (r.resourceType === 'Encounter' || r.resourceType === 'Patient') {
    if (r.resourceType === 'Encounter') {
      const s = parseReference((r as Encounter).subject?.reference ?? '');
      if (s?.type === 'Patient') patients.add(s.id);
    }
    return { encounters: [], patients: [...patients] };
  }
  mapReferences(r, (value, key) => {
    if (key !== 'reference') return undefined;
    const ref = parseReference(value);
    if (ref?.type === 'Encounter') encounters.add(ref.id);
    if (ref?.type === 'Patient') patients.add(ref.id);
    return undefined;
  });
  return { encounters: [...encounters], patients: [...patients] };
}

function servedBy(e: Encounter, facility: string, orgs: string[]): boolean {
  const sp = e.serviceProvider;
  if (!sp) return false;
  const ref = parseReference(sp.reference ?? '');
  if (ref) return ref.type === 'Organization' && orgs.includes(ref.id);
  return sp.identifier?.system === SID.maCskcb && sp.identifier.value === facility;
}

function orgCodes(r: Resource): string[] {
  return ((r as { identifier?: { system?: string; value?: string }[] }).identifier ?? []).filter((i) => i.system === SID.maCskcb && i.value).map((i) => i.value!);
}

function isBook(r: Resource): boolean {
  return r.resourceType === 'Composition' && ((r as { type?: { coding?: { code?: string }[] } }).type?.coding ?? []).some((c) => BOOK_TYPES.has(c.code ?? ''));
}

/** A version a write produced, with the one it replaced (undefined for a first version). */
export interface WrittenVersion {
  resource: Resource;
  versionId: number;
  deleted: boolean;
  previous?: Resource;
}

/**
 * Writes of a transaction, checked inside it after they were written (so that an Encounter created
 * by the same bundle counts): every type must be granted by a scope; a hospital's new versions and
 * the ones they replace must belong to its facility (a new Patient may be registered before its
 * first episode); an administrator writes facility records only; the audit log is never written.
 */
export async function checkWrites(policy: AccessPolicy, p: Principal, writes: WrittenVersion[], repo: Repository): Promise<void> {
  for (const w of writes) {
    const type = w.resource.resourceType;
    if (type === 'AuditEvent') throw denied('the audit log is append-only');
    const permission: Permission = w.deleted ? 'd' : w.versionId === 1 ? 'c' : 'u';
    if (p.role === 'admin') {
      if (!ADMIN_TYPES.has(type)) throw denied(`an administrator does not write ${type}`);
    } else if (p.role !== 'hospital') {
      throw denied(`${p.role} clients do not write`);
    } else if (ADMIN_TYPES.has(type) && type !== 'Organization') {
      throw denied(`${type} is managed by administrators`);
    }
    if (!scopeAllows(p.scopes, type, permission)) throw denied(`the token's scopes do not grant "${permission}" on ${type}`);
  }
  if (p.role !== 'hospital') return;
  const fresh = writes.filter((w) => !w.deleted && !(w.resource.resourceType === 'Patient' && w.versionId === 1));
  const replaced = writes.filter((w) => w.previous).map((w) => w.previous!);
  const all = [...fresh.map((w) => w.resource), ...replaced];
  const ok = await policy.owned(p, all, repo, 'write');
  const bad = all.findIndex((_, i) => !ok[i]);
  if (bad >= 0) {
    const r = all[bad];
    const which = bad < fresh.length ? `${r.resourceType} outside this facility's episodes and patients` : `${r.resourceType}/${r.id} belongs to another facility's episodes or patients`;
    throw denied(which);
  }
}
