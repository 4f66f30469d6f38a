import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { CANONICAL, SID } from '../../fhir/vn.js';
import { seededRandom } from '../seeded-random.js';
import {
  BENEFIT_PERCENT, CARD_OBJECTS, CHRONIC_DIAGNOSES, DRUGS, ETHNICITIES, EXAMS, FAMILY_NAMES, GIVEN_NAMES, HAMLETS, INFUSIONS, INPATIENT_DIAGNOSES,
  LAB_TESTS, MIDDLE_NAMES, OCCUPATIONS, OUTPATIENT_DIAGNOSES, PRACTITIONER_TITLES, PROGRESS_NOTES, PROVINCES, SUPPLIES, WARDS,
  type Diagnosis, type Drug, type Gender, type LabTest, type Province,
} from './vn-data.js';

/**
 * A deterministic generator of realistic Vietnamese episodes as FHIR transaction bundles that pass
 * the gateway's VN profiles and build clean claim files: a person (name with diacritics, CCCD and
 * BHYT card of valid format, address with administrative codes), a facility and its staff, and an
 * outpatient visit (~25 resources) or an inpatient stay of any size (150 by default; the scaling
 * benchmark asks for exactly 10, 100 or 1,000 entries).
 *
 * Everything is a function of (seed, index): episode 41 is the same bundle whether it is made alone
 * or after 40 others, so a benchmark client can make bundle n on demand and a user can regenerate
 * any file. Facilities and their staff repeat across episodes (conditional creates find them), each
 * person is new unless `patient` names one again (a patient with many episodes, for the health book).
 */
export type EpisodeKind = 'outpatient' | 'inpatient';

export interface EpisodeRequest {
  kind: EpisodeKind;
  /** Which episode of the run: its identifiers (MA_LK, MA_HSBA) and date derive from it. */
  index: number;
  /** Whose episode (default: person `index`, a new one per episode). */
  patient?: number;
  /** Exact number of entries (inpatient only; at least 10). Default 150. */
  entries?: number;
}

export interface GeneratorOptions {
  seed: number;
  /** How many facilities episodes are spread over (default 20). */
  facilities?: number;
}

interface Person {
  gender: Gender;
  family: string;
  given: string[];
  birthDate: string;
  cccd: string;
  card: string;
  benefit: number;
  bhxh: string;
  province: Province;
  commune: { code: string; name: string };
  hamlet: string;
  ethnicity: { code: string; display: string };
  phone: string;
  occupation: { code: string; display: string };
  /** MA_BN: the facility's patient number. */
  hospitalNumber: string;
}

interface Staff {
  cchn: string;
  bhxh: string;
  family: string;
  given: string[];
  gender: Gender;
  title: string;
}

interface Facility {
  code: string;
  name: string;
  province: Province;
  phone: string;
  staff: Staff[];
}

type Random = () => number;

const ICD = 'http://hl7.org/fhir/sid/icd-10';
const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const EXT = `${CANONICAL}/StructureDefinition`;
const CS = `${CANONICAL}/CodeSystem`;

export class EpisodeGenerator {
  private readonly seed: number;
  private readonly facilityCount: number;
  private readonly facilities = new Map<number, Facility>();

  constructor(options: GeneratorOptions) {
    this.seed = options.seed >>> 0;
    this.facilityCount = Math.max(1, options.facilities ?? 20);
  }

  episode(request: EpisodeRequest): Bundle {
    const rng = this.random('episode', request.index);
    const person = this.person(request.patient ?? request.index);
    const facility = this.facility(Math.floor(rng() * this.facilityCount));
    const b = new BundleBuilder(this.random('uuid', request.index));
    return request.kind === 'outpatient'
      ? outpatientVisit(b, rng, request.index, person, facility)
      : inpatientStay(b, rng, request.index, person, facility, Math.max(10, request.entries ?? 150));
  }

  /** The MA_CSKCB of every facility episodes are spread over (facility n of the seed). */
  facilityCodes(): string[] {
    return Array.from({ length: this.facilityCount }, (_, n) => this.facility(n).code);
  }

