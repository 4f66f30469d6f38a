import type { Coverage, CoverageEligibilityRequest, Identifier, Organization, Parameters, Patient, Resource } from '@medplum/fhirtypes';
import { badRequest, FhirError, type Text } from '../fhir/outcome.js';
import { BHXH_NUMBER, BHYT_CARD, CCCD_NUMBER, normalizeIdentifier, SID } from '../fhir/vn.js';
import type { Repository } from '../store/repository.js';
import { parseSearch } from '../store/search/query.js';
import { toPortalDate, type CardQuery } from './portal-lookup.js';

/**
 * What a card lookup needs from a CoverageEligibilityRequest: who (name, birth date, a BHYT card or
 * CCCD), at which facility (its MA_CSKCB, for its portal account and lookup officer). The request
 * comes as the body, or as the `resource` of a Parameters; the patient and the facility are
 * referenced (`Patient/{id}`, `Organization/{id}`, an identifier-only facility reference) or
 * contained (`#id`). Every problem names its place in the client's document.
 */
export interface EligibilityInput {
  request: CoverageEligibilityRequest;
  /** The request's path in the client's document: `CoverageEligibilityRequest` or `Parameters.parameter[0].resource`. */
  at: string;
  patient: Patient;
  /** The stored Patient the Coverage belongs to: the one referenced, or the only one holding the contained patient's CCCD / card. */
  storedPatient?: Patient & { id: string };
  facility: string;
  organization?: Organization & { id: string };
  query: CardQuery;
  /** Where the card number was read, for messages. */
  cardAt: string;
}

const invalid = (message: Text, expression: string) => badRequest(message, expression);
const unknownTarget = (message: Text, expression: string) => new FhirError(422, [{ severity: 'error', code: 'not-found', message, expression: [expression] }]);

export async function readEligibilityInput(body: unknown, repo: Repository): Promise<EligibilityInput> {
  const { request, at } = unwrap(body);
  const { patient, patientAt, stored } = await resolvePatient(request, at, repo);
  const { facility, organization } = await resolveFacility(request, at, repo);
  // A stored patient's problems are located at the reference (the client's document), and named.
  const place = (element: string) => (stored ? patientAt : `${patientAt}.${element}`);
  const whose = stored ? ` (Patient/${stored.id})` : '';
  const name = personName(patient);
  if (!name) throw invalid({ vi: `Cần họ tên người bệnh${whose} (name.text, hoặc family và given) để tra cứu thẻ`, en: `The patient’s name${whose} (name.text, or family and given) is needed for the card lookup` }, place('name'));
  if (!patient.birthDate) throw invalid({ vi: `Cần ngày sinh người bệnh${whose} (birthDate) để tra cứu thẻ`, en: `The patient’s birth date${whose} (birthDate) is needed for the card lookup` }, place('birthDate'));
  const ngaySinh = toPortalDate(patient.birthDate);
  if (!ngaySinh) {
    throw invalid({ vi: `Cổng BHXH nhận ngày sinh đủ ngày-tháng-năm hoặc chỉ năm sinh, không nhận "${patient.birthDate}"`, en: `The BHXH portal takes a full birth date or a year alone, not "${patient.birthDate}"` }, place('birthDate'));
  }
  const card = await cardNumber(request, at, patient, patientAt, repo);
  return { request, at, patient, storedPatient: stored ?? (await uniqueHolder(patient, repo)), facility, organization, query: { maThe: card.value, hoTen: name, ngaySinh }, cardAt: card.at };
}

function unwrap(body: unknown): { request: CoverageEligibilityRequest; at: string } {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw invalid({ vi: 'Thân yêu cầu phải là một CoverageEligibilityRequest, hoặc Parameters có tham số resource', en: 'The body must be a CoverageEligibilityRequest, or a Parameters with a resource parameter' }, 'CoverageEligibilityRequest');
  }
  const resource = body as Resource;
  if (resource.resourceType === 'Parameters') {
    const params = (resource as Parameters).parameter ?? [];
    const index = params.findIndex((p) => p.name === 'resource');
    if (index < 0) throw invalid({ vi: 'Parameters cần tham số "resource" là CoverageEligibilityRequest', en: 'The Parameters needs a "resource" parameter holding the CoverageEligibilityRequest' }, 'Parameters.parameter');
    const at = `Parameters.parameter[${index}].resource`;
    const inner = params[index].resource;
    if (inner?.resourceType !== 'CoverageEligibilityRequest') {
      throw invalid({ vi: 'Tham số resource phải là CoverageEligibilityRequest', en: 'The resource parameter must be a CoverageEligibilityRequest' }, `${at}.resourceType`);
    }
    return { request: inner as CoverageEligibilityRequest, at };
  }
  if (resource.resourceType !== 'CoverageEligibilityRequest') {
    throw invalid({ vi: `Cần CoverageEligibilityRequest, không phải ${String(resource.resourceType)}`, en: `A CoverageEligibilityRequest is expected, not ${String(resource.resourceType)}` }, 'CoverageEligibilityRequest.resourceType');
  }
  return { request: resource as CoverageEligibilityRequest, at: 'CoverageEligibilityRequest' };
}

