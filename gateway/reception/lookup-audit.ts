import type { AuditEvent, AuditEventEntity, Organization, Provenance, Reference } from '@medplum/fhirtypes';
import { SID } from '../fhir/vn.js';
import type { EligibilityInput } from './eligibility-request.js';
import type { Officer } from './portal-lookup.js';
import { RESULT_CODE_SYSTEM, type ResultCode } from './result-codes.js';

/**
 * The record of a card lookup, for whoever audits access to the portal: there is no audit machinery
 * in the gateway yet (a later security issue generalises it), so each lookup — answered, refused or
 * lost to an outage — stores one minimal AuditEvent through the normal write path. It names the
 * registered lookup officer (name and CCCD: BHXH holds the facility to that identity, CV 1923) as
 * the requesting agent, the facility and its portal account, the portal as destination, the patient
 * and what the lookup produced (the response, the Coverages written). It holds the result code,
 * never the portal's message or the query.
 */
export interface AuditInput {
  input: EligibilityInput;
  officer: Officer;
  account: { username: string; baseUrl: string };
  now: Date;
  /** The portal answered: its code and meaning; or why there was no answer. */
  result: { meaning: ResultCode; fromCache: boolean } | { unavailable: string };
  /** What the lookup wrote (references, possibly urn:uuid of the same transaction). */
  produced?: { response?: string; coverages: string[] };
}

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';

export function lookupAuditEvent(a: AuditInput): AuditEvent {
  const { input } = a;
  const r = a.result;
  // 0: the card checked out; 4: the portal answered, the card or the request did not; 8: no usable answer.
  const outcome = 'unavailable' in r || r.meaning.family === 'portal-error' ? '8' : r.meaning.family === 'valid' || r.meaning.family === 'new-card' ? '0' : '4';
  const outcomeDesc =
    'unavailable' in r
      ? `no answer from the BHXH portal: ${r.unavailable}`
      : `maKetQua ${r.meaning.code} (${r.meaning.label.en})${r.fromCache ? '; answered from the gateway’s cache' : ''}`;
  const facility: Reference<Organization> = input.organization ? { reference: `Organization/${input.organization.id}` } : { identifier: { system: SID.maCskcb, value: input.facility } };
  const patient: Reference = input.storedPatient
    ? { reference: `Patient/${input.storedPatient.id}` }
    : { identifier: { system: /^[0-9]{12}$/.test(input.query.maThe) ? SID.cccd : SID.bhyt, value: input.query.maThe } };
  const entities: AuditEventEntity[] = [
    { what: patient, type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1', display: 'Person' }, role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' } },
    ...(a.produced?.response ? [{ what: { reference: a.produced.response }, type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' }, role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '3', display: 'Report' } }] : []),
    ...(a.produced?.coverages ?? []).map((c) => ({ what: { reference: c }, type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' }, role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '4', display: 'Domain Resource' } })),
  ];
  let portalHost = '';
  try {
    portalHost = new URL(a.account.baseUrl).origin;
  } catch {
    portalHost = 'unknown';
  }
  return {
    resourceType: 'AuditEvent',
    type: { system: DCM, code: '110112', display: 'Query' },
    subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'operation', display: 'operation' }],
    action: 'E',
    recorded: a.now.toISOString(),
    outcome,
    outcomeDesc,
    purposeOfEvent: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'COVERAGE', display: 'coverage under policy or program' }], text: 'Tra cứu thẻ BHYT khi tiếp đón người bệnh' }],
    agent: [
      {
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/extra-security-role-type', code: 'humanuser', display: 'human user' }], text: 'Cán bộ tra cứu thẻ BHYT (đăng ký với BHXH)' },
        who: { identifier: { system: SID.cccd, value: a.officer.cccd }, display: a.officer.name },
        requestor: true,
      },
      {
        type: { coding: [{ system: DCM, code: '110153', display: 'Source Role ID' }], text: 'Cơ sở KCB và tài khoản cổng BHXH' },
        who: facility,
        altId: a.account.username,
        requestor: false,
      },
      {
        type: { coding: [{ system: DCM, code: '110152', display: 'Destination Role ID' }], text: 'Cổng tiếp nhận BHXH' },
        who: { display: 'Cổng tiếp nhận dữ liệu Hệ thống thông tin giám định BHYT' },
        requestor: false,
        network: { address: portalHost, type: '5' },
      },
    ],
    source: {
      observer: { display: 'VN health-book gateway' },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
    },
    entity: entities,
  };
}

/**
 * How a card replaced by a new one is linked to it: FHIR's Coverage has no element for it, so the
 * new Coverage is a revision of the old one in a Provenance (`Provenance?entity=Coverage/{old}`
 * finds the new card, `Provenance?target=Coverage/{new}` the old), with BHXH as the author and the
 * result code (003/004) as the reason.
 */
export function replacementProvenance(newCoverage: string, oldCoverage: string, meaning: ResultCode, agency: string | undefined, now: Date): Provenance {
  return {
    resourceType: 'Provenance',
    target: [{ reference: newCoverage }],
    recorded: now.toISOString(),
    activity: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: 'CREATE', display: 'create' }], text: 'Thẻ BHYT mới thay thế thẻ cũ' },
    reason: [{ coding: [{ system: RESULT_CODE_SYSTEM, code: meaning.code, display: meaning.label.vi }] }],
    agent: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author', display: 'Author' }] }, who: { display: agency ?? 'Bảo hiểm xã hội Việt Nam' } }],
    entity: [{ role: 'revision', what: { reference: oldCoverage } }],
  };
}