  /** A generator for one purpose and index: independent of every other draw. */
  private random(purpose: string, index: number): Random {
    let h = this.seed ^ 0x9e3779b9;
    for (const c of purpose) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193);
    return seededRandom(Math.imul(h ^ index, 0x85ebca6b) ^ (index >>> 16));
  }

  private person(n: number): Person {
    const rng = this.random('person', n);
    const gender: Gender = rng() < 0.5 ? 'male' : 'female';
    const province = pick(rng, PROVINCES);
    const year = 1940 + Math.floor(rng() * 80);
    const birthDate = `${year}-${pad(1 + Math.floor(rng() * 12), 2)}-${pad(1 + Math.floor(rng() * 28), 2)}`;
    // CCCD: place of birth registration, century and sex, year of birth, then a serial (unique per n).
    const centurySex = (year >= 2000 ? 2 : 0) + (gender === 'female' ? 1 : 0);
    const serial = pad((n * 7_919 + this.seed) % 1_000_000, 6);
    const cccd = `${province.cccd}${centurySex}${String(year).slice(2)}${serial}`;
    const object = year >= 2019 ? { code: 'TE', level: 1 as const } : year < 1960 ? { code: 'HT', level: 3 as const } : pick(rng, CARD_OBJECTS);
    const bhxh = `${province.code}${pad((n * 104_729 + this.seed) % 100_000_000, 8)}`;
    return {
      gender,
      family: pick(rng, FAMILY_NAMES),
      given: [pick(rng, MIDDLE_NAMES[gender]), pick(rng, GIVEN_NAMES[gender])],
      birthDate,
      cccd,
      bhxh,
      card: `${object.code}${object.level}${province.code}${bhxh}`,
      benefit: BENEFIT_PERCENT[object.level],
      province,
      commune: pick(rng, province.communes),
      hamlet: pick(rng, HAMLETS),
      ethnicity: pick(rng, ETHNICITIES),
      phone: `09${pad(Math.floor(rng() * 100_000_000), 8)}`,
      occupation: year >= 2007 ? { code: '00000', display: 'Không nghề nghiệp' } : pick(rng, OCCUPATIONS),
      hospitalNumber: `BN${pad(n, 9)}`,
    };
  }

  private facility(n: number): Facility {
    const known = this.facilities.get(n);
    if (known) return known;
    const rng = this.random('facility', n);
    const province = PROVINCES[n % PROVINCES.length];
    const code = `${province.code}${pad(1 + ((n * 37 + this.seed) % 999), 3)}`;
    const staff = Array.from({ length: 5 }, (_, i): Staff => {
      const gender: Gender = rng() < 0.5 ? 'male' : 'female';
      return {
        gender,
        family: pick(rng, FAMILY_NAMES),
        given: [pick(rng, MIDDLE_NAMES[gender]), pick(rng, GIVEN_NAMES[gender])],
        cchn: `${pad(n * 10 + i + 1, 6)}/${province.code}-CCHN`,
        bhxh: `${province.code}${pad((n * 10 + i) * 9_973 + this.seed, 8).slice(-8)}`,
        title: i < 3 ? PRACTITIONER_TITLES[i] : PRACTITIONER_TITLES[3 + (i % 2)],
      };
    });
    const facility = {
      code,
      name: `${n % 3 === 0 ? 'Bệnh viện Đa khoa' : 'Trung tâm Y tế'} ${province.district.name.replace(/^(Huyện|Quận|Thành phố) /, '')} số ${n + 1}`,
      province,
      phone: `02${pad(Math.floor(rng() * 1_000_000_000), 9)}`,
      staff,
    };
    this.facilities.set(n, facility);
    return facility;
  }
}

/**
 * Collects entries with fresh urn:uuid fullUrls and hands back their references. A resource that
 * points at later ones (the organization at its signer, the encounter at its conditions) gets its
 * place and fullUrl first and its content once those are known.
 */
class BundleBuilder {
  private readonly entries: (BundleEntry | undefined)[] = [];
  private readonly slots = new Map<string, number>();
  constructor(private readonly rng: Random) {}

  get size(): number {
    return this.entries.length;
  }

  reserve(fullUrl = `urn:uuid:${uuid(this.rng)}`): { reference: string } {
    this.slots.set(fullUrl, this.entries.length);
    this.entries.push(undefined);
    return { reference: fullUrl };
  }

  fill(ref: { reference: string }, resource: Resource, ifNoneExist?: string): { reference: string } {
    this.entries[this.slots.get(ref.reference)!] = { fullUrl: ref.reference, resource, request: { method: 'POST', url: resource.resourceType, ...(ifNoneExist ? { ifNoneExist } : {}) } };
    return ref;
  }

  add(resource: Resource, ifNoneExist?: string): { reference: string } {
    return this.fill(this.reserve(), resource, ifNoneExist);
  }

  bundle(): Bundle {
    if (this.entries.includes(undefined)) throw new Error('a reserved entry was never filled');
    return { resourceType: 'Bundle', type: 'transaction', entry: this.entries as BundleEntry[] };
  }
}

/** What every episode has: facility, staff, patient, card. */
interface Episode {
  b: BundleBuilder;
  rng: Random;
  person: Person;
  facility: Facility;
  org: { reference: string };
  staff: { reference: string }[];
  patient: { reference: string };
  encounter: { reference: string };
  department: { code: string; name: string };
  diagnosis: Diagnosis;
}

