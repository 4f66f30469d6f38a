import type { Bundle, BundleLink, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ICD10, SID } from '../support/fixtures.js';
import { FHIR_JSON, startGateway, type TestGateway } from '../support/gateway.js';
import { STORES } from '../support/stores.js';
import { structureValidator } from '../../gateway/validation/structure.js';

const BASE = 'http://gw.test/fhir';
const ACT = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
const SUBSETTED = 'SUBSETTED';

type Params = Record<string, string> | [string, string][];

/** The seeded data, by label. Patients first, then encounters, then conditions (they refer back). */
const PATIENTS: Record<string, Record<string, unknown>> = {
  an: {
    identifier: [{ system: SID.cccd, value: '079085001234' }],
    name: [{ family: 'Nguyễn', given: ['Văn', 'An'], text: 'Nguyễn Văn An' }],
    gender: 'male', birthDate: '1985-03-02',
    telecom: [{ system: 'phone', value: '0909123456', use: 'mobile' }],
    address: [{ line: ['123 Trần Hưng Đạo'], district: 'Quận 1', city: 'Hồ Chí Minh', country: 'VN' }],
    maritalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'M' }] },
    communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'vi' }] }, preferred: true }],
    contact: [{ name: { family: 'Nguyễn', given: ['Thị', 'Lan'] }, telecom: [{ system: 'phone', value: '0909654321' }] }],
  },
  binh: {
    identifier: [{ system: SID.cccd, value: '001190004567' }],
    name: [{ family: 'Nguyễn', given: ['Thị', 'Bình'], text: 'Nguyễn Thị Bình' }],
    gender: 'female', birthDate: '1990-07-15',
  },
  cuong: {
    identifier: [{ system: SID.cccd, value: '031078009876' }],
    name: [{ family: 'Trần', given: ['Văn', 'Cường'] }],
    gender: 'male', birthDate: '1978-11-20',
  },
  // A child: no CCCD yet.
  dung: {
    name: [{ family: 'Lê', given: ['Thị', 'Dung'] }],
    gender: 'female', birthDate: '2019-08-09',
  },
  // "Nguyên" as a given name: matches `nguyen` but not `nguyen van`.
  nguyen: {
    identifier: [{ system: SID.cccd, value: '038095002468' }],
    name: [{ family: 'Hoàng', given: ['Văn', 'Nguyên'] }],
    gender: 'male', birthDate: '1995-12-01',
  },
  khoa: {
    identifier: [{ system: SID.cccd, value: '036088007531' }],
    name: [{ family: 'Vũ', given: ['Minh', 'Khoa'] }],
    gender: 'male', birthDate: '1988-04-22',
  },
  // The same person imported from a legacy system that stored the CCCD number without its system.
  khoaLegacy: {
    identifier: [{ value: '036088007531' }],
    name: [{ text: 'VU MINH KHOA', family: 'Vu', given: ['Minh', 'Khoa'] }],
    gender: 'male', birthDate: '1988-04-22',
  },
};

