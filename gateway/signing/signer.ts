import { constants, privateEncrypt, type KeyObject, type X509Certificate } from 'node:crypto';

/**
 * Who signs for a facility. Only a SHA-256 digest is handed over, so the same interface serves a
 * key in the process (from a PKCS#12 file or PEM) and a USB token, HSM or remote signing service
 * that must never receive the document.
 */
export interface Signer {
  /** The signing certificate, written into KeyInfo. */
  readonly certificate: X509Certificate;
  /** RSA PKCS#1 v1.5 signature of a SHA-256 digest (the DigestInfo is added by the signer). */
  signSha256(digest: Buffer): Promise<Buffer>;
}

/** DER prefix of a DigestInfo for SHA-256 (RFC 8017 §9.2): what RSA-SHA256 signs besides the hash. */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/** A private key held by the gateway process. */
export function keySigner(key: KeyObject, certificate: X509Certificate): Signer {
  return {
    certificate,
    async signSha256(digest) {
      if (digest.length !== 32) throw new Error('a SHA-256 digest is 32 bytes');
      return privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([SHA256_DIGEST_INFO, digest]));
    },
  };
}

/**
 * A signer outside the process (HSM, USB token bridge, remote signing service) reached over HTTP:
 * POST `{ "digest": base64, "algorithm": "SHA256" }` → `{ "signature": base64 }`. Only the hash
 * leaves the gateway.
 */
export function remoteSigner(url: string, certificate: X509Certificate, headers: Record<string, string> = {}, timeoutMs = 10_000): Signer {
  return {
    certificate,
    async signSha256(digest) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ digest: digest.toString('base64'), algorithm: 'SHA256' }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!res.ok) throw new Error(`the remote signer answered ${res.status}`);
      const body = (await res.json()) as { signature?: unknown };
      if (typeof body.signature !== 'string') throw new Error('the remote signer gave no signature');
      return Buffer.from(body.signature, 'base64');
    },
  };
}
