import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Encounter, Organization, Patient, Resource } from '@medplum/fhirtypes';
import { CANONICAL, SID } from '../fhir/vn.js';
import { PROFILES_DIR } from '../paths.js';
import type { Database } from '../store/database.js';
import { Repository } from '../store/repository.js';
import { seededRandom } from './seeded-random.js';

/**
 * A simulated month of a province's rollout, deterministic for a seed: facilities, patients,
 * episodes of every form of care, and where each episode's claim file got to (built, invalid,
 * held, queued, signed, sent, accepted or rejected, corrected versions, acceptance delays around
 * the 24-hour rule). The benchmark and the report tests share it.
 *
 * simulateMonth() is pure and returns plain facts (what a test counts on its own); writeSimulation()
 * puts them in a store the way the gateway keeps them: the resources in `resources` (with their
 * search index), the files in the `dossiers` outbox. Episodes are written directly, not through
 * validation and claim building: those have their own tests and benchmarks, and a month of 100,000
 * episodes through them would take an hour.
 */
export interface SimulationOptions {
  seed: number;
  /** `YYYY-MM`. */
  month: string;
  /** Episodes placed in the month; about 3 % more fall just outside it (the report must leave them out). */
  episodes: number;
  /** When the report is made (default: the 3rd of the next month, 08:00 Vietnam time — the Department's deadline). */
  now?: Date;
}

export type Identification = 'cccd' | 'the-bhyt' | 'khac';

export interface SimulatedFacility {
  organizationId: string;
  code: string;
  name: string;
  district: string;
  districtCode: string;
  province: string;
  provinceCode: string;
  /** Sent episodes before, none in the month: the report must name it. */
  quiet: boolean;
}

export interface SimulatedDossier {
  version: number;
  status: 'queued' | 'sending' | 'accepted' | 'rejected' | 'held' | 'invalid' | 'superseded';
  signed: boolean;
  createdAt: string;
  sentAt?: string;
  acceptedAt?: string;
  receipt?: { maKetQua: string; thongDiep?: string };
}

export interface SimulatedEpisode {
  encounterId: string;
  patientId: string;
  facility: string;
  organizationId: string;
  /** MA_LOAI_KCB. */
  careCode: string;
  /** Encounter.class VR: a telemedicine consultation. */
  virtual: boolean;
  /** MA_DOITUONG_KCB (9: not BHYT). */
  objectCode: string;
  status: 'finished' | 'in-progress';
  start: string;
  end?: string;
  identification: Identification;
  /** Claim files, oldest version first (none for an episode not finished). */
  dossiers: SimulatedDossier[];
  /** A check-in file (XML0) was sent too: the report must not count it as a claim. */
  checkin: boolean;
}

export interface Simulation {
  month: string;
  now: Date;
  facilities: SimulatedFacility[];
  episodes: SimulatedEpisode[];
}

const FACILITIES: Omit<SimulatedFacility, 'organizationId'>[] = [
  { code: '10001', name: 'Bệnh viện Đa khoa tỉnh Lào Cai', district: 'Thành phố Lào Cai', districtCode: '080', province: 'Tỉnh Lào Cai', provinceCode: '10', quiet: false },
  { code: '10002', name: 'Bệnh viện Sản Nhi tỉnh Lào Cai', district: 'Thành phố Lào Cai', districtCode: '080', province: 'Tỉnh Lào Cai', provinceCode: '10', quiet: false },
  { code: '10085', name: 'Trung tâm Y tế huyện Bắc Hà', district: 'Huyện Bắc Hà', districtCode: '085', province: 'Tỉnh Lào Cai', provinceCode: '10', quiet: false },
  { code: '10086', name: 'Trạm Y tế xã Na Hối', district: 'Huyện Bắc Hà', districtCode: '085', province: 'Tỉnh Lào Cai', provinceCode: '10', quiet: false },
  { code: '10099', name: 'Phòng khám Đa khoa Sa Pa', district: 'Thị xã Sa Pa', districtCode: '082', province: 'Tỉnh Lào Cai', provinceCode: '10', quiet: false },
  { code: '10120', name: 'Trung tâm Y tế huyện Si Ma Cai', district: 'Huyện Si Ma Cai', districtCode: '087', province: 'Tỉnh Lào Cai', provinceCode: '10', quiet: true },
];
const FACILITY_WEIGHTS = [30, 15, 30, 10, 15, 0];

