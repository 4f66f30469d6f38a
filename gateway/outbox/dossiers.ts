import type { Issue } from '../fhir/outcome.js';
import type { Queryable } from '../store/database.js';

/**
 * The outbox table (migration 2): one row per version of a file for the portal. Plain SQL, no
 * logic: what to queue is decided in queue.ts, what to send in worker.ts.
 */
export type DossierKind = 'claim' | 'checkin';
export type DossierStatus = 'queued' | 'sending' | 'accepted' | 'rejected' | 'held' | 'invalid' | 'superseded';

export interface PortalReceipt {
  maKetQua: string;
  maGiaoDich?: string;
  thoiGianTiepNhan?: string;
  thongDiep?: string;
}

export interface Dossier {
  id: string;
  kind: DossierKind;
  facility: string;
  maLk: string;
  version: number;
  encounterId: string;
  patientId?: string;
  organizationId?: string;
  standard: string;
  document: string;
  contentHash: string;
  signed?: string;
  status: DossierStatus;
  attempts: number;
  nextAttemptAt: string;
  lastError?: string;
  receipt?: PortalReceipt;
  issues: Issue[];
  episodeEndedAt?: string;
  createdAt: string;
  sentAt?: string;
  acceptedAt?: string;
}

interface Row {
  id: string;
  kind: DossierKind;
  facility: string;
  ma_lk: string;
  version: number;
  encounter_id: string;
  patient_id: string | null;
  organization_id: string | null;
  standard: string;
  document: string;
  content_hash: string;
  signed: string | null;
  status: DossierStatus;
  attempts: number;
  next_attempt_at: Date | string;
  last_error: string | null;
  receipt: PortalReceipt | null;
  issues: Issue[] | null;
  episode_ended_at: Date | string | null;
  created_at: Date | string;
  sent_at: Date | string | null;
  accepted_at: Date | string | null;
}

const iso = (v: Date | string | null): string | undefined => (v === null ? undefined : new Date(v).toISOString());

function fromRow(r: Row): Dossier {
  return {
    id: r.id,
    kind: r.kind,
    facility: r.facility,
    maLk: r.ma_lk,
    version: r.version,
    encounterId: r.encounter_id,
    patientId: r.patient_id ?? undefined,
    organizationId: r.organization_id ?? undefined,
    standard: r.standard,
    document: r.document,
    contentHash: r.content_hash,
    signed: r.signed ?? undefined,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: iso(r.next_attempt_at)!,
    lastError: r.last_error ?? undefined,
    receipt: r.receipt ?? undefined,
    issues: r.issues ?? [],
    episodeEndedAt: iso(r.episode_ended_at),
    createdAt: iso(r.created_at)!,
    sentAt: iso(r.sent_at),
    acceptedAt: iso(r.accepted_at),
  };
}

export class DossierTable {
  constructor(private readonly db: Queryable) {}

  /** The latest version of an episode's file of this kind, locked until the transaction ends. */
  async latest(encounterId: string, kind: DossierKind): Promise<Dossier | undefined> {
    const { rows } = await this.db.query<Row>(
      'SELECT * FROM dossiers WHERE encounter_id = $1 AND kind = $2 ORDER BY version DESC LIMIT 1 FOR UPDATE',
      [encounterId, kind],
    );
    return rows[0] && fromRow(rows[0]);
  }

  async get(id: string): Promise<Dossier | undefined> {
    const { rows } = await this.db.query<Row>('SELECT * FROM dossiers WHERE id = $1', [id]);
    return rows[0] && fromRow(rows[0]);
  }

  async insert(d: Omit<Dossier, 'attempts' | 'nextAttemptAt' | 'createdAt'> & { createdAt?: string }): Promise<Dossier> {
    const { rows } = await this.db.query<Row>(
      `INSERT INTO dossiers (id, kind, facility, ma_lk, version, encounter_id, patient_id, organization_id, standard, document,
                             content_hash, status, issues, episode_ended_at, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14::timestamptz, COALESCE($15::timestamptz, now()))
       RETURNING *`,
      [d.id, d.kind, d.facility, d.maLk, d.version, d.encounterId, d.patientId ?? null, d.organizationId ?? null, d.standard, d.document,
        d.contentHash, d.status, JSON.stringify(d.issues), d.episodeEndedAt ?? null, d.createdAt ?? null],
    );
    return fromRow(rows[0]);
  }

