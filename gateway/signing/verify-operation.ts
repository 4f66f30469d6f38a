import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { Binary, Parameters } from '@medplum/fhirtypes';
import { badRequest, operationOutcome } from '../fhir/outcome.js';
import type { Operation } from '../rest/operations.js';
import { splitPem } from './keys.js';
import { verifySignedDocument } from './verify.js';

/**
 * `POST /$verify-xml130`: checks a signed claim or check-in file — the XML as the body
 * (`application/xml`), a Binary, or a Parameters with `file` (base64) — and answers an
 * OperationOutcome: valid, or every reason it is not.
 */
export function verifyOperation(trustAnchors: () => X509Certificate[]): Operation {
  return {
    name: 'verify-xml130',
    definition: 'https://healthbook-gateway.vn/fhir/OperationDefinition/verify-xml130',
    documentation: 'Verifies a signed XML file: signature, digest, certificate dates and chain to the configured trust anchors',
    resourceTypes: [],
    system: true,
    instance: false,
    affectsState: false,
    async handle(req) {
      const xml = documentOf(req.body);
      const result = verifySignedDocument(xml, trustAnchors());
      const issues = result.valid
        ? [{ severity: 'information' as const, code: 'informational' as const, message: { vi: `Chữ ký hợp lệ (${result.certificate?.subject ?? ''})`, en: `The signature is valid (${result.certificate?.subject ?? ''})` } }]
        : result.issues;
      return { status: 200, body: operationOutcome(issues, req.lang) };
    },
  };
}

function documentOf(body: unknown): string {
  if (typeof body === 'string') return body;
  const resource = body as (Binary | Parameters) | undefined;
  if (resource?.resourceType === 'Binary' && resource.data) return Buffer.from(resource.data, 'base64').toString('utf8');
  if (resource?.resourceType === 'Parameters') {
    const file = resource.parameter?.find((p) => p.name === 'file');
    if (file?.valueBase64Binary) return Buffer.from(file.valueBase64Binary, 'base64').toString('utf8');
  }
  throw badRequest({ vi: 'Gửi tệp XML đã ký (application/xml), một Binary, hoặc Parameters có "file"', en: 'Send the signed XML file (application/xml), a Binary, or a Parameters with "file"' }, 'body');
}

/** The PEM certificates of a file or of every .pem/.crt file in a folder. */
export function readTrustAnchors(path: string | undefined): X509Certificate[] {
  if (!path) return [];
  const files = statSync(path).isDirectory() ? readdirSync(path).filter((f) => /\.(pem|crt)$/i.test(f)).map((f) => join(path, f)) : [path];
  return files.flatMap((f) => splitPem(readFileSync(f, 'utf8')).map((pem) => new X509Certificate(pem)));
}