/** MA_LOAI_KCB as a month of a province has them, with how long such an episode lasts (hours). */
const CARE: { code: string; weight: number; hours: [number, number]; klass: string }[] = [
  { code: '01', weight: 50, hours: [0.5, 4], klass: 'AMB' },
  { code: '02', weight: 6, hours: [48, 720], klass: 'AMB' },
  { code: '03', weight: 12, hours: [24, 240], klass: 'IMP' },
  { code: '04', weight: 4, hours: [4, 10], klass: 'SS' },
  { code: '05', weight: 3, hours: [0.5, 3], klass: 'AMB' },
  { code: '06', weight: 1, hours: [6, 72], klass: 'IMP' },
  { code: '07', weight: 9, hours: [0.2, 1], klass: 'AMB' },
  { code: '08', weight: 2, hours: [2, 6], klass: 'AMB' },
  { code: '09', weight: 1, hours: [1, 3.9], klass: 'IMP' },
  { code: '10', weight: 1, hours: [0.5, 2], klass: 'AMB' },
];
const OBJECTS: [string, number][] = [['1.1', 45], ['1.2', 15], ['1.3', 8], ['1.5', 4], ['2', 5], ['3.2', 3], ['7.1', 4], ['9', 16]];
const REJECTIONS: [string, string, number][] = [
  ['201', 'Thẻ BHYT không hợp lệ hoặc đã hết hạn', 40],
  ['202', 'Mã dịch vụ kỹ thuật không có trong danh mục đã phê duyệt', 25],
  ['203', 'Tổng chi phí XML1 không khớp chi tiết XML2, XML3', 20],
  ['204', 'Chữ ký số không hợp lệ hoặc chứng thư chưa đăng ký', 10],
  ['205', 'Trùng hồ sơ đã gửi (MA_LK)', 5],
];

const HOUR = 3_600_000;
const LOCAL_OFFSET = 7 * HOUR;


function pick<T>(rnd: () => number, items: T[], weight: (t: T) => number): T {
  const total = items.reduce((s, t) => s + weight(t), 0);
  let x = rnd() * total;
  for (const t of items) if ((x -= weight(t)) < 0) return t;
  return items[items.length - 1];
}

/** An instant as FHIR writes it in Vietnam: `2025-03-10T07:42:00+07:00`. */
export function localDateTime(ms: number): string {
  return new Date(Math.floor(ms / 60_000) * 60_000 + LOCAL_OFFSET).toISOString().slice(0, 19) + '+07:00';
}

export function monthBounds(month: string): [number, number] {
  const [y, m] = month.split('-').map(Number);
  return [Date.UTC(y, m - 1, 1) - LOCAL_OFFSET, Date.UTC(y, m, 1) - LOCAL_OFFSET];
}