  /** Earlier versions not sent yet will never be: a newer file replaces them. */
  async supersedeBefore(encounterId: string, kind: DossierKind, version: number): Promise<string[]> {
    const { rows } = await this.db.query<{ id: string }>(
      `UPDATE dossiers SET status = 'superseded', lease_until = NULL
        WHERE encounter_id = $1 AND kind = $2 AND version < $3 AND status IN ('queued', 'held', 'invalid') RETURNING id`,
      [encounterId, kind, version],
    );
    return rows.map((r) => r.id);
  }

  /**
   * Claims up to `limit` files due for sending, for `leaseMs`: queued ones whose time has come, held
   * ones due for another look (a certificate may have been installed), and ones a worker took and
   * never finished (its lease ran out: it crashed or hung). Rows other workers hold are skipped,
   * not waited for.
   */
  async claimDue(limit: number, leaseMs: number, now: Date): Promise<Dossier[]> {
    const { rows } = await this.db.query<Row>(
      `UPDATE dossiers d SET status = 'sending', lease_until = $2::timestamptz + ($3::int * interval '1 millisecond'), attempts = d.attempts + 1
        WHERE d.id IN (
          SELECT id FROM dossiers
           WHERE (status IN ('queued', 'held') AND next_attempt_at <= $2::timestamptz) OR (status = 'sending' AND lease_until < $2::timestamptz)
           ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING d.*`,
      [limit, now.toISOString(), leaseMs],
    );
    return rows.map(fromRow);
  }

  /** Keeps the signed bytes (once) and whose certificate signed them: every later attempt sends exactly them. */
  async setSigned(id: string, signed: string, signerFingerprint: string): Promise<string> {
    const { rows } = await this.db.query<{ signed: string }>(
      `UPDATE dossiers SET signer_fingerprint = CASE WHEN signed IS NULL THEN $3 ELSE signer_fingerprint END, signed = COALESCE(signed, $2)
        WHERE id = $1 RETURNING signed`,
      [id, signed, signerFingerprint],
    );
    return rows[0].signed;
  }

  /**
   * Records the end of an attempt. Only a row still `sending` changes: a lease taken over by another
   * worker, or a file superseded meanwhile, is left to whoever holds it now.
   */
  async finish(id: string, change: { status: DossierStatus; receipt?: PortalReceipt; lastError?: string; nextAttemptAt?: Date; sentAt?: Date; acceptedAt?: Date }): Promise<Dossier | undefined> {
    const { rows } = await this.db.query<Row>(
      `UPDATE dossiers SET status = $2, receipt = COALESCE($3::jsonb, receipt), last_error = $4, lease_until = NULL,
              next_attempt_at = COALESCE($5::timestamptz, next_attempt_at), sent_at = COALESCE(sent_at, $6::timestamptz),
              accepted_at = COALESCE($7::timestamptz, accepted_at)
        WHERE id = $1 AND status = 'sending' RETURNING *`,
      [id, change.status, change.receipt ? JSON.stringify(change.receipt) : null, change.lastError ?? null,
        change.nextAttemptAt?.toISOString() ?? null, change.sentAt?.toISOString() ?? null, change.acceptedAt?.toISOString() ?? null],
    );
    return rows[0] && fromRow(rows[0]);
  }

  /** Claim files not accepted whose episode ended more than `hours` ago (the 24-hour rule). */
  async atRisk(hours: number, now: Date): Promise<Dossier[]> {
    const { rows } = await this.db.query<Row>(
      `SELECT * FROM dossiers d
        WHERE kind = 'claim' AND status NOT IN ('accepted', 'superseded')
          AND episode_ended_at < $1::timestamptz - ($2::float8 * interval '1 hour')
          AND NOT EXISTS (SELECT 1 FROM dossiers n WHERE n.encounter_id = d.encounter_id AND n.kind = d.kind AND n.version > d.version)
        ORDER BY episode_ended_at`,
      [now.toISOString(), hours],
    );
    return rows.map(fromRow);
  }

  /** Held files of a facility back in the queue (its certificate or code arrived). */
  async release(facility: string, now: Date): Promise<number> {
    const { rows } = await this.db.query<{ id: string }>(
      `UPDATE dossiers SET status = 'queued', next_attempt_at = $2::timestamptz, last_error = NULL WHERE facility = $1 AND status = 'held' RETURNING id`,
      [facility, now.toISOString()],
    );
    return rows.length;
  }
}
