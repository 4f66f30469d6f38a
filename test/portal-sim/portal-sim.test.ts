import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle } from '@medplum/fhirtypes';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BUSINESS_REJECTIONS, md5Upper, RESULT, startPortalSimulator, type PortalSimulator, type Submission } from '../../conformance/portal-sim/index.js';
import { gatherEpisode } from '../../gateway/mapping/episode.js';
import { bundleSource } from '../../gateway/mapping/sources.js';
import { buildClaimFile, type ClaimFile } from '../../gateway/outputs/xml/claim-file.js';
import { claimEnvelope, SIGNATURE_SLOT, type EnvelopeFile } from '../../gateway/outputs/xml/envelope.js';
import { tableDocument } from '../../gateway/outputs/xml/serialize.js';
import { tableDefinition, type TableDefinition, type XmlStandard } from '../../gateway/outputs/xml/table-definition.js';
import { PROFILES_DIR } from '../../gateway/paths.js';
import { selfSignedCredentials } from '../../gateway/signing/keys.js';
import { keySigner, type Signer } from '../../gateway/signing/signer.js';
import { signDocument } from '../../gateway/signing/xmldsig.js';

/**
 * The simulated BHXH portal, over real HTTP (fetch against its port), with files the gateway
 * builds and signs: a trusted facility certificate, an unregistered one and an expired one.
 */
const FACILITY = '10085';
const OTHER = '01013';
const ACCOUNT = { username: `${FACILITY}_BV`, password: 'mật-khẩu-1', facility: FACILITY };
const OTHER_ACCOUNT = { username: `${OTHER}_BV`, password: 'khac', facility: OTHER };
const CLAIM_4750 = '/api/qd130/guiHoSoXmlQD4750';
const CLAIM_3176 = '/api/qd130/guiHoSoXmlQD3176';
const CHECKIN_4750 = '/api/qd130/checkInKcbQd4750';

const trusted = selfSignedCredentials(`Bệnh viện Đa khoa thử nghiệm (${FACILITY})`);
const unregistered = selfSignedCredentials('Bên thứ ba không đăng ký');
const expired = selfSignedCredentials(`Bệnh viện cũ (${FACILITY})`, { notBefore: new Date(Date.now() - 10 * 86_400_000), days: 2 });
const signer = keySigner(trusted.credentials.key, trusted.credentials.certificate);
const sign = (document: string, by: Signer = signer) => signDocument(document, by);

/** Clock of the simulator: tests move it forward to expire tokens. */
let clockOffsetMs = 0;
let sim: PortalSimulator;

beforeAll(async () => {
  sim = await startPortalSimulator({
    accounts: [ACCOUNT, OTHER_ACCOUNT],
    trustAnchors: [trusted.credentials.certificate, expired.credentials.certificate],
    now: () => new Date(Date.now() + clockOffsetMs),
  });
});
afterAll(() => sim?.close());
afterEach(() => {
  clockOffsetMs = 0;
  sim.setFaults({});
});

// --- a client, as the gateway's worker would be ----------------------------------------------

interface Token {
  access_token: string;
  id_token: string;
  token_type: string;
  username: string;
  expires_in: string;
}

async function takeToken(base: string, username: string, passwordHash: string): Promise<{ status: number; body: { maKetQua: string; APIKey?: Token; thongDiep?: string } }> {
  const res = await fetch(`${base}/api/token/take`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password: passwordHash }),
    signal: AbortSignal.timeout(5000),
  });
  return { status: res.status, body: (await res.json()) as { maKetQua: string; APIKey?: Token } };
}

async function login(base = sim.url, account = ACCOUNT): Promise<Token> {
  const { body } = await takeToken(base, account.username, md5Upper(account.password));
  expect(body.maKetQua).toBe('200');
  return body.APIKey!;
}

interface Receipt {
  maKetQua: string;
  maGiaoDich?: string;
  thoiGianTiepNhan?: string;
  thongDiep: string;
}

