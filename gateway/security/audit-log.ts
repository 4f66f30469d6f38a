import { createHash, randomUUID } from 'node:crypto';
import type { AuditEvent, Bundle } from '@medplum/fhirtypes';
import type { Database, Queryable } from '../store/database.js';
import type { Principal } from './principal.js';

/**
 * The audit log: one AuditEvent (IHE BALP style) per access to health data — who (the client, its
 * role, its facility), what (the interaction, the resources, the query), which patients, when, and
 * the outcome — in a few append-only hash chains. Writes are recorded in the transaction of the
 * write; reads and refusals before the answer is sent.
 *
 * Chaining: each event's hash is SHA-256 over the previous hash of its chain, its position and its
 * exact JSON text. A chain's head row is locked FOR UPDATE by the writer, so writers on every
 * replica take turns per chain; several chains keep them from queueing behind one row. `verify`
 * walks every chain and compares it with its head: an event altered, removed or cut off the end
 * shows.
 */
export interface PendingAudit {
  event: AuditEvent;
  clientId: string;
  patients: string[];
}

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const REST_INTERACTION = 'http://hl7.org/fhir/restful-interaction';

export interface AccessFacts {
  principal?: Principal;
  internal?: boolean;
  requestId?: string;
  /** FHIR interaction code: read, vread, search-type, history-instance, create, update, patch, delete, operation, … */
  interaction: string;
  action: 'C' | 'R' | 'U' | 'D' | 'E';
  /** What was touched: `Type/id` or `Type/id/_history/n`. */
  entities: string[];
  patients: string[];
  /** The search or operation query (BALP keeps it; the audit log is readable by auditors only). */
  query?: string;
  operation?: string;
  /** '0' success, '4' refused or failed by the client's request, '8' server failure. */
  outcome: '0' | '4' | '8';
  outcomeDesc?: string;
  at?: Date;
}

