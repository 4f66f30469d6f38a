import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Config } from '../config.js';
import { parseJsonBody } from '../fhir/json.js';
import { parseQueryString } from '../fhir/url.js';
import { FhirError, languageOf, notAcceptable, operationOutcome, payloadTooLarge, unsupportedMediaType, badRequest, type Language } from '../fhir/outcome.js';
import type { Logger } from '../log.js';
import type { FhirRouter } from '../rest/router.js';
import { parsePrefer, type FhirRequest, type FhirResponse } from '../rest/request.js';
import type { EdgeSecurity } from '../security/edge.js';
import type { Database } from '../store/database.js';

export interface AppDeps {
  router: FhirRouter;
  db: Database;
  config: Pick<Config, 'bodyLimitBytes' | 'publicBaseUrl'>;
  log: Logger;
  /** Pages for people (the readiness board, the health book), outside the FHIR API. */
  pages?: Page[];
  /** Security headers, token endpoint, authentication and rate limits (gateway/security/edge.ts). */
  security?: EdgeSecurity;
}

/** An HTML page: `path` in express syntax (`/book/:patientId`); `render` answers the whole document. */
export interface Page {
  path: string;
  render(params: Record<string, string>, query: URLSearchParams, lang: Language): Promise<{ status: number; html: string }>;
  /** A page with a form that posts back to it (the development studio): the body as it came, urlencoded or multipart. */
  submit?(params: Record<string, string>, form: { contentType: string; body: Buffer }, lang: Language): Promise<{ status: number; html: string }>;
  /** Its Content-Security-Policy when it is not PAGE_POLICY (a page with a form must allow posting to itself). */
  policy?: string;
}

/** Pages load nothing from elsewhere and run no script. */
const PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const JSON_TYPES = new Set(['application/fhir+json', 'application/json', 'application/json-patch+json']);
const FORM_TYPE = 'application/x-www-form-urlencoded';

/** The HTTP edge: turns requests into FhirRequests for the router and FhirResponses into JSON. */
export function createApp({ router, db, config, log, pages = [], security }: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', false);

  app.use((req, res, next) => {
    const given = req.get('x-request-id');
    const id = given && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : randomUUID();
    res.locals.requestId = id;
    res.setHeader('X-Request-Id', id);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      // Route shape only: no query string, no client-chosen ids, no bodies.
      log.info({ requestId: id, method: req.method, route: routeShape(req.path), status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'request');
    });
    next();
  });

  if (security) app.use(security.headers);
  app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  app.get('/readyz', async (_req, res) => {
    try {
      await db.query('SELECT 1');
      res.json({ status: 'ok', database: db.kind });
    } catch {
      res.status(503).json({ status: 'unavailable', database: db.kind });
    }
  });
  // Everything after this needs a token when authentication is configured.
  security?.mount(app);

  for (const page of pages) {
    app.get(page.path, async (req, res, next) => {
      try {
        const { status, html } = await page.render(req.params as Record<string, string>, new URLSearchParams(queryString(req)), languageOf(req.get('accept-language')));
        res.status(status).setHeader('Content-Security-Policy', page.policy ?? PAGE_POLICY).type('text/html; charset=utf-8').send(html);
      } catch (e) {
        next(e);
      }
    });
    const submit = page.submit?.bind(page);
    if (submit) {
      app.post(page.path, express.raw({ type: () => true, limit: config.bodyLimitBytes }), async (req, res, next) => {
        try {
          const form = { contentType: req.get('content-type') ?? '', body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0) };
          const { status, html } = await submit(req.params as Record<string, string>, form, languageOf(req.get('accept-language')));
          res.status(status).setHeader('Content-Security-Policy', page.policy ?? PAGE_POLICY).type('text/html; charset=utf-8').send(html);
        } catch (e) {
          next(e);
        }
      });
    }
  }

  const body = express.text({ type: () => true, limit: config.bodyLimitBytes, defaultCharset: 'utf-8' });
  const fhir = async (req: Request, res: Response) => {
    const pretty = new URLSearchParams(queryString(req)).get('_pretty') === 'true';
    const request: FhirRequest = { ...fhirRequest(req, config.publicBaseUrl), principal: res.locals.principal, requestId: res.locals.requestId };
    send(req, res, await router.handle(request), request.baseUrl, pretty);
  };
  app.all('/fhir', body, fhir);
  app.all('/fhir/{*path}', body, fhir);

  app.use((req, _res, next) => next(new FhirError(404, [{ severity: 'error', code: 'not-found', message: { vi: `Không có gì tại ${req.method} ${routeShape(req.path)}; API FHIR nằm dưới /fhir`, en: `Nothing at ${req.method} ${routeShape(req.path)}; the FHIR API is under /fhir` } }])));

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const error = toFhirError(err);
    const lang = languageOf(req.get('accept-language'));
    if (!error) {
      const requestId = res.locals.requestId as string;
      log.error({ requestId, route: routeShape(req.path), err: scrubError(err) }, 'unexpected error');
      const message = { vi: `Lỗi máy chủ không lường trước; mã tương quan ${requestId}`, en: `Unexpected server error; correlation id ${requestId}` };
      sendJson(res, 500, operationOutcome([{ severity: 'fatal', code: 'exception', message }], lang), false);
      return;
    }
    for (const [k, v] of Object.entries(error.headers)) res.setHeader(k, v);
    sendJson(res, error.status, operationOutcome(error.issues, lang), false);
  });
  return app;
}