function outpatientVisit(b: BundleBuilder, rng: Random, index: number, person: Person, facility: Facility): Bundle {
  const diagnosis = pick(rng, OUTPATIENT_DIAGNOSES);
  const chronic = rng() < 0.4 ? pick(rng, CHRONIC_DIAGNOSES) : undefined;
  const day = episodeDay(rng, index);
  const start = at(day, 7 + Math.floor(rng() * 4), Math.floor(rng() * 6) * 10);
  const end = plusMinutes(start, 120 + Math.floor(rng() * 90));
  const e = openEpisode(b, rng, person, facility, 4, EXAMS.internal.department, diagnosis);
  const doctor = e.staff[1];

  const conditions = [condition(e, diagnosis, plusMinutes(start, 90), doctor)];
  if (chronic) conditions.push(condition(e, chronic, plusMinutes(start, 90), doctor));
  const maLk = `${facility.code}-${day.replaceAll('-', '')}-${pad(index % 10_000_000, 7)}`;
  b.fill(e.encounter, encounter(e, {
    classCode: 'AMB', classDisplay: 'ambulatory', care: ['01', 'Khám bệnh'], object: ['1.1', 'Đúng nơi đăng ký KCB ban đầu'],
    maLk, record: `KB${day.slice(2, 4)}.${pad(index % 1_000_000, 6)}`, start, end, conditions, complaint: diagnosis.complaint,
    attender: doctor, method: 'Điều trị nội khoa ngoại trú theo đơn.',
  }));

  vital(e, '29463-7', 'Body weight', 'Cân nặng', round1(45 + rng() * 30), 'kg', 'kg', plusMinutes(start, 5), doctor);
  vital(e, '8302-2', 'Body height', 'Chiều cao', Math.round(150 + rng() * 25), 'cm', 'cm', plusMinutes(start, 5), doctor);
  chargeItem(e, { code: EXAMS.internal.code, display: EXAMS.internal.display, system: 'dmdc-dich-vu', group: ['13', 'Khám bệnh'], price: EXAMS.internal.price, quantity: 1, unit: 'lần', ordered: plusMinutes(start, 8), executed: plusMinutes(start, 8), resulted: plusMinutes(start, 80), orderer: doctor });
  labTest(e, pick(rng, LAB_TESTS), plusMinutes(start, 20), doctor);
  const drugs = pickSome(rng, DRUGS, 2 + Math.floor(rng() * 2));
  const days = 5 + Math.floor(rng() * 3);
  for (const d of drugs) prescription(e, d, plusMinutes(start, 100), doctor, d.perDay * days, days);
  if (rng() < 0.5) appointment(e, conditions[0], plusMinutes(end, 7 * 24 * 60 - 150), end, doctor, `GH${day.slice(2, 4)}.${pad(index % 1_000_000, 6)}`);
  return b.bundle();
}

function inpatientStay(b: BundleBuilder, rng: Random, index: number, person: Person, facility: Facility, entries: number): Bundle {
  const diagnosis = pick(rng, INPATIENT_DIAGNOSES);
  const ward = diagnosis.icd.startsWith('K') || diagnosis.icd.startsWith('S') ? WARDS[1] : WARDS[0];
  const admitted = at(episodeDay(rng, index), 8 + Math.floor(rng() * 10), Math.floor(rng() * 6) * 10);
  const e = openEpisode(b, rng, person, facility, 2, { code: ward.code, name: ward.name }, diagnosis);
  const doctor = e.staff[1];
  const primary = condition(e, diagnosis, plusMinutes(admitted, 60), doctor);
  vital(e, '29463-7', 'Body weight', 'Cân nặng', round1(45 + rng() * 30), 'kg', 'kg', plusMinutes(admitted, 10), doctor);

  // The core is 10 entries (organization, 2 staff, patient, card, encounter, condition, weight, bed
  // line, discharge paper); whole days of care fill the rest, then vital signs make the count exact.
  let total = b.size + 2;
  let stay = 0;
  while (total + dayOfCareSize(stay) <= entries) total += dayOfCareSize(stay++);
  const medications = new Map<Drug, { reference: string }>();
  for (let d = 0; d < stay; d++) dayOfCare(e, plusMinutes(admitted, d * 24 * 60 + 60), d, primary, medications);
  stay = Math.max(1, stay);
  for (let i = 0; total < entries; i++, total++) {
    const when = plusMinutes(admitted, 30 + Math.floor((i * 7 * 60) % (stay * 24 * 60)));
    if (i % 2 === 0) vital(e, '8480-6', 'Systolic blood pressure', 'Huyết áp tâm thu', Math.round(110 + rng() * 40), 'mm[Hg]', 'mmHg', when, doctor);
    else vital(e, '8462-4', 'Diastolic blood pressure', 'Huyết áp tâm trương', Math.round(65 + rng() * 25), 'mm[Hg]', 'mmHg', when, doctor);
  }
  const discharged = plusMinutes(admitted, stay * 24 * 60 + 120);
  chargeItem(e, { code: ward.bed.code, display: ward.bed.display, system: 'dmdc-dich-vu', group: ['15', 'Giường điều trị nội trú'], price: ward.bed.price, quantity: stay, unit: 'ngày', ordered: admitted, resulted: discharged, orderer: doctor, bed: `H${pad(1 + Math.floor(rng() * 40), 3)}` });
  const record = `NT${admitted.slice(2, 4)}.${pad(index % 1_000_000, 6)}`;
  dischargePaper(e, record, discharged, doctor, diagnosis);
  const maLk = `${facility.code}-${admitted.slice(0, 10).replaceAll('-', '')}-${pad(index % 10_000_000, 7)}`;
  b.fill(e.encounter, encounter(e, {
    classCode: 'IMP', classDisplay: 'inpatient encounter', care: ['03', 'Điều trị nội trú'], object: ['1.1', 'Đúng nơi đăng ký KCB ban đầu'],
    maLk, record, start: admitted, end: discharged, conditions: [primary], complaint: diagnosis.complaint, attender: doctor,
    method: 'Điều trị nội khoa: kháng sinh tĩnh mạch, truyền dịch, theo dõi dấu hiệu sinh tồn.', admitted,
  }));
  return b.bundle();
}

