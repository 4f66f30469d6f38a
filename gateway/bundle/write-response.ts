import { operationOutcome, type Language } from '../fhir/outcome.js';
import { versionHeaders, type FhirResponse, type Prefer } from '../rest/request.js';
import type { WriteOutcome } from './transaction.js';

const DONE: Record<number, { vi: string; en: string }> = {
  200: { vi: 'Đã cập nhật', en: 'Updated' },
  201: { vi: 'Đã tạo', en: 'Created' },
  204: { vi: 'Đã xoá', en: 'Deleted' },
};

/**
 * A write's outcome as a response, honouring `Prefer: return=minimal | representation |
 * OperationOutcome`. Validation warnings travel with it (in the OperationOutcome, or as the bundle
 * entry's outcome).
 */
export function writeResponse(outcome: WriteOutcome, prefer: Prefer, lang: Language): FhirResponse {
  const headers = outcome.resource && outcome.status !== 204 ? versionHeaders(outcome.resource) : {};
  const warnings = outcome.warnings?.length ? operationOutcome(outcome.warnings, lang) : undefined;
  if (outcome.status === 204 || prefer.return === 'minimal') return { status: outcome.status, ...headers, ...(warnings ? { outcome: warnings } : {}) };
  if (prefer.return === 'OperationOutcome') {
    const what = outcome.resource ? ` ${outcome.resource.resourceType}/${outcome.resource.id} (${outcome.versionId})` : '';
    const done = DONE[outcome.status] ?? { vi: 'Xong', en: 'Done' };
    const info = { severity: 'information' as const, code: 'informational' as const, message: { vi: done.vi + what, en: done.en + what } };
    return { status: outcome.status, body: operationOutcome([info, ...(outcome.warnings ?? [])], lang), ...headers };
  }
  return { status: outcome.status, body: outcome.resource, ...headers, ...(warnings ? { outcome: warnings } : {}) };
}