function contained<T extends Resource>(request: CoverageEligibilityRequest, at: string, ref: string, type: T['resourceType']): { resource: T; at: string } | undefined {
  const index = (request.contained ?? []).findIndex((r) => r.id === ref.slice(1));
  if (index < 0) return undefined;
  const resource = request.contained![index];
  return resource.resourceType === type ? { resource: resource as T, at: `${at}.contained[${index}]` } : undefined;
}

async function resolvePatient(request: CoverageEligibilityRequest, at: string, repo: Repository): Promise<{ patient: Patient; patientAt: string; stored?: Patient & { id: string } }> {
  const ref = request.patient?.reference;
  if (!ref) throw invalid({ vi: 'Cần người bệnh: patient tham chiếu Patient/{id} hoặc một Patient chứa trong yêu cầu (#id)', en: 'The patient is needed: patient references Patient/{id} or a contained Patient (#id)' }, `${at}.patient`);
  if (ref.startsWith('#')) {
    const found = contained<Patient>(request, at, ref, 'Patient');
    if (!found) throw invalid({ vi: `Không có Patient chứa trong yêu cầu với id "${ref.slice(1)}"`, en: `No contained Patient has the id "${ref.slice(1)}"` }, `${at}.patient.reference`);
    return { patient: found.resource, patientAt: found.at };
  }
  const m = /^Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(ref);
  if (!m) throw invalid({ vi: `patient phải là Patient/{id} hoặc #id, không phải "${ref}"`, en: `patient must be Patient/{id} or #id, not "${ref}"` }, `${at}.patient.reference`);
  const stored = await repo.read('Patient', m[1]);
  if (!stored || stored.deleted) throw unknownTarget({ vi: `Không có ${ref}`, en: `${ref} is not known` }, `${at}.patient.reference`);
  // Problems of a stored patient are located at the reference: that is the client's document.
  return { patient: stored.resource as Patient, patientAt: `${at}.patient`, stored: stored.resource as Patient & { id: string } };
}

async function resolveFacility(request: CoverageEligibilityRequest, at: string, repo: Repository): Promise<{ facility: string; organization?: Organization & { id: string } }> {
  const provider = request.provider;
  const where = `${at}.provider`;
  const need = { vi: 'Cần cơ sở KCB: provider tham chiếu Organization có mã CSKCB (Organization/{id}, #id, hoặc identifier ma-cskcb)', en: 'The facility is needed: provider references the Organization with its MA_CSKCB (Organization/{id}, #id, or a ma-cskcb identifier)' };
  if (!provider) throw invalid(need, where);
  let organization: (Organization & { id: string }) | undefined;
  let identifiers: Identifier[] = [];
  let identifiersAt = `${where}.identifier`;
  if (provider.reference?.startsWith('#')) {
    const found = contained<Organization>(request, at, provider.reference, 'Organization');
    if (!found) throw invalid({ vi: `Không có Organization chứa trong yêu cầu với id "${provider.reference.slice(1)}"`, en: `No contained Organization has the id "${provider.reference.slice(1)}"` }, `${where}.reference`);
    identifiers = found.resource.identifier ?? [];
    identifiersAt = `${found.at}.identifier`;
  } else if (provider.reference) {
    const m = /^Organization\/([A-Za-z0-9\-.]{1,64})$/.exec(provider.reference);
    if (!m) throw invalid({ vi: `provider phải là Organization/{id}, #id hoặc một identifier ma-cskcb, không phải "${provider.reference}"`, en: `provider must be Organization/{id}, #id or a ma-cskcb identifier, not "${provider.reference}"` }, `${where}.reference`);
    const stored = await repo.read('Organization', m[1]);
    if (!stored || stored.deleted) throw unknownTarget({ vi: `Không có ${provider.reference}`, en: `${provider.reference} is not known` }, `${where}.reference`);
    organization = stored.resource as Organization & { id: string };
    identifiers = organization.identifier ?? [];
    identifiersAt = where;
  } else if (provider.identifier) {
    identifiers = [provider.identifier];
  } else {
    throw invalid(need, where);
  }
  const code = identifiers.find((i) => i.system === SID.maCskcb)?.value;
  if (!code) throw invalid({ vi: `Cơ sở KCB không có mã CSKCB (identifier hệ ${SID.maCskcb})`, en: `The facility has no MA_CSKCB (an identifier of system ${SID.maCskcb})` }, identifiersAt);
  if (!/^[0-9A-Z]{5}$/.test(code)) throw invalid({ vi: `Mã CSKCB "${code}" phải gồm 5 ký tự`, en: `MA_CSKCB "${code}" must have 5 characters` }, identifiersAt);
  if (!organization) {
    // Named by its code: the facility's Organization, when the gateway knows it (one only), is the one referenced in what is stored.
    const found = await repo.search(parseSearch('Organization', [['identifier', `${SID.maCskcb}|${code}`]], { strict: true }), 2);
    if (found.length === 1) organization = found[0] as Organization & { id: string };
  }
  return { facility: code, organization };
}