interface SendOptions {
  base?: string;
  token?: Token;
  account?: typeof ACCOUNT;
  fields?: Record<string, string>;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

async function send(path: string, file: string | Buffer, options: SendOptions = {}): Promise<Response> {
  const account = options.account ?? ACCOUNT;
  const token = options.token ?? (await login(options.base ?? sim.url, account));
  const facility = options.fields?.maCSKCB ?? account.facility;
  return fetch(`${options.base ?? sim.url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accessToken: token.access_token,
      tokenId: token.id_token,
      passwordHash: md5Upper(account.password),
      ...options.headers,
    },
    body: new URLSearchParams({
      username: account.username,
      loaiHoSo: path.includes('checkIn') ? '0' : '130',
      maTinh: facility.slice(0, 2),
      maCSKCB: facility,
      fileHSBase64: Buffer.from(file).toString('base64'),
      ...options.fields,
    }),
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
  });
}

async function submit(path: string, file: string | Buffer, options: SendOptions = {}): Promise<Receipt> {
  const res = await send(path, file, options);
  expect(res.status).toBe(200);
  return (await res.json()) as Receipt;
}

// --- files --------------------------------------------------------------------------------------

const bundle = JSON.parse(readFileSync(join(PROFILES_DIR, 'examples', 'outpatient-visit.json'), 'utf8')) as Bundle;
async function outpatientClaim(now = new Date('2025-03-10T10:00:00Z'), standard: XmlStandard = '4750'): Promise<ClaimFile> {
  const { source, resources } = bundleSource(bundle);
  const encounter = resources.find((r) => r.resourceType === 'Encounter')!;
  const claim = buildClaimFile((await gatherEpisode(source, encounter.id!))!, { standard, now });
  expect(claim.issues.filter((i) => i.severity === 'error')).toEqual([]);
  return claim;
}

const def = (table: string, standard: XmlStandard = '4750'): TableDefinition => tableDefinition(table, standard)!;
/** A row of a table: the given fields, every other one empty (enough for structure). */
const row = (d: TableDefinition, values: Record<string, string>) => d.fields.map((f) => values[f.name] ?? '');
const table = (name: string, values: Record<string, string>[], standard: XmlStandard = '4750', d = def(name, standard)): EnvelopeFile => ({
  table: name,
  document: tableDocument(d, values.map((v) => row(d, v))),
});
const MA_LK = `${FACILITY}-TEST-0001`;
const minimalClaim = (files: EnvelopeFile[] = [table('XML1', [{ MA_LK, MA_CSKCB: FACILITY }]), table('XML2', [{ MA_LK }, { MA_LK }])], facility = FACILITY, date = '20250406') =>
  claimEnvelope(facility, date, files);
const minimalCheckin = (values: Record<string, string>[] = [{ MA_LK, MA_CSKCB: FACILITY, STT: '1' }]) => {
  const d = def('XML0');
  return tableDocument(d, values.map((v) => row(d, v)), SIGNATURE_SLOT);
};
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

// --- tests --------------------------------------------------------------------------------------

describe('POST /api/token/take', () => {
  it('gives a Bearer token for the MD5 (upper-case hex) of the password, expiring as an ISO instant in UTC', async () => {
    const before = Date.now();
    const { status, body } = await takeToken(sim.url, ACCOUNT.username, md5Upper(ACCOUNT.password));
    expect(status).toBe(200);
    expect(body.maKetQua).toBe('200');
    expect(body.APIKey).toMatchObject({ token_type: 'Bearer', username: ACCOUNT.username });
    expect(body.APIKey!.access_token).toMatch(/^[\w-]{20,}$/);
    expect(body.APIKey!.id_token).toMatch(/^[\w-]{20,}$/);
    expect(body.APIKey!.expires_in).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const expiry = Date.parse(body.APIKey!.expires_in);
    expect(expiry - before).toBeGreaterThanOrEqual(3600_000 - 1000);
    expect(expiry - before).toBeLessThanOrEqual(3600_000 + 5000);
  });

  it('answers maKetQua "401" (in an HTTP 200 body, no APIKey) to a wrong password, an unhashed or lower-case one, an unknown user', async () => {
    for (const [username, password] of [
      [ACCOUNT.username, md5Upper('wrong')],
      [ACCOUNT.username, ACCOUNT.password],
      [ACCOUNT.username, md5Upper(ACCOUNT.password).toLowerCase()],
      ['nobody_BV', md5Upper(ACCOUNT.password)],
    ]) {
      const { status, body } = await takeToken(sim.url, username, password);
      expect(status).toBe(200);
      expect(body).toEqual({ maKetQua: '401', thongDiep: 'Tên đăng nhập hoặc mật khẩu không đúng' });
    }
  });

  it('tokens expire: a submission with an expired token gets "401", a new token works', async () => {
    const token = await login();
    const file = await sign(minimalClaim(undefined, FACILITY, '20250101'));
    clockOffsetMs = 3601_000;
    const late = await submit(CLAIM_4750, file, { token });
    expect(late).toMatchObject({ maKetQua: '401', thongDiep: expect.stringContaining('hết hạn') });
    const fresh = await submit(CLAIM_4750, file, { token: await login() });
    expect(fresh.maKetQua).toBe('200');
  });

  it('a token shorter-lived by configuration expires when it says', async () => {
    const short = await startPortalSimulator({ accounts: [ACCOUNT], trustAnchors: [trusted.credentials.certificate], tokenLifetimeSeconds: 0.3 });
    try {
      const token = await login(short.url);
      expect(Date.parse(token.expires_in) - Date.now()).toBeLessThanOrEqual(300);
      const file = await sign(minimalClaim());
      await new Promise((r) => setTimeout(r, 350));
      expect((await submit(CLAIM_4750, file, { base: short.url, token })).maKetQua).toBe('401');
    } finally {
      await short.close();
    }
  });
});

describe('who may submit', () => {
  it('refuses a missing or forged token, a tokenId of another token and a wrong passwordHash with "401"', async () => {
    const file = await sign(minimalClaim());
    const token = await login();
    const other = await login();
    for (const options of [
      { token: { ...token, access_token: 'forged' } },
      { token: { ...token, id_token: other.id_token } },
      { token, headers: { passwordHash: md5Upper('wrong') } },
    ]) {
      expect(await submit(CLAIM_4750, file, options)).toMatchObject({ maKetQua: '401' });
    }
    const res = await fetch(`${sim.url}${CLAIM_4750}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=x' });
    expect(await res.json()).toMatchObject({ maKetQua: '401' });
  });

