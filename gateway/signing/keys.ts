import { createPrivateKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

/**
 * Signing credentials: a PKCS#12 file (the form facilities get from their certificate authority —
 * read with node-forge, the one library that opens both legacy RC2/3DES and current AES files) or
 * PEM key and certificate. Checked when loaded and before every signature: within its validity
 * dates and allowed to sign.
 */
export interface Credentials {
  key: KeyObject;
  certificate: X509Certificate;
  /** Further certificates in the file (the issuing CAs), leaf first. */
  chain: X509Certificate[];
}

export class CredentialError extends Error {
  override readonly name = 'CredentialError';
}

export function loadPkcs12(p12: Buffer, password: string): Credentials {
  let parsed: forge.pkcs12.Pkcs12Pfx;
  try {
    parsed = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(forge.util.createBuffer(p12.toString('binary'))), password);
  } catch (e) {
    const message = (e as Error).message ?? '';
    throw new CredentialError(/MAC could not be verified|Invalid password/i.test(message) ? 'the PKCS#12 password is wrong' : `the PKCS#12 file cannot be read: ${message}`);
  }
  const keyBag = [
    ...(parsed.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag })[forge.pki.oids.pkcs8ShroudedKeyBag] ?? []),
    ...(parsed.getBags({ bagType: forge.pki.oids.keyBag })[forge.pki.oids.keyBag] ?? []),
  ].find((b) => b.key);
  const certs = (parsed.getBags({ bagType: forge.pki.oids.certBag })[forge.pki.oids.certBag] ?? []).flatMap((b) => (b.cert ? [b.cert] : []));
  if (!keyBag?.key) throw new CredentialError('the PKCS#12 file holds no private key');
  if (certs.length === 0) throw new CredentialError('the PKCS#12 file holds no certificate');
  const key = createPrivateKey(forge.pki.privateKeyToPem(keyBag.key));
  const all = certs.map((c) => new X509Certificate(forge.pki.certificateToPem(c)));
  const leaf = all.find((c) => c.checkPrivateKey(key));
  if (!leaf) throw new CredentialError('no certificate in the PKCS#12 file matches its private key');
  return { key, certificate: leaf, chain: all.filter((c) => c !== leaf) };
}

export function loadPem(keyPem: string, certificatePem: string): Credentials {
  const key = createPrivateKey(keyPem);
  const [leaf, ...chain] = splitPem(certificatePem).map((pem) => new X509Certificate(pem));
  if (!leaf) throw new CredentialError('the certificate PEM holds no certificate');
  if (!leaf.checkPrivateKey(key)) throw new CredentialError('the certificate does not match the private key');
  return { key, certificate: leaf, chain };
}

export function splitPem(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/**
 * Why a certificate cannot sign now, or undefined when it can: outside its validity dates, not an
 * RSA key (the profile is RSA-SHA256), or a key usage that excludes signatures.
 */
export function unusableBecause(certificate: X509Certificate, now = new Date()): string | undefined {
  if (now < new Date(certificate.validFrom)) return `the certificate is not valid before ${new Date(certificate.validFrom).toISOString()}`;
  if (now > new Date(certificate.validTo)) return `the certificate expired on ${new Date(certificate.validTo).toISOString()}`;
  if (certificate.publicKey.asymmetricKeyType !== 'rsa') return `the certificate's key is ${certificate.publicKey.asymmetricKeyType}, not RSA`;
  const usage = forge.pki.certificateFromPem(certificate.toString()).getExtension('keyUsage') as { digitalSignature?: boolean; nonRepudiation?: boolean } | null;
  if (usage && !usage.digitalSignature && !usage.nonRepudiation) return 'the certificate’s key usage does not allow signatures';
  return undefined;
}

/** Days until the certificate expires (negative once expired). */
export function daysLeft(certificate: X509Certificate, now = new Date()): number {
  return Math.floor((new Date(certificate.validTo).getTime() - now.getTime()) / 86_400_000);
}

/**
 * A self-signed RSA-2048 certificate for development and tests (never for production: the portal
 * accepts only certificates registered on it).
 */
export function selfSignedCredentials(commonName: string, options: { days?: number; notBefore?: Date; keyUsage?: boolean } = {}): { credentials: Credentials; keyPem: string; certificatePem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(8))}`;
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = new Date(notBefore.getTime() + (options.days ?? 365) * 86_400_000);
  // A Vietnamese name needs a UTF8String (forge's default, PrintableString, cannot hold it).
  const attrs = [{ name: 'commonName', value: commonName, valueTagClass: forge.asn1.Type.UTF8 as number }, { name: 'countryName', value: 'VN' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: options.keyUsage ?? true, nonRepudiation: options.keyUsage ?? true, keyEncipherment: !(options.keyUsage ?? true) },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  const certificatePem = forge.pki.certificateToPem(cert);
  return { credentials: loadPem(keyPem, certificatePem), keyPem, certificatePem };
}

/** PKCS#12 bytes of PEM credentials (for tests, and for the file layout the gateway reads). */
export function toPkcs12(keyPem: string, certificatePem: string, password: string, algorithm: 'aes256' | '3des' = 'aes256'): Buffer {
  const asn1 = forge.pkcs12.toPkcs12Asn1(forge.pki.privateKeyFromPem(keyPem), [forge.pki.certificateFromPem(certificatePem)], password, { algorithm });
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}
