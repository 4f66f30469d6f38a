import { randomBytes } from 'node:crypto';
import type {
  AuditEvent, Bundle, CapabilityStatement, Coverage, CoverageEligibilityRequest, CoverageEligibilityResponse, Encounter, OperationOutcome, Organization, Patient, Provenance, Reference, Resource,
} from '@medplum/fhirtypes';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sampleCards, startPortalSimulator, type PortalSimulator, type SimCard } from '../../conformance/portal-sim/index.js';
import { CANONICAL, SID } from '../../gateway/fhir/vn.js';
import { organization, patient as fixturePatient } from '../support/fixtures.js';
import { FHIR_JSON, startGateway, type TestGateway } from '../support/gateway.js';
import { STORES } from '../support/stores.js';

/**
 * The reception desk's card check, end to end over HTTP: CoverageEligibilityRequest/$submit on the
 * gateway, the card lookup of the portal simulator (every result-code family), the Coverage the
 * gateway keeps from BHXH's answer, the AuditEvent naming the lookup officer, and outages.
 */
const YEAR = new Date(Date.now() + 7 * 3_600_000).getUTCFullYear();
const CARDS = new Map(sampleCards(YEAR).map((c) => [c.maThe, c]));
const card = (maThe: string): SimCard => CARDS.get(maThe)!;
const LAN = card('DK2101002845163');
const MAI = card('GD4101004455667');

const OFFICER = { hoTen: 'Nguyễn Thị Tiếp Đón', cccd: '010190001234' };
const FACILITIES = {
  /** Account and officer registered. */
  main: { code: '10085', password: 'mk-10085' },
  /** The gateway's officer has a CCCD BHXH does not know: 054. */
  unregistered: { code: '10099', password: 'mk-10099' },
  /** BHXH knows the officer's CCCD under another name: 055. */
  misnamed: { code: '10088', password: 'mk-10088' },
  /** The gateway holds a wrong portal password. */
  refused: { code: '10066', password: 'mk-10066' },
  /** The portal at an address where nothing listens. */
  down: { code: '10055', password: 'mk-10055' },
  /** No portal account at all. */
  none: { code: '10077', password: '' },
};

const isoDay = (portal: string) => (portal.length === 4 ? portal : `${portal.slice(6)}-${portal.slice(3, 5)}-${portal.slice(0, 2)}`);
/** A patient as the desk types it from the card. */
const person = (c: SimCard, over: Partial<Patient> = {}): Patient => ({
  resourceType: 'Patient',
  name: [{ text: c.hoTen }],
  birthDate: isoDay(c.ngaySinh),
  identifier: [{ system: SID.bhyt, value: c.maThe }],
  ...over,
});
const atFacility = (code: string): Reference<Organization> => ({ identifier: { system: SID.maCskcb, value: code } });
/** A request with the patient contained (a new patient at the desk) or referenced (`Patient/{id}`). */
const eligibility = (who: Patient | string, provider: Reference<Organization> = atFacility(FACILITIES.main.code), extra: Partial<CoverageEligibilityRequest> = {}): CoverageEligibilityRequest => ({
  resourceType: 'CoverageEligibilityRequest',
  status: 'active',
  purpose: ['validation', 'benefits'],
  created: new Date().toISOString(),
  insurer: { display: 'Bảo hiểm xã hội Việt Nam' },
  provider,
  ...(typeof who === 'string' ? { patient: { reference: who } } : { contained: [{ ...who, id: 'p' }], patient: { reference: '#p' } }),
  ...extra,
});

