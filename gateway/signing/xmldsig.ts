import { createHash, verify } from 'node:crypto';
import type { Signer } from './signer.js';

/**
 * The facility's enveloped XML signature (QĐ 4750 §1.5, as BHXH verifies it): one Reference to the
 * whole document (`URI=""`), the enveloped-signature transform then inclusive C14N, SHA-256 digest,
 * RSA-SHA256, the certificate in KeyInfo/X509Data, the Signature inside CHUKYDONVI — the last child
 * of the root of a claim file (GIAMDINHHS) or a check-in file (CHI_TIEU_TRANG_THAI_KCB).
 *
 * No XML library is involved: the gateway writes its documents in canonical form already
 * (outputs/xml/serialize.ts), and the enveloped transform removes exactly the Signature it inserts,
 * so the canonical form the verifier computes is the root element's bytes as they stand before
 * signing. Signing is one SHA-256 of the file and one RSA operation — the physical floor — where a
 * general library re-parses and re-canonicalises the document (xml-crypto: ~7× slower on an
 * outpatient file). xmlsec1 and xml-crypto verify every signature in the tests.
 */
export const DSIG_NS = 'http://www.w3.org/2000/09/xmldsig#';
export const C14N = 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315';
export const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
export const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
export const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';

const SLOT = '<CHUKYDONVI></CHUKYDONVI>';
const DECLARATION = /^<\?xml[^?]*\?>\s*/;

export class SigningError extends Error {
  override readonly name = 'SigningError';
}

/**
 * SignedInfo in canonical form, as it is hashed and as a verifier canonicalises it: the default
 * namespace it inherits from Signature is written on it (inclusive C14N of a document subset).
 */
export function canonicalSignedInfo(digestBase64: string): string {
  return (
    `<SignedInfo xmlns="${DSIG_NS}">` +
    `<CanonicalizationMethod Algorithm="${C14N}"></CanonicalizationMethod>` +
    `<SignatureMethod Algorithm="${RSA_SHA256}"></SignatureMethod>` +
    `<Reference URI=""><Transforms><Transform Algorithm="${ENVELOPED}"></Transform><Transform Algorithm="${C14N}"></Transform></Transforms>` +
    `<DigestMethod Algorithm="${SHA256}"></DigestMethod><DigestValue>${digestBase64}</DigestValue></Reference>` +
    `</SignedInfo>`
  );
}

/**
 * A document written by outputs/xml (canonical, with an empty CHUKYDONVI as the root's last child),
 * signed. The private key never sees the document: the signer gets the SHA-256 of SignedInfo.
 */
export async function signDocument(document: string, signer: Signer): Promise<string> {
  const declaration = DECLARATION.exec(document)?.[0] ?? '';
  const root = document.slice(declaration.length);
  const close = /<\/([A-Z0-9_]+)>$/.exec(root);
  if (!close || !root.endsWith(`${SLOT}</${close[1]}>`)) {
    throw new SigningError('the document has no empty CHUKYDONVI as the last child of its root');
  }
  const digest = createHash('sha256').update(root, 'utf8').digest('base64');
  const signedInfo = canonicalSignedInfo(digest);
  const signatureValue = await signer.signSha256(createHash('sha256').update(signedInfo, 'utf8').digest());
  // A token or remote service that signs with another key (or returns garbage) must not produce a
  // file the portal rejects days later: check it now, one cheap RSA public-key operation.
  if (!verify('sha256', Buffer.from(signedInfo, 'utf8'), signer.certificate.publicKey, signatureValue)) {
    throw new SigningError('the signature does not match the certificate: the signer uses another key');
  }
  const signature =
    `<Signature xmlns="${DSIG_NS}">${signedInfo.replace(` xmlns="${DSIG_NS}"`, '')}` +
    `<SignatureValue>${signatureValue.toString('base64')}</SignatureValue>` +
    `<KeyInfo><X509Data><X509Certificate>${signer.certificate.raw.toString('base64')}</X509Certificate></X509Data></KeyInfo></Signature>`;
  const at = declaration.length + root.length - close[0].length - SLOT.length;
  return `${document.slice(0, at)}<CHUKYDONVI>${signature}</CHUKYDONVI>${close[0]}`;
}
