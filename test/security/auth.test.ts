import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../gateway/config.js';
import { createGateway } from '../../gateway/server.js';
import { ClientRegistry } from '../../gateway/security/clients.js';
import { checkExposure, securitySettings } from '../../gateway/security/settings.js';
import { createLogger } from '../../gateway/log.js';
import { FHIR_JSON, startGateway, type TestGateway } from '../support/gateway.js';
import { STORES } from '../support/stores.js';
import { accessToken, ASSERTION_TYPE, assertion, keyPair, registerClient, secureGateway, tokenRequest, type TestClient } from './support.js';

/** Every route that reaches health data, or the people who run the gateway. */
const PROTECTED: [string, string][] = [
  ['GET', '/fhir/Patient'],
  ['GET', '/fhir/Patient/p1'],
  ['GET', '/fhir/Patient/p1/_history'],
  ['GET', '/fhir/Patient/p1/$summary'],
  ['GET', '/fhir/Patient/$summary?identifier=010167004521'],
  ['GET', '/fhir/Encounter/e1/$xml130'],
  ['GET', '/fhir/_history'],
  ['GET', '/fhir/AuditEvent'],
  ['POST', '/fhir'],
  ['POST', '/fhir/Patient'],
  ['POST', '/fhir/Patient/_search'],
  ['PUT', '/fhir/Patient/p1'],
  ['DELETE', '/fhir/Patient/p1'],
  ['GET', '/book/p1'],
  ['GET', '/readiness'],
];

