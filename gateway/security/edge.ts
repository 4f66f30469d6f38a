import express, { type NextFunction, type Request, type Response } from 'express';
import { FhirError } from '../fhir/outcome.js';
import type { Logger } from '../log.js';
import type { Database } from '../store/database.js';
import { auditEvent, type AuditLog } from './audit-log.js';
import { Unauthenticated, type Authenticator } from './authenticate.js';
import { unauthenticated } from './guard.js';
import { forbidden, type AccessPolicy } from './policy.js';
import { RateLimiter } from './rate-limit.js';
import type { SecuritySettings } from './settings.js';
import type { TokenServer } from './token-server.js';

/** What the HTTP edge mounts (gateway/http/app.ts calls `mount` once, after the health checks). */
export interface EdgeSecurity {
  /** Security headers, mounted first so that every answer carries them (health checks too). */
  headers: express.RequestHandler;
  mount(app: express.Express): void;
}

export interface EdgeOptions {
  settings: SecuritySettings;
  db: Database;
  log: Logger;
  policy: AccessPolicy;
  audit?: AuditLog;
  authenticator?: Authenticator;
  tokens?: TokenServer;
  publicBaseUrl?: string;
}

/**
 * Headers a browser or proxy should see on every answer (what helmet sets, for an API and a few
 * server-rendered pages): nothing cached, sniffed, framed, or loaded from elsewhere. Pages replace
 * the Content-Security-Policy with their own.
 */
function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
  res.setHeader('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('X-DNS-Prefetch-Control', 'off');
  res.setHeader('X-Permitted-Cross-Domain-Policies', 'none');
  res.setHeader('Origin-Agent-Cluster', '?1');
  next();
}

/** Paths anyone may reach: the CapabilityStatement, discovery, the token endpoint and health checks. */
function isPublic(req: Request): boolean {
  if (req.path === '/healthz' || req.path === '/readyz' || req.path === '/auth/token' || req.path.startsWith('/.well-known/')) return true;
  return (req.method === 'GET' || req.method === 'HEAD') && /^\/fhir\/metadata\/?$/.test(req.path);
}

const BOOK_PAGE = /^\/book\/([A-Za-z0-9\-.]{1,64})\/?$/;

export function edgeSecurity(o: EdgeOptions): EdgeSecurity {
  const authRequired = o.settings.mode === 'smart' || o.settings.mode === 'external';
  const perClient = new RateLimiter(o.settings.rateLimit, o.settings.rateBurst);
  // The token endpoint is open to anyone: limit it by address, so that guessing assertions is slow.
  const perAddress = new RateLimiter(authRequired ? 10 : 0, 20);
  // Requests without a valid token are recorded in the audit log: limited by address, so that a
  // flood of them cannot flood the log (past the limit they are refused unrecorded).
  const unauthenticatedPerAddress = new RateLimiter(authRequired ? 5 : 0, 50);
  const origin = (req: Request) => (o.publicBaseUrl ? o.publicBaseUrl.replace(/\/fhir$/, '') : `${req.protocol}://${req.get('host')}`);

  const throttle = (res: Response, wait: number) =>
    new FhirError(429, [{ severity: 'error', code: 'throttled', message: { vi: `Quá nhiều yêu cầu; thử lại sau ${wait} giây`, en: `Too many requests; retry after ${wait} s` } }], { 'Retry-After': String(wait) });

  return {
    headers: securityHeaders,
    mount(app) {
      if (!authRequired) return;

      app.get('/.well-known/smart-configuration', (req, res) => {
        const base = origin(req);
        res.json({
          ...(o.tokens ? { token_endpoint: `${base}/auth/token` } : {}),
          ...(o.settings.external ? { issuer: o.settings.external.issuer, jwks_uri: o.settings.external.jwksUrl } : {}),
          grant_types_supported: ['client_credentials'],
          token_endpoint_auth_methods_supported: ['private_key_jwt'],
          token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
          scopes_supported: ['system/*.cruds', 'system/*.rs', 'system/Encounter.cruds', 'system/Patient.rs', 'system/AuditEvent.rs', 'patient/*.rs', 'patient/Patient.r'],
          capabilities: ['client-confidential-asymmetric', 'permission-v2'],
        });
      });

      if (o.tokens) {
        const tokens = o.tokens;
        app.post('/auth/token', express.text({ type: () => true, limit: 64 * 1024 }), async (req, res, next) => {
          try {
            const wait = perAddress.take(req.ip ?? 'unknown');
            if (wait) {
              res.setHeader('Retry-After', String(wait));
              res.status(429).json({ error: 'slow_down', error_description: `retry after ${wait} s` });
              return;
            }
            if (!/^application\/x-www-form-urlencoded\b/i.test(req.get('content-type') ?? '')) {
              res.status(400).json({ error: 'invalid_request', error_description: 'send application/x-www-form-urlencoded' });
              return;
            }
            const answer = await tokens.token(new URLSearchParams(typeof req.body === 'string' ? req.body : ''), `${origin(req)}/auth/token`);
            res.setHeader('Pragma', 'no-cache');
            res.status(answer.status).json(answer.body);
          } catch (e) {
            next(e);
          }
        });
      }

      app.use(async (req, res, next) => {
        if (isPublic(req)) return next();
        try {
          let principal;
          try {
            principal = await o.authenticator!.principal(req.get('authorization'));
          } catch (e) {
            if (!(e instanceof Unauthenticated)) throw e;
            const wait = unauthenticatedPerAddress.take(req.ip ?? 'unknown');
            if (wait) throw throttle(res, wait);
            // A refused attempt on health data is recorded too: who cannot be said, where and when can.
            if (o.audit) await o.audit.record([auditEvent({ interaction: 'login', action: 'E', entities: [], patients: [], outcome: '4', outcomeDesc: `401: ${e.reason}`, requestId: res.locals.requestId as string })]);
            throw unauthenticated(e.reason);
          }
          const wait = perClient.take(principal.clientId);
          if (wait) throw throttle(res, wait);
          res.locals.principal = principal;
          const book = BOOK_PAGE.exec(req.path);
          if (book && (req.method === 'GET' || req.method === 'HEAD')) {
            const allowed = await o.policy.mayReadBook(principal, book[1], o.db);
            if (o.audit) {
              await o.audit.record([auditEvent({ principal, requestId: res.locals.requestId as string, interaction: 'read', action: 'R', operation: 'book-page', entities: [`Patient/${book[1]}`], patients: [book[1]], outcome: allowed ? '0' : '4', ...(allowed ? {} : { outcomeDesc: '403 forbidden' }) })]);
            }
            if (!allowed) throw forbidden({ vi: 'Không được phép: sổ sức khỏe của người bệnh khác', en: 'Not allowed: the health book of a patient you may not see' });
          } else if (!req.path.startsWith('/fhir') && principal.role !== 'admin') {
            // The other pages (readiness, reports, tools) are for the people who run the gateway.
            throw forbidden({ vi: 'Không được phép: trang dành cho quản trị viên', en: 'Not allowed: this page is for administrators' });
          }
          next();
        } catch (e) {
          next(e);
        }
      });
    },
  };
}