/** The drugs of a day of care: infusions for the first five days, then tablets. */
const drugsOfDay = (day: number): Drug[] => (day < 5 ? INFUSIONS : [DRUGS[1]]);
/** A blood count or a glucose test every other day (two results at most). */
const testOfDay = (day: number): LabTest | undefined => (day % 2 === 0 ? LAB_TESTS[day % 4 === 0 ? 0 : 1] : undefined);

/** Entries day `day` of care adds (a drug's Medication comes with its first order, on day 0 or 5). */
function dayOfCareSize(day: number): number {
  const drugs = drugsOfDay(day).length * (day === 0 || day === 5 ? 3 : 2);
  const test = testOfDay(day);
  return 1 + 2 + drugs + (test ? 2 + Math.min(2, test.results.length) : 0) + (day < 5 ? 1 : 0);
}

/** A day of an inpatient stay: progress note, two vital signs, drug orders, a test every other day, supplies. */
function dayOfCare(e: Episode, morning: string, day: number, problem: { reference: string }, medications: Map<Drug, { reference: string }>): void {
  const doctor = e.staff[1];
  progressNote(e, plusMinutes(morning, 15), doctor, problem, day);
  vital(e, '8310-5', 'Body temperature', 'Nhiệt độ', round1(36.5 + e.rng() * 2), 'Cel', 'Cel', morning, doctor);
  vital(e, '8867-4', 'Heart rate', 'Mạch', Math.round(70 + e.rng() * 30), '/min', 'lần/phút', morning, doctor);
  for (const drug of drugsOfDay(day)) prescription(e, drug, plusMinutes(morning, 30), doctor, drug.perDay, 1, medications);
  const test = testOfDay(day);
  if (test) labTest(e, test, plusMinutes(morning, 10), doctor, 2);
  if (day < 5) {
    const supply = SUPPLIES[1];
    chargeItem(e, { code: supply.code, display: supply.display, system: 'dmdc-vat-tu', group: ['10', 'Vật tư y tế trong danh mục BHYT'], price: supply.price, quantity: 2, unit: supply.unit, ordered: plusMinutes(morning, 30), executed: plusMinutes(morning, 40), orderer: doctor, tender: '215/QĐ-BV;G1;N0;2024' });
  }
}

function openEpisode(b: BundleBuilder, rng: Random, person: Person, facility: Facility, staffCount: number, department: { code: string; name: string }, diagnosis: Diagnosis): Episode {
  // The organization comes first and names its signer (the director, staff 0).
  const org = b.reserve();
  const staff = facility.staff.slice(0, staffCount).map((s) => b.add(practitioner(s), `identifier=${CANONICAL}/sid/cchn|${s.cchn}`));
  b.fill(org, organization(facility, staff[0]), `identifier=${SID.maCskcb}|${facility.code}`);
  const patient = b.add(patientResource(person), `identifier=${SID.cccd}|${person.cccd}`);
  // A returning patient's card is found, not stored again: hospital systems send it conditionally.
  b.add(coverage(person, patient), `identifier=${SID.bhyt}|${person.card}`);
  // The encounter is written once its conditions and dates are known.
  const encounter = b.reserve(`urn:uuid:${uuid(rng)}`);
  return { b, rng, person, facility, org, staff, patient, encounter, department, diagnosis };
}

function practitioner(s: Staff): Resource {
  return {
    resourceType: 'Practitioner',
    identifier: [{ system: `${CANONICAL}/sid/cchn`, value: s.cchn }, { system: `${CANONICAL}/sid/ma-bhxh`, value: s.bhxh }],
    active: true,
    name: [{ use: 'official', text: [s.family, ...s.given].join(' '), family: s.family, given: s.given }],
    gender: s.gender,
    qualification: [{ identifier: [{ system: `${CANONICAL}/sid/cchn`, value: s.cchn }], code: { text: s.title } }],
  };
}

