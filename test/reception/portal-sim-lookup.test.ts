import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CARD_LOOKUP_PATH, DEVELOPMENT_OFFICER, md5Upper, sampleCards, startPortalSimulator, type PortalSimulator } from '../../conformance/portal-sim/index.js';

/**
 * The simulator's card lookup (spec §5.4) as a client sees it over HTTP: credentials in the query
 * string, the checks in their order, card data and history only where BHXH gives them.
 */
const ACCOUNT = { username: '10085_BV', password: 'mật-khẩu', facility: '10085' };
const OFFICER = { facility: '10085', hoTen: 'Nguyễn Thị Tiếp Đón', cccd: '010190001234' };
const YEAR = new Date(Date.now() + 7 * 3_600_000).getUTCFullYear();
const lan = sampleCards(YEAR)[0];
let sim: PortalSimulator;
let dev: PortalSimulator;

beforeAll(async () => {
  sim = await startPortalSimulator({ accounts: [ACCOUNT], trustAnchors: [], officers: [OFFICER] });
  dev = await startPortalSimulator({ accounts: [], developmentPassword: 'portal-sim', trustAnchors: [] });
});
afterAll(async () => {
  await sim?.close();
  await dev?.close();
});

async function token(base: string, username: string, password: string) {
  const res = await fetch(`${base}/api/token/take`, { method: 'POST', body: new URLSearchParams({ username, password: md5Upper(password) }) });
  return ((await res.json()) as { APIKey: { access_token: string; id_token: string } }).APIKey;
}

async function lookup(body: Record<string, unknown>, options: { base?: string; username?: string; password?: string; query?: Record<string, string> } = {}) {
  const base = options.base ?? sim.url;
  const username = options.username ?? ACCOUNT.username;
  const password = options.password ?? ACCOUNT.password;
  const t = await token(base, username, password);
  const query = new URLSearchParams({ token: t.access_token, id_token: t.id_token, username, password: md5Upper(password), ...options.query });
  const res = await fetch(`${base}${CARD_LOOKUP_PATH}?${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(5000) });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown> & { maKetQua: string; ghiChu: string };
}
const asLan = (over: Record<string, unknown> = {}) => ({ maThe: lan.maThe, hoTen: lan.hoTen, ngaySinh: lan.ngaySinh, hoTenCb: OFFICER.hoTen, cccdCb: OFFICER.cccd, ...over });

describe('POST /api/egw/KQNhanLichSuKCB2024', () => {
  it('a valid card: every field of §5.4, dates dd/MM/yyyy, the history with yyyyMMddHHmm times, the check log', async () => {
    const a = await lookup(asLan());
    expect(a).toMatchObject({ maKetQua: '000', maThe: lan.maThe, hoTen: lan.hoTen, maDKBD: '10085', gtTheTu: `01/01/${YEAR}`, gtTheDen: `31/12/${YEAR}`, ngayDu5Nam: '01/01/2019', maSoBHXH: lan.maThe.slice(5), maTheMoi: null });
    const visits = a.dsLichSuKCB2018 as { maCSKCB: string; ngayVao: string; ngayRa: string }[];
    expect(visits.map((v) => v.maCSKCB)).toEqual(['10085', '10001']);
    expect(visits[0].ngayVao).toMatch(/^\d{12}$/);
    expect(visits[0].ngayRa > visits[0].ngayVao).toBe(true);
    expect((a.dsLichSuKT2018 as { userKT: string; maLoi: string }[])[0]).toMatchObject({ userKT: '10085_BV', maLoi: '000' });
  });

  it('the same card by its 10-digit BHXH number or by the holder’s CCCD', async () => {
    expect((await lookup(asLan({ maThe: lan.maThe.slice(5) }))).maKetQua).toBe('000');
    expect(await lookup(asLan({ maThe: lan.cccd }))).toMatchObject({ maKetQua: '000', maThe: lan.maThe });
  });

  it('401 for a forged token or a wrong password hash, 205 for missing or malformed parameters — no card data either way', async () => {
    const forged = await lookup(asLan(), { query: { token: 'forged' } });
    expect(forged).toMatchObject({ maKetQua: '401', maThe: null });
    expect((await lookup(asLan(), { query: { password: md5Upper('wrong') } })).maKetQua).toBe('401');
    expect(await lookup(asLan({ hoTenCb: '' }))).toMatchObject({ maKetQua: '205', ghiChu: expect.stringContaining('hoTenCb') });
    expect((await lookup(asLan({ ngaySinh: '1967-08-14' }))).maKetQua).toBe('205');
    expect((await lookup(asLan({ cccdCb: '123' }))).maKetQua).toBe('205');
  });

  it('the officer is checked before the card: 054 for an unknown CCCD, 055 for a name that is not the CCCD’s', async () => {
    expect((await lookup(asLan({ cccdCb: '010190009999' }))).maKetQua).toBe('054');
    expect((await lookup(asLan({ hoTenCb: 'Nguyễn Thị Khác', maThe: 'XX' }))).maKetQua).toBe('055');
    // Names compare without regard to case and spacing, not without accents.
    expect((await lookup(asLan({ hoTenCb: '  nguyễn  thị tiếp đón ' }))).maKetQua).toBe('000');
  });

  it('a development simulator accepts its development officer for any <MA_CSKCB>_BV', async () => {
    const a = await lookup(asLan({ hoTenCb: DEVELOPMENT_OFFICER.hoTen, cccdCb: DEVELOPMENT_OFFICER.cccd }), { base: dev.url, username: '10099_BV', password: 'portal-sim' });
    expect(a.maKetQua).toBe('000');
  });

  it('lookup faults: HTTP 502 from the proxy, and no answer at all', async () => {
    sim.setLookupFaults({ fail: 502 });
    const t = await token(sim.url, ACCOUNT.username, ACCOUNT.password);
    const url = `${sim.url}${CARD_LOOKUP_PATH}?${new URLSearchParams({ token: t.access_token, id_token: t.id_token, username: ACCOUNT.username, password: md5Upper(ACCOUNT.password) })}`;
    const proxy = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(asLan()) });
    expect(proxy.status).toBe(502);
    expect(await proxy.text()).toContain('Bad Gateway');
    sim.setLookupFaults({ timeout: true });
    await expect(fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(asLan()), signal: AbortSignal.timeout(300) })).rejects.toThrow();
    sim.setLookupFaults({});
    expect(() => sim.setLookupFaults({ slow: 1 } as never)).toThrow(/unknown/);
  });
});
