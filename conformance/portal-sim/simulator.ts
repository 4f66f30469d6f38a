import { createHash, randomBytes, randomUUID, type X509Certificate } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { XmlStandard } from '../../gateway/outputs/xml/table-definition.js';
import { checkCheckin, checkClaim, checkSignature, decodeBase64Xml, parseXml, type FileKind, type Rejection } from './checks.js';
import { BUSINESS_REJECTIONS, MESSAGES, RESULT } from './codes.js';
import type { SimCard, SimOfficer } from './card-data.js';
import { CARD_LOOKUP_PATH, mountCardLookup, validateLookupFaults, type LookupFaults, type LookupRecord } from './card-lookup.js';
import { FaultSchedule, FaultsError, validateFaults, type FaultDraw, type Faults } from './faults.js';

export type { Faults } from './faults.js';
export { RESULT, BUSINESS_REJECTIONS } from './codes.js';

/**
 * A stand-in for the BHXH eGateway (spec qd4750-xml.md §5): `POST /api/token/take` and the six
 * claim / check-in submission endpoints, with the checks a careful portal makes on receipt
 * (credentials, token, facility, parameters, bytes, signature, structure), idempotent receipts for
 * resent files, and seeded faults — for the gateway's submission worker, in-process or standalone.
 *
 * Every answer of the portal logic is HTTP 200 with the result in `maKetQua` (a string), as the
 * spec's response JSON implies: the code that says "401" or "403" is a field of the body, and the
 * client implementations read the body (one raises on HTTP errors first, then reads `APIKey` /
 * `maKetQua`). Non-200 HTTP statuses come only from the transport: injected 500/502/503 faults,
 * 404/405 for unknown routes, 400/413 for bodies that cannot be read.
 */
export interface PortalAccount {
  username: string;
  /** Plain; the client sends its MD5 as upper-case hex. */
  password: string;
  /** MA_CSKCB the account may submit for. */
  facility: string;
}

export interface Submission {
  kind: FileKind;
  /** The endpoint's path, e.g. `/api/qd130/guiHoSoXmlQD4750`. */
  endpoint: string;
  /** maCSKCB of the request ('' when absent). */
  facility: string;
  /** MA_LK of the file ('' before it could be read; several joined by `;` for a multi-HOSO file or a check-in of several episodes). */
  maLk: string;
  /** SHA-256 (hex) of the decoded signed file ('' when fileHSBase64 could not be decoded). */
  sha256: string;
  /** '' for a rejection; for a duplicate, the original transaction's. */
  maGiaoDich: string;
  /** ISO instant (UTC) the simulator reached its verdict. */
  receivedAt: string;
  accepted: boolean;
  maKetQua: string;
  thongDiep: string;
  /** maGiaoDich of the accepted submission this one repeats byte for byte. */
  duplicateOf?: string;
  /** The verdict was recorded but the client never got it (a dropAfterAccept / timeoutAfterAccept fault). */
  answerLost?: 'dropped' | 'timed-out';
}

export interface PortalSimulator {
  /** `http://host:port`, no trailing slash. */
  url: string;
  /** Distinct accepted files (each resend of identical bytes is left out). */
  accepted(): Submission[];
  /** Every submission the portal reached a verdict on, rejections and duplicates included. */
  all(): Submission[];
  setFaults(f: Faults): void;
  /** Faults of the card lookup (card-lookup.ts), apart from the submissions'. */
  setLookupFaults(f: LookupFaults): void;
  /** Every card lookup that passed the token check, with its result code. */
  lookups(): LookupRecord[];
  close(): Promise<void>;
}

export interface PortalSimulatorOptions {
  /** Default 0: a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  accounts: PortalAccount[];
  /**
   * Development: any account `<MA_CSKCB>_BV` with this password may submit for that facility, so
   * that a gateway in development mode works against the simulator out of the box.
   */
  developmentPassword?: string;
  /** Certificates registered on the portal: a signer's certificate must be one, or be issued by one. A function is asked again for every file. */
  trustAnchors: X509Certificate[] | (() => X509Certificate[]);
  /** Default 3600. */
  tokenLifetimeSeconds?: number;
  faults?: Faults;
  /** One line per request (never file contents or personal data). Default: silent. */
  log?: (line: string) => void;
  /** The clock (tokens, receipts, certificate validity). Default: the system clock. */
  now?: () => Date;
  /** Cards the lookup knows (default: sampleCards of the current year, card-data.ts). */
  cards?: SimCard[];
  /** Lookup officers registered per facility (with developmentPassword, DEVELOPMENT_OFFICER too). */
  officers?: SimOfficer[];
}

