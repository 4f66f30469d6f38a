import { importJWK, type JWK } from 'jose';
import type { Queryable } from '../store/database.js';
import { CCCD_NUMBER } from '../fhir/vn.js';
import { DEFAULT_SCOPES, parseScope, parseScopes, ROLES, type Role, type Scope } from './principal.js';

/** Algorithms a client assertion may use (SMART Backend Services: RS384 and ES384). */
export const ASSERTION_ALGORITHMS = ['RS384', 'ES384'] as const;

export interface RegisteredClient {
  clientId: string;
  name: string;
  role: Role;
  facility?: string;
  cccd?: string;
  scopes: Scope[];
  scopeText: string;
  jwks: { keys: JWK[] };
  disabledAt?: string;
}

export interface ClientRegistration {
  clientId: string;
  name: string;
  role: Role;
  facility?: string;
  cccd?: string;
  /** Space-separated SMART scopes; the role's default when absent. */
  scopes?: string;
  /** A public JWK or a JWK Set (`{ "keys": [...] }`). */
  jwks: unknown;
}

interface ClientRow {
  client_id: string;
  name: string;
  role: Role;
  facility: string | null;
  cccd: string | null;
  scopes: string;
  jwks: { keys: JWK[] };
  disabled_at: Date | string | null;
}

/**
 * The clients allowed to ask for tokens, in the database so that every replica knows them. An
 * administrator manages them with `npm run cli -- client …`; only public keys are ever stored.
 */
export class ClientRegistry {
  constructor(private readonly db: Queryable) {}

  async get(clientId: string): Promise<RegisteredClient | undefined> {
    const { rows } = await this.db.query<ClientRow>('SELECT * FROM auth_clients WHERE client_id = $1', [clientId]);
    return rows[0] && toClient(rows[0]);
  }

  async list(): Promise<RegisteredClient[]> {
    const { rows } = await this.db.query<ClientRow>('SELECT * FROM auth_clients ORDER BY client_id');
    return rows.map(toClient);
  }

  /** Registers a client, or replaces its keys, role, binding and scopes (and enables it again). */
  async save(r: ClientRegistration): Promise<RegisteredClient> {
    const checked = await checkRegistration(r);
    await this.db.query(
      `INSERT INTO auth_clients (client_id, name, role, facility, cccd, scopes, jwks)
       VALUES ($1, $2, $3, $4, $5, $6, $7::json)
       ON CONFLICT (client_id) DO UPDATE SET name = EXCLUDED.name, role = EXCLUDED.role, facility = EXCLUDED.facility,
         cccd = EXCLUDED.cccd, scopes = EXCLUDED.scopes, jwks = EXCLUDED.jwks, disabled_at = NULL, updated_at = now()`,
      [r.clientId, r.name, r.role, r.facility ?? null, r.cccd ?? null, checked.scopes, JSON.stringify(checked.jwks)],
    );
    return (await this.get(r.clientId))!;
  }

  /** Stops a client at once: no new token; tokens already issued expire within their short lifetime. */
  async disable(clientId: string): Promise<boolean> {
    const { rows } = await this.db.query('UPDATE auth_clients SET disabled_at = now(), updated_at = now() WHERE client_id = $1 RETURNING 1', [clientId]);
    return rows.length > 0;
  }

  /**
   * Records an assertion's jti; false when it was seen before (a replay). Expired ids are swept
   * first: an assertion lives at most 5 minutes, so the table stays small.
   */
  async useAssertion(clientId: string, jti: string, expiresAt: Date): Promise<boolean> {
    await this.db.query('DELETE FROM auth_assertions WHERE expires_at < now() - interval \'1 minute\'');
    const { rows } = await this.db.query(
      'INSERT INTO auth_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1',
      [clientId, jti, expiresAt.toISOString()],
    );
    return rows.length > 0;
  }
}

function toClient(row: ClientRow): RegisteredClient {
  return {
    clientId: row.client_id,
    name: row.name,
    role: row.role,
    ...(row.facility ? { facility: row.facility } : {}),
    ...(row.cccd ? { cccd: row.cccd } : {}),
    scopes: parseScopes(row.scopes),
    scopeText: row.scopes,
    jwks: row.jwks,
    ...(row.disabled_at ? { disabledAt: new Date(row.disabled_at).toISOString() } : {}),
  };
}

/** Refuses what could not work or would grant more than meant: private keys, unknown scopes, a role without its binding. */
async function checkRegistration(r: ClientRegistration): Promise<{ scopes: string; jwks: { keys: JWK[] } }> {
  if (!/^[A-Za-z0-9._:-]{3,128}$/.test(r.clientId)) throw new Error('client id: 3–128 letters, digits, . _ : -');
  if (!ROLES.includes(r.role)) throw new Error(`role must be one of ${ROLES.join(', ')}`);
  if (r.role === 'hospital' && !/^[0-9A-Z]{5}$/.test(r.facility ?? '')) throw new Error('a hospital client needs its facility code (MA_CSKCB, 5 characters)');
  if (r.role !== 'hospital' && r.facility) throw new Error('only a hospital client is bound to a facility');
  if (r.role === 'citizen' && !CCCD_NUMBER.test(r.cccd ?? '')) throw new Error('a citizen client needs the citizen’s CCCD (12 digits)');
  if (r.role !== 'citizen' && r.cccd) throw new Error('only a citizen client is bound to a CCCD');
  const scopes = r.scopes?.trim() || DEFAULT_SCOPES[r.role];
  for (const s of scopes.split(/\s+/)) {
    const parsed = parseScope(s);
    if (!parsed) throw new Error(`"${s}" is not a SMART v2 resource scope (system/Encounter.cruds, patient/*.rs …)`);
    if (r.role === 'citizen' && parsed.context !== 'patient') throw new Error('a citizen client has patient/ scopes only');
    if (r.role !== 'citizen' && parsed.context === 'patient') throw new Error('patient/ scopes belong to citizen clients');
  }
  const given = r.jwks as { keys?: unknown } | JWK;
  const keys = (Array.isArray((given as { keys?: unknown }).keys) ? (given as { keys: JWK[] }).keys : [given as JWK]).filter(Boolean);
  if (keys.length === 0) throw new Error('no public key given (a JWK or a JWK Set)');
  for (const k of keys) {
    if (typeof k !== 'object' || !k.kty) throw new Error('a key is not a JWK');
    // A private member means the client's secret travelled: refuse it rather than store it.
    if (['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'].some((m) => m in k)) throw new Error('this JWK holds private key material: register the public key only');
    const alg = k.alg ?? (k.kty === 'EC' ? 'ES384' : 'RS384');
    if (!(ASSERTION_ALGORITHMS as readonly string[]).includes(alg)) throw new Error(`key algorithm ${alg}: use RS384 or ES384`);
    await importJWK({ ...k, alg }, alg); // throws on a malformed key
  }
  return { scopes, jwks: { keys } };
}
