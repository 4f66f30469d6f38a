import { createHash } from 'node:crypto';
import type { PortalReceipt } from './dossiers.js';

/**
 * The BHXH eGateway API as facilities use it (QĐ 4750 §5): a token from `/api/token/take` with the
 * MD5 of the password, then one form-encoded POST per file to the endpoint of the standard
 * (`guiHoSoXmlQD4750`, `…QD3176`; check-in `checkInKcbQd4750`, `…Qd3176`). Tokens are cached per
 * account until a minute before they expire (a cache only: a restart logs in again).
 */
export interface PortalAccount {
  /** Base URL: `https://egw.baohiemxahoi.gov.vn`, the training host, or the simulator. */
  baseUrl: string;
  username: string;
  password: string;
  standard: '4750' | '3176';
  /** The officer registered with BHXH for card lookups at this facility (CV 1923): name and CCCD. */
  lookupOfficer?: { name: string; cccd: string };
}

/** How an attempt ended, as the worker needs to know it. */
export type PortalAnswer =
  | { outcome: 'accepted'; receipt: PortalReceipt }
  | { outcome: 'rejected'; receipt: PortalReceipt }
  /** The token was refused (expired, revoked): log in again and retry. */
  | { outcome: 'unauthorized'; detail: string }
  /** The account itself was refused (wrong password, locked): nothing to retry until it is fixed. */
  | { outcome: 'login-refused'; detail: string }
  /** Nothing is known (network error, timeout, 5xx, an answer that is not the portal's): retry later. */
  | { outcome: 'transient'; detail: string };

interface Token {
  accessToken: string;
  idToken: string;
  expiresAt: number;
}

const md5Upper = (s: string) => createHash('md5').update(s, 'utf8').digest('hex').toUpperCase();

export class PortalClient {
  private readonly tokens = new Map<string, Token>();

  constructor(
    private readonly timeoutMs = 30_000,
    private readonly clock: () => number = Date.now,
  ) {}

  async submit(account: PortalAccount, kind: 'claim' | 'checkin', facility: string, signedXml: string): Promise<PortalAnswer> {
    let token: Token;
    try {
      token = await this.token(account);
    } catch (e) {
      return (e as { unauthorized?: boolean }).unauthorized ? { outcome: 'login-refused', detail: (e as Error).message } : { outcome: 'transient', detail: describe(e) };
    }
    const path = kind === 'claim' ? `/api/qd130/guiHoSoXmlQD${account.standard}` : `/api/qd130/checkInKcbQd${account.standard}`;
    const form = new URLSearchParams({
      username: account.username,
      loaiHoSo: kind === 'claim' ? '130' : '0',
      maTinh: facility.slice(0, 2),
      maCSKCB: facility,
      fileHSBase64: Buffer.from(signedXml, 'utf8').toString('base64'),
    });
    let body: Record<string, unknown>;
    try {
      const res = await fetch(new URL(path, account.baseUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accessToken: token.accessToken, tokenId: token.idToken, passwordHash: md5Upper(account.password) },
        body: form,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (res.status === 401 || res.status === 403) {
        this.forget(account);
        return { outcome: 'unauthorized', detail: `HTTP ${res.status}` };
      }
      if (res.status >= 500) return { outcome: 'transient', detail: `HTTP ${res.status}` };
      body = (await res.json()) as Record<string, unknown>;
    } catch (e) {
      return { outcome: 'transient', detail: describe(e) };
    }
    const receipt = receiptOf(body);
    if (!receipt) return { outcome: 'transient', detail: 'the answer has no maKetQua' };
    if (receipt.maKetQua === '200') return { outcome: 'accepted', receipt };
    if (receipt.maKetQua === '401' || receipt.maKetQua === '403') {
      this.forget(account);
      return { outcome: 'unauthorized', detail: `maKetQua ${receipt.maKetQua}: ${receipt.thongDiep ?? ''}` };
    }
    return { outcome: 'rejected', receipt };
  }

  /**
   * A cached token, or a new one (always a new one with `fresh`: checking that the account works);
   * throws, with `unauthorized` set when the credentials were refused. `signal` lets a caller with a
   * shorter deadline (a card lookup at the reception desk) give up sooner than the client's timeout.
   */
  async token(account: PortalAccount, fresh = false, signal?: AbortSignal): Promise<Token> {
    const key = `${account.baseUrl}\u0000${account.username}`;
    const cached = this.tokens.get(key);
    if (!fresh && cached && cached.expiresAt - 60_000 > this.clock()) return cached;
    if (fresh) this.tokens.delete(key);
    const res = await fetch(new URL('/api/token/take', account.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: account.username, password: md5Upper(account.password) }),
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)]) : AbortSignal.timeout(this.timeoutMs),
    });
    if (res.status >= 500) throw new Error(`token: HTTP ${res.status}`);
    const body = (await res.json().catch(() => ({}))) as { maKetQua?: unknown; APIKey?: { access_token?: string; id_token?: string; expires_in?: string } };
    if (String(body.maKetQua) !== '200' || !body.APIKey?.access_token) {
      throw Object.assign(new Error(`the portal refused the login of ${account.username} (maKetQua ${String(body.maKetQua ?? res.status)})`), { unauthorized: true });
    }
    const expires = Date.parse(body.APIKey.expires_in ?? '');
    const token = { accessToken: body.APIKey.access_token, idToken: body.APIKey.id_token ?? '', expiresAt: Number.isNaN(expires) ? this.clock() + 10 * 60_000 : expires };
    this.tokens.set(key, token);
    return token;
  }

  private forget(account: PortalAccount): void {
    this.tokens.delete(`${account.baseUrl}\u0000${account.username}`);
  }
}

function receiptOf(body: Record<string, unknown>): PortalReceipt | undefined {
  if (body.maKetQua === undefined || body.maKetQua === null) return undefined;
  const text = (v: unknown) => (v === undefined || v === null ? undefined : String(v));
  return {
    maKetQua: String(body.maKetQua),
    ...(text(body.maGiaoDich) ? { maGiaoDich: text(body.maGiaoDich) } : {}),
    ...(text(body.thoiGianTiepNhan) ? { thoiGianTiepNhan: text(body.thoiGianTiepNhan) } : {}),
    ...(text(body.thongDiep) ? { thongDiep: text(body.thongDiep) } : {}),
  };
}

/** An error as a short reason (never a URL with credentials, never a body). */
function describe(e: unknown): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timeout';
  return err.cause?.code ?? err.message ?? 'network error';
}
