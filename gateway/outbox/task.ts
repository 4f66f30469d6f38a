import type { Binary, Resource, Task } from '@medplum/fhirtypes';
import { CANONICAL, SID } from '../fhir/vn.js';
import { operationOutcome } from '../fhir/outcome.js';
import type { Repository, StoredVersion } from '../store/repository.js';
import type { Dossier, DossierStatus } from './dossiers.js';

/**
 * Each file for the portal is seen through FHIR as a Task (same id as its outbox row): what it is
 * for (`focus` the Encounter, `for` the patient, `owner` the facility), where it stands (`status`,
 * `businessStatus`), the signed file (`input`: a Binary), the portal's receipt (`output`), when it
 * was made, sent and accepted (`authoredOn`, `executionPeriod`), and the 24-hour deadline of the
 * health book (`restriction.period.end`). The outbox row is the truth; the Task is rewritten in the
 * same transaction whenever the row changes, so searching Tasks shows the queue as it is.
 */
export const TASK_CODE_SYSTEM = `${CANONICAL}/CodeSystem/ho-so-gui-cong`;
export const TASK_STATUS_SYSTEM = `${CANONICAL}/CodeSystem/trang-thai-ho-so`;
export const DOSSIER_SID = `${CANONICAL}/sid/ho-so-xml`;

const STATUS: Record<DossierStatus, { task: Task['status']; vi: string; en: string }> = {
  queued: { task: 'requested', vi: 'Chờ gửi', en: 'Waiting to be sent' },
  sending: { task: 'in-progress', vi: 'Đang gửi', en: 'Being sent' },
  accepted: { task: 'completed', vi: 'Cổng đã tiếp nhận', en: 'Accepted by the portal' },
  rejected: { task: 'rejected', vi: 'Cổng từ chối', en: 'Rejected by the portal' },
  held: { task: 'on-hold', vi: 'Tạm giữ', en: 'Held' },
  invalid: { task: 'failed', vi: 'Hồ sơ không hợp lệ, chưa gửi', en: 'Invalid, not sent' },
  superseded: { task: 'cancelled', vi: 'Đã có phiên bản mới hơn', en: 'Replaced by a newer version' },
};

const DAY_MS = 86_400_000;

export function dossierTask(d: Dossier, now: Date): Task {
  const status = STATUS[d.status];
  const reasonText = d.status === 'rejected' ? d.receipt?.thongDiep : d.status === 'held' || d.status === 'queued' ? d.lastError : undefined;
  const contained: Resource[] = d.issues.length > 0 ? [{ ...operationOutcome(d.issues, 'vi'), id: 'issues' }] : [];
  return {
    resourceType: 'Task',
    id: d.id,
    ...(contained.length ? { contained } : {}),
    identifier: [
      { system: DOSSIER_SID, value: `${d.facility || '-'}/${d.maLk}/${d.kind}/${d.version}` },
      { system: SID.maLk, value: d.maLk },
    ],
    status: status.task,
    businessStatus: { coding: [{ system: TASK_STATUS_SYSTEM, code: d.status, display: status.vi }], text: reasonText ? `${status.vi}: ${reasonText}` : status.vi },
    ...(reasonText && d.status !== 'queued' ? { statusReason: { text: reasonText } } : {}),
    intent: 'order',
    code: {
      coding: [{ system: TASK_CODE_SYSTEM, code: d.kind === 'claim' ? 'xml130' : 'xml130-checkin', display: d.kind === 'claim' ? 'Hồ sơ XML QĐ 130' : 'Bảng check-in (XML0)' }],
    },
    description: `${d.kind === 'claim' ? 'Hồ sơ XML' : 'Check-in'} ${d.maLk}, phiên bản ${d.version}, chuẩn QĐ ${d.standard}`,
    focus: { reference: `Encounter/${d.encounterId}` },
    encounter: { reference: `Encounter/${d.encounterId}` },
    ...(d.patientId ? { for: { reference: `Patient/${d.patientId}` } } : {}),
    ...(d.organizationId ? { owner: { reference: `Organization/${d.organizationId}` } } : {}),
    authoredOn: d.createdAt,
    lastModified: now.toISOString(),
    ...(d.sentAt ? { executionPeriod: { start: d.sentAt, ...(d.acceptedAt ? { end: d.acceptedAt } : {}) } } : {}),
    ...(d.episodeEndedAt ? { restriction: { period: { end: new Date(Date.parse(d.episodeEndedAt) + DAY_MS).toISOString() } } } : {}),
    ...(d.signed ? { input: [{ type: { text: 'signed-file' }, valueReference: { reference: `Binary/${d.id}` } }] } : {}),
    ...(outputs(d).length ? { output: outputs(d) } : {}),
  };
}

function outputs(d: Dossier): NonNullable<Task['output']> {
  const out: NonNullable<Task['output']> = [];
  const r = d.receipt;
  if (r?.maKetQua) out.push({ type: { text: 'maKetQua' }, valueString: r.maKetQua });
  if (r?.maGiaoDich) out.push({ type: { text: 'maGiaoDich' }, valueString: r.maGiaoDich });
  if (r?.thoiGianTiepNhan) out.push({ type: { text: 'thoiGianTiepNhan' }, valueString: r.thoiGianTiepNhan });
  if (r?.thongDiep) out.push({ type: { text: 'thongDiep' }, valueString: r.thongDiep });
  if (d.issues.length > 0) out.push({ type: { text: 'issues' }, valueReference: { reference: '#issues' } });
  return out;
}

/** The signed file as it was sent. */
export function signedBinary(d: Dossier): Binary {
  return { resourceType: 'Binary', id: d.id, contentType: 'application/xml', data: Buffer.from(d.signed ?? '', 'utf8').toString('base64') };
}

/**
 * Writes resources the gateway owns (Tasks, Binaries) as new versions, inside the caller's
 * transaction. No validation: their shape is the code's, not a client's.
 */
export async function putOwned(repo: Repository, resources: Resource[], now: Date, locked?: Map<string, StoredVersion>): Promise<void> {
  // `locked`: the current versions, when the caller has just read them under lock.
  const current = locked ?? (await repo.current(resources.map((r) => ({ type: r.resourceType, id: r.id! })), true));
  const lastUpdated = now.toISOString();
  await repo.write(
    resources.map((r) => {
      const versionId = (current.get(`${r.resourceType}/${r.id}`)?.versionId ?? 0) + 1;
      const resource = { ...r, id: r.id!, meta: { ...r.meta, versionId: String(versionId), lastUpdated } };
      return { resource, versionId, lastUpdated, deleted: false };
    }),
  );
}