  it('refuses another account’s token, and a facility the account is not registered for, with "403"', async () => {
    const file = await sign(minimalClaim());
    const theirs = await login(sim.url, OTHER_ACCOUNT);
    expect(await submit(CLAIM_4750, file, { token: theirs })).toMatchObject({ maKetQua: '403', thongDiep: `Token không thuộc tài khoản ${ACCOUNT.username}` });
    expect(await submit(CLAIM_4750, file, { fields: { maCSKCB: OTHER } })).toMatchObject({
      maKetQua: '403',
      thongDiep: `Tài khoản ${ACCOUNT.username} không được cấp quyền gửi dữ liệu cho cơ sở KCB ${OTHER}`,
    });
  });

  it('refuses a file of another facility sent under one’s own maCSKCB with "211"', async () => {
    const file = await sign(minimalClaim());
    const receipt = await submit(CLAIM_4750, file, { account: OTHER_ACCOUNT });
    expect(receipt).toMatchObject({ maKetQua: '211', thongDiep: `Sai cấu trúc hồ sơ: MACSKCB trong hồ sơ (${FACILITY}) không khớp với maCSKCB gửi kèm (${OTHER})` });
  });

  it('checks the form: loaiHoSo of the endpoint ("206"), maTinh and missing fields ("205")', async () => {
    const file = await sign(minimalClaim());
    expect(await submit(CLAIM_4750, file, { fields: { loaiHoSo: '0' } })).toMatchObject({ maKetQua: '206', thongDiep: expect.stringContaining('loaiHoSo = "130"') });
    expect(await submit(CHECKIN_4750, await sign(minimalCheckin()), { fields: { loaiHoSo: '130' } })).toMatchObject({ maKetQua: '206' });
    expect(await submit(CLAIM_4750, file, { fields: { maTinh: '79' } })).toMatchObject({ maKetQua: '205', thongDiep: expect.stringContaining('maTinh') });
    expect(await submit(CLAIM_4750, file, { fields: { fileHSBase64: '' } })).toMatchObject({ maKetQua: '205', thongDiep: expect.stringContaining('fileHSBase64') });
  });
});

