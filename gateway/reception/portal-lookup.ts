import { createHash } from 'node:crypto';
import type { PortalAccount, PortalClient } from '../outbox/portal-client.js';

/**
 * The card / visit-history lookup of the BHXH eGateway (spec qd4750-xml.md §5.4):
 * `POST /api/egw/KQNhanLichSuKCB2024` with the token, account and MD5 password in the query string and
 * `{ maThe, hoTen, ngaySinh, hoTenCb, cccdCb }` as JSON. It shares the submission client's token cache
 * (one login per facility account), but runs under one deadline for the whole call — login, lookup,
 * and the one re-login a refused token deserves — because a receptionist is waiting.
 */
export const CARD_LOOKUP_PATH = '/api/egw/KQNhanLichSuKCB2024';

export interface CardQuery {
  /** 15-character card, 10-digit BHXH number or 12-digit CCCD. */
  maThe: string;
  hoTen: string;
  /** dd/MM/yyyy, or yyyy when only the year of birth is known. */
  ngaySinh: string;
}

export interface Officer {
  name: string;
  cccd: string;
}

export interface PortalVisit {
  maHoSo?: string;
  maCSKCB?: string;
  /** yyyyMMddHHmm, Vietnam time. */
  ngayVao?: string;
  ngayRa?: string;
  tenBenh?: string;
  tinhTrang?: string;
  kqDieuTri?: string;
  lyDoVV?: string;
}

/** The portal's answer, fields as the spec names them; dates as the portal writes them (dd/MM/yyyy). */
export interface CardAnswer {
  maKetQua: string;
  ghiChu?: string;
  maThe?: string;
  hoTen?: string;
  ngaySinh?: string;
  gioiTinh?: string;
  diaChi?: string;
  maDKBD?: string;
  cqBHXH?: string;
  gtTheTu?: string;
  gtTheDen?: string;
  maKV?: string;
  ngayDu5Nam?: string;
  maSoBHXH?: string;
  maTheCu?: string;
  maTheMoi?: string;
  gtTheTuMoi?: string;
  gtTheDenMoi?: string;
  maDKBDMoi?: string;
  tenDKBDMoi?: string;
  visits: PortalVisit[];
}

/** Why there is no answer: the client gets a 504 (timeout) or 502 (the rest), never a hang. */
export class PortalUnavailable extends Error {
  override readonly name = 'PortalUnavailable';
  constructor(
    readonly kind: 'timeout' | 'unreachable' | 'http' | 'bad-answer' | 'login-refused',
    /** A short reason without URLs, credentials or personal data: safe to log and to show. */
    readonly detail: string,
  ) {
    super(`${kind}: ${detail}`);
  }
}

const md5Upper = (s: string) => createHash('md5').update(s, 'utf8').digest('hex').toUpperCase();

export async function lookupCard(portal: PortalClient, account: PortalAccount, officer: Officer, query: CardQuery, timeoutMs: number): Promise<CardAnswer> {
  const deadline = AbortSignal.timeout(timeoutMs);
  const once = async (fresh: boolean): Promise<CardAnswer> => {
    let token;
    try {
      token = await portal.token(account, fresh, deadline);
    } catch (e) {
      if ((e as { unauthorized?: boolean }).unauthorized) throw new PortalUnavailable('login-refused', `the portal refused the login of account ${account.username}`);
      throw failure(e, deadline);
    }
    // The spec puts the credentials in the query string: this URL is never logged nor put in an error.
    const url = new URL(CARD_LOOKUP_PATH, account.baseUrl);
    url.search = new URLSearchParams({ token: token.accessToken, id_token: token.idToken, username: account.username, password: md5Upper(account.password) }).toString();
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ maThe: query.maThe, hoTen: query.hoTen, ngaySinh: query.ngaySinh, hoTenCb: officer.name, cccdCb: officer.cccd }),
        signal: deadline,
      });
      text = await res.text();
    } catch (e) {
      throw failure(e, deadline);
    }
    if (res.status !== 200) throw new PortalUnavailable('http', `HTTP ${res.status}`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new PortalUnavailable('bad-answer', 'the answer is not JSON');
    }
    const answer = parseAnswer(body);
    if (!answer) throw new PortalUnavailable('bad-answer', 'the answer has no maKetQua');
    return answer;
  };
  const first = await once(false);
  // A cached token the portal no longer knows (expired early, portal restarted): log in again, once.
  if (first.maKetQua !== '401') return first;
  const second = await once(true);
  if (second.maKetQua === '401') throw new PortalUnavailable('login-refused', `the portal refused account ${account.username} (maKetQua 401)`);
  return second;
}

function failure(e: unknown, deadline: AbortSignal): PortalUnavailable {
  const err = e as { name?: string; message?: string; cause?: { code?: string } };
  if (deadline.aborted || err.name === 'TimeoutError' || err.name === 'AbortError') return new PortalUnavailable('timeout', 'no answer in time');
  return new PortalUnavailable('unreachable', err.cause?.code ?? 'network error');
}

const text = (v: unknown): string | undefined => (v === undefined || v === null || v === '' ? undefined : String(v).trim() || undefined);

/** The portal's JSON as a CardAnswer (unknown fields ignored, empty ones absent); undefined without maKetQua. */
export function parseAnswer(body: unknown): CardAnswer | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const b = body as Record<string, unknown>;
  const code = text(b.maKetQua);
  if (!code) return undefined;
  const fields = ['ghiChu', 'maThe', 'hoTen', 'ngaySinh', 'gioiTinh', 'diaChi', 'maDKBD', 'cqBHXH', 'gtTheTu', 'gtTheDen', 'maKV', 'ngayDu5Nam', 'maSoBHXH', 'maTheCu', 'maTheMoi', 'gtTheTuMoi', 'gtTheDenMoi', 'maDKBDMoi', 'tenDKBDMoi'] as const;
  const answer: CardAnswer = { maKetQua: code, visits: [] };
  for (const f of fields) {
    const v = text(b[f]);
    if (v !== undefined) answer[f] = v;
  }
  const visits = Array.isArray(b.dsLichSuKCB2018) ? b.dsLichSuKCB2018 : [];
  answer.visits = visits
    .filter((v): v is Record<string, unknown> => !!v && typeof v === 'object')
    .map((v) => {
      const visit: PortalVisit = {};
      for (const f of ['maHoSo', 'maCSKCB', 'ngayVao', 'ngayRa', 'tenBenh', 'tinhTrang', 'kqDieuTri', 'lyDoVV'] as const) {
        const value = text(v[f]);
        if (value !== undefined) visit[f] = value;
      }
      return visit;
    });
  return answer;
}

/** dd/MM/yyyy (the portal's dates) → FHIR date; yyyy stays a year; anything else undefined. */
export function portalDate(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const full = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(value);
  if (full) return `${full[3]}-${full[2]}-${full[1]}`;
  return /^\d{4}$/.test(value) ? value : undefined;
}

/** FHIR birthDate → the portal's ngaySinh: dd/MM/yyyy, or yyyy for a year alone; undefined for a year and month. */
export function toPortalDate(birthDate: string): string | undefined {
  const full = /^(\d{4})-(\d{2})-(\d{2})$/.exec(birthDate);
  if (full) return `${full[3]}/${full[2]}/${full[1]}`;
  return /^\d{4}$/.test(birthDate) ? birthDate : undefined;
}

/** yyyyMMddHHmm (Vietnam time) → FHIR dateTime with its +07:00 offset. */
export function portalMinute(value: string | undefined): string | undefined {
  const m = value ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(value) : null;
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:00+07:00` : undefined;
}
