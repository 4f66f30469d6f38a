import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { Vault } from '../facilities/vault.js';
import type { Queryable } from '../store/database.js';

/** The algorithm of the gateway's own access tokens. */
export const TOKEN_ALGORITHM = 'ES384';

interface KeyRow {
  kid: string;
  private_sealed: string;
  public_jwk: JWK;
}

/**
 * The key pair the gateway signs its access tokens with. Made once and kept in the database with
 * its private half sealed under the master key (like facility credentials): every replica signs
 * and verifies with the same keys, and neither the database nor its backups alone can forge a token.
 */
export class GatewayKeys {
  private signing?: { kid: string; key: CryptoKey };
  private readonly verifying = new Map<string, CryptoKey>();

  constructor(
    private readonly db: Queryable,
    private readonly vault: Vault,
  ) {}

  /** The current signing key; made on first use. Replicas starting together agree on the oldest. */
  async signingKey(): Promise<{ kid: string; key: CryptoKey }> {
    if (this.signing) return this.signing;
    let row = await this.oldest();
    if (!row) {
      const { privateKey, publicKey } = await generateKeyPair(TOKEN_ALGORITHM, { extractable: true });
      const kid = randomUUID();
      const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: TOKEN_ALGORITHM, use: 'sig' };
      const sealed = this.vault.seal(JSON.stringify(await exportJWK(privateKey)), `auth-key:${kid}`);
      await this.db.query('INSERT INTO auth_keys (kid, private_sealed, public_jwk) VALUES ($1, $2, $3::json) ON CONFLICT DO NOTHING', [kid, sealed, JSON.stringify(publicJwk)]);
      row = (await this.oldest())!;
    }
    const jwk = JSON.parse(this.vault.open(row.private_sealed, `auth-key:${row.kid}`)) as JWK;
    this.signing = { kid: row.kid, key: (await importJWK(jwk, TOKEN_ALGORITHM)) as CryptoKey };
    return this.signing;
  }

  /** The public key of a kid (looked up again when unknown: another replica may have made it). */
  async verificationKey(kid: string | undefined): Promise<CryptoKey | undefined> {
    if (!kid) return undefined;
    const hit = this.verifying.get(kid);
    if (hit) return hit;
    const { rows } = await this.db.query<KeyRow>('SELECT kid, private_sealed, public_jwk FROM auth_keys WHERE kid = $1', [kid]);
    if (!rows[0]) return undefined;
    const key = (await importJWK(rows[0].public_jwk, TOKEN_ALGORITHM)) as CryptoKey;
    this.verifying.set(kid, key);
    return key;
  }

  private async oldest(): Promise<KeyRow | undefined> {
    const { rows } = await this.db.query<KeyRow>('SELECT kid, private_sealed, public_jwk FROM auth_keys ORDER BY created_at, kid LIMIT 1');
    return rows[0];
  }
}
