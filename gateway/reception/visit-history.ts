import type { Encounter, Patient, Reference } from '@medplum/fhirtypes';
import { canonical, SID } from '../fhir/vn.js';
import { portalMinute, type PortalVisit } from './portal-lookup.js';

/**
 * The recent visits BHXH keeps for a card holder (`dsLichSuKCB2018`), as Encounters a doctor's
 * system already knows how to show: where (the facility's MA_CSKCB), when, the disease, how the visit
 * ended (MA_LOAI_RV) and its result (KET_QUA_DTRI), with the codes of the claim files. They are
 * contained in the eligibility response — they are BHXH's account of visits at other facilities, not
 * episodes of this gateway, and must not become ones (nor be sent as claims).
 */
export const BHXH_DOSSIER_SYSTEM = 'http://fhir.hl7.org.vn/core/sid/bhyt-gateway-response-id';

const REASON_FOR_VISIT: Record<string, string> = {
  '1': 'Đúng tuyến (đúng nơi đăng ký hoặc có giấy chuyển)',
  '2': 'Cấp cứu',
  '3': 'Trái tuyến / thông tuyến',
};

export function visitEncounters(visits: PortalVisit[], subject: Reference<Patient>): Encounter[] {
  return visits.map((v, i) => {
    const start = portalMinute(v.ngayVao);
    const end = portalMinute(v.ngayRa);
    const encounter: Encounter = {
      resourceType: 'Encounter',
      id: `visit-${i + 1}`,
      // Only the codes of the claim files' list (1–8): the extension's binding is required.
      ...(v.kqDieuTri && /^[1-8]$/.test(v.kqDieuTri) ? { extension: [{ url: canonical('StructureDefinition', 'hb-ext-treatment-result'), valueCoding: { system: canonical('CodeSystem', 'ket-qua-dieu-tri'), code: v.kqDieuTri } }] } : {}),
      ...(v.maHoSo ? { identifier: [{ system: BHXH_DOSSIER_SYSTEM, value: v.maHoSo }] } : {}),
      // A visit BHXH paid for has ended; when it has no end yet, it is still going on somewhere.
      status: end ? 'finished' : 'in-progress',
      // The history does not say whether the visit was outpatient or inpatient: not guessed.
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor', code: 'UNK', display: 'unknown' },
      ...(v.lyDoVV ? { type: [{ coding: [{ system: canonical('CodeSystem', 'ly-do-vao-vien'), code: v.lyDoVV, ...(REASON_FOR_VISIT[v.lyDoVV] ? { display: REASON_FOR_VISIT[v.lyDoVV] } : {}) }] }] } : {}),
      subject,
      ...(start || end ? { period: { ...(start ? { start } : {}), ...(end ? { end } : {}) } } : {}),
      ...(v.tenBenh ? { reasonCode: [{ text: v.tenBenh }] } : {}),
      ...(v.tinhTrang ? { hospitalization: { dischargeDisposition: { coding: [{ system: canonical('CodeSystem', 'loai-ra-vien'), code: v.tinhTrang }] } } } : {}),
      ...(v.maCSKCB ? { serviceProvider: { identifier: { system: SID.maCskcb, value: v.maCSKCB } } } : {}),
    };
    return encounter;
  });
}
