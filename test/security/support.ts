import { randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { ClientRegistry } from '../../gateway/security/clients.js';
import type { Role } from '../../gateway/security/principal.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import type { StoreFactory } from '../support/stores.js';

export const TOKEN_URL = 'http://gw.test/auth/token';
export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** A gateway with the SMART token endpoint on (and so audit), on a fresh database. */
export function secureGateway(store: StoreFactory, env: NodeJS.ProcessEnv = {}): Promise<TestGateway> {
  return startGateway(store, {}, { AUTH: 'smart', GATEWAY_MASTER_KEY: randomBytes(32).toString('base64'), ...env });
}

export interface TestClient {
  id: string;
  alg: 'RS384' | 'ES384';
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function keyPair(alg: 'RS384' | 'ES384' | 'RS256' = 'ES384'): Promise<{ privateKey: CryptoKey; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid: randomUUID(), alg } };
}

export async function registerClient(gw: TestGateway, o: { id: string; role: Role; facility?: string; cccd?: string; scopes?: string; alg?: 'RS384' | 'ES384' }): Promise<TestClient> {
  const alg = o.alg ?? 'ES384';
  const { privateKey, publicJwk } = await keyPair(alg);
  await new ClientRegistry(gw.db).save({ clientId: o.id, name: o.id, role: o.role, facility: o.facility, cccd: o.cccd, scopes: o.scopes, jwks: { keys: [publicJwk] } });
  return { id: o.id, alg, privateKey, publicJwk };
}

/** A client assertion as SMART Backend Services asks for it; `tweak` bends it for the negative tests. */
export function assertion(c: TestClient, tweak: { aud?: string; exp?: number; jti?: string; iss?: string; key?: CryptoKey; alg?: string } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: tweak.alg ?? c.alg, kid: c.publicJwk.kid, typ: 'JWT' })
    .setIssuer(tweak.iss ?? c.id)
    .setSubject(c.id)
    .setAudience(tweak.aud ?? TOKEN_URL)
    .setExpirationTime(tweak.exp ?? now + 240)
    .setJti(tweak.jti ?? randomUUID())
    .sign(tweak.key ?? c.privateKey);
}

export function tokenRequest(gw: TestGateway, form: Record<string, string>) {
  return gw.http.post('/auth/token').type('form').send(new URLSearchParams(form).toString());
}

export async function accessToken(gw: TestGateway, c: TestClient, scope?: string): Promise<string> {
  const res = await tokenRequest(gw, { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(c), ...(scope ? { scope } : {}) });
  if (res.status !== 200) throw new Error(`token refused: ${res.status} ${res.text}`);
  return res.body.access_token as string;
}