function queryString(req: Request): string {
  const q = req.originalUrl.indexOf('?');
  return q < 0 ? '' : req.originalUrl.slice(q + 1);
}

function fhirRequest(req: Request, publicBaseUrl: string | undefined): FhirRequest {
  const query = parseQueryString(queryString(req));
  checkFormat(req);
  const path = req.path.replace(/^\/fhir\/?/, '').split('/').filter(Boolean).map(decodeSegment);
  const contentType = req.get('content-type')?.split(';')[0].trim().toLowerCase();
  return {
    method: req.method as FhirRequest['method'],
    path,
    query,
    body: parseBody(req, contentType),
    contentType,
    ifMatch: req.get('if-match'),
    ifNoneMatch: req.get('if-none-match'),
    ifNoneExist: req.get('if-none-exist'),
    ifModifiedSince: req.get('if-modified-since'),
    prefer: parsePrefer(req.get('prefer')),
    lang: languageOf(req.get('accept-language')),
    ...(/json/i.test(req.get('accept') ?? '') ? { accept: 'json' as const } : /text\/csv/i.test(req.get('accept') ?? '') ? { accept: 'csv' as const } : {}),
    baseUrl: publicBaseUrl ?? `${req.protocol}://${req.get('host')}/fhir`,
    at: '',
  };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badRequest({ vi: `Đoạn URL sai định dạng "${segment}"`, en: `Malformed URL segment "${segment}"` });
  }
}

/** JSON is the only format; `_format` or an Accept header that rules JSON out gets a 406. */
function checkFormat(req: Request): void {
  const format = new URLSearchParams(queryString(req)).get('_format');
  // Reports answer CSV too.
  const csvToo = /\/\$evaluate-measure$/.test(req.path);
  // $viewdefinition-run answers rows as JSON, NDJSON or CSV: its own answer checks _format and Accept.
  if (/\/\$(run|viewdefinition-run)$/.test(req.path)) return;
  if (format && !/json/i.test(format) && !(csvToo && /^(text\/)?csv$/i.test(format))) {
    throw notAcceptable({ vi: `Không hỗ trợ _format "${format}"; máy chủ dùng application/fhir+json`, en: `_format "${format}" is not supported; this server speaks application/fhir+json` }, '_format');
  }
  const accept = req.get('accept');
  // The claim-file operations answer XML documents too.
  const xmlToo = /\/\$xml130/.test(req.path) && /xml/i.test(accept ?? '');
  if (!format && accept && !xmlToo && !(csvToo && /text\/csv/i.test(accept)) && !/json|\*\/\*|application\/\*/i.test(accept) && !/text\/html/i.test(accept)) {
    throw notAcceptable({ vi: `Không hỗ trợ Accept "${accept}"; máy chủ dùng application/fhir+json`, en: `Accept "${accept}" is not supported; this server speaks application/fhir+json` });
  }
}

function parseBody(req: Request, contentType: string | undefined): unknown {
  const text = typeof req.body === 'string' ? req.body : '';
  if (text.length === 0) return undefined;
  if (contentType && JSON_TYPES.has(contentType)) return parseJsonBody(text);
  if (contentType === FORM_TYPE) return text;
  // A signed file to verify is XML, given as it is.
  if ((contentType === 'application/xml' || contentType === 'text/xml') && /\/\$verify-xml130$/.test(req.path)) return text;
  throw unsupportedMediaType({
    vi: `Không hỗ trợ Content-Type "${contentType ?? '(không có)'}"; hãy gửi application/fhir+json`,
    en: `Content-Type "${contentType ?? '(none)'}" is not supported; send application/fhir+json`,
  });
}