/** The official name if there is one: its text, or family and given names joined as Vietnamese names are written. */
function personName(patient: Patient): string | undefined {
  const name = patient.name?.find((n) => n.use === 'official') ?? patient.name?.[0];
  const text = name?.text?.trim() || [name?.family, ...(name?.given ?? [])].filter(Boolean).join(' ').trim();
  return text ? text.replace(/\s+/g, ' ') : undefined;
}

/**
 * The number to look up: the card of the request's insurance (the one the receptionist scanned),
 * else the patient's BHYT card (a current one first), else the patient's CCCD — which the portal
 * accepts in place of the card since NĐ 188/2025.
 */
async function cardNumber(request: CoverageEligibilityRequest, at: string, patient: Patient, patientAt: string, repo: Repository): Promise<{ value: string; at: string }> {
  const insurance = request.insurance ?? [];
  for (let i = 0; i < insurance.length; i++) {
    const ref = insurance[i].coverage?.reference;
    const coverageAt = `${at}.insurance[${i}].coverage`;
    let coverage: Coverage | undefined;
    let identifiersAt = `${coverageAt}.identifier`;
    if (ref?.startsWith('#')) {
      const found = contained<Coverage>(request, at, ref, 'Coverage');
      if (!found) throw invalid({ vi: `Không có Coverage chứa trong yêu cầu với id "${ref.slice(1)}"`, en: `No contained Coverage has the id "${ref.slice(1)}"` }, `${coverageAt}.reference`);
      coverage = found.resource;
      identifiersAt = `${found.at}.identifier`;
    } else if (ref) {
      const m = /^Coverage\/([A-Za-z0-9\-.]{1,64})$/.exec(ref);
      const stored = m ? await repo.read('Coverage', m[1]) : undefined;
      if (!stored || stored.deleted) throw unknownTarget({ vi: `Không có ${ref}`, en: `${ref} is not known` }, `${coverageAt}.reference`);
      coverage = stored.resource as Coverage;
      identifiersAt = coverageAt;
    }
    const index = (coverage?.identifier ?? []).findIndex((id) => id.system === SID.bhyt && id.value);
    if (index >= 0) return checked(coverage!.identifier![index].value!, 'bhyt', identifiersAt === coverageAt ? coverageAt : `${identifiersAt}[${index}].value`);
  }
  const ids = patient.identifier ?? [];
  const today = new Date().toISOString().slice(0, 10);
  const cards = ids.map((id, index) => ({ id, index })).filter(({ id }) => id.system === SID.bhyt && id.value);
  const card = cards.find(({ id }) => !id.period?.end || id.period.end >= today) ?? cards[0];
  const located = (index: number) => (patientAt.endsWith('.patient') ? patientAt : `${patientAt}.identifier[${index}].value`);
  if (card) return checked(card.id.value!, 'bhyt', located(card.index));
  const cccd = ids.findIndex((id) => id.system === SID.cccd && id.value);
  if (cccd >= 0) return checked(ids[cccd].value!, 'cccd', located(cccd));
  throw invalid({ vi: `Cần số thẻ BHYT (hệ ${SID.bhyt}) hoặc số CCCD (hệ ${SID.cccd}) của người bệnh`, en: `The patient’s BHYT card (system ${SID.bhyt}) or CCCD (system ${SID.cccd}) is needed` }, patientAt.endsWith('.patient') ? patientAt : `${patientAt}.identifier`);
}

function checked(raw: string, kind: 'bhyt' | 'cccd', at: string): { value: string; at: string } {
  const value = normalizeIdentifier(raw);
  if (kind === 'bhyt' && !BHYT_CARD.test(value) && !BHXH_NUMBER.test(value)) {
    throw invalid({ vi: `Số thẻ BHYT "${value}" không đúng dạng: 15 ký tự (mã đối tượng, mức hưởng, mã tỉnh, mã số BHXH) hoặc mã số BHXH 10 chữ số`, en: `BHYT card "${value}" is malformed: 15 characters (group, benefit level, province, BHXH number) or a 10-digit BHXH number` }, at);
  }
  if (kind === 'cccd' && !CCCD_NUMBER.test(value)) throw invalid({ vi: `Số CCCD "${value}" phải gồm 12 chữ số`, en: `CCCD "${value}" must have 12 digits` }, at);
  return { value, at };
}

/** A contained patient stands for a stored one when exactly one Patient holds one of its CCCD / card numbers. */
async function uniqueHolder(patient: Patient, repo: Repository): Promise<(Patient & { id: string }) | undefined> {
  const found = new Map<string, Patient & { id: string }>();
  for (const id of patient.identifier ?? []) {
    if (!id.value || (id.system !== SID.cccd && id.system !== SID.bhyt)) continue;
    for (const p of await repo.search(parseSearch('Patient', [['identifier', `${id.system}|${id.value}`]], { strict: true }), 2)) found.set(p.id!, p as Patient & { id: string });
  }
  return found.size === 1 ? [...found.values()][0] : undefined;
}