describe.each(STORES)('REST search on $name', (store) => {
  let gw: TestGateway;
  /** label → id, and back */
  const ids: Record<string, string> = {};
  const labelOf = new Map<string, string>();
  const stored: Record<string, Resource> = {};

  const create = async (label: string, resource: Record<string, unknown>) => {
    const res = await gw.http.post(`/fhir/${resource.resourceType}`).set('Content-Type', FHIR_JSON).send(JSON.stringify(resource));
    expect(res.status).toBe(201);
    ids[label] = res.body.id;
    labelOf.set(`${res.body.resourceType}/${res.body.id}`, label);
    stored[label] = res.body;
  };
  const ref = (label: string) => `${stored[label].resourceType}/${ids[label]}`;

  beforeAll(async () => {
    // Search semantics are tested on data shaped for them (date-only periods, a patient without any
    // identifier, an identifier without a system) that the VN profiles would refuse: structural checks only.
    gw = await startGateway(store, { validator: structureValidator });
    for (const [label, p] of Object.entries(PATIENTS)) await create(label, { resourceType: 'Patient', ...p });

    const encounter = (patient: string, status: string, cls: string, period: { start?: string; end?: string } | undefined, maLk: string) => ({
      resourceType: 'Encounter', status,
      identifier: [{ system: SID.maLk, value: maLk }],
      class: { system: ACT, code: cls },
      subject: { reference: ref(patient) },
      ...(period ? { period } : {}),
    });
    // An outpatient visit on the morning of 1 May 2024 (Vietnam time).
    await create('eAn1', encounter('an', 'finished', 'AMB', { start: '2024-05-01T08:00:00+07:00', end: '2024-05-01T10:30:00+07:00' }, 'LK-2024-0001'));
    // An inpatient stay still open.
    await create('eAn2', encounter('an', 'in-progress', 'IMP', { start: '2024-06-10T14:00:00+07:00' }, 'LK-2024-0002'));
    // An inpatient stay recorded with dates only: all of 1, 2 and 3 May.
    await create('eBinh1', encounter('binh', 'finished', 'IMP', { start: '2024-05-01', end: '2024-05-03' }, 'LK-2024-0003'));
    // An emergency visit across midnight, 30 April to 1 May.
    await create('eBinh2', encounter('binh', 'finished', 'EMER', { start: '2024-04-30T22:00:00+07:00', end: '2024-05-01T02:00:00+07:00' }, 'LK-2024-0004'));
    // A planned visit without a period.
    await create('eCuong', encounter('cuong', 'planned', 'AMB', undefined, 'LK-2024-0005'));

    const condition = (patient: string, enc: string, code: string, display: string) => ({
      resourceType: 'Condition',
      subject: { reference: ref(patient) },
      encounter: { reference: ref(enc) },
      code: { coding: [{ system: ICD10, code, display }] },
      recordedDate: '2024-05-01T09:00:00+07:00',
    });
    await create('cAn1', condition('an', 'eAn1', 'J06.9', 'Nhiễm trùng hô hấp trên cấp'));
    await create('cAn2', condition('an', 'eAn1', 'I10', 'Tăng huyết áp vô căn'));
    await create('cBinh1', condition('binh', 'eBinh1', 'I10', 'Tăng huyết áp vô căn'));
    await create('cBinh2', condition('binh', 'eBinh2', 'S62.6', 'Gãy xương ngón tay khác'));
  });
  afterAll(() => gw.close());

  const query = (params: Params) => new URLSearchParams(params).toString();
  const get = (type: string, params: Params, headers: Record<string, string> = {}) => gw.http.get(`/fhir/${type}?${query(params)}`).set(headers);
  /** Searches and returns the bundle (asserting the 200). */
  const search = async (type: string, params: Params): Promise<Bundle> => {
    const res = await get(type, params);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.type).toBe('searchset');
    return res.body;
  };
  const entriesOf = (bundle: Bundle, mode: 'match' | 'include') => (bundle.entry ?? []).filter((e) => e.search?.mode === mode);
  /** Labels of the matches, in bundle order. */
  const inOrder = (bundle: Bundle, mode: 'match' | 'include' = 'match') =>
    entriesOf(bundle, mode).map((e) => labelOf.get(`${e.resource!.resourceType}/${e.resource!.id}`) ?? `?${e.resource!.id}`);
  /** Labels of the matches, sorted: for searches whose order is not the point. */
  const found = async (type: string, params: Params) => inOrder(await search(type, params)).sort();
  const link = (bundle: Bundle, relation: string): BundleLink | undefined => bundle.link?.find((l) => l.relation === relation);
  const relative = (url: string) => {
    expect(url.startsWith(`${BASE}/`)).toBe(true);
    return url.slice('http://gw.test'.length);
  };
  const patientLabels = Object.keys(PATIENTS).sort();

  describe('_id and _lastUpdated', () => {
    it('finds resources by _id, one or several', async () => {
      expect(await found('Patient', { _id: ids.an })).toEqual(['an']);
      expect(await found('Patient', { _id: `${ids.an},${ids.cuong}` })).toEqual(['an', 'cuong']);
      expect(await found('Patient', { _id: 'khong-co-ai' })).toEqual([]);
      // An Encounter id is not a Patient id.
      expect(await found('Patient', { _id: ids.eAn1 })).toEqual([]);
    });

    it('compares _lastUpdated with ge and le', async () => {
      const updated = patientLabels.map((l) => [l, stored[l].meta!.lastUpdated!] as const);
      const pivot = stored.dung.meta!.lastUpdated!;
      const atOrAfter = updated.filter(([, t]) => t >= pivot).map(([l]) => l);
      const atOrBefore = updated.filter(([, t]) => t <= pivot).map(([l]) => l);
      expect(await found('Patient', { _lastUpdated: `ge${pivot}` })).toEqual(atOrAfter);
      expect(await found('Patient', { _lastUpdated: `le${pivot}` })).toEqual(atOrBefore);
      expect(await found('Patient', [['_lastUpdated', `ge${pivot}`], ['_lastUpdated', `le${pivot}`]])).toEqual(
        updated.filter(([, t]) => t === pivot).map(([l]) => l),
      );
      expect(await found('Patient', { _lastUpdated: 'le2000-01-01' })).toEqual([]);
      expect(await found('Patient', { _lastUpdated: 'ge2000-01-01' })).toEqual(patientLabels);
    });
  });

  describe('token parameters', () => {
    it('matches identifier as system|value, bare value, |value (no system) and system| (any value)', async () => {
      expect(await found('Patient', { identifier: `${SID.cccd}|036088007531` })).toEqual(['khoa']);
      expect(await found('Patient', { identifier: '036088007531' })).toEqual(['khoa', 'khoaLegacy']);
      expect(await found('Patient', { identifier: '|036088007531' })).toEqual(['khoaLegacy']);
      expect(await found('Patient', { identifier: `${SID.cccd}|` })).toEqual(['an', 'binh', 'cuong', 'khoa', 'nguyen']);
      expect(await found('Patient', { identifier: `${SID.bhyt}|036088007531` })).toEqual([]);
      expect(await found('Patient', { identifier: `${SID.cccd}|079085001234,${SID.cccd}|001190004567` })).toEqual(['an', 'binh']);
    });

    it('matches status, several values as OR', async () => {
      expect(await found('Encounter', { status: 'finished' })).toEqual(['eAn1', 'eBinh1', 'eBinh2']);
      expect(await found('Encounter', { status: 'finished,in-progress' })).toEqual(['eAn1', 'eAn2', 'eBinh1', 'eBinh2']);
      expect(await found('Encounter', { status: 'cancelled' })).toEqual([]);
    });

    it('matches code with and without its system', async () => {
      expect(await found('Condition', { code: `${ICD10}|I10` })).toEqual(['cAn2', 'cBinh1']);
      expect(await found('Condition', { code: 'I10' })).toEqual(['cAn2', 'cBinh1']);
      expect(await found('Condition', { code: 'http://snomed.info/sct|I10' })).toEqual([]);
      expect(await found('Condition', { code: `${ICD10}|J06.9,${ICD10}|S62.6` })).toEqual(['cAn1', 'cBinh2']);
    });

    it(':not excludes the value and keeps resources without the parameter', async () => {
      expect(await found('Encounter', { 'status:not': 'finished' })).toEqual(['eAn2', 'eCuong']);
      expect(await found('Patient', { 'gender:not': 'male' })).toEqual(['binh', 'dung']);
      expect(await found('Patient', { 'identifier:not': `${SID.cccd}|` })).toEqual(['dung', 'khoaLegacy']);
    });
  });

  describe('reference parameters', () => {
    it('matches patient and subject given as Type/id, bare id or absolute URL', async () => {
      expect(await found('Encounter', { patient: ref('an') })).toEqual(['eAn1', 'eAn2']);
      expect(await found('Encounter', { patient: ids.an })).toEqual(['eAn1', 'eAn2']);
      expect(await found('Encounter', { subject: ref('binh') })).toEqual(['eBinh1', 'eBinh2']);
      expect(await found('Encounter', { subject: ids.binh })).toEqual(['eBinh1', 'eBinh2']);
      expect(await found('Encounter', { subject: `${BASE}/${ref('cuong')}` })).toEqual(['eCuong']);
      expect(await found('Encounter', { 'subject:Patient': ids.cuong })).toEqual(['eCuong']);
      expect(await found('Condition', { patient: ref('binh') })).toEqual(['cBinh1', 'cBinh2']);
      expect(await found('Condition', { subject: ids.an })).toEqual(['cAn1', 'cAn2']);
      expect(await found('Encounter', { patient: 'Patient/khong-co-ai' })).toEqual([]);
    });

    it('matches encounter', async () => {
      expect(await found('Condition', { encounter: ref('eAn1') })).toEqual(['cAn1', 'cAn2']);
      expect(await found('Condition', { encounter: ids.eBinh2 })).toEqual(['cBinh2']);
      expect(await found('Condition', { encounter: `${ref('eBinh1')},${ref('eBinh2')}` })).toEqual(['cBinh1', 'cBinh2']);
    });
  });

  describe('date parameters', () => {
    // Ranges (Vietnam time, UTC+7): eAn1 1 May 08:00–10:30; eAn2 from 10 June 14:00, open;
    // eBinh1 all of 1–3 May; eBinh2 30 April 22:00 – 1 May 02:00; eCuong none.
    it('eq (the default) needs the encounter period within the day or month searched', async () => {
      expect(await found('Encounter', { date: '2024-05-01' })).toEqual(['eAn1']);
      expect(await found('Encounter', { date: 'eq2024-05-01' })).toEqual(['eAn1']);
      expect(await found('Encounter', { date: 'eq2024-05' })).toEqual(['eAn1', 'eBinh1']);
      expect(await found('Encounter', { date: 'eq2024-05-01T08:00:00+07:00' })).toEqual([]);
    });

    it('gt and ge, lt and le compare the edges of the period with the day searched', async () => {
      // ge matches a period that reaches the day searched or later: eBinh2 ends on 1 May.
      expect(await found('Encounter', { date: 'ge2024-05-01' })).toEqual(['eAn1', 'eAn2', 'eBinh1', 'eBinh2']);
      expect(await found('Encounter', { date: 'gt2024-05-01' })).toEqual(['eAn2', 'eBinh1']);
      expect(await found('Encounter', { date: 'le2024-05-01' })).toEqual(['eAn1', 'eBinh1', 'eBinh2']);
      // eBinh1 starts at the first instant of 1 May: not before it.
      expect(await found('Encounter', { date: 'lt2024-05-01' })).toEqual(['eBinh2']);
      // eBinh1 ends with the last instant of 3 May.
      expect(await found('Encounter', { date: 'ge2024-05-03' })).toEqual(['eAn2', 'eBinh1']);
      expect(await found('Encounter', { date: 'gt2024-05-03' })).toEqual(['eAn2']);
      expect(await found('Encounter', [['date', 'ge2024-05-01'], ['date', 'lt2024-06-01']])).toEqual(['eAn1', 'eBinh1', 'eBinh2']);
    });

    it('compares dateTimes with a zone at their own precision', async () => {
      // eAn1 ends at 10:30:00 (a whole second): ge that second matches, gt it does not.
      expect(await found('Encounter', { date: 'ge2024-05-01T10:30:00+07:00' })).toEqual(['eAn1', 'eAn2', 'eBinh1']);
      expect(await found('Encounter', { date: 'gt2024-05-01T10:30:00+07:00' })).toEqual(['eAn2', 'eBinh1']);
      // eAn1 starts at 08:00 Vietnam time, which is 01:00 UTC.
      expect(await found('Encounter', { date: 'lt2024-05-01T08:00:00+07:00' })).toEqual(['eBinh1', 'eBinh2']);
      expect(await found('Encounter', { date: 'lt2024-05-01T01:00:01Z' })).toEqual(['eAn1', 'eBinh1', 'eBinh2']);
    });

    it('searches date-only values (birthdate) by day, month and year', async () => {
      expect(await found('Patient', { birthdate: '1985-03-02' })).toEqual(['an']);
      expect(await found('Patient', { birthdate: '1988' })).toEqual(['khoa', 'khoaLegacy']);
      expect(await found('Patient', { birthdate: '1985-03' })).toEqual(['an']);
      expect(await found('Patient', { birthdate: 'lt1985' })).toEqual(['cuong']);
      expect(await found('Patient', { birthdate: 'le1985-03-02' })).toEqual(['an', 'cuong']);
      expect(await found('Patient', { birthdate: 'ge1990-07-15' })).toEqual(['binh', 'dung', 'nguyen']);
      expect(await found('Patient', { birthdate: 'gt1990-07-15' })).toEqual(['dung', 'nguyen']);
    });

    it('refuses a malformed date with 400 naming the parameter', async () => {
      const malformed = [
        ['Encounter', 'date', '2024-13-01'],
        ['Encounter', 'date', 'ge01/05/2024'], // the Vietnamese day/month/year order
        ['Patient', 'birthdate', '1985-3-2'],
        ['Patient', '_lastUpdated', 'hom-qua'],
        // Well-formed but not on the calendar: not rolled over into March or the next day.
        ['Patient', 'birthdate', '2024-02-30'],
        ['Patient', 'birthdate', '2023-02-29'],
        ['Patient', '_lastUpdated', 'lt2024-01-01T25:00:00Z'],
      ];
      for (const [type, name, value] of malformed) {
        const res = await get(type, { [name]: value });
        expect(res.status, `${name}=${value}`).toBe(400);
        const oo = res.body as OperationOutcome;
        expect(oo.resourceType).toBe('OperationOutcome');
        expect(oo.issue[0].expression).toEqual([name]);
      }
    });
  });

  describe('string parameters', () => {
    it('matches names without Vietnamese diacritics, case-insensitively, by prefix', async () => {
      expect(await found('Patient', { name: 'nguyen van' })).toEqual(['an']);
      expect(await found('Patient', { name: 'Nguyễn Văn' })).toEqual(['an']);
      expect(await found('Patient', { name: 'nguyen' })).toEqual(['an', 'binh', 'nguyen']);
      expect(await found('Patient', { name: 'NGUYEN THI' })).toEqual(['binh']);
      expect(await found('Patient', { name: 'vũ minh khoa' })).toEqual(['khoa', 'khoaLegacy']);
      expect(await found('Patient', { name: 'cuong' })).toEqual(['cuong']);
      // Prefix, not substring.
      expect(await found('Patient', { name: 'uong' })).toEqual([]);
    });

    it(':contains matches anywhere in a name part', async () => {
      expect(await found('Patient', { 'name:contains': 'uong' })).toEqual(['cuong']);
      expect(await found('Patient', { 'name:contains': 'thi' })).toEqual(['binh', 'dung']);
    });
  });

  describe(':missing', () => {
    it('finds resources with and without a value for the parameter', async () => {
      expect(await found('Encounter', { 'date:missing': 'true' })).toEqual(['eCuong']);
      expect(await found('Encounter', { 'date:missing': 'false' })).toEqual(['eAn1', 'eAn2', 'eBinh1', 'eBinh2']);
      expect(await found('Patient', { 'identifier:missing': 'true' })).toEqual(['dung']);
      expect(await found('Patient', { 'identifier:missing': 'false' })).toEqual(patientLabels.filter((l) => l !== 'dung'));
      expect(await found('Patient', { 'telecom:missing': 'false' })).toEqual(['an']);
    });
  });

  describe('paging and totals', () => {
    it('follows next links until exhausted: every patient once, total accurate on every page', async () => {
      const seen: string[] = [];
      const sizes: number[] = [];
      let next: string | undefined = `/fhir/Patient?${query({ _count: '3', _total: 'accurate' })}`;
      while (next) {
        const res = await gw.http.get(next);
        expect(res.status).toBe(200);
        const bundle = res.body as Bundle;
        expect(bundle.total).toBe(7);
        sizes.push(bundle.entry!.length);
        seen.push(...inOrder(bundle));
        if (sizes.length > 1) expect(link(bundle, 'previous')).toBeDefined();
        const url = link(bundle, 'next')?.url;
        next = url && relative(url);
        expect(sizes.length).toBeLessThan(5);
      }
      expect(sizes).toEqual([3, 3, 1]);
      expect(seen).toHaveLength(7);
      expect([...seen].sort()).toEqual(patientLabels);
    });

    it('keeps a sort order across pages', async () => {
      const seen: string[] = [];
      let next: string | undefined = `/fhir/Encounter?${query({ _sort: 'date', _count: '2' })}`;
      while (next) {
        const bundle = (await gw.http.get(next)).body as Bundle;
        seen.push(...inOrder(bundle));
        const url = link(bundle, 'next')?.url;
        next = url && relative(url);
        expect(seen.length).toBeLessThan(10);
      }
      expect(seen).toEqual(['eBinh2', 'eBinh1', 'eAn1', 'eAn2', 'eCuong']);
    });

    it('gives an accurate total with _total=accurate even when there are more pages', async () => {
      const bundle = await search('Patient', { gender: 'male', _count: '2', _total: 'accurate' });
      expect(bundle.total).toBe(5);
      expect(entriesOf(bundle, 'match')).toHaveLength(2);
      expect(link(bundle, 'next')).toBeDefined();
    });

    it('_summary=count gives the total and no entries', async () => {
      const bundle = await search('Patient', { gender: 'female', _summary: 'count' });
      expect(bundle.total).toBe(2);
      expect(bundle.entry ?? []).toEqual([]);
      const all = await search('Condition', { code: `${ICD10}|I10`, _summary: 'count' });
      expect(all.total).toBe(2);
    });
  });

  describe('_summary and _elements', () => {
    it('_summary=true keeps only summary elements and tags the resource SUBSETTED', async () => {
      const bundle = await search('Patient', { _id: ids.an, _summary: 'true' });
      const p = bundle.entry![0].resource as Record<string, unknown> & Resource;
      expect(Object.keys(p).sort()).toEqual(['address', 'birthDate', 'gender', 'id', 'identifier', 'meta', 'name', 'resourceType', 'telecom']);
      expect(p.meta?.tag?.map((t) => t.code)).toContain(SUBSETTED);
      expect(p.meta?.versionId).toBe('1');
      // The stored resource is untouched.
      const read = await gw.http.get(`/fhir/Patient/${ids.an}`);
      expect(read.body.maritalStatus).toBeDefined();
      expect(read.body.meta.tag).toBeUndefined();
    });

    it('_elements=name keeps the name (and id and meta) only', async () => {
      const bundle = await search('Patient', { _id: `${ids.an},${ids.binh}`, _elements: 'name' });
      expect(bundle.entry).toHaveLength(2);
      for (const e of bundle.entry!) {
        const p = e.resource as Record<string, unknown> & Resource;
        expect(Object.keys(p).sort()).toEqual(['id', 'meta', 'name', 'resourceType']);
        expect(p.meta?.tag?.map((t) => t.code)).toContain(SUBSETTED);
      }
    });
  });

  describe('_sort', () => {
    it('_sort=-_lastUpdated lists the most recently written first', async () => {
      const expected = patientLabels
        .map((l) => ({ l, t: stored[l].meta!.lastUpdated!, id: ids[l] }))
        // Equal instants fall back to the store's stable order (id ascending).
        .sort((a, b) => (a.t === b.t ? (a.id < b.id ? -1 : 1) : a.t < b.t ? 1 : -1))
        .map((x) => x.l);
      expect(inOrder(await search('Patient', { _sort: '-_lastUpdated' }))).toEqual(expected);
    });

    it('_sort=date orders encounters by period start, and -date by period end, those without last', async () => {
      expect(inOrder(await search('Encounter', { _sort: 'date' }))).toEqual(['eBinh2', 'eBinh1', 'eAn1', 'eAn2', 'eCuong']);
      expect(inOrder(await search('Encounter', { _sort: '-date' }))).toEqual(['eAn2', 'eBinh1', 'eAn1', 'eBinh2', 'eCuong']);
    });

    it('ignores a sort key it cannot apply, leaves it out of the self link, and refuses it when strict', async () => {
      // status is a token: not sortable here. The date key still applies.
      const bundle = await search('Encounter', { _sort: 'status,-date' });
      expect(inOrder(bundle)).toEqual(['eAn2', 'eBinh1', 'eAn1', 'eBinh2', 'eCuong']);
      expect(new URL(link(bundle, 'self')!.url).searchParams.getAll('_sort')).toEqual(['-date']);
      const only = await search('Encounter', { _sort: 'status' });
      expect(new URL(link(only, 'self')!.url).searchParams.has('_sort')).toBe(false);
      const strict = await get('Encounter', { _sort: 'status,-date' }, { Prefer: 'handling=strict' });
      expect(strict.status).toBe(400);
      expect((strict.body as OperationOutcome).issue[0].expression).toEqual(['_sort']);
    });
  });

  describe('_include and _revinclude', () => {
    it('_include=Condition:encounter adds each referenced encounter once, as include', async () => {
      const bundle = await search('Condition', { patient: ref('an'), _include: 'Condition:encounter' });
      expect(inOrder(bundle).sort()).toEqual(['cAn1', 'cAn2']);
      expect(inOrder(bundle, 'include')).toEqual(['eAn1']);
      expect(bundle.total).toBe(2);
      expect(bundle.entry).toHaveLength(3);
      const included = entriesOf(bundle, 'include')[0];
      expect(included.fullUrl).toBe(`${BASE}/${ref('eAn1')}`);
    });

    it('_include=Encounter:subject adds the patients', async () => {
      const bundle = await search('Encounter', { status: 'finished', _include: 'Encounter:subject' });
      expect(inOrder(bundle).sort()).toEqual(['eAn1', 'eBinh1', 'eBinh2']);
      expect(inOrder(bundle, 'include').sort()).toEqual(['an', 'binh']);
    });

    it('_revinclude=Condition:encounter adds the conditions that point at the encounters', async () => {
      const bundle = await search('Encounter', { _id: `${ids.eAn1},${ids.eBinh2}`, _revinclude: 'Condition:encounter' });
      expect(inOrder(bundle).sort()).toEqual(['eAn1', 'eBinh2']);
      expect(inOrder(bundle, 'include').sort()).toEqual(['cAn1', 'cAn2', 'cBinh2']);
      expect(bundle.total).toBe(2);
    });
  });

  describe('parameters the server does not know', () => {
    it('are ignored by default and left out of the self link', async () => {
      const bundle = await search('Patient', { gender: 'female', 'tinh-thanh': 'ha-noi' });
      expect(inOrder(bundle).sort()).toEqual(['binh', 'dung']);
      const self = new URL(link(bundle, 'self')!.url);
      expect(`${self.origin}${self.pathname}`).toBe(`${BASE}/Patient`);
      expect([...self.searchParams.keys()]).not.toContain('tinh-thanh');
      expect(self.searchParams.get('gender')).toBe('female');
    });

    it('are a 400 naming the parameter with Prefer: handling=strict', async () => {
      const res = await get('Patient', { gender: 'female', 'tinh-thanh': 'ha-noi' }, { Prefer: 'handling=strict' });
      expect(res.status).toBe(400);
      const oo = res.body as OperationOutcome;
      expect(oo.resourceType).toBe('OperationOutcome');
      expect(oo.issue[0].expression).toEqual(['tinh-thanh']);
      expect(oo.issue[0].diagnostics).toContain('tinh-thanh');
      // Known parameters alone pass in strict mode.
      const ok = await get('Patient', { gender: 'female' }, { Prefer: 'handling=strict' });
      expect(ok.status).toBe(200);
      expect(ok.body.entry).toHaveLength(2);
    });
  });

  it('POST [type]/_search takes the parameters as a form body', async () => {
    const res = await gw.http
      .post('/fhir/Patient/_search')
      .set('Content-Type', 'application/x-www-form-urlencoded')
      .send(query({ name: 'nguyen', gender: 'female' }));
    expect(res.status).toBe(200);
    const bundle = res.body as Bundle;
    expect(bundle.type).toBe('searchset');
    expect(inOrder(bundle)).toEqual(['binh']);
    const self = new URL(link(bundle, 'self')!.url);
    expect(self.pathname).toBe('/fhir/Patient');
    expect(self.searchParams.get('name')).toBe('nguyen');
    expect(self.searchParams.get('gender')).toBe('female');
  });
});
