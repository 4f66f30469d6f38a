import { createHash, sign } from 'node:crypto';
import { SignedXml } from 'xml-crypto';
import { selfSignedCredentials } from '../gateway/signing/keys.js';
import { keySigner } from '../gateway/signing/signer.js';
import { signDocument } from '../gateway/signing/xmldsig.js';
import { claimFileOf } from './claim-file.js';

/**
 * Signing one claim file, three ways, side by side: the floor (SHA-256 of the file and one RSA-2048
 * signature, nothing else), the gateway's signer, and a straightforward xml-crypto enveloped
 * signature of the same document (the profile of QĐ 4750 §1.5).
 */
export async function signingBench(iterations = 300): Promise<{ name: string; kb: number; floorMs: number; gatewayMs: number; xmlCryptoMs: number }[]> {
  const { credentials, keyPem, certificatePem } = selfSignedCredentials('Bench facility');
  const signer = keySigner(credentials.key, credentials.certificate);
  const out = [];
  for (const kind of ['outpatient', 'inpatient'] as const) {
    const document = (await claimFileOf(kind)).envelope;
    const time = async (run: () => unknown) => {
      for (let i = 0; i < 20; i++) await run();
      const start = performance.now();
      for (let i = 0; i < iterations; i++) await run();
      return (performance.now() - start) / iterations;
    };
    const floorMs = await time(() => {
      createHash('sha256').update(document).digest();
      sign('sha256', Buffer.from('x'.repeat(600)), credentials.key);
    });
    const gatewayMs = await time(() => signDocument(document, signer));
    const xmlCryptoMs = await time(() => {
      const sig = new SignedXml({ privateKey: keyPem, publicCert: certificatePem, signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256', canonicalizationAlgorithm: 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315' });
      sig.addReference({ xpath: '/*', uri: '', isEmptyUri: true, transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315'], digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256' });
      sig.computeSignature(document, { location: { reference: "//*[local-name(.)='CHUKYDONVI']", action: 'append' } });
      return sig.getSignedXml();
    });
    out.push({ name: kind, kb: Buffer.byteLength(document) / 1024, floorMs, gatewayMs, xmlCryptoMs });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await signingBench()) {
    console.log(`${r.name} (${r.kb.toFixed(1)} KB): floor ${r.floorMs.toFixed(3)} ms, gateway ${r.gatewayMs.toFixed(3)} ms (${(r.gatewayMs / r.floorMs).toFixed(2)}× floor), xml-crypto ${r.xmlCryptoMs.toFixed(3)} ms (gateway ${(r.xmlCryptoMs / r.gatewayMs).toFixed(1)}× faster)`);
  }
}