export function simulateMonth(options: SimulationOptions): Simulation {
  const rnd = seededRandom(options.seed);
  const [start, end] = monthBounds(options.month);
  const now = options.now ?? new Date(end + 2 * 24 * HOUR + 8 * HOUR);
  const tag = `s${options.seed}`;
  const facilities = FACILITIES.map((f, i) => ({ ...f, organizationId: `${tag}-org-${i + 1}` }));
  const active = facilities.filter((_, i) => FACILITY_WEIGHTS[i] > 0);
  const quiet = facilities.filter((f) => f.quiet);

  const patients: { id: string; identification: Identification }[] = [];
  const patientFor = () => {
    // One patient in five comes back within the month.
    if (patients.length > 10 && rnd() < 0.2) return patients[Math.floor(rnd() * patients.length)];
    const x = rnd();
    const p = { id: `${tag}-pat-${patients.length + 1}`, identification: (x < 0.68 ? 'cccd' : x < 0.95 ? 'the-bhyt' : 'khac') as Identification };
    patients.push(p);
    return p;
  };

  const episodes: SimulatedEpisode[] = [];
  const outside = Math.ceil(options.episodes * 0.03);
  for (let n = 0; n < options.episodes + outside; n++) {
    const inMonth = n < options.episodes;
    const care = pick(rnd, CARE, (c) => c.weight);
    const virtual = care.code === '01' && rnd() < 0.08;
    const hours = care.hours[0] + rnd() * (care.hours[1] - care.hours[0]);
    // Outside the month: ended in the last days before it, or starting after it (a quiet facility's among them).
    const facility = inMonth ? pick(rnd, active, (f) => FACILITY_WEIGHTS[facilities.indexOf(f)]) : n % 3 === 0 && quiet.length ? quiet[0] : active[Math.floor(rnd() * active.length)];
    const endMs = inMonth ? start + rnd() * (end - start) : rnd() < 0.5 ? start - (1 + rnd() * 72 * 60) * 60_000 : end + (1 + rnd() * 72 * 60) * 60_000;
    const unfinished = inMonth && rnd() < 0.03 && endMs < now.getTime();
    const startMs = unfinished ? endMs : endMs - hours * HOUR;
    const patient = patientFor();
    const episode: SimulatedEpisode = {
      encounterId: `${tag}-enc-${n + 1}`,
      patientId: patient.id,
      facility: facility.code,
      organizationId: facility.organizationId,
      careCode: care.code,
      virtual,
      objectCode: pick(rnd, OBJECTS, (o) => o[1])[0],
      status: unfinished ? 'in-progress' : 'finished',
      start: localDateTime(startMs),
      ...(unfinished ? {} : { end: localDateTime(endMs) }),
      identification: patient.identification,
      dossiers: unfinished ? [] : claimHistory(rnd, Math.floor(endMs / 60_000) * 60_000, now.getTime()),
      checkin: !unfinished && rnd() < 0.6,
    };
    episodes.push(episode);
  }
  return { month: options.month, now, facilities, episodes };
}

/** What became of an episode's claim file, version by version, up to `now`. */
function claimHistory(rnd: () => number, endMs: number, now: number): SimulatedDossier[] {
  const built = endMs + (2 + rnd() * 20) * 60_000;
  const at = (ms: number) => new Date(Math.min(ms, now - 60_000)).toISOString();
  const reject = (): SimulatedDossier['receipt'] => {
    const [maKetQua, thongDiep] = pick(rnd, REJECTIONS, (r) => r[2]);
    return { maKetQua, thongDiep };
  };
  const accepted = (version: number, from: number): SimulatedDossier => {
    const x = rnd();
    const delay = x < 0.8 ? 0.1 + rnd() * 12 : x < 0.92 ? 12 + rnd() * 12 : 24.5 + rnd() * 72;
    const sentAt = from + Math.min(delay, 0.05 + rnd() * 0.5) * HOUR;
    const acceptedAt = from + delay * HOUR;
    // Not answered yet at the time of the report: still being sent (a transient failure, retried).
    if (acceptedAt >= now) return { version, status: 'queued', signed: true, createdAt: at(from), sentAt: at(Math.min(sentAt, now - 120_000)) };
    return { version, status: 'accepted', signed: true, createdAt: at(from), sentAt: at(sentAt), acceptedAt: at(acceptedAt), receipt: { maKetQua: '200', thongDiep: 'Tiếp nhận thành công' } };
  };
  const x = rnd();
  if (x < 0.03) return [{ version: 1, status: 'invalid', signed: false, createdAt: at(built) }];
  if (x < 0.05) return [{ version: 1, status: 'superseded', signed: false, createdAt: at(built) }, accepted(2, built + (3 + rnd() * 30) * HOUR)];
  if (x < 0.09) return [{ version: 1, status: 'held', signed: false, createdAt: at(built) }];
  if (x < 0.12) return [{ version: 1, status: 'queued', signed: false, createdAt: at(built) }];
  if (x < 0.19) {
    const sent = built + rnd() * 2 * HOUR;
    return [{ version: 1, status: 'rejected', signed: true, createdAt: at(built), sentAt: at(sent), receipt: reject() }];
  }
  if (x < 0.21) {
    const sent = built + rnd() * 2 * HOUR;
    return [{ version: 1, status: 'rejected', signed: true, createdAt: at(built), sentAt: at(sent), receipt: reject() }, accepted(2, sent + (2 + rnd() * 40) * HOUR)];
  }
  return [accepted(1, built)];
}

// --- into a store ------------------------------------------------------------------------------------