function organization(f: Facility, signer: { reference: string }): Resource {
  return {
    resourceType: 'Organization',
    extension: [{ url: `${EXT}/hb-ext-signer`, valueReference: signer }],
    identifier: [{ system: SID.maCskcb, value: f.code }],
    active: true,
    type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/organization-type', code: 'prov', display: 'Healthcare Provider' }], text: 'Cơ sở khám bệnh, chữa bệnh' }],
    name: f.name,
    telecom: [{ system: 'phone', value: f.phone, use: 'work' }],
    address: [{ text: `${f.province.district.name}, ${f.province.name}`, district: f.province.district.name, state: f.province.name, country: 'VN' }],
  };
}

function patientResource(p: Person): Resource {
  const text = [p.hamlet, p.commune.name, p.province.district.name, p.province.name].join(', ');
  return {
    resourceType: 'Patient',
    extension: [
      { url: `${EXT}/hb-ext-ethnicity`, valueCoding: { system: `${CS}/dan-toc`, code: p.ethnicity.code, display: p.ethnicity.display } },
      { url: `${EXT}/hb-ext-nationality`, valueCoding: { code: '000', display: 'Việt Nam' } },
      { url: `${EXT}/hb-ext-occupation`, valueCoding: p.occupation },
    ],
    identifier: [
      { use: 'official', system: SID.cccd, value: p.cccd },
      { system: SID.bhyt, value: p.card },
      { use: 'usual', system: SID.maBn, value: p.hospitalNumber },
    ],
    active: true,
    name: [{ use: 'official', text: [p.family, ...p.given].join(' '), family: p.family, given: p.given }],
    telecom: [{ system: 'phone', value: p.phone, use: 'mobile' }],
    gender: p.gender,
    birthDate: p.birthDate,
    address: [{
      extension: [{ url: `${EXT}/hb-ext-admin-unit`, extension: [{ url: 'province', valueCode: p.province.code }, { url: 'district', valueCode: p.province.district.code }, { url: 'commune', valueCode: p.commune.code }] }],
      use: 'home', type: 'physical', text, line: [p.hamlet, p.commune.name], district: p.province.district.name, state: p.province.name, country: 'VN',
    }],
  };
}

function coverage(p: Person, patient: { reference: string }): Resource {
  return {
    resourceType: 'Coverage',
    extension: [
      { url: `${EXT}/hb-ext-area`, valueCoding: { system: `${CS}/khu-vuc`, code: 'K2', display: 'Khu vực 2' } },
    ],
    identifier: [{ system: SID.bhyt, value: p.card }],
    status: 'active',
    type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'PUBLICPOL', display: 'public healthcare' }], text: 'Bảo hiểm y tế' },
    beneficiary: patient,
    relationship: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/subscriber-relationship', code: 'self', display: 'Self' }] },
    period: { start: '2025-01-01', end: '2025-12-31' },
    payor: [{ display: `Bảo hiểm xã hội ${p.province.name.replace(/^(Tỉnh|Thành phố) /, (m) => m.toLowerCase())}` }],
  } as Resource;
}

interface EncounterFacts {
  classCode: string;
  classDisplay: string;
  care: [string, string];
  object: [string, string];
  maLk: string;
  record: string;
  start: string;
  end: string;
  conditions: { reference: string }[];
  complaint: string;
  attender: { reference: string };
  method: string;
  admitted?: string;
}

function encounter(e: Episode, f: EncounterFacts): Resource {
  const end = new Date(Date.parse(f.end) + 20 * 60_000);
  return {
    resourceType: 'Encounter',
    extension: [
      ...(f.admitted ? [{ url: `${EXT}/hb-ext-inpatient-admission`, extension: [{ url: 'time', valueDateTime: f.admitted }, { url: 'reason', valueString: f.complaint }] }] : []),
      { url: `${EXT}/hb-ext-treatment-result`, valueCoding: { system: `${CS}/ket-qua-dieu-tri`, code: '2', display: 'Đỡ' } },
      { url: `${EXT}/hb-ext-treatment-method`, valueString: f.method },
      { url: `${EXT}/hb-ext-advice`, valueString: 'Uống thuốc đúng đơn; tái khám khi có dấu hiệu bất thường.' },
      { url: `${EXT}/hb-ext-settlement`, extension: [{ url: 'paid', valueDateTime: vnIso(end) }, { url: 'year', valuePositiveInt: Number(f.end.slice(0, 4)) }, { url: 'month', valuePositiveInt: Number(f.end.slice(5, 7)) }] },
    ],
    identifier: [{ system: SID.maLk, value: f.maLk }, { system: `${CANONICAL}/sid/ma-hsba`, value: f.record }],
    status: 'finished',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: f.classCode, display: f.classDisplay },
    type: [
      { coding: [{ system: `${CS}/loai-kcb`, code: f.care[0], display: f.care[1] }] },
      { coding: [{ system: `${CS}/doi-tuong-kcb`, code: f.object[0], display: f.object[1] }] },
    ],
    subject: e.patient,
    participant: [{ type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'ATND', display: 'attender' }] }], individual: f.attender }],
    period: { start: f.start, end: f.end },
    reasonCode: [{ text: f.complaint }],
    diagnosis: f.conditions.map((condition, i) => ({ condition, use: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/diagnosis-role', code: 'DD', display: 'Discharge diagnosis' }] }, rank: i + 1 })),
    hospitalization: { dischargeDisposition: { coding: [{ system: `${CS}/loai-ra-vien`, code: '1', display: 'Ra viện' }] } },
    location: [{ location: { identifier: { system: `${CANONICAL}/sid/ma-khoa`, value: e.department.code }, display: e.department.name }, status: 'completed', period: { start: f.start, end: f.end } }],
    serviceProvider: e.org,
  } as Resource;
}

function condition(e: Episode, d: Diagnosis, recorded: string, recorder: { reference: string }): { reference: string } {
  return e.b.add({
    resourceType: 'Condition',
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active', display: 'Active' }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed', display: 'Confirmed' }] },
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'encounter-diagnosis', display: 'Encounter Diagnosis' }] }],
    code: { coding: [{ system: ICD, code: d.icd, display: d.display }], text: d.text },
    subject: e.patient,
    encounter: e.encounter,
    recordedDate: recorded,
    recorder,
  });
}

