import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, privateEncrypt, constants } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimEnvelope } from '../../gateway/outputs/xml/envelope.js';
import { tableDocument } from '../../gateway/outputs/xml/serialize.js';
import type { TableDefinition } from '../../gateway/outputs/xml/table-definition.js';
import { CredentialError, loadPkcs12, selfSignedCredentials, toPkcs12, unusableBecause } from '../../gateway/signing/keys.js';
import { keySigner, remoteSigner } from '../../gateway/signing/signer.js';
import { verifySignedDocument } from '../../gateway/signing/verify.js';
import { signDocument, SigningError } from '../../gateway/signing/xmldsig.js';

/**
 * Signatures are checked by two verifiers that share nothing with the signer: xmlsec1 (libxmlsec,
 * the reference C implementation) and xml-crypto. Each must accept what the gateway signs and
 * reject the same file with one byte changed.
 */
const dir = mkdtempSync(join(tmpdir(), 'gw-sig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const facility = selfSignedCredentials('Bệnh viện Đa khoa tỉnh Lào Cai (10001)');
const certFile = join(dir, 'cert.pem');
writeFileSync(certFile, facility.certificatePem);
const signer = keySigner(facility.credentials.key, facility.credentials.certificate);

/** xmlsec1's verdict on a document, trusting only the facility's certificate. */
function xmlsec1(xml: string, trusted = certFile): { ok: boolean; output: string } {
  const file = join(dir, `doc-${Math.random().toString(36).slice(2)}.xml`);
  writeFileSync(file, xml);
  const r = spawnSync('xmlsec1', ['--verify', '--trusted-pem', trusted, file], { encoding: 'utf8' });
  return { ok: r.status === 0 && /^OK$/m.test(r.stderr), output: r.stderr };
}

const table = (root: string, fields: string[], repeats = false): TableDefinition => ({
  table: 'XMLT', title: 't', root, list: repeats ? 'DSACH_T' : null, item: repeats ? 'T' : null, repeats, inEnvelope: !repeats, includeWhen: null,
  fields: fields.map((name) => ({ name, type: 'string' as const })), rules: [],
});

/** A claim file as outputs/xml writes one, with Vietnamese text inside its base64 tables. */
const claim = claimEnvelope('10001', '20250406', [
  { table: 'XML1', document: tableDocument(table('TONG_HOP', ['MA_LK', 'HO_TEN']), [['10001-1', 'Nguyễn Văn Bình']]) },
  { table: 'XML2', document: tableDocument(table('CHITIEU_CHITIET_THUOC', ['MA_LK', 'TEN_THUOC'], true), [['10001-1', 'Cefuroxim 750mg']]) },
]);
/** A check-in file carries its text unencoded: the characters canonical XML escapes must survive signing. */
const checkin = tableDocument(table('CHI_TIEU_TRANG_THAI_KCB', ['MA_LK', 'TEN_DICH_VU', 'DU_PHONG'], true), [['10001-1', 'Khám & "tư vấn" <ngoại> trú\r\nđặc biệt', "O'Neil ắộưđ"]], '<CHUKYDONVI></CHUKYDONVI>');

describe('the enveloped signature', () => {
  it('of a claim file verifies with xmlsec1 and with xml-crypto', async () => {
    const signed = await signDocument(claim, signer);
    expect(xmlsec1(signed)).toMatchObject({ ok: true });
    expect(verifySignedDocument(signed, [facility.credentials.certificate])).toMatchObject({ valid: true, issues: [] });
  });

  it('of a check-in file with &, <, >, quotes, CR and diacritics in its text verifies with both', async () => {
    const signed = await signDocument(checkin, signer);
    expect(signed).toContain('Khám &amp; "tư vấn" &lt;ngoại&gt; trú&#xD;\nđặc biệt');
    expect(xmlsec1(signed)).toMatchObject({ ok: true });
    expect(verifySignedDocument(signed, [facility.credentials.certificate]).valid).toBe(true);
  });

  it('sits in CHUKYDONVI with the profile of QĐ 4750 §1.5', async () => {
    const signed = await signDocument(claim, signer);
    expect(signed.startsWith('<?xml version="1.0" encoding="utf-8"?>\n<GIAMDINHHS>')).toBe(true);
    expect(signed).toMatch(/<CHUKYDONVI><Signature xmlns="http:\/\/www\.w3\.org\/2000\/09\/xmldsig#"><SignedInfo>.*<\/Signature><\/CHUKYDONVI><\/GIAMDINHHS>$/);
    for (const algorithm of [
      'http://www.w3.org/TR/2001/REC-xml-c14n-20010315',
      'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
      'http://www.w3.org/2000/09/xmldsig#enveloped-signature',
      'http://www.w3.org/2001/04/xmlenc#sha256',
    ]) expect(signed).toContain(`Algorithm="${algorithm}"`);
    expect(signed).toContain('<Reference URI="">');
    expect(signed).toContain(`<X509Certificate>${facility.credentials.certificate.raw.toString('base64')}</X509Certificate>`);
  });

  it('fails both verifiers when one byte of the content changes', async () => {
    const signed = await signDocument(claim, signer);
    const tampered = signed.replace('<NGAYLAP>20250406', '<NGAYLAP>20250407');
    expect(tampered).not.toBe(signed);
    expect(xmlsec1(tampered).ok).toBe(false);
    expect(verifySignedDocument(tampered, [facility.credentials.certificate])).toMatchObject({ valid: false, issues: [expect.objectContaining({ code: 'invariant' })] });
    const inText = (await signDocument(checkin, signer)).replace('đặc biệt', 'đặc biêt');
    expect(xmlsec1(inText).ok).toBe(false);
    expect(verifySignedDocument(inText, [facility.credentials.certificate]).valid).toBe(false);
  });

  it('is refused for a document without an empty CHUKYDONVI at the end of its root', async () => {
    await expect(signDocument('<?xml version="1.0" encoding="utf-8"?>\n<GIAMDINHHS><X></X></GIAMDINHHS>', signer)).rejects.toThrow(SigningError);
    await expect(signDocument(await signDocument(claim, signer), signer)).rejects.toThrow(SigningError);
  });
});

describe('a signer outside the process (HSM, token, remote service)', () => {
  let server: Server;
  let url = '';
  const received: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push(body);
        const { digest } = JSON.parse(body) as { digest: string };
        const prefix = Buffer.from('3031300d060960864801650304020105000420', 'hex');
        const signature = privateEncrypt({ key: facility.credentials.key, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([prefix, Buffer.from(digest, 'base64')]));
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ signature: signature.toString('base64') }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sign`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('receives only the 32-byte hash, and its signature verifies with xmlsec1', async () => {
    const signed = await signDocument(checkin, remoteSigner(url, facility.credentials.certificate));
    expect(xmlsec1(signed).ok).toBe(true);
    expect(received).toHaveLength(1);
    const sent = JSON.parse(received[0]) as Record<string, string>;
    expect(Object.keys(sent).sort()).toEqual(['algorithm', 'digest']);
    expect(Buffer.from(sent.digest, 'base64')).toHaveLength(32);
    expect(received[0]).not.toContain('10001-1');
  });

  it('that signs with another key is caught before the file leaves', async () => {
    const other = selfSignedCredentials('Someone else');
    await expect(signDocument(claim, remoteSigner(url, other.credentials.certificate))).rejects.toThrow(/another key/);
  });
});

describe('credentials', () => {
  it('reads PKCS#12 files of OpenSSL 3 (AES-256) and legacy ones (RC2/3DES), and node-forge’s own', () => {
    const key = join(dir, 'key.pem');
    writeFileSync(key, facility.keyPem);
    for (const legacy of [false, true]) {
      const p12 = join(dir, `f-${legacy}.p12`);
      execFileSync('openssl', ['pkcs12', '-export', ...(legacy ? ['-legacy'] : []), '-inkey', key, '-in', certFile, '-out', p12, '-passout', 'pass:mat khau 2025'], { stdio: 'pipe' });
      const loaded = loadPkcs12(readFileSync(p12), 'mat khau 2025');
      expect(loaded.certificate.fingerprint256).toBe(facility.credentials.certificate.fingerprint256);
    }
    for (const algorithm of ['aes256', '3des'] as const) {
      const loaded = loadPkcs12(toPkcs12(facility.keyPem, facility.certificatePem, 'x', algorithm), 'x');
      expect(loaded.certificate.checkPrivateKey(loaded.key)).toBe(true);
    }
  });

  it('says so when the password is wrong', () => {
    expect(() => loadPkcs12(toPkcs12(facility.keyPem, facility.certificatePem, 'right'), 'wrong')).toThrow(new CredentialError('the PKCS#12 password is wrong'));
  });

  it('refuses a certificate outside its dates or without a signing key usage', () => {
    const now = new Date();
    expect(unusableBecause(facility.credentials.certificate, now)).toBeUndefined();
    const expired = selfSignedCredentials('old', { notBefore: new Date(Date.now() - 400 * 86_400_000), days: 365 });
    expect(unusableBecause(expired.credentials.certificate, now)).toMatch(/^the certificate expired on /);
    const future = selfSignedCredentials('later', { notBefore: new Date(Date.now() + 86_400_000) });
    expect(unusableBecause(future.credentials.certificate, now)).toMatch(/^the certificate is not valid before /);
    const encipherOnly = selfSignedCredentials('encryption', { keyUsage: false });
    expect(unusableBecause(encipherOnly.credentials.certificate, now)).toBe('the certificate’s key usage does not allow signatures');
  });
});

describe('verification', () => {
  it('checks the chain to the trust anchors: issued by a trusted CA, or not', async () => {
    const signed = await signDocument(claim, signer);
    const stranger = selfSignedCredentials('Stranger').credentials.certificate;
    const r = verifySignedDocument(signed, [stranger]);
    expect(r.valid).toBe(false);
    expect(r.issues[0].message).toMatchObject({ en: expect.stringContaining('does not chain to a configured trust anchor') });
  });

  it('refuses a DTD or entity before parsing anything', () => {
    const bomb = '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><GIAMDINHHS>&x;</GIAMDINHHS>';
    expect(verifySignedDocument(bomb, [])).toMatchObject({ valid: false, issues: [expect.objectContaining({ code: 'security' })] });
  });

  it('resists signature wrapping: a second signature, or the signature moved out of CHUKYDONVI', async () => {
    const signed = await signDocument(claim, signer);
    const signature = /<Signature[\s\S]*<\/Signature>/.exec(signed)![0];
    const twice = signed.replace('<THONGTINDONVI>', `<THONGTINDONVI><X>${signature}</X>`);
    expect(verifySignedDocument(twice, [facility.credentials.certificate]).issues[0].message).toMatchObject({ en: 'The file must hold exactly one Signature, it holds 2' });
    const moved = signed.replace(`<CHUKYDONVI>${signature}</CHUKYDONVI>`, '<CHUKYDONVI></CHUKYDONVI>').replace('<THONGTINDONVI>', `<THONGTINDONVI>${signature}`);
    expect(verifySignedDocument(moved, [facility.credentials.certificate]).valid).toBe(false);
  });

  it('the digest is the SHA-256 of the document as written, the floor of signing', async () => {
    const signed = await signDocument(claim, signer);
    const root = claim.slice(claim.indexOf('<GIAMDINHHS>'));
    expect(signed).toContain(`<DigestValue>${createHash('sha256').update(root).digest('base64')}</DigestValue>`);
  });
});