const outpatient = JSON.parse(readFileSync(join(PROFILES_DIR, 'examples', 'outpatient-visit.json'), 'utf8')) as { entry: { resource: Resource }[] };
const template = <T extends Resource>(type: string) => outpatient.entry.find((e) => e.resource.resourceType === type)!.resource as T;
const CS = (id: string) => `${CANONICAL}/CodeSystem/${id}`;
const LAST_NAMES = ['Nguyễn', 'Trần', 'Lê', 'Phạm', 'Hoàng', 'Vàng', 'Giàng', 'Lù', 'Sùng', 'Lò'];
const GIVEN = ['Thị Lan', 'Văn Minh', 'Seo Pao', 'Thị Mai', 'A Chứ', 'Văn Hùng', 'Thị Dung', 'Minh Anh'];

function organization(f: SimulatedFacility): Organization {
  return {
    resourceType: 'Organization',
    id: f.organizationId,
    identifier: [{ system: SID.maCskcb, value: f.code }],
    active: true,
    type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/organization-type', code: 'prov' }], text: 'Cơ sở khám bệnh, chữa bệnh' }],
    name: f.name,
    address: [{
      extension: [{ url: `${CANONICAL}/StructureDefinition/hb-ext-admin-unit`, extension: [{ url: 'province', valueCode: f.provinceCode }, { url: 'district', valueCode: f.districtCode }] }],
      district: f.district, state: f.province, country: 'VN',
    }],
  };
}

function patient(id: string, n: number, identification: Identification): Patient {
  const base = template<Patient>('Patient');
  const digits = String(100_000 + n).padStart(6, '0');
  const identifier: Patient['identifier'] = [];
  if (identification === 'cccd') identifier.push({ use: 'official', system: SID.cccd, value: `010${n % 2 ? '1' : '0'}67${digits}` });
  // Most people with a CCCD carry their BHYT card too; 'khac' is a foreigner with a passport only.
  if (identification === 'the-bhyt' || (identification === 'cccd' && n % 5 !== 0)) identifier.push({ system: SID.bhyt, value: `DK210${String(2_000_000_000 + n).slice(-10)}` });
  if (identification === 'khac') identifier.push({ system: SID.passport, value: `C${String(n).padStart(7, '0')}` });
  identifier.push({ use: 'usual', system: SID.maBn, value: `BN${String(n).padStart(8, '0')}` });
  return {
    ...base,
    id,
    identifier,
    name: [{ use: 'official', family: LAST_NAMES[n % LAST_NAMES.length], given: GIVEN[n % GIVEN.length].split(' '), text: `${LAST_NAMES[n % LAST_NAMES.length]} ${GIVEN[n % GIVEN.length]}` }],
    gender: n % 2 ? 'female' : 'male',
    birthDate: `${1940 + (n % 80)}-0${1 + (n % 9)}-1${n % 10}`,
  } as Patient;
}

function encounter(e: SimulatedEpisode, n: number): Encounter {
  const base = template<Encounter>('Encounter');
  const klass = e.virtual ? 'VR' : CARE.find((c) => c.code === e.careCode)!.klass;
  const period = { start: e.start, ...(e.end ? { end: e.end } : {}) };
  return {
    ...base,
    id: e.encounterId,
    extension: e.status === 'finished' ? base.extension : undefined,
    identifier: [{ system: SID.maLk, value: `${e.facility}-${e.encounterId}` }, { system: SID.maHsba, value: `HS${n}` }],
    status: e.status,
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: klass },
    type: [
      { coding: [{ system: CS('loai-kcb'), code: e.careCode }] },
      { coding: [{ system: CS('doi-tuong-kcb'), code: e.objectCode }] },
    ],
    subject: { reference: `Patient/${e.patientId}` },
    participant: base.participant?.map((p) => ({ ...p, individual: { reference: `Practitioner/${e.organizationId}-bs-${n % 7}` } })),
    period,
    diagnosis: base.diagnosis?.map((d, i) => ({ ...d, condition: { reference: `Condition/${e.encounterId}-dx-${i}` } })),
    location: base.location?.map((l) => ({ ...l, period })),
    serviceProvider: { reference: `Organization/${e.organizationId}` },
  } as Encounter;
}