function vital(e: Episode, loinc: string, display: string, text: string, value: number, ucum: string, unit: string, when: string, performer: { reference: string }): void {
  e.b.add({
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs', display: 'Vital Signs' }] }],
    code: { coding: [{ system: LOINC, code: loinc, display }], text },
    subject: e.patient,
    encounter: e.encounter,
    effectiveDateTime: when,
    performer: [performer],
    valueQuantity: { value, unit, system: UCUM, code: ucum },
  });
}

/** A test: its result observations, the report grouping them, and the billed line pointing at the report. */
function labTest(e: Episode, test: LabTest, ordered: string, doctor: { reference: string }, results = test.results.length): void {
  const [technician, reader] = [e.staff[2] ?? doctor, e.staff[e.staff.length - 1]];
  const executed = plusMinutes(ordered, 15);
  const resulted = plusMinutes(executed, 45);
  const refs = test.results.slice(0, results).map((r) => {
    const value = Number((r.low * (0.7 + e.rng() * 0.9)).toFixed(r.decimals));
    const flag = value > r.high ? 'H' : value < r.low ? 'L' : 'N';
    return e.b.add({
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory', display: 'Laboratory' }] }],
      code: { coding: [{ system: LOINC, code: r.loinc, display: r.display }], text: r.text },
      subject: e.patient,
      encounter: e.encounter,
      effectiveDateTime: executed,
      issued: resulted,
      performer: [reader],
      valueQuantity: { value, unit: r.unit, system: UCUM, code: r.ucum },
      interpretation: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: flag, display: { H: 'High', L: 'Low', N: 'Normal' }[flag] }] }],
      referenceRange: [{ low: { value: r.low, unit: r.unit, system: UCUM, code: r.ucum }, high: { value: r.high, unit: r.unit, system: UCUM, code: r.ucum } }],
    } as Resource);
  });
  const report = e.b.add({
    resourceType: 'DiagnosticReport',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: test.category, display: test.category === 'HM' ? 'Hematology' : 'Chemistry' }] }],
    code: { coding: [{ system: `${CS}/dmdc-dich-vu`, code: test.service, display: test.display }], text: test.display },
    subject: e.patient,
    encounter: e.encounter,
    effectiveDateTime: executed,
    issued: resulted,
    performer: [reader],
    resultsInterpreter: [reader],
    result: refs,
  } as Resource);
  chargeItem(e, {
    code: test.service, display: test.display, system: 'dmdc-dich-vu', group: ['1', 'Xét nghiệm'], price: test.price, quantity: 1, unit: 'lần',
    ordered, executed, resulted, orderer: doctor, performers: [technician, reader], machine: `${test.machine}.${e.facility.code}.1`, service: report,
  });
}

