import { X509Certificate } from 'node:crypto';
import { DOMParser } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import type { Issue } from '../fhir/outcome.js';
import { unusableBecause } from './keys.js';
import { DSIG_NS } from './xmldsig.js';

/**
 * Verifies a signed claim or check-in file as the portal would, with xml-crypto (an implementation
 * independent of the gateway's signer): the signature and digest, the certificate's dates and its
 * chain to the configured trust anchors. Hardened against what signed XML is attacked with: no DTD
 * or entity is parsed, there must be exactly one Signature, in CHUKYDONVI as the last child of the
 * root, referencing the whole document (`URI=""`) — so the content read is the content signed.
 */
export interface VerifyResult {
  valid: boolean;
  issues: Issue[];
  certificate?: X509Certificate;
}

export function verifySignedDocument(xml: string, trustAnchors: readonly X509Certificate[], now = new Date()): VerifyResult {
  const issues: Issue[] = [];
  const fail = (en: string, vi: string, code: Issue['code'] = 'invalid'): VerifyResult => {
    issues.push({ severity: 'error', code, message: { vi, en } });
    return { valid: false, issues };
  };
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) return fail('The file contains a DTD or entity declaration, which is refused', 'Tệp có khai báo DTD hoặc thực thể, không được chấp nhận', 'security');

  const errors: string[] = [];
  const doc = new DOMParser({ errorHandler: { warning: () => {}, error: (m) => errors.push(m), fatalError: (m) => errors.push(m) } }).parseFromString(xml, 'application/xml');
  const root = doc.documentElement;
  if (errors.length > 0 || !root) return fail(`The file is not well-formed XML: ${errors[0] ?? 'no root element'}`, `Tệp không phải XML hợp lệ: ${errors[0] ?? 'không có phần tử gốc'}`);

  const signatures = Array.from(doc.getElementsByTagNameNS(DSIG_NS, 'Signature'));
  if (signatures.length !== 1) return fail(`The file must hold exactly one Signature, it holds ${signatures.length}`, `Tệp phải có đúng một chữ ký (Signature), có ${signatures.length}`);
  const signature = signatures[0];
  const slot = signature.parentNode as Element | null;
  if (slot?.nodeName !== 'CHUKYDONVI' || slot.parentNode !== root || lastElement(root) !== slot) {
    return fail('The Signature must be inside CHUKYDONVI, the last child of the root', 'Chữ ký phải nằm trong CHUKYDONVI, phần tử con cuối của phần tử gốc');
  }

  const certificateText = SignedXml.getCertFromKeyInfo(firstChild(signature, 'KeyInfo'));
  if (!certificateText) return fail('The Signature carries no X509Certificate in KeyInfo', 'Chữ ký không kèm chứng thư số (KeyInfo/X509Data)');
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certificateText);
  } catch {
    return fail('The certificate in KeyInfo cannot be read', 'Không đọc được chứng thư số trong KeyInfo');
  }

  const signed = new SignedXml({ publicCert: certificate.toString() });
  signed.loadSignature(signature);
  let valid = false;
  try {
    valid = signed.checkSignature(xml);
  } catch (e) {
    return fail(`The signature cannot be checked: ${(e as Error).message}`, `Không kiểm tra được chữ ký: ${(e as Error).message}`);
  }
  if (!valid) return fail('The signature or the digest does not match the content: the file was changed after signing, or signed by another key', 'Chữ ký hoặc giá trị băm không khớp nội dung: tệp đã bị sửa sau khi ký, hoặc ký bằng khoá khác', 'invariant');
  const references = signed.getSignedReferences();
  const uris = Array.from(signature.getElementsByTagNameNS(DSIG_NS, 'Reference')).map((r) => r.getAttribute('URI'));
  if (references.length !== 1 || uris.length !== 1 || uris[0] !== '') {
    return fail('The signature must reference the whole document (one Reference, URI="")', 'Chữ ký phải tham chiếu toàn bộ tài liệu (một Reference, URI="")', 'security');
  }

  const unusable = unusableBecause(certificate, now);
  if (unusable) issues.push({ severity: 'error', code: 'security', message: { vi: `Chứng thư số không dùng được: ${unusable}`, en: `The certificate cannot be used: ${unusable}` } });
  if (!chainsTo(certificate, trustAnchors)) {
    issues.push({
      severity: 'error',
      code: 'security',
      message: { vi: `Chứng thư số "${certificate.subject}" không thuộc chuỗi tin cậy đã cấu hình`, en: `The certificate "${certificate.subject}" does not chain to a configured trust anchor` },
    });
  }
  return { valid: issues.length === 0, issues, certificate };
}

/** The certificate is an anchor, or is issued (and signed) by one, directly or through other anchors. */
export function chainsTo(certificate: X509Certificate, anchors: readonly X509Certificate[], depth = 0): boolean {
  if (depth > 8) return false;
  if (anchors.some((a) => a.fingerprint256 === certificate.fingerprint256)) return true;
  return anchors.some((a) => a.fingerprint256 !== certificate.fingerprint256 && certificate.checkIssued(a) && certificate.verify(a.publicKey) && chainsTo(a, anchors, depth + 1));
}

function lastElement(parent: Element): Element | undefined {
  let last: Element | undefined;
  for (let n = parent.firstChild; n; n = n.nextSibling) if (n.nodeType === 1) last = n as Element;
  return last;
}

function firstChild(parent: Element, localName: string): Element | null {
  for (let n = parent.firstChild; n; n = n.nextSibling) if (n.nodeType === 1 && (n as Element).localName === localName) return n as Element;
  return null;
}