describe.each(STORES)('authentication on $name', (store) => {
  let gw: TestGateway;
  let hospital: TestClient;
  beforeAll(async () => {
    gw = await secureGateway(store);
    hospital = await registerClient(gw, { id: 'bv-10085', role: 'hospital', facility: '10085', alg: 'RS384' });
  });
  afterAll(() => gw.close());

  const form = async (c: TestClient, tweak: Parameters<typeof assertion>[1] = {}, extra: Record<string, string> = {}) =>
    tokenRequest(gw, { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(c, tweak), ...extra });

  it('answers every protected route without a token with 401, an OperationOutcome and WWW-Authenticate', async () => {
    for (const [method, path] of PROTECTED) {
      const res = await gw.http[method.toLowerCase() as 'get'](path).set('Content-Type', FHIR_JSON).send(method === 'GET' ? undefined : '{}');
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(res.headers['www-authenticate'], path).toMatch(/^Bearer /);
      expect(res.body.resourceType, path).toBe('OperationOutcome');
      expect(res.body.issue[0].code).toBe('login');
    }
  });

  it('leaves the CapabilityStatement, discovery and health checks open', async () => {
    expect((await gw.http.get('/fhir/metadata')).status).toBe(200);
    expect((await gw.http.get('/healthz')).status).toBe(200);
    expect((await gw.http.get('/readyz')).status).toBe(200);
    const smart = await gw.http.get('/.well-known/smart-configuration');
    expect(smart.status).toBe(200);
    expect(smart.body).toMatchObject({
      token_endpoint: 'http://gw.test/auth/token',
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
    });
  });

  it('issues a short-lived token for an RS384 or ES384 assertion, and the token opens the API', async () => {
    const res = await form(hospital);
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'bearer', expires_in: 300, scope: 'system/*.cruds' });
    const ok = await gw.http.get('/fhir/Patient').set('Authorization', `Bearer ${res.body.access_token}`);
    expect(ok.status).toBe(200);
    const es = await registerClient(gw, { id: 'bv-es384', role: 'hospital', facility: '10085', alg: 'ES384' });
    expect((await form(es)).status).toBe(200);
  });

  it('refuses replayed, long-lived, misaddressed, foreign-signed and unknown assertions', async () => {
    const jti = 'once-only';
    expect((await form(hospital, { jti })).status).toBe(200);
    const replay = await form(hospital, { jti });
    expect(replay.status).toBe(401);
    expect(replay.body.error).toBe('invalid_client');
    expect((await form(hospital, { exp: Math.floor(Date.now() / 1000) + 3600 })).status).toBe(401);
    expect((await form(hospital, { exp: Math.floor(Date.now() / 1000) - 120 })).status).toBe(401);
    expect((await form(hospital, { aud: 'http://elsewhere/auth/token' })).status).toBe(401);
    const other = await keyPair('RS384');
    expect((await form(hospital, { key: other.privateKey })).status).toBe(401);
    expect((await form({ ...hospital, id: 'nobody' })).status).toBe(401);
    // An HMAC "assertion" keyed with the public key (algorithm confusion) is refused.
    const hs = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer(hospital.id).setSubject(hospital.id).setAudience('http://gw.test/auth/token').setExpirationTime('2m').setJti('hs').sign(new TextEncoder().encode(JSON.stringify(hospital.publicJwk)));
    expect((await tokenRequest(gw, { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: hs })).status).toBe(401);
    expect((await tokenRequest(gw, { grant_type: 'password', client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(hospital) })).status).toBe(400);
    expect((await tokenRequest(gw, { grant_type: 'client_credentials', client_assertion_type: 'x', client_assertion: await assertion(hospital) })).status).toBe(400);
    // Never logged: the assertion or a token.
    const logText = JSON.stringify(gw.logs);
    expect(logText).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
  });

  it('stops a disabled client at once and refuses a private key at registration', async () => {
    const c = await registerClient(gw, { id: 'bv-disabled', role: 'hospital', facility: '10085' });
    expect((await form(c)).status).toBe(200);
    await new ClientRegistry(gw.db).disable(c.id);
    expect((await form(c)).status).toBe(401);
    const { privateKey } = await keyPair('ES384');
    const { exportJWK } = await import('jose');
    await expect(new ClientRegistry(gw.db).save({ clientId: 'leaky', name: 'leaky', role: 'hospital', facility: '10085', jwks: await exportJWK(privateKey) })).rejects.toThrow(/private key/);
    await expect(new ClientRegistry(gw.db).save({ clientId: 'nofacility', name: 'x', role: 'hospital', jwks: c.publicJwk })).rejects.toThrow(/facility/);
  });

  it('refuses bad tokens with 401: garbage, tampered, another issuer', async () => {
    const token = await accessToken(gw, hospital);
    const [h, p, s] = token.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, facility: '79024' })).toString('base64url')}.${s}`;
    for (const bad of ['garbage', `${h}.${p}.AAAA`, tampered, 'a.b.c']) {
      const res = await gw.http.get('/fhir/Patient').set('Authorization', `Bearer ${bad}`);
      expect(res.status, bad.slice(0, 20)).toBe(401);
      expect(res.body.resourceType).toBe('OperationOutcome');
    }
    const foreign = await new SignJWT({ role: 'admin', scope: 'system/*.cruds' }).setProtectedHeader({ alg: 'ES384' }).setIssuer('urn:someone-else').setAudience('urn:vn-healthbook-gateway').setSubject('x').setExpirationTime('2m').sign((await keyPair('ES384')).privateKey);
    expect((await gw.http.get('/fhir/Patient').set('Authorization', `Bearer ${foreign}`)).status).toBe(401);
  });

  it('grants only the scopes registered and asked for, and refuses with 403 what they do not cover', async () => {
    const narrow = await registerClient(gw, { id: 'bv-readonly', role: 'hospital', facility: '10085', scopes: 'system/Patient.rs system/Encounter.rs' });
    const res = await form(narrow, {}, { scope: 'system/Patient.rs system/Observation.cruds' });
    expect(res.body.scope).toBe('system/Patient.rs');
    const auth = { Authorization: `Bearer ${res.body.access_token}` };
    expect((await gw.http.get('/fhir/Patient').set(auth)).status).toBe(200);
    const enc = await gw.http.get('/fhir/Encounter').set(auth);
    expect(enc.status).toBe(403);
    expect(enc.body.issue[0].code).toBe('forbidden');
    expect((await gw.http.post('/fhir/Patient').set(auth).set('Content-Type', FHIR_JSON).send('{"resourceType":"Patient"}')).status).toBe(403);
    expect((await form(narrow, {}, { scope: 'system/Observation.rs' })).body.error).toBe('invalid_scope');
  });

  it('sets security headers on every answer', async () => {
    for (const path of ['/fhir/metadata', '/fhir/Patient', '/healthz']) {
      const res = await gw.http.get(path);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
      expect(res.headers['content-security-policy']).toMatch(/default-src 'none'/);
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['x-powered-by']).toBeUndefined();
    }
  });
});

describe('rate limits', () => {
  it('answers 429 with Retry-After once a client spends its burst', async () => {
    const gw = await secureGateway(STORES[0], { RATE_LIMIT: '1', RATE_LIMIT_BURST: '3' });
    try {
      const c = await registerClient(gw, { id: 'bv-busy', role: 'hospital', facility: '10085' });
      const auth = { Authorization: `Bearer ${await accessToken(gw, c)}` };
      const statuses: number[] = [];
      let retryAfter: string | undefined;
      for (let i = 0; i < 5; i++) {
        const res = await gw.http.get('/fhir/Patient').set(auth);
        statuses.push(res.status);
        if (res.status === 429) {
          retryAfter = res.headers['retry-after'];
          expect(res.body.issue[0].code).toBe('throttled');
        }
      }
      expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
      expect(statuses.slice(3)).toEqual([429, 429]);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      // Another client has its own bucket.
      const other = await registerClient(gw, { id: 'bv-quiet', role: 'hospital', facility: '10085' });
      expect((await gw.http.get('/fhir/Patient').set('Authorization', `Bearer ${await accessToken(gw, other)}`)).status).toBe(200);
    } finally {
      await gw.close();
    }
  });
});

describe('where an unauthenticated gateway may listen', () => {
  it('listens on loopback only without authentication, and says so', () => {
    expect(checkExposure('127.0.0.1', securitySettings({}, '127.0.0.1'))).toMatch(/No authentication configured/);
    expect(loadConfig({}).host).toBe('127.0.0.1');
    expect(() => checkExposure('0.0.0.0', securitySettings({}, '0.0.0.0'))).toThrow(/Refusing to listen on 0\.0\.0\.0 without authentication/);
    expect(() => checkExposure('10.1.2.3', securitySettings({ AUTH: 'off' }, '10.1.2.3'))).toThrow(/AUTH=smart/);
    expect(checkExposure('0.0.0.0', securitySettings({ AUTH: 'smart' }, '0.0.0.0'))).toBeUndefined();
    expect(checkExposure('0.0.0.0', securitySettings({ AUTH: 'none-behind-proxy' }, '0.0.0.0'))).toMatch(/authenticating proxy/);
    expect(() => securitySettings({ AUTH: 'maybe' }, '127.0.0.1')).toThrow(/AUTH must be/);
  });

  it('refuses to start on 0.0.0.0 without authentication', async () => {
    const config = loadConfig({ HOST: '0.0.0.0', PUBLIC_BASE_URL: 'http://gw.test/fhir' });
    const db = await STORES[0].open();
    try {
      await expect(createGateway(config, createLogger('silent'), { worker: null, db })).rejects.toThrow(/Refusing to listen on 0\.0\.0\.0/);
    } finally {
      await db.close();
    }
  });

  it('keeps the zero-setup gateway open on loopback (no token asked)', async () => {
    const gw = await startGateway(STORES[0]);
    try {
      expect((await gw.http.get('/fhir/Patient')).status).toBe(200);
      expect(gw.logs.some((l) => /No authentication configured/.test(String(l.msg)))).toBe(true);
    } finally {
      await gw.close();
    }
  });
});

describe('an external identity provider', () => {
  let jwks: Server;
  let url = '';
  const idp = keyPair('RS256');
  beforeAll(async () => {
    const { publicJwk } = await idp;
    jwks = createServer((_req, res) => res.setHeader('Content-Type', 'application/json').end(JSON.stringify({ keys: [publicJwk] })));
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`;
  });
  afterAll(() => new Promise<void>((r) => jwks.close(() => r())));

  it('accepts its tokens for the configured issuer and audience, and nothing else', async () => {
    const gw = await startGateway(STORES[0], {}, { AUTH: 'external', AUTH_ISSUER: 'https://idp.example.vn', AUTH_JWKS_URL: url, AUTH_AUDIENCE: 'gateway' });
    try {
      const { privateKey, publicJwk } = await idp;
      const sign = (claims: Record<string, unknown>, aud = 'gateway', iss = 'https://idp.example.vn') =>
        new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: publicJwk.kid }).setIssuer(iss).setAudience(aud).setSubject('his-10085').setExpirationTime('2m').sign(privateKey);
      const good = await sign({ scope: 'system/*.rs', ma_cskcb: '10085' });
      expect((await gw.http.get('/fhir/Patient').set('Authorization', `Bearer ${good}`)).status).toBe(200);
      expect((await gw.http.get('/fhir/Patient').set('Authorization', `Bearer ${await sign({ scope: 'system/*.rs', ma_cskcb: '10085' }, 'another-api')}`)).status).toBe(401);
      // No role, facility or CCCD: refused rather than given a default role.
      expect((await gw.http.get('/fhir/Patient').set('Authorization', `Bearer ${await sign({ scope: 'system/*.rs' })}`)).status).toBe(401);
      // Read-only scopes: a write is a 403.
      expect((await gw.http.post('/fhir/Patient').set('Authorization', `Bearer ${good}`).set('Content-Type', FHIR_JSON).send('{"resourceType":"Patient"}')).status).toBe(403);
      expect((await gw.http.get('/.well-known/smart-configuration')).body.issuer).toBe('https://idp.example.vn');
      expect((await gw.http.post('/auth/token').type('form').send('grant_type=client_credentials')).status).not.toBe(200);
    } finally {
      await gw.close();
    }
  });
});