describe.each(STORES)('reception card check on $name', (store) => {
  let gw: TestGateway;
  let sim: PortalSimulator;
  const orgIds: Record<string, string> = {};
  let lanId = '';

  const submit = (body: unknown, lang = 'en') => gw.http.post('/fhir/CoverageEligibilityRequest/$submit').set('Content-Type', FHIR_JSON).set('Accept-Language', lang).send(body as object);
  const answer = async (body: unknown, lang = 'en'): Promise<CoverageEligibilityResponse> => {
    const r = await submit(body, lang);
    expect(r.status, JSON.stringify(r.body).slice(0, 600)).toBe(200);
    expect(r.body.resourceType).toBe('CoverageEligibilityResponse');
    return r.body as CoverageEligibilityResponse;
  };
  const search = async <T extends Resource>(query: string): Promise<T[]> => {
    const r = await gw.http.get(`/fhir/${query}`);
    expect(r.status, JSON.stringify(r.body).slice(0, 400)).toBe(200);
    return ((r.body as Bundle).entry ?? []).map((e) => e.resource as T);
  };
  const contained = <T extends Resource>(res: CoverageEligibilityResponse, ref: string | undefined) => res.contained?.find((c) => `#${c.id}` === ref) as T | undefined;
  const errorCode = (res: CoverageEligibilityResponse) => res.error?.[0]?.code.coding?.[0]?.code;

  beforeAll(async () => {
    const account = (f: { code: string; password: string }) => ({ username: `${f.code}_BV`, password: f.password, facility: f.code });
    sim = await startPortalSimulator({
      accounts: [FACILITIES.main, FACILITIES.unregistered, FACILITIES.misnamed, FACILITIES.refused].map(account),
      trustAnchors: [],
      officers: [
        { facility: FACILITIES.main.code, ...OFFICER },
        { facility: FACILITIES.misnamed.code, hoTen: 'Trần Văn Khác', cccd: '010190005678' },
      ],
    });
    gw = await startGateway(store, {}, {
      GATEWAY_MODE: 'production',
      GATEWAY_MASTER_KEY: randomBytes(32).toString('base64'),
      BHXH_PORTAL_URL: sim.url,
      RECEPTION_TIMEOUT_MS: '1500',
      RECEPTION_CACHE_SECONDS: '300',
    });
    for (const [key, f] of Object.entries(FACILITIES)) {
      const r = await gw.http.post('/fhir/Organization').set('Content-Type', FHIR_JSON).send(organization(f.code, `Cơ sở ${f.code}`));
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      orgIds[key] = r.body.id;
    }
    const credentials = async (key: keyof typeof FACILITIES, officer: { hoTen: string; cccd: string }, password: string, portalUrl?: string) => {
      const r = await gw.http.post(`/fhir/Organization/${orgIds[key]}/$credentials`).set('Content-Type', FHIR_JSON).send({
        resourceType: 'Parameters',
        parameter: [
          { name: 'portalUsername', valueString: `${FACILITIES[key].code}_BV` },
          { name: 'portalPassword', valueString: password },
          ...(portalUrl ? [{ name: 'portalUrl', valueUrl: portalUrl }] : []),
          { name: 'lookupOfficerName', valueString: officer.hoTen },
          { name: 'lookupOfficerCccd', valueString: officer.cccd },
        ],
      });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      // The officer's CCCD is sealed like a password: never echoed.
      expect(JSON.stringify(r.body)).not.toContain(officer.cccd);
      expect(JSON.stringify(r.body)).toContain(officer.hoTen);
    };
    await credentials('main', OFFICER, FACILITIES.main.password);
    await credentials('unregistered', { hoTen: 'Lê Văn Mới', cccd: '010190009999' }, FACILITIES.unregistered.password);
    await credentials('misnamed', { hoTen: 'Trần Văn Khắc', cccd: '010190005678' }, FACILITIES.misnamed.password);
    await credentials('refused', OFFICER, 'not-the-password');
    await credentials('down', OFFICER, FACILITIES.down.password, 'http://127.0.0.1:9');

    const lan = await gw.http.post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(
      fixturePatient('010167004521', { name: [{ family: 'Hoàng', given: ['Thị', 'Lan'], text: 'Hoàng Thị Lan' }], gender: 'female', birthDate: '1967-08-14', identifier: [{ system: SID.cccd, value: '010167004521' }, { system: SID.bhyt, value: LAN.maThe }] } as Partial<Resource>),
    );
    expect(lan.status, JSON.stringify(lan.body)).toBe(201);
    lanId = lan.body.id;
  });
  afterAll(async () => {
    await gw?.close();
    await sim?.close();
  });
  beforeEach(() => sim.setLookupFaults({}));

  it('lists $submit on CoverageEligibilityRequest in the CapabilityStatement', async () => {
    const cs = (await gw.http.get('/fhir/metadata')).body as CapabilityStatement;
    const type = cs.rest![0].resource!.find((r) => r.type === 'CoverageEligibilityRequest');
    expect(type?.operation?.map((o) => o.name)).toContain('submit');
    expect(cs.rest![0].resource!.find((r) => r.type === 'Encounter')?.operation?.find((o) => o.name === 'submit')?.documentation).toMatch(/claim file/);
  });

  it('a valid card (000) of a stored patient: validity, MA_DKBD, benefit level, five-year date, recent visits; the Coverage written from BHXH’s answer; the officer audited', async () => {
    const before = sim.lookups().length;
    const res = await answer(eligibility(`Patient/${lanId}`));
    expect(res.id).toBeDefined();
    expect(res.outcome).toBe('complete');
    expect(res.error).toBeUndefined();
    expect(res.patient.reference).toBe(`Patient/${lanId}`);
    expect(res.requestor?.reference).toBe(`Organization/${orgIds.main}`);
    const [ins] = res.insurance!;
    expect(ins.inforce).toBe(true);
    expect(ins.benefitPeriod).toEqual({ start: `${YEAR}-01-01`, end: `${YEAR}-12-31` });
    expect(ins.item?.[0].benefit?.[0].allowedUnsignedInt).toBe(100); // level 2 (DK2…): 100 %
    const cov = contained<Coverage>(res, ins.coverage.reference)!;
    expect(cov.identifier).toEqual([{ system: SID.bhyt, value: LAN.maThe }]);
    expect(cov.extension).toEqual(expect.arrayContaining([
      { url: `${CANONICAL}/StructureDefinition/hb-ext-registration-facility`, valueIdentifier: { system: SID.maCskcb, value: '10085' } },
      { url: `${CANONICAL}/StructureDefinition/hb-ext-five-years`, valueDate: '2019-01-01' },
      { url: `${CANONICAL}/StructureDefinition/hb-ext-area`, valueCoding: { system: `${CANONICAL}/CodeSystem/khu-vuc`, code: 'K2' } },
    ]));
    expect(cov.class?.find((c) => c.type.coding?.[0].code === 'plan')?.value).toBe('2');
    expect(res.language).toBe('en');
    expect(res.disposition).toMatch(/^The card is valid\. Card: DK2101002845163, valid 01\/01\/\d{4}–31\/12\/\d{4}, registered at 10085, benefit level 2 \(100%\), five continuous years from 01\/01\/2019\./);

    // The recent visits, as Encounters a doctor's system shows: where, when, what, how it ended.
    const visits = (res.extension ?? []).filter((e) => e.url.endsWith('/hb-ext-recent-encounter')).map((e) => contained<Encounter>(res, e.valueReference?.reference)!);
    expect(visits).toHaveLength(2);
    expect(visits.map((v) => v.serviceProvider?.identifier?.value)).toEqual(['10085', '10001']);
    expect(visits[0]).toMatchObject({ status: 'finished', reasonCode: [{ text: 'Tăng huyết áp vô căn (nguyên phát)' }], subject: { reference: `Patient/${lanId}` } });
    expect(visits[0].period?.start).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00\+07:00$/);
    expect(visits[1].hospitalization?.dischargeDisposition?.coding?.[0]).toEqual({ system: `${CANONICAL}/CodeSystem/loai-ra-vien`, code: '1' });

    // The lookup went out with the facility's account and its registered officer.
    const sent = sim.lookups().slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ username: '10085_BV', facility: '10085', maThe: LAN.maThe, hoTenCb: OFFICER.hoTen, cccdCb: OFFICER.cccd, maKetQua: '000' });

    // The Coverage the gateway keeps now carries what BHXH knows.
    const [coverage] = await search<Coverage>(`Coverage?beneficiary=Patient/${lanId}`);
    expect(coverage.meta?.versionId).toBe('1');
    expect(coverage.identifier?.[0]).toEqual({ system: SID.bhyt, value: LAN.maThe });
    expect(coverage.period).toEqual({ start: `${YEAR}-01-01`, end: `${YEAR}-12-31` });
    expect(coverage.payor?.[0].display).toBe(LAN.cqBHXH);

    // The stored response, and the AuditEvent naming the officer (name and CCCD) and what was written.
    expect((await gw.http.get(`/fhir/CoverageEligibilityResponse/${res.id}`)).body.outcome).toBe('complete');
    const [audit] = await search<AuditEvent>(`AuditEvent?entity=Patient/${lanId}`);
    expect(audit.outcome).toBe('0');
    expect(audit.outcomeDesc).toContain('maKetQua 000');
    expect(audit.agent.find((a) => a.requestor)?.who).toEqual({ identifier: { system: SID.cccd, value: OFFICER.cccd }, display: OFFICER.hoTen });
    expect(audit.agent.find((a) => a.altId)?.altId).toBe('10085_BV');
    expect(audit.entity?.map((e) => e.what?.reference)).toEqual([`Patient/${lanId}`, `CoverageEligibilityResponse/${res.id}`, `Coverage/${coverage.id}`]);

    // In Vietnamese, the gateway's default.
    const vi = await answer(eligibility(`Patient/${lanId}`), 'vi');
    expect(vi.language).toBe('vi');
    expect(vi.disposition).toMatch(/^Thẻ còn giá trị sử dụng\. Thẻ: DK2101002845163, hạn 01\/01\/\d{4}–31\/12\/\d{4}, nơi ĐKBĐ 10085, mức hưởng 2 \(100%\), đủ 5 năm liên tục từ 01\/01\/2019\./);
  });

  it('corrects a Coverage the HIS changed, as a new version; the same answer again makes none — from the cache or not', async () => {
    const [coverage] = await search<Coverage>(`Coverage?beneficiary=Patient/${lanId}`);
    const his = { ...coverage, meta: undefined, period: { start: '2020-01-01', end: '2020-12-31' }, extension: coverage.extension?.filter((e) => !e.url.endsWith('/hb-ext-registration-facility')) };
    const put = await gw.http.put(`/fhir/Coverage/${coverage.id}`).set('Content-Type', FHIR_JSON).send(his);
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body.meta.versionId).toBe('2');

    const before = sim.lookups().length;
    await answer(eligibility(`Patient/${lanId}`));
    expect(sim.lookups().length).toBe(before); // answered from the short cache: no call to the portal
    const now = (await gw.http.get(`/fhir/Coverage/${coverage.id}`)).body as Coverage;
    expect(now.meta?.versionId).toBe('3');
    expect(now.period).toEqual({ start: `${YEAR}-01-01`, end: `${YEAR}-12-31` });
    expect(now.extension?.find((e) => e.url.endsWith('/hb-ext-registration-facility'))?.valueIdentifier?.value).toBe('10085');

    await answer(eligibility(`Patient/${lanId}`));
    const history = (await gw.http.get(`/fhir/Coverage/${coverage.id}/_history`)).body as Bundle;
    expect(history.entry?.map((e) => (e.resource as Coverage).period?.end)).toEqual([`${YEAR}-12-31`, '2020-12-31', `${YEAR}-12-31`]);
    expect(await search<Coverage>(`Coverage?beneficiary=Patient/${lanId}`)).toHaveLength(1);
    const audits = await search<AuditEvent>(`AuditEvent?entity=Patient/${lanId}`);
    expect(audits).toHaveLength(4);
    expect(audits.filter((a) => a.outcomeDesc?.includes('cache'))).toHaveLength(3);
  });

  it('a new card issued for an expired one (003): both Coverages, the new one linked to the old by a Provenance', async () => {
    const mai = await gw.http.post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(
      fixturePatient('010164002222', { name: [{ text: MAI.hoTen, family: 'Trần', given: ['Thị', 'Mai'] }], gender: 'female', birthDate: isoDay(MAI.ngaySinh), identifier: [{ system: SID.cccd, value: '010164002222' }] } as Partial<Resource>),
    );
    expect(mai.status, JSON.stringify(mai.body)).toBe(201);
    const maiId = mai.body.id as string;
    // The receptionist scanned the old card: it is the request's insurance.
    const res = await answer(eligibility(`Patient/${maiId}`, atFacility('10085'), { contained: [{ resourceType: 'Coverage', id: 'c', status: 'active', identifier: [{ system: SID.bhyt, value: MAI.maThe }], beneficiary: { reference: `Patient/${maiId}` }, payor: [{ display: 'BHXH' }] } as Coverage], insurance: [{ coverage: { reference: '#c' } }] }));
    expect(res.outcome).toBe('complete');
    expect(errorCode(res)).toBe('003');
    expect(res.insurance?.map((i) => [contained<Coverage>(res, i.coverage.reference)?.identifier?.[0].value, i.inforce])).toEqual([[MAI.maThe, false], [MAI.newCard!.maThe, true]]);
    expect(res.disposition).toContain(`New card: ${MAI.newCard!.maThe}, valid 01/01/${YEAR}–31/12/${YEAR}`);

    const coverages = await search<Coverage>(`Coverage?beneficiary=Patient/${maiId}`);
    const old = coverages.find((c) => c.identifier?.[0].value === MAI.maThe)!;
    const fresh = coverages.find((c) => c.identifier?.[0].value === MAI.newCard!.maThe)!;
    expect(old.period).toEqual({ start: `${YEAR - 1}-01-01`, end: `${YEAR - 1}-12-31` });
    expect(fresh.period).toEqual({ start: `${YEAR}-01-01`, end: `${YEAR}-12-31` });
    const [link] = await search<Provenance>(`Provenance?entity=Coverage/${old.id}`);
    expect(link.target[0].reference).toBe(`Coverage/${fresh.id}`);
    expect(link.entity?.[0]).toMatchObject({ role: 'revision', what: { reference: `Coverage/${old.id}` } });
    expect(link.reason?.[0].coding?.[0].code).toBe('003');

    // Again: the same two Coverages, no second link.
    await answer(eligibility(`Patient/${maiId}`, atFacility('10085'), { contained: [{ resourceType: 'Coverage', id: 'c', status: 'active', identifier: [{ system: SID.bhyt, value: MAI.maThe }], beneficiary: { reference: `Patient/${maiId}` }, payor: [{ display: 'BHXH' }] } as Coverage], insurance: [{ coverage: { reference: '#c' } }] }));
    expect(await search<Coverage>(`Coverage?beneficiary=Patient/${maiId}`)).toHaveLength(2);
    expect(await search<Provenance>(`Provenance?entity=Coverage/${old.id}`)).toHaveLength(1);
  });

  it('a new patient at the desk (contained): the answer contains the patient, nothing is written but the response and the audit', async () => {
    const duc = card('TE1101005566778');
    const res = await answer(eligibility(person(duc)));
    expect(errorCode(res)).toBe('004');
    expect(res.patient.reference).toBe('#patient');
    expect(contained<Patient>(res, '#patient')?.name?.[0].text).toBe(duc.hoTen);
    expect(res.insurance?.map((i) => i.inforce)).toEqual([true, false]); // the old card until year end, the new one from next year
    expect(await search<Coverage>(`Coverage?identifier=${SID.bhyt}|${duc.maThe}`)).toEqual([]);
    const [audit] = await search<AuditEvent>(`AuditEvent?entity=CoverageEligibilityResponse/${res.id}`);
    expect(audit.entity?.[0].what).toEqual({ identifier: { system: SID.bhyt, value: duc.maThe } });
  });

  it('a card looked up by the CCCD alone (NĐ 188/2025), and a birth year without day and month', async () => {
    const byCccd = await answer(eligibility(person(LAN, { identifier: [{ system: SID.cccd, value: '010167004521' }] })));
    expect(errorCode(byCccd)).toBeUndefined();
    expect(contained<Coverage>(byCccd, byCccd.insurance?.[0].coverage.reference)?.identifier?.[0].value).toBe(LAN.maThe);
    // The contained patient holds Lan's CCCD: she is the stored patient, so her Coverage is the one written.
    expect(byCccd.patient.reference).toBe(`Patient/${lanId}`);

    const phu = card('HN1101003456789');
    const res = await answer(eligibility(person(phu)));
    expect(res.outcome).toBe('complete');
    expect(sim.lookups().at(-1)).toMatchObject({ maThe: phu.maThe, maKetQua: '000' });
  });

  /** Every family of result codes, as the receptionist sees it. */
  const families: { name: string; code: string; outcome: 'complete' | 'error'; who: () => Patient; facility?: keyof typeof FACILITIES; inforce?: boolean; vi: RegExp }[] = [
    { name: 'Ministry of Defence card', code: '001', outcome: 'complete', who: () => person(card('QN5971234500011')), vi: /Bộ Quốc phòng/ },
    { name: 'Public Security card', code: '002', outcome: 'complete', who: () => person(card('CA5981234500022')), vi: /Bộ Công an/ },
    { name: 'expired', code: '010', outcome: 'complete', inforce: false, who: () => person(card('GD4101006677889')), vi: /^Thẻ hết giá trị sử dụng\..*chưa được hưởng BHYT/ },
    { name: 'no such card', code: '050', outcome: 'error', who: () => person(LAN, { identifier: [{ system: SID.bhyt, value: 'DK2101000000001' }] }), vi: /BHXH không tìm thấy thẻ/ },
    { name: 'wrong group characters', code: '051', outcome: 'error', who: () => person(LAN, { identifier: [{ system: SID.bhyt, value: 'DN2101002845163' }] }), vi: /Mã thẻ không đúng/ },
    { name: 'wrong province characters', code: '052', outcome: 'error', who: () => person(LAN, { identifier: [{ system: SID.bhyt, value: 'DK2791002845163' }] }), vi: /mã tỉnh/ },
    { name: 'wrong benefit character', code: '053', outcome: 'error', who: () => person(LAN, { identifier: [{ system: SID.bhyt, value: 'DK4101002845163' }] }), vi: /mức hưởng/ },
    { name: 'officer not registered', code: '054', outcome: 'error', facility: 'unregistered', who: () => person(LAN), vi: /Cán bộ tra cứu của cơ sở chưa được đăng ký với BHXH/ },
    { name: 'officer name not matching the CCCD', code: '055', outcome: 'error', facility: 'misnamed', who: () => person(LAN), vi: /Họ tên cán bộ tra cứu không khớp/ },
    { name: 'wrong name', code: '060', outcome: 'error', who: () => person(LAN, { name: [{ text: 'Hoàng Văn Nam' }] }), vi: /^Họ tên không đúng\. Họ tên người bệnh không khớp với thẻ BHYT/ },
    { name: 'wrong name, initials right', code: '061', outcome: 'error', who: () => person(LAN, { name: [{ text: 'Hoang Thi Lan' }] }), vi: /sai dấu/ },
    { name: 'wrong birth date', code: '070', outcome: 'error', who: () => person(LAN, { birthDate: '1967-08-15' }), vi: /^Ngày sinh không đúng\./ },
    { name: 'revoked', code: '110', outcome: 'complete', inforce: false, who: () => person(card('HN1101008899001')), vi: /thu hồi/ },
    { name: 'reduced', code: '120', outcome: 'complete', inforce: false, who: () => person(card('DN4101009900112')), vi: /báo giảm/ },
    { name: 'reduced, moved province', code: '121', outcome: 'complete', inforce: false, who: () => person(card('DN4101001011121')), vi: /tỉnh khác/ },
    { name: 'reduced, moved within province', code: '122', outcome: 'complete', inforce: false, who: () => person(card('DN4101001112131')), vi: /trong tỉnh/ },
    { name: 'reduced, re-enrolled', code: '123', outcome: 'complete', inforce: false, who: () => person(card('DN4101001213141')), vi: /tham gia lại/ },
    { name: 'reduced, stopped', code: '124', outcome: 'complete', inforce: false, who: () => person(card('GD4101001314151')), vi: /ngừng tham gia/ },
    { name: 'child without a card', code: '130', outcome: 'error', who: () => person(card('TE1101001415161')), vi: /Trẻ dưới 6 tuổi/ },
  ];
  it.each(families)('result $code ($name): outcome $outcome, the code as error, a Vietnamese disposition', async (f) => {
    const res = await answer(eligibility(f.who(), atFacility(FACILITIES[f.facility ?? 'main'].code)), 'vi');
    expect(res.outcome).toBe(f.outcome);
    expect(res.error?.[0].code.coding?.[0]).toMatchObject({ system: `${CANONICAL}/CodeSystem/ket-qua-tra-cuu-the`, code: f.code });
    expect(res.error?.[0].code.text).toBeTruthy(); // the portal's own words
    expect(res.disposition).toMatch(f.vi);
    if (f.inforce !== undefined) expect(res.insurance?.[0].inforce).toBe(f.inforce);
    if (f.outcome === 'error') expect(res.insurance).toBeUndefined();
    expect(sim.lookups().at(-1)?.maKetQua).toBe(f.code);
  });

  it('an invalid card reads as a receptionist needs it, in Vietnamese, with BHXH’s words kept', async () => {
    const res = await answer(eligibility(person(LAN, { name: [{ text: 'Hoàng Thị Hoa' }] })), 'vi');
    expect(res.language).toBe('vi');
    expect(res.disposition).toBe('Họ tên không đúng. Họ tên người bệnh không khớp với thẻ BHYT: kiểm tra lại họ tên (đủ dấu) trên thẻ hoặc CCCD rồi tra cứu lại.');
    expect(res.error).toEqual([{ code: { coding: [{ system: `${CANONICAL}/CodeSystem/ket-qua-tra-cuu-the`, code: '060', display: 'Họ tên không đúng' }], text: 'Họ tên không đúng!' } }]);
    const en = await answer(eligibility(person(LAN, { name: [{ text: 'Hoàng Thị Hoa' }] })), 'en');
    expect(en.language).toBe('en');
    expect(en.disposition).toMatch(/^Wrong name\. The patient’s name does not match the card/);
  });

  it('a revoked card cancels the Coverage the gateway held for it', async () => {
    const chu = card('HN1101008899001');
    const p = await gw.http.post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(fixturePatient('010170003333', { name: [{ text: chu.hoTen }], birthDate: isoDay(chu.ngaySinh) } as Partial<Resource>));
    const cov = await gw.http.post('/fhir/Coverage').set('Content-Type', FHIR_JSON).send({
      resourceType: 'Coverage', status: 'active', identifier: [{ system: SID.bhyt, value: chu.maThe }], beneficiary: { reference: `Patient/${p.body.id}` }, payor: [{ display: 'BHXH' }], period: { start: `${YEAR}-01-01`, end: `${YEAR}-12-31` },
    });
    expect(cov.status, JSON.stringify(cov.body)).toBe(201);
    const res = await answer(eligibility(`Patient/${p.body.id}`, atFacility('10085'), { insurance: [{ coverage: { reference: `Coverage/${cov.body.id}` } }] }));
    expect(errorCode(res)).toBe('110');
    const now = (await gw.http.get(`/fhir/Coverage/${cov.body.id}`)).body as Coverage;
    expect(now).toMatchObject({ status: 'cancelled', period: { start: `${YEAR}-01-01`, end: `${YEAR}-12-31` }, meta: { versionId: '2' } });
  });

  it('portal errors about the lookup itself (100, 101, a refused account) are a 502 OperationOutcome, audited, not a response', async () => {
    const unreadable = await submit(eligibility(person(card('DT2101007788990'))), 'vi');
    expect(unreadable.status).toBe(502);
    expect((unreadable.body as OperationOutcome).issue[0]).toMatchObject({ code: 'transient', diagnostics: expect.stringMatching(/^Cổng BHXH trả mã 100/) });

    sim.setLookupFaults({ serverError: true });
    const server = await submit(eligibility(person(card('GD4101006677889'), { name: [{ text: 'Lò Văn Hưng' }] })));
    expect(server.status).toBe(502);
    expect(server.body.issue[0].diagnostics).toMatch(/^The BHXH portal answered 101/);

    sim.setLookupFaults({});
    const refused = await submit(eligibility(person(LAN), atFacility(FACILITIES.refused.code)));
    expect(refused.status).toBe(502);
    expect(refused.body.issue[0]).toMatchObject({ code: 'login', diagnostics: expect.stringContaining('refused') });
    const audits = await search<AuditEvent>(`AuditEvent?outcome=8`);
    expect(audits.some((a) => a.agent.some((g) => g.altId === '10066_BV'))).toBe(true);
  });

  it('a portal that does not answer gives a 504 after the configured time, one that is down or broken a 502 — never a hang', async () => {
    sim.setLookupFaults({ timeout: true });
    const hung = await submit(eligibility(person(LAN, { name: [{ text: 'Hoàng Thị Lan Anh' }] })), 'vi');
    expect(hung.status).toBe(504);
    expect((hung.body as OperationOutcome).issue[0]).toMatchObject({ severity: 'error', code: 'timeout', diagnostics: expect.stringMatching(/^Cổng BHXH không trả lời trong 1\.5 giây: chưa tra cứu được thẻ/) });

    sim.setLookupFaults({ slowMs: 5_000 });
    const slow = await submit(eligibility(person(LAN, { name: [{ text: 'Hoàng Thị Lan Chi' }] })));
    expect(slow.status).toBe(504);
    expect(slow.body.issue[0].diagnostics).toMatch(/^The BHXH portal did not answer within 1\.5 s/);

    sim.setLookupFaults({ fail: 503 });
    const proxy = await submit(eligibility(person(LAN, { name: [{ text: 'Hoàng Thị Lan Hương' }] })));
    expect(proxy.status).toBe(502);
    expect(proxy.body.issue[0]).toMatchObject({ code: 'transient', diagnostics: expect.stringContaining('HTTP 503') });

    sim.setLookupFaults({});
    const down = await submit(eligibility(person(LAN), atFacility(FACILITIES.down.code)));
    expect(down.status).toBe(502);
    expect(down.body.issue[0].diagnostics).toMatch(/cannot be reached/);

    // The outage is audited, and a working portal answers again at once.
    const outages = await search<AuditEvent>('AuditEvent?outcome=8');
    expect(outages.filter((a) => a.outcomeDesc?.includes('no answer in time')).length).toBeGreaterThanOrEqual(2);
    expect((await answer(eligibility(person(LAN, { name: [{ text: 'Hoàng Thị Lan Anh' }] })))).outcome).toBe('error');
  });

  describe('bad requests: a 4xx OperationOutcome naming the place, and no call to the portal', () => {
    let before = 0;
    beforeEach(() => {
      before = sim.lookups().length;
    });
    const refused = async (body: unknown, status: number, expression: string, message: RegExp) => {
      const r = await submit(body);
      expect(r.status, JSON.stringify(r.body)).toBe(status);
      const issue = (r.body as OperationOutcome).issue[0];
      expect(issue.expression).toEqual([expression]);
      expect(issue.diagnostics).toMatch(message);
      expect(sim.lookups().length).toBe(before);
    };

    it('not a CoverageEligibilityRequest, or a Parameters without one', async () => {
      await refused({ resourceType: 'Patient' }, 400, 'CoverageEligibilityRequest.resourceType', /not Patient/);
      await refused({ resourceType: 'Parameters', parameter: [{ name: 'mode', valueCode: 'x' }] }, 400, 'Parameters.parameter', /"resource" parameter/);
      await refused({ resourceType: 'Parameters', parameter: [{ name: 'resource', resource: { resourceType: 'Patient' } }] }, 400, 'Parameters.parameter[0].resource.resourceType', /must be a CoverageEligibilityRequest/);
    });

    it('no patient, an unknown one, a contained one without birth date or with a malformed card', async () => {
      const { patient: _, ...without } = eligibility(`Patient/${lanId}`);
      await refused(without, 400, 'CoverageEligibilityRequest.patient', /patient is needed/);
      await refused(eligibility('Patient/does-not-exist'), 422, 'CoverageEligibilityRequest.patient.reference', /Patient\/does-not-exist is not known/);
      await refused(eligibility(person(LAN, { birthDate: undefined })), 400, 'CoverageEligibilityRequest.contained[0].birthDate', /birth date/);
      await refused(eligibility(person(LAN, { birthDate: '1967-08' })), 400, 'CoverageEligibilityRequest.contained[0].birthDate', /full birth date or a year/);
      await refused(eligibility(person(LAN, { name: [] })), 400, 'CoverageEligibilityRequest.contained[0].name', /name/);
      await refused(
        { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: eligibility(person(LAN, { identifier: [{ system: SID.bhyt, value: 'DK21-0100' }] })) }] },
        400, 'Parameters.parameter[0].resource.contained[0].identifier[0].value', /BHYT card "DK21-0100" is malformed/,
      );
      await refused(eligibility(person(LAN, { identifier: [] })), 400, 'CoverageEligibilityRequest.contained[0].identifier', /BHYT card .* or CCCD/);
    });

    it('no facility, one without MA_CSKCB, one without a portal account', async () => {
      const { provider: _, ...without } = eligibility(person(LAN));
      await refused(without, 400, 'CoverageEligibilityRequest.provider', /facility is needed/);
      const noCode = eligibility(person(LAN), { reference: '#org' });
      noCode.contained!.push({ resourceType: 'Organization', id: 'org', name: 'Phòng khám' });
      await refused(noCode, 400, 'CoverageEligibilityRequest.contained[1].identifier', /no MA_CSKCB/);
      await refused(eligibility(person(LAN), { reference: `Organization/${orgIds.none}` }), 422, 'CoverageEligibilityRequest.provider', /has no BHXH portal account/);
    });

    it('GET is not allowed: the lookup changes state', async () => {
      const r = await gw.http.get('/fhir/CoverageEligibilityRequest/$submit');
      expect(r.status).toBe(405);
    });
  });

  it('with the chained audit log on (AUDIT=on), the lookup is recorded there, officer included, and not stored as a resource', async () => {
    const audited = await startGateway(store, {}, {
      GATEWAY_MODE: 'production', GATEWAY_MASTER_KEY: randomBytes(32).toString('base64'), BHXH_PORTAL_URL: sim.url, AUDIT: 'on',
    });
    try {
      const org = await audited.http.post('/fhir/Organization').set('Content-Type', FHIR_JSON).send(organization(FACILITIES.main.code, 'Cơ sở chính'));
      expect(org.status).toBe(201);
      const creds = await audited.http.post(`/fhir/Organization/${org.body.id}/$credentials`).set('Content-Type', FHIR_JSON).send({
        resourceType: 'Parameters',
        parameter: [
          { name: 'portalUsername', valueString: `${FACILITIES.main.code}_BV` }, { name: 'portalPassword', valueString: FACILITIES.main.password },
          { name: 'lookupOfficerName', valueString: OFFICER.hoTen }, { name: 'lookupOfficerCccd', valueString: OFFICER.cccd },
        ],
      });
      expect(creds.status).toBe(200);
      const r = await audited.http.post('/fhir/CoverageEligibilityRequest/$submit').set('Content-Type', FHIR_JSON).send(eligibility(person(LAN)));
      expect(r.status, JSON.stringify(audited.logs.filter((l) => l.level === 50))).toBe(200);
      const stored = await audited.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resources WHERE resource_type = 'AuditEvent'`);
      expect(stored.rows[0].n).toBe(0);
      const { rows } = await audited.db.query<{ content: AuditEvent }>('SELECT content FROM audit_events');
      const lookup = rows.map((row) => row.content).find((e) => e.agent.some((a) => a.requestor && a.who?.identifier?.value === OFFICER.cccd));
      expect(lookup?.outcomeDesc).toContain('maKetQua 000');
    } finally {
      await audited.close();
    }
  });

  it('logs no card number, name or CCCD', () => {
    const text = JSON.stringify(gw.logs);
    for (const secret of [LAN.maThe, LAN.hoTen, '010167004521', OFFICER.cccd, OFFICER.hoTen, FACILITIES.main.password]) expect(text).not.toContain(secret);
    expect(gw.logs.some((l) => l.msg === 'card lookup: the BHXH portal did not answer')).toBe(true);
  });
});