/** The AuditEvent of one access. */
export function auditEvent(f: AccessFacts): PendingAudit {
  const who = f.principal;
  const clientId = who?.clientId ?? 'anonymous';
  const patients = [...new Set(f.patients)].slice(0, 200);
  const event: AuditEvent = {
    resourceType: 'AuditEvent',
    id: randomUUID(),
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' },
    subtype: [{ system: REST_INTERACTION, code: f.interaction }, ...(f.operation ? [{ system: 'urn:vn-healthbook-gateway:operation', code: f.operation }] : [])],
    action: f.action,
    recorded: (f.at ?? new Date()).toISOString(),
    outcome: f.outcome,
    ...(f.outcomeDesc ? { outcomeDesc: f.outcomeDesc } : {}),
    agent: [
      {
        type: { coding: [{ system: DCM, code: '110153', display: 'Source Role ID' }], text: who ? `${who.role} client` : 'no authentication configured' },
        who: { identifier: { system: who?.issuer ?? 'urn:vn-healthbook-gateway:anonymous', value: clientId } },
        ...(who?.facility ? { extension: [{ url: 'urn:vn-healthbook-gateway:facility', valueString: who.facility }] } : {}),
        requestor: true,
        ...(f.internal ? { policy: ['urn:vn-healthbook-gateway:on-behalf-of-operation'] } : {}),
      },
      { type: { coding: [{ system: DCM, code: '110152', display: 'Destination Role ID' }] }, who: { display: 'vn-healthbook-gateway' }, requestor: false },
    ],
    source: { observer: { display: 'vn-healthbook-gateway' }, ...(f.requestId ? { site: f.requestId } : {}) },
    entity: [
      ...patients.map((id) => ({ what: { reference: `Patient/${id}` }, type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1' }, role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' } })),
      ...f.entities.slice(0, 200).map((ref) => ({ what: { reference: ref }, type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2' }, role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '4', display: 'Domain Resource' } })),
      ...(f.query ? [{ type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2' }, role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '24', display: 'Query' }, query: Buffer.from(f.query).toString('base64') }] : []),
    ],
  } as AuditEvent;
  return { event, clientId, patients };
}

const GENESIS = '0'.repeat(64);

/** The hash that links an event into its chain. */
export function chainHash(prev: string, chain: number, seq: number, content: string): string {
  return createHash('sha256').update(`${prev}\n${chain}\n${seq}\n${content}`).digest('hex');
}

export class AuditLog {
  constructor(
    private readonly db: Database,
    readonly chains: number,
  ) {}

  /** Makes the chains' head rows (idempotent: every replica does it at start). */
  async prepare(): Promise<void> {
    await this.db.query(`INSERT INTO audit_chains (chain, seq, hash) SELECT c, 0, $2 FROM generate_series(0, $1::int - 1) c ON CONFLICT DO NOTHING`, [this.chains, GENESIS]);
  }

  /**
   * Appends events in the caller's transaction: lock one chain's head, one multi-row insert that
   * also moves the head. Two statements whatever the number of events.
   */
  async append(tx: Queryable, events: PendingAudit[]): Promise<void> {
    if (events.length === 0) return;
    const chain = Math.floor(Math.random() * this.chains);
    const { rows } = await tx.query<{ seq: string | number; hash: string }>('SELECT seq, hash FROM audit_chains WHERE chain = $1 FOR UPDATE', [chain]);
    if (!rows[0]) throw new Error(`audit chain ${chain} has no head row`);
    let seq = Number(rows[0].seq);
    let prev = rows[0].hash;
    const cols = { seq: [] as number[], id: [] as string[], recorded: [] as string[], client: [] as string[], patients: [] as string[], action: [] as string[], outcome: [] as string[], content: [] as string[], prev: [] as string[], hash: [] as string[] };
    for (const e of events) {
      seq += 1;
      const content = JSON.stringify(e.event);
      const hash = chainHash(prev, chain, seq, content);
      cols.seq.push(seq);
      cols.id.push(e.event.id!);
      cols.recorded.push(e.event.recorded!);
      cols.client.push(e.clientId);
      // text[][] cannot be ragged: each event's patients as one array literal, unpacked in SQL.
      cols.patients.push(JSON.stringify(e.patients));
      cols.action.push(e.event.action ?? 'E');
      cols.outcome.push(e.event.outcome ?? '0');
      cols.content.push(content);
      cols.prev.push(prev);
      cols.hash.push(hash);
      prev = hash;
    }
    await tx.query(
      `WITH ins AS (
         INSERT INTO audit_events (chain, seq, id, recorded, client_id, patients, action, outcome, content, prev_hash, hash)
         SELECT $1, s, i, r::timestamptz, c, ARRAY(SELECT json_array_elements_text(p::json)), a, o, t::json, ph, h
           FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
             AS x(s, i, r, c, p, a, o, t, ph, h))
       UPDATE audit_chains SET seq = $12, hash = $13 WHERE chain = $1`,
      [chain, cols.seq, cols.id, cols.recorded, cols.client, cols.patients, cols.action, cols.outcome, cols.content, cols.prev, cols.hash, seq, prev],
    );
  }

  /** Appends in a transaction of its own (reads and refusals, after the interaction). */
  async record(events: PendingAudit[]): Promise<void> {
    if (events.length === 0) return;
    await this.db.transaction((tx) => this.append(tx, events));
  }

  /** Events for an auditor, newest first: by patient, client, date range. */
  async search(q: { patient?: string; client?: string; since?: string; until?: string; id?: string; count: number; offset: number }): Promise<AuditEvent[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown) => {
      params.push(v);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (q.id) add('id = ?', q.id);
    if (q.patient) add('patients @> ARRAY[?]::text[]', q.patient);
    if (q.client) add('client_id = ?', q.client);
    if (q.since) add('recorded >= ?::timestamptz', q.since);
    if (q.until) add('recorded < ?::timestamptz', q.until);
    params.push(q.count, q.offset);
    const { rows } = await this.db.query<{ content: AuditEvent }>(
      `SELECT content FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY recorded DESC, chain, seq DESC LIMIT $${params.length - 1} OFFSET $${params.length}`,
      params,
    );
    return rows.map((r) => r.content);
  }

  /**
   * Walks every chain from its start: each event's prev_hash must be the hash before it, its hash
   * must be recomputed from its text, sequence numbers must have no gap, and the last event must be
   * the head. Reads the text as stored (json keeps it verbatim), in pages, so any size verifies.
   */
  async verify(): Promise<{ ok: boolean; events: number; problems: string[] }> {
    const problems: string[] = [];
    let events = 0;
    const { rows: heads } = await this.db.query<{ chain: number; seq: string | number; hash: string }>('SELECT chain, seq, hash FROM audit_chains ORDER BY chain');
    for (const head of heads) {
      let prev = GENESIS;
      let expected = 1;
      for (;;) {
        const { rows } = await this.db.query<{ seq: string | number; content: string; prev_hash: string; hash: string }>(
          'SELECT seq, content::text AS content, prev_hash, hash FROM audit_events WHERE chain = $1 AND seq >= $2 ORDER BY seq LIMIT 1000',
          [head.chain, expected],
        );
        for (const r of rows) {
          const seq = Number(r.seq);
          if (seq !== expected) problems.push(`chain ${head.chain}: event ${expected}${seq > expected + 1 ? `–${seq - 1}` : ''} missing`);
          if (r.prev_hash !== prev) problems.push(`chain ${head.chain}: event ${seq} does not follow the event before it`);
          if (chainHash(r.prev_hash, head.chain, seq, r.content) !== r.hash) problems.push(`chain ${head.chain}: event ${seq} was altered`);
          prev = r.hash;
          expected = seq + 1;
          events++;
        }
        if (rows.length < 1000) break;
      }
      if (expected - 1 !== Number(head.seq) || prev !== head.hash) problems.push(`chain ${head.chain}: ends at event ${expected - 1} but its head says ${head.seq}: events were removed from its end`);
    }
    // Events on a chain without a head row (a head row deleted) are caught too.
    const { rows: orphans } = await this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events e WHERE NOT EXISTS (SELECT 1 FROM audit_chains c WHERE c.chain = e.chain)');
    if (orphans[0].n > 0) problems.push(`${orphans[0].n} events belong to no chain head`);
    return { ok: problems.length === 0, events, problems };
  }
}

/** A searchset of audit events, as the auditor's FHIR answer. */
export function auditBundle(events: AuditEvent[], baseUrl: string): Bundle {
  return { resourceType: 'Bundle', type: 'searchset', entry: events.map((e) => ({ fullUrl: `${baseUrl}/AuditEvent/${e.id}`, resource: e, search: { mode: 'match' } })) };
}