interface Endpoint {
  path: string;
  kind: FileKind;
  standard: XmlStandard;
  loaiHoSo: string;
}

/** QĐ 130 endpoints are answered with the 4750 tables: 4750 replaced all 130 tables (§0). */
export const ENDPOINTS: readonly Endpoint[] = [
  { path: '/api/qd130/guiHoSoXmlQD4750', kind: 'claim', standard: '4750', loaiHoSo: '130' },
  { path: '/api/qd130/guiHoSoXmlQD3176', kind: 'claim', standard: '3176', loaiHoSo: '130' },
  { path: '/api/qd130/guiHoSoXmlQD130', kind: 'claim', standard: '4750', loaiHoSo: '130' },
  { path: '/api/qd130/checkInKcbQd4750', kind: 'checkin', standard: '4750', loaiHoSo: '0' },
  { path: '/api/qd130/checkInKcbQd3176', kind: 'checkin', standard: '3176', loaiHoSo: '0' },
  { path: '/api/qd130/checkInKcbQd130', kind: 'checkin', standard: '4750', loaiHoSo: '0' },
];

const FORM_FIELDS = ['username', 'loaiHoSo', 'maTinh', 'maCSKCB', 'fileHSBase64'] as const;
/** A large inpatient claim is a few MB, base64 twice in transit. */
const BODY_LIMIT = '64mb';

interface Token {
  username: string;
  idToken: string;
  expiresAt: number;
}

/** The portal's verdict on one submission request. */
interface Verdict {
  record: Omit<Submission, 'receivedAt' | 'endpoint' | 'kind' | 'answerLost'>;
  body: Record<string, string>;
  /** A business rejection drawn by rejectRate. */
  fault?: 'reject';
}

export function md5Upper(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex').toUpperCase();
}

/** `yyyyMMddHHmmss` in Vietnam time (UTC+7, no daylight saving). */
export function vietnamTimestamp(at: Date): string {
  return new Date(at.getTime() + 7 * 3_600_000).toISOString().replace(/\D/g, '').slice(0, 14);
}