function prescription(e: Episode, d: Drug, ordered: string, doctor: { reference: string }, quantity: number, days: number, known?: Map<Drug, { reference: string }>): void {
  let medication = known?.get(d);
  if (!medication) {
    medication = e.b.add({
      resourceType: 'Medication',
      identifier: [{ system: `${CANONICAL}/sid/so-dang-ky`, value: d.registration }],
      code: { coding: [{ system: `${CS}/dmdc-thuoc`, code: d.code, display: d.name }], text: d.text },
      status: 'active',
      manufacturer: { display: d.maker },
      form: { text: d.form },
      ingredient: [{ itemCodeableConcept: { text: d.name }, isActive: true, strength: { numerator: { value: d.strength, unit: d.strengthUnit, system: UCUM, code: d.strengthUnit }, denominator: { value: 1, unit: d.unit } } }],
    } as Resource);
    known?.set(d, medication);
  }
  const request = e.b.add({
    resourceType: 'MedicationRequest',
    status: 'completed',
    intent: 'order',
    medicationReference: medication,
    subject: e.patient,
    encounter: e.encounter,
    authoredOn: ordered,
    requester: doctor,
    dosageInstruction: [{
      text: `1 ${d.unit}/lần * ${d.perDay} lần/ngày * ${days} ngày`,
      timing: { repeat: { frequency: d.perDay, period: 1, periodUnit: 'd', boundsDuration: { value: days, unit: 'ngày', system: UCUM, code: 'd' } } },
      route: { coding: [{ system: `${CS}/duong-dung`, code: d.route.code, display: d.route.display }], text: d.route.display },
      doseAndRate: [{ doseQuantity: { value: 1, unit: d.unit } }],
    }],
    dispenseRequest: { quantity: { value: quantity, unit: d.unit }, expectedSupplyDuration: { value: days, unit: 'ngày', system: UCUM, code: 'd' } },
  } as Resource);
  chargeItem(e, {
    code: d.code, display: d.name, text: d.text, system: 'dmdc-thuoc', group: ['4', 'Thuốc trong danh mục BHYT'], price: d.price, quantity, unit: d.unit,
    ordered, executed: plusMinutes(ordered, 10), orderer: doctor, drug: true, tender: '312/QĐ-SYT;G1;N4;2024', product: medication, request,
  });
}

interface Line {
  code: string;
  display: string;
  text?: string;
  system: 'dmdc-dich-vu' | 'dmdc-thuoc' | 'dmdc-vat-tu';
  group: [string, string];
  price: number;
  quantity: number;
  unit: string;
  ordered: string;
  executed?: string;
  resulted?: string;
  orderer: { reference: string };
  performers?: { reference: string }[];
  machine?: string;
  bed?: string;
  tender?: string;
  drug?: boolean;
  service?: { reference: string };
  product?: { reference: string };
  request?: { reference: string };
}

/** A billed line with its QĐ 4750 §3.8 amounts, worked out in whole cents (prices are whole đồng). */
function chargeItem(e: Episode, l: Line): void {
  const amount = l.price * l.quantity;
  const fundCents = amount * e.person.benefit;
  const fund = fundCents / 100;
  const copay = (amount * 100 - fundCents) / 100;
  const role = (code: string, display: string, actor: { reference: string }) => ({ function: { coding: [{ system: `${CS}/vai-tro-nhan-vien`, code, display }] }, actor });
  const parts = [
    { url: 'costGroup', valueCoding: { system: `${CS}/nhom-chi-phi`, code: l.group[0], display: l.group[1] } },
    { url: 'scope', valueCoding: { system: `${CS}/pham-vi`, code: '1', display: 'Trong phạm vi hưởng BHYT' } },
    { url: 'unitPrice', valueDecimal: l.price },
    ...(l.drug ? [] : [{ url: 'insurancePrice', valueDecimal: l.price }, { url: 'serviceRatio', valueInteger: 100 }]),
    { url: 'insuranceRatio', valueInteger: 100 },
    { url: 'benefitLevel', valueInteger: e.person.benefit },
    { url: 'paymentMethod', valueCoding: { system: `${CS}/phuong-thuc-thanh-toan`, code: '1', display: 'Phí dịch vụ' } },
    ...(l.drug ? [{ url: 'fundingSource', valueCoding: { system: `${CS}/nguon-chi-tra`, code: '1', display: 'Quỹ BHYT' } }] : []),
    ...(l.tender ? [{ url: 'tender', valueString: l.tender }] : []),
    ...(l.machine ? [{ url: 'machine', valueString: l.machine }] : []),
    ...(l.bed ? [{ url: 'bed', valueString: l.bed }] : []),
    ...(l.executed ? [{ url: 'executed', valueDateTime: l.executed }] : []),
    ...(l.resulted ? [{ url: 'resulted', valueDateTime: l.resulted }] : []),
    { url: 'amountHospital', valueDecimal: amount },
    { url: 'amountInsurance', valueDecimal: amount },
    { url: 'patientPays', valueDecimal: 0 },
    { url: 'patientCopay', valueDecimal: copay },
    { url: 'fundPays', valueDecimal: fund },
  ];
  e.b.add({
    resourceType: 'ChargeItem',
    extension: [{ url: `${EXT}/hb-ext-claim-line`, extension: parts }],
    status: 'billable',
    code: { coding: [{ system: `${CS}/${l.system}`, code: l.code, display: l.display }], text: l.text ?? l.display },
    subject: e.patient,
    context: e.encounter,
    occurrenceDateTime: l.ordered,
    performer: [role('chi-dinh', 'Người chỉ định', l.orderer), ...(l.performers ? [role('thuc-hien', 'Người thực hiện', l.performers[0]), role('doc-ket-qua', 'Người đọc kết quả', l.performers[1])] : [])],
    costCenter: { identifier: { system: `${CANONICAL}/sid/ma-khoa`, value: e.department.code }, display: e.department.name },
    quantity: { value: l.quantity, unit: l.unit },
    reason: [{ coding: [{ system: ICD, code: e.diagnosis.icd, display: e.diagnosis.display }] }],
    ...(l.service ? { service: [l.service] } : {}),
    ...(l.product ? { productReference: l.product } : {}),
    ...(l.request ? { supportingInformation: [l.request] } : {}),
  } as Resource);
}