function send(req: Request, res: Response, r: FhirResponse, baseUrl: string, pretty: boolean): void {
  if (r.etag) res.setHeader('ETag', r.etag);
  if (r.lastModified) res.setHeader('Last-Modified', new Date(r.lastModified).toUTCString());
  if (r.location) {
    if (r.status === 201) res.setHeader('Location', `${baseUrl}/${r.location}`);
    res.setHeader('Content-Location', `${baseUrl}/${r.location}`);
  }
  if (r.document) {
    res.status(r.status).type(r.document.contentType);
    if (r.document.filename) res.setHeader('Content-Disposition', `attachment; filename="${r.document.filename}"`);
    const gzip = r.document.gzip && req.acceptsEncodings('gzip', 'identity') === 'gzip' ? r.document.gzip() : undefined;
    if (r.document.gzip) res.setHeader('Vary', 'Accept-Encoding');
    if (gzip) res.setHeader('Content-Encoding', 'gzip');
    const body = gzip ?? r.document.text;
    if (req.method === 'HEAD') res.setHeader('Content-Length', Buffer.byteLength(body)).end();
    else res.send(body);
    return;
  }
  if (r.status === 204 || r.status === 304 || !r.body) {
    res.status(r.status).end();
    return;
  }
  sendJson(res, r.status, r.body, pretty, req.method === 'HEAD', req.get('accept'));
}

function sendJson(res: Response, status: number, body: unknown, pretty: boolean, headOnly = false, accept?: string): void {
  const type = accept && /^application\/json\b/i.test(accept.trim()) ? 'application/json' : 'application/fhir+json';
  res.status(status).type(`${type}; charset=utf-8`);
  const text = JSON.stringify(body, null, pretty ? 2 : undefined);
  if (headOnly) res.setHeader('Content-Length', Buffer.byteLength(text)).end();
  else res.send(text);
}

/** Errors of the body reader and the router as FHIR errors; undefined for anything unexpected. */
function toFhirError(err: unknown): FhirError | undefined {
  if (err instanceof FhirError) return err;
  const type = (err as { type?: string })?.type;
  if (type === 'entity.too.large') {
    const limit = (err as { limit?: number }).limit;
    return payloadTooLarge({ vi: `Thân yêu cầu vượt giới hạn ${limit ?? '?'} byte (BODY_LIMIT)`, en: `The request body exceeds the limit of ${limit ?? '?'} bytes (BODY_LIMIT)` });
  }
  if (type === 'charset.unsupported' || type === 'encoding.unsupported') return unsupportedMediaType({ vi: 'Bảng mã hoặc cách nén không được hỗ trợ; hãy gửi JSON UTF-8', en: 'Unsupported charset or content encoding; send UTF-8 JSON' });
  if (type === 'request.aborted' || type === 'request.size.invalid') return badRequest({ vi: 'Thân yêu cầu không đầy đủ', en: 'The request body was incomplete' });
  const status = (err as { status?: unknown })?.status;
  // The router percent-decodes the path before decodeSegment sees it, and throws a URIError
  // (status 400) for `/fhir/Patient/%E0%A4%A`: the client's mistake, not a 500.
  if (err instanceof URIError && status === 400) return badRequest({ vi: 'Mã hoá phần trăm sai trong đường dẫn URL', en: 'Malformed percent-encoding in the URL path' });
  // A body that does not inflate (Content-Encoding: gzip over garbage): zlib's error, marked 400 by the body reader.
  const code = (err as { code?: unknown })?.code;
  if (status === 400 && typeof code === 'string' && code.startsWith('Z_')) return badRequest({ vi: 'Không giải nén được thân yêu cầu (Content-Encoding)', en: 'The request body could not be decompressed (Content-Encoding)' });
  return undefined;
}

/** The resource type and interaction of a path, ids replaced: `/fhir/Patient/:id/_history/:id`. */
export function routeShape(path: string): string {
  const [root, ...rest] = path.split('/').filter(Boolean);
  if (root !== 'fhir') return `/${root ?? ''}`;
  const shaped = rest.map((s, i) => {
    if (s.startsWith('$') || s.startsWith('_')) return s;
    if (i === 0) return /^[A-Z][A-Za-z]{0,63}$/.test(s) || s === 'metadata' ? s : ':unknown';
    return ':id';
  });
  return ['/fhir', ...shaped].join('/');
}

/** An error for the log without data: class, SQLSTATE and a message with quoted values masked. */
function scrubError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { type: typeof err };
  const mask = (s: string) => s.replace(/"[^"]*"|'[^']*'|\([^)]*\)=\([^)]*\)/g, '"…"');
  return {
    name: err.name,
    code: (err as { code?: string }).code,
    message: mask(err.message),
    stack: err.stack?.split('\n').filter((l) => l.trimStart().startsWith('at ')).slice(0, 12).join('\n'),
  };
}
