import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { GatewayKeys } from './gateway-keys.js';
import { TOKEN_ALGORITHM } from './gateway-keys.js';
import { parseScopes, ROLES, type Principal, type Role } from './principal.js';
import type { SecuritySettings } from './settings.js';

/** Why a bearer token was not accepted: 401 with this in WWW-Authenticate (never the token). */
export class Unauthenticated extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'Unauthenticated';
  }
}

/**
 * Turns a bearer token into a Principal: the gateway's own tokens (verified with its keys), or an
 * external identity provider's (verified through its JWKS, issuer and audience as configured).
 */
export class Authenticator {
  private readonly remote?: ReturnType<typeof createRemoteJWKSet>;

  constructor(
    private readonly settings: SecuritySettings,
    private readonly keys: GatewayKeys | undefined,
  ) {
    if (settings.external) this.remote = createRemoteJWKSet(new URL(settings.external.jwksUrl));
  }

  async principal(authorization: string | undefined): Promise<Principal> {
    const m = /^Bearer\s+([A-Za-z0-9\-_.]+)\s*$/i.exec(authorization ?? '');
    if (!m) throw new Unauthenticated(authorization ? 'not a Bearer token' : 'no access token');
    const token = m[1];
    let issuer: string | undefined;
    try {
      issuer = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')).iss;
    } catch {
      throw new Unauthenticated('malformed token');
    }
    if (this.keys && issuer === this.settings.tokenIssuer) return this.own(token);
    if (this.remote && issuer === this.settings.external!.issuer) return this.external(token);
    throw new Unauthenticated('token of an unknown issuer');
  }

  private async own(token: string): Promise<Principal> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, async (header) => {
        const key = await this.keys!.verificationKey(header.kid);
        if (!key) throw new Unauthenticated('unknown signing key');
        return key;
      }, { algorithms: [TOKEN_ALGORITHM], issuer: this.settings.tokenIssuer, audience: this.settings.tokenIssuer, requiredClaims: ['exp', 'sub'] }));
    } catch (e) {
      throw e instanceof Unauthenticated ? e : new Unauthenticated('invalid or expired token');
    }
    const role = payload.role as Role;
    if (!ROLES.includes(role)) throw new Unauthenticated('token without a role');
    return {
      clientId: String(payload.client_id ?? payload.sub),
      role,
      ...(typeof payload.facility === 'string' ? { facility: payload.facility } : {}),
      ...(typeof payload.cccd === 'string' ? { cccd: payload.cccd } : {}),
      scopes: parseScopes(String(payload.scope ?? '')),
      issuer: this.settings.tokenIssuer,
    };
  }

  /**
   * An identity provider's token: its role from the configured claim, else from what it carries — a
   * CCCD and patient/ scopes make a citizen, a facility code a hospital. A token that fits no role
   * is refused rather than given a default one.
   */
  private async external(token: string): Promise<Principal> {
    const x = this.settings.external!;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.remote!, { issuer: x.issuer, audience: x.audience, requiredClaims: ['exp', 'sub'], algorithms: ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'PS256', 'PS384'] }));
    } catch {
      throw new Unauthenticated('invalid or expired token');
    }
    const scopes = parseScopes(typeof payload.scope === 'string' ? payload.scope : Array.isArray(payload.scp) ? payload.scp.join(' ') : '');
    const facility = typeof payload[x.facilityClaim] === 'string' ? (payload[x.facilityClaim] as string) : undefined;
    const cccd = typeof payload[x.cccdClaim] === 'string' ? (payload[x.cccdClaim] as string) : undefined;
    const claimed = payload[x.roleClaim] as Role | undefined;
    const role: Role | undefined = claimed && ROLES.includes(claimed) ? claimed : cccd && scopes.every((s) => s.context === 'patient') ? 'citizen' : facility ? 'hospital' : undefined;
    if (!role) throw new Unauthenticated('the token names no role, facility or citizen');
    if (role === 'hospital' && !facility) throw new Unauthenticated('a hospital token must name its facility');
    if (role === 'citizen' && !cccd) throw new Unauthenticated('a citizen token must name its CCCD');
    return {
      clientId: String(payload.azp ?? payload.client_id ?? payload.sub),
      role,
      ...(role === 'hospital' ? { facility } : {}),
      ...(role === 'citizen' ? { cccd } : {}),
      // A citizen gets patient/ scopes only, whatever else the provider put in the token.
      scopes: role === 'citizen' ? scopes.filter((s) => s.context === 'patient') : scopes.filter((s) => s.context !== 'patient'),
      issuer: x.issuer,
    };
  }
}
