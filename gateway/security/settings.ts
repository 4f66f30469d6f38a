/**
 * What the environment says about authentication, authorization, audit and rate limits. Read by
 * config.ts (one field, `security`), so that everything the gateway reads stays in one place.
 */
export type AuthMode = 'off' | 'smart' | 'external' | 'none-behind-proxy';

export interface SecuritySettings {
  /**
   * `off` (the zero-setup default: loopback only), `smart` (the gateway's own SMART Backend Services
   * token endpoint, and an external identity provider too when AUTH_ISSUER is set), `external`
   * (only tokens of the identity provider), or `none-behind-proxy`: no authentication on any
   * interface, for a deployment whose authenticating proxy is the only way in — an explicit,
   * logged opt-out, never a default.
   */
  mode: AuthMode;
  /** The issuer (`iss`) and audience (`aud`) of the gateway's own access tokens. */
  tokenIssuer: string;
  /** How long an access token of the gateway lives (SMART recommends at most 5 minutes). */
  tokenTtlSeconds: number;
  /** An external identity provider: issuer, JWKS URL and the audience its tokens carry for the gateway. */
  external?: { issuer: string; jwksUrl: string; audience: string; roleClaim: string; facilityClaim: string; cccdClaim: string };
  /** A hospital reads the health book of a patient with an open encounter at its facility, or one ended at most this many days ago. */
  treatingWindowDays: number;
  /** Requests per second per client (0: no limit), and the burst a client may spend at once. */
  rateLimit: number;
  rateBurst: number;
  /** Whether every access to health data is written to the chained audit log. */
  audit: boolean;
  /** Independent hash chains of the audit log: writers on several replicas spread over them. */
  auditChains: number;
}

export function securitySettings(env: NodeJS.ProcessEnv, host: string): SecuritySettings {
  const mode = (env.AUTH || 'off') as AuthMode;
  if (!['off', 'smart', 'external', 'none-behind-proxy'].includes(mode)) {
    throw new Error(`AUTH must be off, smart, external or none-behind-proxy, not "${env.AUTH}"`);
  }
  const external = env.AUTH_ISSUER
    ? {
        issuer: env.AUTH_ISSUER,
        jwksUrl: required(env, 'AUTH_JWKS_URL', 'AUTH_ISSUER'),
        audience: required(env, 'AUTH_AUDIENCE', 'AUTH_ISSUER'),
        roleClaim: env.AUTH_ROLE_CLAIM || 'role',
        facilityClaim: env.AUTH_FACILITY_CLAIM || 'ma_cskcb',
        cccdClaim: env.AUTH_CCCD_CLAIM || 'cccd',
      }
    : undefined;
  if (mode === 'external' && !external) throw new Error('AUTH=external needs AUTH_ISSUER, AUTH_JWKS_URL and AUTH_AUDIENCE');
  const authenticated = mode === 'smart' || mode === 'external';
  const rateLimit = num(env.RATE_LIMIT, 50, 'RATE_LIMIT');
  return {
    mode,
    tokenIssuer: env.AUTH_TOKEN_ISSUER || 'urn:vn-healthbook-gateway',
    tokenTtlSeconds: num(env.AUTH_TOKEN_TTL_SECONDS, 300, 'AUTH_TOKEN_TTL_SECONDS'),
    external,
    treatingWindowDays: num(env.TREATING_WINDOW_DAYS, 30, 'TREATING_WINDOW_DAYS'),
    // Without authentication every caller is the same anonymous one: a limit would only throttle the developer.
    rateLimit: authenticated ? rateLimit : 0,
    rateBurst: num(env.RATE_LIMIT_BURST, Math.max(1, rateLimit * 2), 'RATE_LIMIT_BURST'),
    // Audit is on whenever someone other than the local developer can reach the gateway; AUDIT=on asks for it anyway.
    audit: authenticated || mode === 'none-behind-proxy' || !isLoopback(host) || env.AUDIT === 'on',
    auditChains: Math.max(1, num(env.AUDIT_CHAINS, 4, 'AUDIT_CHAINS')),
  };
}

export function authenticates(s: SecuritySettings): boolean {
  return s.mode === 'smart' || s.mode === 'external';
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Zero setup stays zero setup, but only on this machine: without authentication the gateway
 * listens on loopback, and refuses to listen anywhere else unless the operator said explicitly that
 * a proxy authenticates for it. Returns the warning to log, or throws.
 */
export function checkExposure(host: string, s: SecuritySettings): string | undefined {
  if (authenticates(s)) return undefined;
  if (s.mode === 'none-behind-proxy') {
    return `AUTH=none-behind-proxy: the gateway authenticates nobody on ${host}; only an authenticating proxy may reach it, and no facility or citizen scope applies`;
  }
  if (!isLoopback(host)) {
    throw new Error(
      `Refusing to listen on ${host} without authentication: set AUTH=smart (register clients with \`npm run cli -- client add\`) ` +
        `or AUTH=external with AUTH_ISSUER, AUTH_JWKS_URL and AUTH_AUDIENCE; or listen on 127.0.0.1 (HOST unset) for local development`,
    );
  }
  return `No authentication configured (AUTH=off): the gateway listens on ${host} only and anyone on this machine can read and write everything`;
}

function required(env: NodeJS.ProcessEnv, name: string, because: string): string {
  const v = env[name];
  if (!v) throw new Error(`${because} needs ${name}`);
  return v;
}

function num(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, not "${value}"`);
  return n;
}