/** Writes the simulation into a migrated store; `progress` hears the share done (0–1). */
export async function writeSimulation(db: Database, sim: Simulation, progress?: (done: number) => void): Promise<void> {
  const repo = new Repository(db);
  const lastUpdated = new Date(sim.now.getTime() - HOUR).toISOString();
  const put = (resources: Resource[]) =>
    repo.write(resources.map((r) => ({ resource: { ...r, id: r.id!, meta: { versionId: '1', lastUpdated } }, versionId: 1, lastUpdated, deleted: false })));

  await put(sim.facilities.map(organization));
  const seen = new Set<string>();
  const batch = 1000;
  for (let i = 0; i < sim.episodes.length; i += batch) {
    const slice = sim.episodes.slice(i, i + batch);
    const patients = slice.filter((e) => !seen.has(e.patientId) && seen.add(e.patientId)).map((e) => patient(e.patientId, Number(e.patientId.split('-').pop()), e.identification));
    await put([...patients, ...slice.map((e, j) => encounter(e, i + j + 1))]);
    await insertDossiers(db, slice);
    progress?.(Math.min(1, (i + batch) / sim.episodes.length));
  }
}

async function insertDossiers(db: Database, episodes: SimulatedEpisode[]): Promise<void> {
  const cols = { id: [] as string[], kind: [] as string[], facility: [] as string[], ma_lk: [] as string[], version: [] as number[], encounter: [] as string[], patient: [] as string[], org: [] as string[],
    signed: [] as (string | null)[], status: [] as string[], receipt: [] as (string | null)[], ended: [] as (string | null)[], created: [] as string[], sent: [] as (string | null)[], accepted: [] as (string | null)[] };
  const add = (e: SimulatedEpisode, kind: 'claim' | 'checkin', d: SimulatedDossier) => {
    cols.id.push(`${e.encounterId}-${kind}-${d.version}`);
    cols.kind.push(kind);
    cols.facility.push(e.facility);
    cols.ma_lk.push(`${e.facility}-${e.encounterId}`);
    cols.version.push(d.version);
    cols.encounter.push(e.encounterId);
    cols.patient.push(e.patientId);
    cols.org.push(e.organizationId);
    cols.signed.push(d.signed ? SIGNED : null);
    cols.status.push(d.status);
    cols.receipt.push(d.receipt ? JSON.stringify(d.receipt) : null);
    cols.ended.push(e.end ? new Date(e.end).toISOString() : null);
    cols.created.push(d.createdAt);
    cols.sent.push(d.sentAt ?? null);
    cols.accepted.push(d.acceptedAt ?? null);
  };
  for (const e of episodes) {
    for (const d of e.dossiers) add(e, 'claim', d);
    if (e.checkin) add(e, 'checkin', { version: 1, status: 'accepted', signed: true, createdAt: new Date(Date.parse(e.start) + 600_000).toISOString(), sentAt: new Date(Date.parse(e.start) + 660_000).toISOString(), acceptedAt: new Date(Date.parse(e.start) + 720_000).toISOString() });
  }
  if (cols.id.length === 0) return;
  await db.query(
    `INSERT INTO dossiers (id, kind, facility, ma_lk, version, encounter_id, patient_id, organization_id, standard, document, content_hash, signed, status, receipt, issues,
                           episode_ended_at, created_at, sent_at, accepted_at)
     SELECT id, kind, facility, ma_lk, version, encounter, patient, org, '3176', $16, 'simulated', signed, status, receipt::jsonb, '[]'::jsonb, ended, created, sent, accepted
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
                   $12::timestamptz[], $13::timestamptz[], $14::timestamptz[], $15::timestamptz[])
         AS t(id, kind, facility, ma_lk, version, encounter, patient, org, signed, status, receipt, ended, created, sent, accepted)`,
    [cols.id, cols.kind, cols.facility, cols.ma_lk, cols.version, cols.encounter, cols.patient, cols.org, cols.signed, cols.status, cols.receipt, cols.ended, cols.created, cols.sent, cols.accepted, DOCUMENT],
  );
}

/** The files' bytes do not matter to the reports; they are kept out of line by PostgreSQL as real ones are. */
const DOCUMENT = `<GIAMDINHHS><THONGTINDONVI><MACSKCB>simulated</MACSKCB></THONGTINDONVI>${'<HOSO/>'.repeat(200)}</GIAMDINHHS>`;
const SIGNED = DOCUMENT.replace('</GIAMDINHHS>', '<CHUKYDONVI>simulated</CHUKYDONVI></GIAMDINHHS>');