describe('accepted files', () => {
  it('a signed claim file built from the outpatient example: "200", a transaction id and the receipt time in Vietnam', async () => {
    const claim = await outpatientClaim();
    const file = await sign(claim.envelope);
    const before = new Date();
    const receipt = await submit(CLAIM_4750, file);
    expect(receipt).toMatchObject({ maKetQua: '200', thongDiep: 'Gửi hồ sơ thành công' });
    expect(receipt.maGiaoDich).toMatch(/^[0-9a-f-]{36}$/);
    expect(receipt.thoiGianTiepNhan).toMatch(/^\d{14}$/);
    // yyyyMMddHHmmss in Vietnam time (UTC+7), between the request and now.
    const [, y, mo, d, h, mi, se] = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)$/.exec(receipt.thoiGianTiepNhan!)!;
    const received = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${se}+07:00`);
    expect(received).toBeGreaterThanOrEqual(Math.floor(before.getTime() / 1000) * 1000);
    expect(received).toBeLessThanOrEqual(Date.now());
    const recorded = sim.accepted().find((s) => s.maGiaoDich === receipt.maGiaoDich);
    expect(recorded).toMatchObject({ kind: 'claim', endpoint: CLAIM_4750, facility: FACILITY, maLk: claim.maLk, sha256: sha256(file), accepted: true, maKetQua: '200' });
    expect(recorded!.duplicateOf).toBeUndefined();
  });

  it('the QĐ 3176 claim file of the same episode on the 3176 endpoint, and its check-in file', async () => {
    const claim = await outpatientClaim(new Date('2025-03-10T11:00:00Z'), '3176');
    expect(await submit(CLAIM_3176, await sign(claim.envelope))).toMatchObject({ maKetQua: '200' });
    const checkin = await sign(claim.checkin!);
    const receipt = await submit('/api/qd130/checkInKcbQd3176', checkin);
    expect(receipt).toMatchObject({ maKetQua: '200', thongDiep: 'Gửi thông tin check-in thành công' });
    expect(sim.accepted().find((s) => s.maGiaoDich === receipt.maGiaoDich)).toMatchObject({ kind: 'checkin', maLk: claim.maLk, sha256: sha256(checkin) });
  });

  it('a check-in file of two records on …Qd4750 and …Qd130, and a claim on …QD130 (read as 4750)', async () => {
    const two = minimalCheckin([
      { MA_LK: `${FACILITY}-CI-1`, MA_CSKCB: FACILITY, STT: '1' },
      { MA_LK: `${FACILITY}-CI-2`, MA_CSKCB: FACILITY, STT: '2' },
    ]);
    const receipt = await submit(CHECKIN_4750, await sign(two));
    expect(receipt.maKetQua).toBe('200');
    expect(sim.all().find((s) => s.maGiaoDich === receipt.maGiaoDich)!.maLk).toBe(`${FACILITY}-CI-1;${FACILITY}-CI-2`);
    expect((await submit('/api/qd130/checkInKcbQd130', await sign(minimalCheckin([{ MA_LK: `${FACILITY}-CI-3`, MA_CSKCB: FACILITY }])))).maKetQua).toBe('200');
    expect((await submit('/api/qd130/guiHoSoXmlQD130', await sign(minimalClaim(undefined, FACILITY, '20250102')))).maKetQua).toBe('200');
  });
});

describe('idempotency', () => {
  it('the identical file again gets the original receipt, is recorded as a duplicate and not counted again', async () => {
    const file = await sign(minimalClaim([table('XML1', [{ MA_LK: 'DUP-1', MA_CSKCB: FACILITY }])]));
    const first = await submit(CLAIM_4750, file);
    const count = sim.accepted().length;
    const again = await submit(CLAIM_4750, file);
    const thrice = await submit('/api/qd130/guiHoSoXmlQD3176', file);
    expect(first.maKetQua).toBe('200');
    for (const r of [again, thrice]) {
      expect(r).toMatchObject({ maKetQua: '200', maGiaoDich: first.maGiaoDich, thoiGianTiepNhan: first.thoiGianTiepNhan });
      expect(r.thongDiep).toContain('trùng');
    }
    expect(sim.accepted().length).toBe(count);
    const copies = sim.all().filter((s) => s.sha256 === sha256(file));
    expect(copies.map((s) => s.duplicateOf)).toEqual([undefined, first.maGiaoDich, first.maGiaoDich]);
    expect(copies.every((s) => s.maGiaoDich === first.maGiaoDich && s.maLk === 'DUP-1')).toBe(true);
  });

  it('a different file for the same MA_LK is a new version, accepted as such', async () => {
    const v1 = await sign(minimalClaim([table('XML1', [{ MA_LK: 'VER-1', MA_CSKCB: FACILITY }])], FACILITY, '20250401'));
    const v2 = await sign(minimalClaim([table('XML1', [{ MA_LK: 'VER-1', MA_CSKCB: FACILITY, HO_TEN: 'Sửa tên' }])], FACILITY, '20250402'));
    const r1 = await submit(CLAIM_4750, v1);
    const r2 = await submit(CLAIM_4750, v2);
    expect(r2.maKetQua).toBe('200');
    expect(r2.maGiaoDich).not.toBe(r1.maGiaoDich);
    expect(r2.thongDiep).toContain('thay thế');
    expect(sim.accepted().filter((s) => s.maLk === 'VER-1').map((s) => s.maGiaoDich)).toEqual([r1.maGiaoDich, r2.maGiaoDich]);
  });

  it('the same MA_LK as claim and as check-in are different kinds', async () => {
    const claim = await sign(minimalClaim([table('XML1', [{ MA_LK: 'KIND-1', MA_CSKCB: FACILITY }])]));
    const checkin = await sign(minimalCheckin([{ MA_LK: 'KIND-1', MA_CSKCB: FACILITY }]));
    expect((await submit(CLAIM_4750, claim)).thongDiep).toBe('Gửi hồ sơ thành công');
    expect((await submit(CHECKIN_4750, checkin)).thongDiep).toBe('Gửi thông tin check-in thành công');
  });
});

describe('signature and bytes', () => {
  it('a byte changed after signing: "209"', async () => {
    const file = await sign(minimalClaim());
    const tampered = file.replace('<NGAYLAP>20250406</NGAYLAP>', '<NGAYLAP>20250407</NGAYLAP>');
    expect(tampered).not.toBe(file);
    expect(await submit(CLAIM_4750, tampered)).toMatchObject({ maKetQua: '209', thongDiep: expect.stringContaining('Chữ ký số của cơ sở KCB không hợp lệ') });
  });

  it('an unsigned file (empty CHUKYDONVI): "209"', async () => {
    expect(await submit(CLAIM_4750, minimalClaim())).toMatchObject({ maKetQua: '209', thongDiep: expect.stringContaining('đúng một chữ ký') });
  });

  it('a valid signature by an unregistered certificate, or an expired one: "210"', async () => {
    const file = minimalClaim();
    expect(await submit(CLAIM_4750, await sign(file, keySigner(unregistered.credentials.key, unregistered.credentials.certificate)))).toMatchObject({
      maKetQua: '210',
      thongDiep: expect.stringContaining('không thuộc chuỗi tin cậy'),
    });
    expect(await submit(CLAIM_4750, await sign(file, keySigner(expired.credentials.key, expired.credentials.certificate)))).toMatchObject({
      maKetQua: '210',
      thongDiep: expect.stringContaining('expired'),
    });
  });

  it('not base64 (a "+" sent unencoded turns into a space), not UTF-8, not XML: "207"; a DTD: "208"', async () => {
    const token = await login();
    const signed = await sign(minimalClaim());
    const base64 = Buffer.from(signed).toString('base64');
    expect(await submit(CLAIM_4750, '', { token, fields: { fileHSBase64: `${base64.slice(0, 8)} ${base64.slice(9)}` } })).toMatchObject({ maKetQua: '207', thongDiep: expect.stringContaining('base64') });
    expect(await submit(CLAIM_4750, Buffer.from([0x3c, 0x61, 0xff, 0xfe, 0x3e]), { token })).toMatchObject({ maKetQua: '207', thongDiep: expect.stringContaining('UTF-8') });
    expect(await submit(CLAIM_4750, '<GIAMDINHHS><THONGTINDONVI>', { token })).toMatchObject({ maKetQua: '207', thongDiep: expect.stringContaining('XML') });
    const dtd = '<?xml version="1.0"?><!DOCTYPE GIAMDINHHS [<!ENTITY x "y">]><GIAMDINHHS>&x;</GIAMDINHHS>';
    expect(await submit(CLAIM_4750, dtd, { token })).toMatchObject({ maKetQua: '208' });
  });

  it('a DTD inside a table (NOIDUNGFILE) is refused too: "208"', async () => {
    const evil = { table: 'XML1', document: '<?xml version="1.0"?><!DOCTYPE TONG_HOP [<!ENTITY e SYSTEM "file:///etc/passwd">]><TONG_HOP>&e;</TONG_HOP>' };
    expect(await submit(CLAIM_4750, await sign(minimalClaim([evil])))).toMatchObject({ maKetQua: '208' });
  });
});

describe('structure', () => {
  it('fields of XML1 out of order: "212", naming the position', async () => {
    const xml1 = def('XML1');
    const swapped = { ...xml1, fields: [xml1.fields[0], xml1.fields[2], xml1.fields[1], ...xml1.fields.slice(3)] };
    const file = await sign(minimalClaim([table('XML1', [{ MA_LK, MA_CSKCB: FACILITY }], '4750', swapped)]));
    expect(await submit(CLAIM_4750, file)).toMatchObject({
      maKetQua: '212',
      thongDiep: `Sai cấu trúc bảng XML1: TONG_HOP: sai thứ tự phần tử — vị trí 2 phải là ${xml1.fields[1].name}, nhận được ${xml1.fields[2].name}`,
    });
  });

  it('a missing field, an unknown element and a wrong item name: "212"', async () => {
    const xml2 = def('XML2');
    const missing = { ...xml2, fields: xml2.fields.slice(0, -1) };
    const extra = { ...xml2, fields: [...xml2.fields.slice(0, 3), { name: 'KHONG_CO', type: 'string' as const }, ...xml2.fields.slice(3)] };
    const item = { ...xml2, item: 'THUOC' };
    for (const [d, fragment] of [
      [missing, `thiếu phần tử ${xml2.fields[xml2.fields.length - 1].name}`],
      [extra, 'phần tử KHONG_CO không thuộc bảng XML2'],
      [item, 'chỉ chứa CHI_TIET_THUOC'],
    ] as const) {
      const file = await sign(minimalClaim([table('XML1', [{ MA_LK, MA_CSKCB: FACILITY }]), table('XML2', [{ MA_LK }], '4750', d)]));
      expect(await submit(CLAIM_4750, file)).toMatchObject({ maKetQua: '212', thongDiep: expect.stringContaining(fragment) });
    }
  });

  it('an unknown table, XML12 in the envelope, no XML1, tables out of order: "212" / "211"', async () => {
    const xml1 = table('XML1', [{ MA_LK, MA_CSKCB: FACILITY }]);
    const unknown = { table: 'XML16', document: tableDocument(def('XML2'), [row(def('XML2'), { MA_LK })]) };
    expect(await submit(CLAIM_4750, await sign(minimalClaim([xml1, unknown])))).toMatchObject({ maKetQua: '212', thongDiep: expect.stringContaining('LOAIHOSO "XML16"') });
    expect(await submit(CLAIM_4750, await sign(minimalClaim([xml1, table('XML12', [{}])])))).toMatchObject({ maKetQua: '212', thongDiep: expect.stringContaining('LOAIHOSO "XML12"') });
    expect(await submit(CLAIM_4750, await sign(minimalClaim([table('XML2', [{ MA_LK }])])))).toMatchObject({ maKetQua: '212', thongDiep: expect.stringContaining('không có bảng XML1') });
    expect(await submit(CLAIM_4750, await sign(minimalClaim([xml1, table('XML3', [{ MA_LK }]), table('XML2', [{ MA_LK }])])))).toMatchObject({ maKetQua: '211' });
  });

  it('a table of the other standard: the 3176 XML13 on the 4750 endpoint is refused, on the 3176 one accepted', async () => {
    const files = [table('XML1', [{ MA_LK: 'STD-1', MA_CSKCB: FACILITY }]), table('XML13', [{ MA_LK: 'STD-1', MA_CSKCB: FACILITY }], '3176')];
    const file = await sign(minimalClaim(files));
    expect(await submit(CLAIM_4750, file)).toMatchObject({ maKetQua: '212', thongDiep: expect.stringContaining('XML13') });
    expect(await submit(CLAIM_3176, file)).toMatchObject({ maKetQua: '200' });
  });

  it('MA_LK missing or not the same across tables: "213"', async () => {
    const other = await sign(minimalClaim([table('XML1', [{ MA_LK, MA_CSKCB: FACILITY }]), table('XML2', [{ MA_LK }, { MA_LK: 'KHAC' }])]));
    expect(await submit(CLAIM_4750, other)).toMatchObject({ maKetQua: '213', thongDiep: 'Mã liên kết hồ sơ (MA_LK) của bảng XML2 không thống nhất với bảng XML1' });
    const none = await sign(minimalClaim([table('XML1', [{ MA_CSKCB: FACILITY }])]));
    expect(await submit(CLAIM_4750, none)).toMatchObject({ maKetQua: '213', thongDiep: 'Thiếu mã liên kết hồ sơ (MA_LK) trong bảng XML1' });
  });

  it('SOLUONGHOSO not the number of HOSO, a check-in file on the claim endpoint and a claim on the check-in one: "211"', async () => {
    const wrongCount = minimalClaim().replace('<SOLUONGHOSO>1</SOLUONGHOSO>', '<SOLUONGHOSO>2</SOLUONGHOSO>');
    expect(await submit(CLAIM_4750, await sign(wrongCount))).toMatchObject({ maKetQua: '211', thongDiep: expect.stringContaining('SOLUONGHOSO (2)') });
    expect(await submit(CLAIM_4750, await sign(minimalCheckin()))).toMatchObject({ maKetQua: '211', thongDiep: expect.stringContaining('GIAMDINHHS') });
    expect(await submit(CHECKIN_4750, await sign(minimalClaim()))).toMatchObject({ maKetQua: '211', thongDiep: expect.stringContaining('CHI_TIEU_TRANG_THAI_KCB') });
  });

  it('check-in records with fields out of order, or of another facility: "212" / "211"', async () => {
    const xml0 = def('XML0');
    const swapped = { ...xml0, fields: [xml0.fields[1], xml0.fields[0], ...xml0.fields.slice(2)] };
    const file = tableDocument(swapped, [row(swapped, { MA_LK, MA_CSKCB: FACILITY })], SIGNATURE_SLOT);
    expect(await submit(CHECKIN_4750, await sign(file))).toMatchObject({ maKetQua: '212', thongDiep: expect.stringContaining('TRANG_THAI_KCB[1]: sai thứ tự') });
    expect(await submit(CHECKIN_4750, await sign(minimalCheckin([{ MA_LK, MA_CSKCB: OTHER }])))).toMatchObject({ maKetQua: '211', thongDiep: expect.stringContaining('MA_CSKCB') });
  });
});

describe('faults, as a client sees them', () => {
  /** What became of one request, from the client's side. */
  async function outcome(path: string, file: string, token: Token, timeoutMs = 400): Promise<string> {
    try {
      const res = await send(path, file, { token, timeoutMs });
      if (res.status !== 200) return `http ${res.status}`;
      const body = (await res.json()) as Receipt;
      return `maKetQua ${body.maKetQua}`;
    } catch (e) {
      const error = e as Error;
      return error.name === 'TimeoutError' ? 'timeout' : 'connection lost';
    }
  }

  it('failRate: HTTP 500 (JSON), 502 or 503 (HTML from the proxy), nothing recorded', async () => {
    const token = await login();
    const file = await sign(minimalClaim([table('XML1', [{ MA_LK: 'F-1', MA_CSKCB: FACILITY }])]));
    const before = sim.all().length;
    sim.setFaults({ failRate: 1, seed: 1 });
    const statuses = new Set<number>();
    for (let i = 0; i < 12; i++) {
      const res = await send(CLAIM_4750, file, { token });
      statuses.add(res.status);
      const text = await res.text();
      if (res.status === 500) expect(JSON.parse(text)).toMatchObject({ maKetQua: '500' });
      else expect(text).toContain(`<title>${res.status}`);
    }
    expect([...statuses].sort()).toEqual([500, 502, 503]);
    expect(sim.all().length).toBe(before);
  });

  it('timeoutRate: the request is read and never answered — the client times out', async () => {
    const token = await login();
    sim.setFaults({ timeoutRate: 1 });
    const started = Date.now();
    expect(await outcome(CLAIM_4750, await sign(minimalClaim()), token, 300)).toBe('timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('dropRate: the connection is destroyed mid-request', async () => {
    const token = await login();
    sim.setFaults({ dropRate: 1 });
    expect(await outcome(CLAIM_4750, await sign(minimalClaim()), token, 5000)).toBe('connection lost');
  });

  it('slowMs: the answer comes, late', async () => {
    const token = await login();
    const file = await sign(minimalClaim());
    sim.setFaults({ slowMs: 400 });
    const started = Date.now();
    expect(await outcome(CLAIM_4750, file, token, 5000)).toBe('maKetQua 200');
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    expect(await outcome(CLAIM_4750, file, token, 200)).toBe('timeout');
  });

  it('rejectRate: a valid new file gets a final business rejection (card check), recorded as not accepted', async () => {
    const token = await login();
    const file = await sign(minimalClaim([table('XML1', [{ MA_LK: 'REJ-1', MA_CSKCB: FACILITY }])]));
    sim.setFaults({ rejectRate: 1 });
    const res = await send(CLAIM_4750, file, { token });
    const body = (await res.json()) as Receipt;
    expect(BUSINESS_REJECTIONS).toContainEqual({ maKetQua: body.maKetQua, thongDiep: body.thongDiep });
    expect(body.maGiaoDich).toBeUndefined();
    expect(sim.all().at(-1)).toMatchObject({ maLk: 'REJ-1', accepted: false, maKetQua: body.maKetQua, maGiaoDich: '' });
    expect(sim.accepted().some((s) => s.maLk === 'REJ-1')).toBe(false);
  });

  it('dropAfterAcceptRate: accepted and recorded, the answer lost; the resend gets the original receipt', async () => {
    const token = await login();
    const file = await sign(minimalClaim([table('XML1', [{ MA_LK: 'LOST-1', MA_CSKCB: FACILITY }])]));
    sim.setFaults({ dropAfterAcceptRate: 1 });
    expect(await outcome(CLAIM_4750, file, token, 5000)).toBe('connection lost');
    const recorded = sim.accepted().filter((s) => s.maLk === 'LOST-1');
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ answerLost: 'dropped', accepted: true });
    sim.setFaults({});
    const resent = await submit(CLAIM_4750, file, { token });
    expect(resent).toMatchObject({ maKetQua: '200', maGiaoDich: recorded[0].maGiaoDich });
    expect(sim.accepted().filter((s) => s.maLk === 'LOST-1')).toHaveLength(1);
  });

  it('timeoutAfterAcceptRate: accepted, the client times out; the resend gets the original receipt', async () => {
    const token = await login();
    const file = await sign(minimalCheckin([{ MA_LK: 'LATE-1', MA_CSKCB: FACILITY }]));
    sim.setFaults({ timeoutAfterAcceptRate: 1 });
    expect(await outcome(CHECKIN_4750, file, token, 300)).toBe('timeout');
    sim.setFaults({});
    const resent = await submit(CHECKIN_4750, file, { token });
    expect(resent.maGiaoDich).toBe(sim.accepted().find((s) => s.maLk === 'LATE-1')!.maGiaoDich);
    expect(sim.all().filter((s) => s.maLk === 'LATE-1').map((s) => [s.answerLost, s.duplicateOf])).toEqual([
      ['timed-out', undefined],
      [undefined, resent.maGiaoDich],
    ]);
  });

  it('POST /sim/faults and GET /sim/submissions drive a standalone simulator over HTTP', async () => {
    const set = await fetch(`${sim.url}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ failRate: 1, seed: 7 }) });
    expect(await set.json()).toEqual({ failRate: 1, seed: 7 });
    expect(await outcome(CLAIM_4750, await sign(minimalClaim()), await login())).toMatch(/^http 50[023]$/);
    const bad = await fetch(`${sim.url}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ failrate: 1 }) });
    expect(bad.status).toBe(400);
    expect(await (await fetch(`${sim.url}/sim/faults`)).json()).toEqual({ failRate: 1, seed: 7 });
    await fetch(`${sim.url}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const listed = (await (await fetch(`${sim.url}/sim/submissions`)).json()) as { accepted: Submission[]; all: Submission[] };
    expect(listed.all.length).toBe(sim.all().length);
    expect(listed.accepted.map((s) => s.maGiaoDich)).toEqual(sim.accepted().map((s) => s.maGiaoDich));
    // Receipts only: no file content (base64 of "<?xml ") and no personal data of the example.
    expect(JSON.stringify(listed)).not.toContain('PD94bWwg');
    expect(JSON.stringify(listed)).not.toContain('Hoàng Thị Lan');
  });

  it('a seed gives the same schedule of outcomes every time; another seed another one', async () => {
    const files = await Promise.all(Array.from({ length: 14 }, (_, i) => sign(minimalClaim([table('XML1', [{ MA_LK: `SEED-${i % 7}`, MA_CSKCB: FACILITY }])], FACILITY, `202504${String(10 + i).padStart(2, '0')}`))));
    const faults = { failRate: 0.2, dropRate: 0.15, timeoutRate: 0.1, rejectRate: 0.2, dropAfterAcceptRate: 0.1 };
    async function run(seed: number): Promise<string[]> {
      const fresh = await startPortalSimulator({ accounts: [ACCOUNT], trustAnchors: [trusted.credentials.certificate], faults: { ...faults, seed } });
      try {
        const token = await login(fresh.url);
        const outcomes: string[] = [];
        for (const file of files) {
          const res = await send(CLAIM_4750, file, { base: fresh.url, token, timeoutMs: 300 }).then(
            async (r) => (r.status === 200 ? `maKetQua ${((await r.json()) as Receipt).maKetQua}` : `http ${r.status}`),
            (e: Error) => (e.name === 'TimeoutError' ? 'timeout' : 'connection lost'),
          );
          outcomes.push(res);
        }
        return outcomes;
      } finally {
        await fresh.close();
      }
    }
    const a = await run(42);
    expect(await run(42)).toEqual(a);
    expect(new Set(a).size).toBeGreaterThanOrEqual(3);
    expect(await run(43)).not.toEqual(a);
  });
});
