import { SECURITY_SCHEMA } from '../security/schema.js';
import type { Database } from './database.js';

/**
 * Schema versions, applied in order at start. Each runs once (recorded in `schema_migrations`);
 * replicas starting together serialise on an advisory lock, so a migration never runs twice.
 * Never edit a released migration: add the next one.
 */
export const MIGRATIONS: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'resources, history and search index',
    sql: `
      -- The current version of every resource (a tombstone when deleted), with its search keys.
      -- Content is json, not jsonb: jsonb re-orders keys (shortest first), which would scramble the
      -- FHIR order clients expect (resourceType, id, meta, …) and costs a conversion on every write
      -- and read; searches use the tokens and resource_dates indexes, never the content. A query that
      -- wants jsonb operators casts (content::jsonb).
      CREATE TABLE resources (
        resource_type text NOT NULL,
        id text NOT NULL,
        version_id integer NOT NULL,
        last_updated timestamptz NOT NULL,
        deleted boolean NOT NULL DEFAULT false,
        content json NOT NULL,
        tokens text[] NOT NULL DEFAULT '{}',
        PRIMARY KEY (resource_type, id)
      );
      CREATE INDEX resources_tokens ON resources USING gin (tokens);
      CREATE INDEX resources_updated ON resources (resource_type, last_updated, id);

      -- Every earlier version, moved here when a newer one is written.
      CREATE TABLE resource_history (
        resource_type text NOT NULL,
        id text NOT NULL,
        version_id integer NOT NULL,
        last_updated timestamptz NOT NULL,
        deleted boolean NOT NULL,
        content json NOT NULL,
        PRIMARY KEY (resource_type, id, version_id)
      );
      CREATE INDEX resource_history_updated ON resource_history (resource_type, last_updated);

      -- Date search parameters as ranges [low, high], one row per value.
      CREATE TABLE resource_dates (
        resource_type text NOT NULL,
        id text NOT NULL,
        param text NOT NULL,
        low timestamptz NOT NULL,
        high timestamptz NOT NULL
      );
      CREATE INDEX resource_dates_resource ON resource_dates (resource_type, id);
      CREATE INDEX resource_dates_low ON resource_dates (resource_type, param, low);
      CREATE INDEX resource_dates_high ON resource_dates (resource_type, param, high);
    `,
  },
  {
    version: 2,
    name: 'submission outbox',
    sql: `
      -- One row per version of a file for the BHXH portal (a claim file, or an episode's check-in),
      -- written in the same transaction as the clinical write that made it; its Task (same id) shows
      -- it in FHIR terms. The worker claims due rows with FOR UPDATE SKIP LOCKED, so any number of
      -- gateway processes can share the queue.
      CREATE TABLE dossiers (
        id text PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('claim', 'checkin')),
        facility text NOT NULL,
        ma_lk text NOT NULL,
        version integer NOT NULL,
        encounter_id text NOT NULL,
        patient_id text,
        organization_id text,
        standard text NOT NULL,
        -- The file as built (unsigned), and the SHA-256 of its tables: a new version only when they change.
        document text NOT NULL,
        content_hash text NOT NULL,
        -- The exact bytes sent, signed once: a resend after a crash sends the same file.
        signed text,
        status text NOT NULL CHECK (status IN ('queued', 'sending', 'accepted', 'rejected', 'held', 'invalid', 'superseded')),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        lease_until timestamptz,
        last_error text,
        receipt jsonb,
        issues jsonb,
        episode_ended_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz,
        accepted_at timestamptz,
        UNIQUE (encounter_id, kind, version)
      );
      CREATE INDEX dossiers_due ON dossiers (next_attempt_at) WHERE status IN ('queued', 'sending');
      CREATE INDEX dossiers_facility ON dossiers (facility, status);
    `,
  },
  {
    version: 3,
    name: 'facility credentials and onboarding',
    sql: `
      -- A facility's signing credentials and portal account, sealed under the master key (never in
      -- clear text here, never returned by the API). Keyed by its Organization: a facility may
      -- register before the Department of Health gives it a code.
      CREATE TABLE facility_credentials (
        organization_id text PRIMARY KEY,
        sealed text NOT NULL,
        -- Public facts kept in clear for the readiness checklist: the certificate, the account name.
        certificate text,
        portal_username text,
        revoked_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      -- The outcome of each onboarding check (portal login…), and what an administrator attested.
      CREATE TABLE facility_checks (
        organization_id text NOT NULL,
        step text NOT NULL,
        ok boolean NOT NULL,
        detail text,
        attested_by text,
        attested_on date,
        checked_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (organization_id, step)
      );
      -- Which certificate signed a file (its SHA-256 fingerprint): a certificate is proven accepted by
      -- the portal when a file it signed was.
      ALTER TABLE dossiers ADD COLUMN signer_fingerprint text;
    `,
  },
  {
    version: 4,
    name: 'health book projection',
    sql: `
      -- The QĐ 1332 health book, kept per part: a patient's own block ('patient/<id>') and one part
      -- per episode ('episode/<Encounter id>'), each what its mappings produced (rows per section and
      -- the subsetted resources they cite). depends_on lists every resource a part was built from, so
      -- that a write re-projects exactly the parts that read it.
      -- An episode's line in the book's list is kept apart, so that rewriting the book's own
      -- Composition reads a few bytes per episode, not every part.
      CREATE TABLE health_book (
        part text PRIMARY KEY,
        patient_id text NOT NULL,
        sort_key text NOT NULL,
        content json NOT NULL,
        line json,
        depends_on text[] NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX health_book_patient ON health_book (patient_id, sort_key);
      CREATE INDEX health_book_depends ON health_book USING gin (depends_on);
      -- Bumped in the transaction of every change to a patient's book: what a cached $summary is checked against.
      CREATE TABLE health_book_versions (
        patient_id text PRIMARY KEY,
        version bigint NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'security: clients, token keys, chained audit log',
    sql: SECURITY_SCHEMA,
  },
  {
    version: 6,
    name: 'GIN indexes without a pending list',
    // With fastupdate on, new keys wait in a pending list that every probe scans linearly until a
    // vacuum merges it: under steady ingest, an episode's 13 member searches took ~4 ms instead of
    // ~1.6 ms. Searches by reference run on every write (episodes, the book's dependencies), so
    // the index pays at insert time instead.
    sql: `
      ALTER INDEX resources_tokens SET (fastupdate = off);
      ALTER INDEX health_book_depends SET (fastupdate = off);
    `,
  },
];

const MIGRATION_LOCK = 7_431_022_001;

export async function migrate(db: Database): Promise<number[]> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await tx.query<{ version: number }>('SELECT version FROM schema_migrations');
    const done = new Set(rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    return applied;
  });
}