export async function startPortalSimulator(options: PortalSimulatorOptions): Promise<PortalSimulator> {
  const now = options.now ?? (() => new Date());
  const log = options.log ?? (() => {});
  const lifetimeMs = (options.tokenLifetimeSeconds ?? 3600) * 1000;
  const known = new Map(options.accounts.map((a) => [a.username, a]));
  const accounts = {
    get(username: string): PortalAccount | undefined {
      const facility = options.developmentPassword ? /^([0-9A-Z]{5})_BV$/.exec(username)?.[1] : undefined;
      return known.get(username) ?? (facility ? { username, password: options.developmentPassword!, facility } : undefined);
    },
  };
  const trustAnchors = typeof options.trustAnchors === 'function' ? options.trustAnchors : () => [...(options.trustAnchors as X509Certificate[])];
  const schedule = new FaultSchedule(options.faults ?? {});
  const tokens = new Map<string, Token>();
  const submissions: Submission[] = [];
  /** kind + SHA-256 → the accepted submission (identical bytes imply the same MA_LK). */
  const byContent = new Map<string, Submission>();
  /** kind + MA_LK → number of distinct files accepted. */
  const versions = new Map<string, number>();

  const app = express();
  app.disable('x-powered-by');
  const form = express.urlencoded({ extended: false, limit: BODY_LIMIT });

  const line = (req: Request, status: number | string, started: number, extra: string) =>
    log(`${new Date().toISOString()} ${req.method} ${req.path} → ${status} ${extra}${extra ? ' ' : ''}${Date.now() - started}ms`);

  // --- POST /api/token/take -------------------------------------------------------------------
  app.post('/api/token/take', form, (req, res) => {
    const started = Date.now();
    const fields = formFields(req, ['username', 'password']);
    const username = fields.values.username ?? '';
    const reply = (body: Record<string, unknown>, note: string) => {
      res.status(200).json(body);
      line(req, 200, started, `maKetQua=${String(body.maKetQua)} user=${username || '-'}${note}`);
    };
    if (fields.missing.length > 0) return reply({ maKetQua: RESULT.BAD_PARAMETERS, thongDiep: MESSAGES.missingFields(fields.missing) }, '');
    const account = accounts.get(username);
    const password = fields.values.password!;
    if (!account || password !== md5Upper(account.password)) {
      const why = !account ? 'unknown account' : /^[0-9A-F]{32}$/.test(password) ? 'wrong password' : 'password is not an upper-case hex MD5';
      return reply({ maKetQua: RESULT.UNAUTHENTICATED, thongDiep: MESSAGES.loginFailed }, ` (${why})`);
    }
    const issuedAt = now().getTime();
    const accessToken = randomBytes(32).toString('base64url');
    const idToken = randomBytes(32).toString('base64url');
    tokens.set(accessToken, { username, idToken, expiresAt: issuedAt + lifetimeMs });
    reply(
      {
        maKetQua: RESULT.OK,
        APIKey: { access_token: accessToken, id_token: idToken, token_type: 'Bearer', username, expires_in: new Date(issuedAt + lifetimeMs).toISOString() },
      },
      '',
    );
  });

  // --- submissions ------------------------------------------------------------------------------
  for (const endpoint of ENDPOINTS) {
    app.post(
      endpoint.path,
      (req, res, next) => {
        const draw = schedule.draw(BUSINESS_REJECTIONS.length);
        res.locals.draw = draw;
        res.locals.started = Date.now();
        if (draw.drop) {
          line(req, 'socket destroyed', res.locals.started as number, 'fault=drop');
          req.socket.destroy();
          return;
        }
        next();
      },
      form,
      async (req, res) => {
        const draw = res.locals.draw as FaultDraw;
        const started = res.locals.started as number;
        if (draw.fail) {
          await sleep(draw.slowMs);
          sendFault(res, draw.fail);
          line(req, draw.fail, started, 'fault=fail');
          return;
        }
        if (draw.timeout) {
          line(req, 'no answer', started, 'fault=timeout');
          return;
        }
        const verdict = judge(endpoint, req, draw);
        const submission: Submission = { kind: endpoint.kind, endpoint: endpoint.path, ...verdict.record, receivedAt: now().toISOString() };
        const summary = `maKetQua=${submission.maKetQua} user=${formFields(req, ['username']).values.username ?? '-'} cskcb=${submission.facility || '-'}${submission.maGiaoDich ? ` gd=${submission.maGiaoDich}` : ''}${submission.sha256 ? ` sha256=${submission.sha256.slice(0, 12)}` : ''}${submission.duplicateOf ? ' duplicate' : ''}`;
        if (submission.maKetQua === RESULT.OK && draw.dropAfterAccept) {
          submissions.push({ ...submission, answerLost: 'dropped' });
          line(req, 'socket destroyed', started, `${summary} fault=dropAfterAccept`);
          req.socket.destroy();
          return;
        }
        if (submission.maKetQua === RESULT.OK && draw.timeoutAfterAccept) {
          submissions.push({ ...submission, answerLost: 'timed-out' });
          line(req, 'no answer', started, `${summary} fault=timeoutAfterAccept`);
          return;
        }
        submissions.push(submission);
        await sleep(draw.slowMs);
        if (res.destroyed || res.writableEnded) return;
        res.status(200).json(verdict.body);
        line(req, 200, started, `${summary}${verdict.fault ? ` fault=${verdict.fault}` : ''}`);
      },
    );
  }

  /** Every check, in order; the first that fails answers. */
  function judge(endpoint: Endpoint, req: Request, draw: FaultDraw): Verdict {
    const fields = formFields(req, FORM_FIELDS);
    const facility = fields.values.maCSKCB ?? '';
    let maLk = '';
    let sha256 = '';
    const rejected = (r: Pick<Rejection, 'maKetQua' | 'thongDiep'>): Verdict => ({
      record: { facility, maLk, sha256, maGiaoDich: '', accepted: false, maKetQua: r.maKetQua, thongDiep: r.thongDiep },
      body: { maKetQua: r.maKetQua, thongDiep: r.thongDiep },
    });

    // Token (headers accessToken + tokenId), then the form, then who may send what.
    const token = tokens.get(req.get('accessToken') ?? '');
    if (!token || token.idToken !== (req.get('tokenId') ?? '')) return rejected({ maKetQua: RESULT.UNAUTHENTICATED, thongDiep: MESSAGES.tokenInvalid });
    if (now().getTime() >= token.expiresAt) return rejected({ maKetQua: RESULT.UNAUTHENTICATED, thongDiep: MESSAGES.tokenExpired });
    if (fields.missing.length > 0) return rejected({ maKetQua: RESULT.BAD_PARAMETERS, thongDiep: MESSAGES.missingFields(fields.missing) });
    const { username, loaiHoSo, maTinh, fileHSBase64 } = fields.values as Record<(typeof FORM_FIELDS)[number], string>;
    if (username !== token.username) return rejected({ maKetQua: RESULT.FORBIDDEN, thongDiep: MESSAGES.tokenOtherUser(username) });
    const account = accounts.get(username);
    if (!account || req.get('passwordHash') !== md5Upper(account.password)) return rejected({ maKetQua: RESULT.UNAUTHENTICATED, thongDiep: MESSAGES.passwordHashWrong });
    if (account.facility !== facility) return rejected({ maKetQua: RESULT.FORBIDDEN, thongDiep: MESSAGES.facilityForbidden(username, facility) });
    if (loaiHoSo !== endpoint.loaiHoSo) return rejected({ maKetQua: RESULT.WRONG_FILE_KIND, thongDiep: MESSAGES.wrongFileKind(loaiHoSo, endpoint.loaiHoSo) });
    if (facility.length !== 5) return rejected({ maKetQua: RESULT.BAD_PARAMETERS, thongDiep: MESSAGES.badFacilityCode(facility) });
    if (maTinh !== facility.slice(0, 2)) return rejected({ maKetQua: RESULT.BAD_PARAMETERS, thongDiep: MESSAGES.badProvince(maTinh, facility) });

    // The bytes.
    const decoded = decodeBase64Xml(fileHSBase64);
    if (!decoded.ok) return rejected(decoded);
    sha256 = decoded.sha256;
    const parsed = parseXml(decoded.text);
    if (!parsed.ok) return rejected(parsed);

    // The same bytes again: the original receipt, whatever has changed since (token, certificate dates).
    const original = byContent.get(`${endpoint.kind}\u0000${sha256}`);
    if (original) {
      return {
        record: { facility, maLk: original.maLk, sha256, maGiaoDich: original.maGiaoDich, accepted: true, maKetQua: RESULT.OK, thongDiep: MESSAGES.duplicate, duplicateOf: original.maGiaoDich },
        body: { maKetQua: RESULT.OK, maGiaoDich: original.maGiaoDich, thoiGianTiepNhan: vietnamTimestamp(new Date(original.receivedAt)), thongDiep: MESSAGES.duplicate },
      };
    }

    const at = now();
    const signature = checkSignature(decoded.text, trustAnchors(), at);
    if (signature) return rejected(signature);
    const structure = endpoint.kind === 'claim' ? checkClaim(parsed.doc, facility, endpoint.standard) : checkCheckin(parsed.doc, facility, endpoint.standard);
    if (!structure.ok) return rejected(structure);
    maLk = structure.maLks.join(';');

    if (draw.reject !== undefined) return { ...rejected(BUSINESS_REJECTIONS[draw.reject]), fault: 'reject' };

    const keys = structure.maLks.map((m) => `${endpoint.kind}\u0000${m}`);
    const resend = keys.some((k) => (versions.get(k) ?? 0) > 0);
    for (const k of keys) versions.set(k, (versions.get(k) ?? 0) + 1);
    const maGiaoDich = randomUUID();
    const thongDiep = endpoint.kind === 'claim' ? (resend ? MESSAGES.claimNewVersion : MESSAGES.claimAccepted) : resend ? MESSAGES.checkinNewVersion : MESSAGES.checkinAccepted;
    const record = { facility, maLk, sha256, maGiaoDich, accepted: true, maKetQua: RESULT.OK, thongDiep };
    byContent.set(`${endpoint.kind}\u0000${sha256}`, { kind: endpoint.kind, endpoint: endpoint.path, ...record, receivedAt: at.toISOString() });
    return { record, body: { maKetQua: RESULT.OK, maGiaoDich, thoiGianTiepNhan: vietnamTimestamp(at), thongDiep } };
  }

  // --- card lookup (§5.4) ---------------------------------------------------------------------------
  const cardLookup = mountCardLookup({
    app,
    authenticate(accessToken, idToken, username, passwordMd5) {
      const token = tokens.get(accessToken);
      if (!token || token.idToken !== idToken) return { refused: MESSAGES.tokenInvalid };
      if (now().getTime() >= token.expiresAt) return { refused: MESSAGES.tokenExpired };
      const account = accounts.get(username);
      if (username !== token.username || !account) return { refused: MESSAGES.tokenOtherUser(username) };
      if (passwordMd5 !== md5Upper(account.password)) return { refused: MESSAGES.passwordHashWrong };
      return { facility: account.facility };
    },
    cards: options.cards,
    officers: options.officers,
    developmentOfficer: options.developmentPassword !== undefined,
    now,
    log: line,
  });

  // --- simulator control ------------------------------------------------------------------------
  app.get('/sim/submissions', (_req, res) => {
    res.json({ accepted: accepted(), all: all() });
  });
  app.get('/sim/faults', (_req, res) => {
    res.json(schedule.get());
  });
  app.post('/sim/lookup-faults', express.json({ limit: '16kb' }), (req, res) => {
    try {
      cardLookup.setFaults(validateLookupFaults(req.body ?? {}));
      res.json(req.body ?? {});
    } catch (e) {
      res.status(400).json({ error: (e as Error).message });
    }
  });
  app.post('/sim/faults', express.json({ limit: '16kb' }), (req, res) => {
    try {
      schedule.set(validateFaults(req.body ?? {}));
      log(`${new Date().toISOString()} POST /sim/faults → 200 ${JSON.stringify(schedule.get())}`);
      res.json(schedule.get());
    } catch (e) {
      if (!(e instanceof FaultsError)) throw e;
      res.status(400).json({ error: e.message });
    }
  });

  // --- everything else --------------------------------------------------------------------------
  app.use((req, res) => {
    const known = req.path === '/api/token/take' || req.path === CARD_LOOKUP_PATH || ENDPOINTS.some((e) => e.path.toLowerCase() === req.path.toLowerCase());
    res.status(known ? 405 : 404).json({ maKetQua: String(known ? 405 : 404), thongDiep: known ? 'Phương thức không được hỗ trợ (chỉ POST)' : 'Không tìm thấy API' });
  });
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const type = (err as { type?: string }).type;
    const status = type === 'entity.too.large' ? 413 : typeof (err as { status?: unknown }).status === 'number' && (err as { status: number }).status < 500 ? 400 : 500;
    if (!res.headersSent && !res.destroyed) {
      res.status(status).json({ maKetQua: String(status), thongDiep: status === 413 ? 'Dung lượng yêu cầu vượt quá giới hạn' : status === 400 ? 'Không đọc được nội dung yêu cầu' : 'Lỗi hệ thống' });
    }
    log(`${new Date().toISOString()} ${req.method} ${req.path} → ${status} error=${type ?? (err as Error).name ?? 'unknown'}`);
  });

  function accepted(): Submission[] {
    return submissions.filter((s) => s.accepted && !s.duplicateOf).map((s) => ({ ...s }));
  }
  function all(): Submission[] {
    return submissions.map((s) => ({ ...s }));
  }

  const server = createServer(app);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;

  return {
    url: `http://${urlHost}:${port}`,
    accepted,
    all,
    setFaults(f: Faults) {
      schedule.set(f);
    },
    setLookupFaults(f: LookupFaults) {
      cardLookup.setFaults(f);
    },
    lookups: () => cardLookup.records(),
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Requests left unanswered on purpose (timeout faults) and idle keep-alive sockets.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** String form fields, and the names of those absent, empty or repeated. */
function formFields<K extends string>(req: Request, names: readonly K[]): { values: Partial<Record<K, string>>; missing: K[] } {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const values: Partial<Record<K, string>> = {};
  const missing: K[] = [];
  for (const name of names) {
    const value = Object.prototype.hasOwnProperty.call(body, name) ? body[name] : undefined;
    if (typeof value === 'string' && value !== '') values[name] = value;
    else missing.push(name);
  }
  return { values, missing };
}

/** A transport failure as the portal's front end gives it: JSON from the application, HTML from the proxy. */
function sendFault(res: Response, status: 500 | 502 | 503): void {
  if (res.destroyed) return;
  if (status === 500) {
    res.status(500).json({ maKetQua: '500', thongDiep: 'Lỗi hệ thống, vui lòng thử lại sau' });
    return;
  }
  if (status === 503) res.set('Retry-After', '1');
  const title = status === 502 ? '502 Bad Gateway' : '503 Service Temporarily Unavailable';
  res.status(status).type('html').send(`<html><head><title>${title}</title></head><body><center><h1>${title}</h1></center><hr><center>nginx</center></body></html>`);
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
