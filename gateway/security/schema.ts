/**
 * Tables of the security layer (migration 5): registered clients, assertion ids already used, the
 * gateway's token signing keys, and the chained audit log.
 */
export const SECURITY_SCHEMA = `
  -- Clients allowed to ask for tokens (SMART Backend Services): their public keys, their role, and
  -- what they are bound to — a facility (MA_CSKCB) for a hospital, a CCCD for a citizen app.
  CREATE TABLE auth_clients (
    client_id text PRIMARY KEY,
    name text NOT NULL,
    role text NOT NULL CHECK (role IN ('hospital', 'citizen', 'auditor', 'admin')),
    facility text,
    cccd text,
    scopes text NOT NULL,
    jwks json NOT NULL,
    disabled_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'hospital') = (facility IS NOT NULL)),
    CHECK ((role = 'citizen') = (cccd IS NOT NULL))
  );
  -- Each client assertion is used once (its jti), until it expires.
  CREATE TABLE auth_assertions (
    client_id text NOT NULL,
    jti text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (client_id, jti)
  );
  CREATE INDEX auth_assertions_expiry ON auth_assertions (expires_at);
  -- The gateway's own token signing keys: the private key sealed under the master key, so that
  -- every replica signs and verifies with the same keys and the database alone cannot forge tokens.
  CREATE TABLE auth_keys (
    kid text PRIMARY KEY,
    private_sealed text NOT NULL,
    public_jwk json NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
  );

  -- The audit log, append-only: one AuditEvent per access, in one of a few hash chains. Each event's
  -- hash covers the previous one's, and the chain's head row (locked FOR UPDATE by every writer,
  -- so that concurrent writers on any number of replicas take turns) holds the last sequence number
  -- and hash: an event altered, removed or cut off the end breaks the chain.
  CREATE TABLE audit_chains (
    chain integer PRIMARY KEY,
    seq bigint NOT NULL,
    hash text NOT NULL
  );
  CREATE TABLE audit_events (
    chain integer NOT NULL,
    seq bigint NOT NULL,
    id text NOT NULL UNIQUE,
    recorded timestamptz NOT NULL,
    client_id text NOT NULL,
    patients text[] NOT NULL,
    action text NOT NULL,
    outcome text NOT NULL,
    content json NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL,
    PRIMARY KEY (chain, seq)
  );
  CREATE INDEX audit_events_recorded ON audit_events (recorded);
  CREATE INDEX audit_events_client ON audit_events (client_id, recorded);
  CREATE INDEX audit_events_patients ON audit_events USING gin (patients);
  -- No route updates or deletes an event; neither may a stray statement. (A superuser can still
  -- disable this: the chain is what proves nothing was changed.)
  CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
  END
  $$;
  CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
`;
