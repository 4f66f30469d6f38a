import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, errors, jwtVerify, SignJWT } from 'jose';
import type { Logger } from '../log.js';
import { ASSERTION_ALGORITHMS, type ClientRegistry } from './clients.js';
import type { GatewayKeys } from './gateway-keys.js';
import { TOKEN_ALGORITHM } from './gateway-keys.js';
import { formatScope, grantScopes, parseScopes } from './principal.js';
import type { SecuritySettings } from './settings.js';

export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** An assertion may live at most this long (SMART Backend Services: exp no more than 5 minutes ahead). */
const MAX_ASSERTION_SECONDS = 300;
const CLOCK_SKEW_SECONDS = 30;

export interface TokenAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** An OAuth error (RFC 6749 §5.2); the description never echoes the assertion. */
const oauthError = (status: number, error: string, description: string): TokenAnswer => ({ status, body: { error, error_description: description } });

/**
 * `POST /auth/token` of SMART Backend Services: client credentials with a signed JWT assertion
 * (RS384 or ES384), checked against the client's registered public keys; each assertion is used
 * once (jti) and lives at most 5 minutes. The answer is a short-lived access token signed by the
 * gateway carrying the client's role, binding and the granted scopes.
 */
export class TokenServer {
  constructor(
    private readonly clients: ClientRegistry,
    private readonly keys: GatewayKeys,
    private readonly settings: SecuritySettings,
    private readonly log: Logger,
  ) {}

  /** `tokenUrl`: this endpoint's absolute URL, the audience a client's assertion must name. */
  async token(form: URLSearchParams, tokenUrl: string): Promise<TokenAnswer> {
    if (form.get('grant_type') !== 'client_credentials') return oauthError(400, 'unsupported_grant_type', 'grant_type must be client_credentials');
    if (form.get('client_assertion_type') !== ASSERTION_TYPE) return oauthError(400, 'invalid_request', `client_assertion_type must be ${ASSERTION_TYPE}`);
    const assertion = form.get('client_assertion');
    if (!assertion) return oauthError(400, 'invalid_request', 'client_assertion is missing');

    let clientId: string | undefined;
    try {
      // Unverified, only to find whose keys to verify it with.
      const claims = decodeJwt(assertion);
      clientId = typeof claims.iss === 'string' ? claims.iss : undefined;
    } catch {
      return oauthError(400, 'invalid_request', 'client_assertion is not a JWT');
    }
    const client = clientId ? await this.clients.get(clientId) : undefined;
    // An unknown client id is whatever the caller wrote: not logged.
    if (!client || client.disabledAt) return this.refused(client?.clientId, client ? 'disabled client' : 'unknown client');

    let payload;
    try {
      ({ payload } = await jwtVerify(assertion, createLocalJWKSet(client.jwks), {
        algorithms: [...ASSERTION_ALGORITHMS],
        issuer: client.clientId,
        subject: client.clientId,
        audience: tokenUrl,
        requiredClaims: ['exp', 'jti'],
        clockTolerance: CLOCK_SKEW_SECONDS,
      }));
    } catch (e) {
      return this.refused(client.clientId, e instanceof errors.JOSEError ? e.code : 'assertion not verified');
    }
    const now = Math.floor(Date.now() / 1000);
    if (payload.exp! > now + MAX_ASSERTION_SECONDS + CLOCK_SKEW_SECONDS) return this.refused(client.clientId, 'assertion exp more than 5 minutes ahead');
    if (typeof payload.jti !== 'string' || payload.jti.length === 0 || payload.jti.length > 256) return this.refused(client.clientId, 'assertion jti missing');
    if (!(await this.clients.useAssertion(client.clientId, payload.jti, new Date(payload.exp! * 1000)))) return this.refused(client.clientId, 'assertion replayed (jti already used)');

    const requested = form.get('scope') ?? '';
    const granted = grantScopes(parseScopes(requested), client.scopes);
    if (granted.length === 0) return oauthError(400, 'invalid_scope', 'none of the requested scopes is registered for this client');
    const scope = granted.map(formatScope).join(' ');
    const { kid, key } = await this.keys.signingKey();
    const ttl = this.settings.tokenTtlSeconds;
    const accessToken = await new SignJWT({
      scope,
      client_id: client.clientId,
      role: client.role,
      ...(client.facility ? { facility: client.facility } : {}),
      ...(client.cccd ? { cccd: client.cccd } : {}),
    })
      .setProtectedHeader({ alg: TOKEN_ALGORITHM, kid, typ: 'at+jwt' })
      .setIssuer(this.settings.tokenIssuer)
      .setAudience(this.settings.tokenIssuer)
      .setSubject(client.clientId)
      .setIssuedAt(now)
      .setExpirationTime(now + ttl)
      .setJti(randomUUID())
      .sign(key);
    this.log.info({ clientId: client.clientId, role: client.role, expiresIn: ttl }, 'access token issued');
    return { status: 200, body: { access_token: accessToken, token_type: 'bearer', expires_in: ttl, scope } };
  }

  private refused(clientId: string | undefined, reason: string): TokenAnswer {
    // The client id is the gateway's registration name, not personal data; the assertion is never logged.
    this.log.warn({ clientId: clientId ?? '(unknown)', reason }, 'token request refused');
    return oauthError(401, 'invalid_client', 'the client assertion was not accepted');
  }
}