function progressNote(e: Episode, when: string, doctor: { reference: string }, problem: { reference: string }, day: number): void {
  e.b.add({
    resourceType: 'ClinicalImpression',
    extension: [{ url: `${EXT}/hb-ext-progress`, extension: [{ url: 'stage', valueString: `Ngày điều trị thứ ${day + 1}` }] }],
    status: 'completed',
    subject: e.patient,
    encounter: e.encounter,
    effectiveDateTime: when,
    assessor: doctor,
    description: PROGRESS_NOTES[day % PROGRESS_NOTES.length],
    problem: [problem],
  } as Resource);
}

function dischargePaper(e: Episode, record: string, when: string, doctor: { reference: string }, d: Diagnosis): void {
  const section = (code: string, title: string, text: string) => ({
    title,
    code: { coding: [{ system: `${CS}/muc-giay-to`, code, display: title }] },
    text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml"><p>${text}</p></div>` },
  });
  e.b.add({
    resourceType: 'Composition',
    extension: [
      { url: `${EXT}/hb-ext-document-number`, valueIdentifier: { type: { coding: [{ system: `${CS}/so-giay-to`, code: 'so-luu-tru', display: 'Số lưu trữ' }] }, value: record } },
      { url: `${EXT}/hb-ext-department`, valueIdentifier: { system: `${CANONICAL}/sid/ma-khoa`, value: e.department.code } },
    ],
    status: 'final',
    type: { coding: [{ system: `${CS}/loai-giay-to`, code: 'giay-ra-vien', display: 'Giấy ra viện' }] },
    subject: e.patient,
    encounter: e.encounter,
    date: when,
    author: [doctor],
    title: 'Giấy ra viện',
    attester: [{ mode: 'legal', time: when, party: e.staff[0] }],
    custodian: e.org,
    section: [
      section('chan-doan-ra-vien', 'Chẩn đoán ra viện', `${d.text} (${d.icd})`),
      section('phuong-phap-dieu-tri', 'Phương pháp điều trị', 'Điều trị nội khoa theo phác đồ.'),
    ],
  } as Resource);
}

function appointment(e: Episode, reason: { reference: string }, start: string, created: string, doctor: { reference: string }, number: string): void {
  e.b.add({
    resourceType: 'Appointment',
    identifier: [{ type: { coding: [{ system: `${CS}/so-giay-to`, code: 'so-giay-hen', display: 'Số giấy hẹn khám lại' }] }, value: number }],
    status: 'booked',
    appointmentType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0276', code: 'FOLLOWUP', display: 'A follow up visit from a previous appointment' }] },
    reasonReference: [reason],
    description: 'Tái khám theo hẹn',
    start,
    end: plusMinutes(start, 15),
    created,
    supportingInformation: [e.encounter],
    participant: [
      { actor: e.patient, required: 'required', status: 'accepted' },
      { type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'ATND', display: 'attender' }] }], actor: doctor, required: 'required', status: 'accepted' },
    ],
  } as Resource);
}

// Dates are written in Vietnam time (+07:00), as hospital systems there send them.
const DAY_MS = 86_400_000;

/** A day of 2025 (January to October) for episode `index`. */
function episodeDay(rng: Random, index: number): string {
  const offset = (index * 13 + Math.floor(rng() * 7)) % 300;
  return new Date(Date.UTC(2025, 0, 1) + offset * DAY_MS).toISOString().slice(0, 10);
}

function at(day: string, hour: number, minute: number): string {
  return `${day}T${pad(hour, 2)}:${pad(minute, 2)}:00+07:00`;
}

function plusMinutes(iso: string, minutes: number): string {
  return vnIso(new Date(Date.parse(iso) + minutes * 60_000));
}

function vnIso(d: Date): string {
  return `${new Date(d.getTime() + 7 * 3_600_000).toISOString().slice(0, 19)}+07:00`;
}

function uuid(rng: Random): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(rng() * 16).toString(16));
  hex[12] = '4';
  hex[16] = ((Math.floor(rng() * 4) + 8).toString(16));
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

function pick<T>(rng: Random, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)];
}

function pickSome<T>(rng: Random, items: readonly T[], n: number): T[] {
  const pool = [...items];
  const out: T[] = [];
  while (out.length < n && pool.length) out.push(pool.splice(Math.floor(rng() * pool.length), 1)[0]);
  return out;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');
const round1 = (x: number) => Math.round(x * 10) / 10;
