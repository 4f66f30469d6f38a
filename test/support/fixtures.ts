import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { CANONICAL, CODE_SYSTEM, SID } from '../../gateway/fhir/vn.js';

export { SID };
export const ICD10 = CODE_SYSTEM.icd10;
export const CS = (id: string) => `${CANONICAL}/CodeSystem/${id}`;
export const EXT = (id: string) => `${CANONICAL}/StructureDefinition/${id}`;

/** A patient identified by a 12-digit CCCD number (valid against hb-patient). */
export function patient(cccd = '079085001234', extra: Partial<Resource> = {}): Resource {
  return {
    resourceType: 'Patient',
    identifier: [{ system: SID.cccd, value: cccd }],
    name: [{ family: 'Nguyễn', given: ['Văn', 'An'], text: 'Nguyễn Văn An' }],
    gender: 'male',
    birthDate: '1985-03-02',
    ...extra,
  } as Resource;
}

export function organization(maCskcb = '79024', name = 'Bệnh viện Đa khoa Thành phố'): Resource {
  return { resourceType: 'Organization', identifier: [{ system: SID.maCskcb, value: maCskcb }], name } as Resource;
}

export function entry(resource: Resource, method: 'POST' | 'PUT' = 'POST', url?: string, extra: Partial<BundleEntry> = {}): BundleEntry {
  return { fullUrl: `urn:uuid:${randomUUID()}`, resource, request: { method, url: url ?? resource.resourceType }, ...extra };
}

/** The parts of an Encounter that hb-encounter requires of an outpatient visit, finished or under way. */
export function finishedVisit(opts: { subject: string; serviceProvider: string; diagnoses: string[]; maLk?: string; start?: string; end?: string }): Resource {
  return {
    ...visitUnderWay(opts),
    status: 'finished',
    extension: [{ url: EXT('hb-ext-treatment-result'), valueCoding: { system: CS('ket-qua-dieu-tri'), code: '2' } }],
    period: { start: opts.start ?? '2024-05-01T08:00:00+07:00', end: opts.end ?? '2024-05-01T10:30:00+07:00' },
    diagnosis: opts.diagnoses.map((condition, i) => ({ condition: { reference: condition }, rank: i + 1 })),
    hospitalization: { dischargeDisposition: { coding: [{ system: CS('loai-ra-vien'), code: '1' }] } },
  } as Resource;
}

export function visitUnderWay(opts: { subject: string; serviceProvider: string; maLk?: string; start?: string }): Resource {
  return {
    resourceType: 'Encounter', status: 'in-progress',
    identifier: [{ system: SID.maLk, value: opts.maLk ?? 'LK-2024-0001' }],
    class: { system: CODE_SYSTEM.actCode, code: 'AMB' },
    type: [
      { coding: [{ system: CS('loai-kcb'), code: '01' }] },
      { coding: [{ system: CS('doi-tuong-kcb'), code: '1.1' }] },
    ],
    subject: { reference: opts.subject },
    period: { start: opts.start ?? '2024-05-01T08:00:00+07:00' },
    reasonCode: [{ text: 'Sốt, ho, đau họng' }],
    serviceProvider: { reference: opts.serviceProvider },
  } as Resource;
}

export function bhytCoverage(beneficiary: string, card = 'DN4797912345678'): Resource {
  return {
    resourceType: 'Coverage', status: 'active',
    identifier: [{ system: SID.bhyt, value: card }],
    beneficiary: { reference: beneficiary }, payor: [{ display: 'Bảo hiểm xã hội Việt Nam' }],
    period: { start: '2024-01-01', end: '2024-12-31' },
  } as Resource;
}

/**
 * A facility, a Patient, a BHYT Coverage, a finished outpatient Encounter and two Conditions,
 * linked by urn:uuid — valid against the VN profiles.
 */
export function episodeTransaction(opts: { cccd?: string; maLk?: string } = {}): Bundle {
  const org = entry(organization());
  const p = entry(patient(opts.cccd));
  const cov = entry(bhytCoverage(p.fullUrl!));
  const conditionUrls = [`urn:uuid:${randomUUID()}`, `urn:uuid:${randomUUID()}`];
  const enc = entry(finishedVisit({ subject: p.fullUrl!, serviceProvider: org.fullUrl!, diagnoses: conditionUrls, maLk: opts.maLk }));
  const conditions = [
    { code: 'J06.9', display: 'Nhiễm trùng hô hấp trên cấp' },
    { code: 'I10', display: 'Tăng huyết áp vô căn' },
  ].map((c, i) =>
    entry({
      resourceType: 'Condition',
      subject: { reference: p.fullUrl }, encounter: { reference: enc.fullUrl },
      code: { coding: [{ system: ICD10, ...c }] },
      recordedDate: '2024-05-01T09:00:00+07:00',
    } as Resource, 'POST', undefined, { fullUrl: conditionUrls[i] }),
  );
  return { resourceType: 'Bundle', type: 'transaction', entry: [p, cov, enc, ...conditions, org] };
}
