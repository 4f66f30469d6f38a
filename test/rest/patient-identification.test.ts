import type { Bundle, Patient, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bhytCoverage, entry, patient, SID } from '../support/fixtures.js';
import { FHIR_JSON, startGateway, type TestGateway } from '../support/gateway.js';
import { STORES } from '../support/stores.js';

const EN = { 'Accept-Language': 'en' };

/**
 * Receiving a patient by CCCD, personal identification number or BHYT card (QĐ 2733 PL01 Đ5 step 4),
 * however the receptionist types it; and never merging or splitting two patients silently.
 */
describe.each(STORES)('patient identification on $name', (store) => {
  let gw: TestGateway;
  const ids: Record<string, string> = {};

  const create = async (resource: Resource) => {
    const res = await gw.http.post(`/fhir/${resource.resourceType}`).set({ 'Content-Type': FHIR_JSON, ...EN }).send(JSON.stringify(resource));
    return res;
  };
  const found = async (query: string) => {
    const res = await gw.http.get(`/fhir/Patient?identifier=${encodeURIComponent(query)}`);
    expect(res.status).toBe(200);
    return ((res.body as Bundle).entry ?? []).map((e) => e.resource!.id!).sort();
  };

  beforeAll(async () => {
    gw = await startGateway(store);
    // An: CCCD and a BHYT card on the Patient.
    ids.an = (await create(patient('079085001234', {
      identifier: [{ system: SID.cccd, value: '079085001234' }, { system: SID.bhyt, value: 'DN4797912345678' }],
    } as Partial<Resource>))).body.id;
    // Bình: CCCD only; the BHYT card is on her Coverage.
    ids.binh = (await create(patient('001190004321', { name: [{ family: 'Trần', given: ['Thị', 'Bình'] }], gender: 'female', birthDate: '1990-07-15' } as Partial<Resource>))).body.id;
    expect((await create(bhytCoverage(`Patient/${ids.binh}`, 'HT2011234509876'))).status).toBe(201);
    // A foreigner with a passport only.
    ids.john = (await create({
      resourceType: 'Patient', identifier: [{ system: SID.passport, value: 'C1234567' }],
      name: [{ family: 'Smith', given: ['John'] }], gender: 'male', birthDate: '1980-01-01',
    } as Resource)).body.id;
    for (const id of Object.values(ids)) expect(id).toBeTruthy();
  });
  afterAll(() => gw.close());

  it('finds a patient by CCCD with or without the system, whatever the spacing and case', async () => {
    expect(await found(`${SID.cccd}|079085001234`)).toEqual([ids.an]);
    expect(await found('079085001234')).toEqual([ids.an]);
    expect(await found(' 0790 8500 1234 ')).toEqual([ids.an]);
  });

  it('finds a patient by BHYT card, by the card of another group and by the 10-digit BHXH number', async () => {
    expect(await found('DN4797912345678')).toEqual([ids.an]);
    expect(await found('dn4 79 7912345678')).toEqual([ids.an]);
    expect(await found(`${SID.bhyt}|DN4797912345678`)).toEqual([ids.an]);
    // The same person's BHXH number on a new card of another beneficiary group and province.
    expect(await found('HT3017912345678')).toEqual([ids.an]);
    expect(await found('7912345678')).toEqual([ids.an]);
  });

  it('finds a patient whose BHYT card is on a Coverage only', async () => {
    expect(await found('HT2011234509876')).toEqual([ids.binh]);
    expect(await found('1234509876')).toEqual([ids.binh]);
    expect(await found(`${SID.bhyt}|HT2011234509876`)).toEqual([ids.binh]);
  });

  it('finds a foreigner by passport, and nobody by an unknown number', async () => {
    expect(await found('c1234567')).toEqual([ids.john]);
    expect(await found('999999999999')).toEqual([]);
  });

  it('refuses a second Patient with the same CCCD, naming the identifier and the existing record', async () => {
    const res = await create(patient('079085001234', { name: [{ family: 'Khác' }] } as Partial<Resource>));
    expect(res.status).toBe(409);
    expect(res.body.issue[0].code).toBe('duplicate');
    expect(res.body.issue[0].expression).toEqual(['Patient.identifier[0]']);
    expect(res.body.issue[0].diagnostics).toContain(`Patient/${ids.an}`);
    expect(await found('079085001234')).toEqual([ids.an]);
  });

  it('refuses a Patient whose BHYT card carries a BHXH number another patient holds', async () => {
    const res = await create(patient('038095002468', {
      identifier: [{ system: SID.cccd, value: '038095002468' }, { system: SID.bhyt, value: 'GD4017912345678' }],
    } as Partial<Resource>));
    expect(res.status).toBe(409);
    expect(res.body.issue[0].expression).toEqual(['Patient.identifier[1]']);
  });

  it('refuses two new Patients with one CCCD in one transaction, and leaves nothing behind', async () => {
    const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: [entry(patient('036088007531')), entry(patient('036088007531'))] };
    const res = await gw.http.post('/fhir').set({ 'Content-Type': FHIR_JSON, ...EN }).send(JSON.stringify(bundle));
    expect(res.status).toBe(409);
    expect(res.body.issue[0].expression).toEqual(['Bundle.entry[1].resource.identifier[0]']);
    expect(await found('036088007531')).toEqual([]);
  });

  it('lets the same patient be updated, and a conditional create find the existing record', async () => {
    const current = (await gw.http.get(`/fhir/Patient/${ids.an}`)).body as Patient;
    const update = await gw.http.put(`/fhir/Patient/${ids.an}`).set('Content-Type', FHIR_JSON).send(JSON.stringify({ ...current, gender: 'male', telecom: [{ system: 'phone', value: '0912345678' }] }));
    expect(update.status).toBe(200);
    const conditional = await gw.http.post('/fhir/Patient').set({ 'Content-Type': FHIR_JSON, 'If-None-Exist': 'identifier=079085001234' }).send(JSON.stringify(patient('079085001234')));
    expect(conditional.status).toBe(200);
    expect(conditional.body.id).toBe(ids.an);
  });

  it('lets only one of two concurrent creates with the same CCCD through', async () => {
    const results = await Promise.all([1, 2, 3, 4].map(() => create(patient('040091008642'))));
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
    expect(await found('040091008642')).toHaveLength(1);
  });

  describe('$match', () => {
    const match = (resource: Resource, params: Record<string, unknown> = {}) =>
      gw.http.post('/fhir/Patient/$match').set({ 'Content-Type': FHIR_JSON, ...EN }).send(JSON.stringify({
        resourceType: 'Parameters',
        parameter: [{ name: 'resource', resource }, ...Object.entries(params).map(([name, v]) => ({ name, ...(typeof v === 'boolean' ? { valueBoolean: v } : { valueInteger: v }) }))],
      }));
    const grades = (b: Bundle) => (b.entry ?? []).map((e) => [e.resource!.id, e.search!.score, e.search!.extension![0].valueCode]);

    it('is certain when an identifier matches, even typed differently', async () => {
      const res = await match({ resourceType: 'Patient', identifier: [{ value: '7912345678' }] } as Resource);
      expect(res.status).toBe(200);
      expect(grades(res.body)).toEqual([[ids.an, 1, 'certain']]);
    });

    it('scores demographics when no identifier is given, accent- and case-insensitively', async () => {
      const res = await match({ resourceType: 'Patient', name: [{ family: 'tran', given: ['thi', 'binh'] }], gender: 'female', birthDate: '1990-07-15' } as Resource);
      expect(grades(res.body)).toEqual([[ids.binh, 0.99, 'probable']]);
      const certainOnly = await match({ resourceType: 'Patient', name: [{ family: 'Trần', given: ['Thị', 'Bình'] }], birthDate: '1990-07-15' } as Resource, { onlyCertainMatches: true });
      expect(certainOnly.body.entry ?? []).toEqual([]);
    });

    it('rules out a candidate whose identifier in the same system differs', async () => {
      const res = await match({ resourceType: 'Patient', identifier: [{ system: SID.cccd, value: '001190009999' }], name: [{ family: 'Trần', given: ['Thị', 'Bình'] }], gender: 'female', birthDate: '1990-07-15' } as Resource);
      expect(grades(res.body)).toEqual([]);
    });

    it('answers 409 when the identifiers point at two different patients', async () => {
      const res = await match({ resourceType: 'Patient', identifier: [{ system: SID.cccd, value: '079085001234' }, { system: SID.passport, value: 'C1234567' }] } as Resource);
      expect(res.status).toBe(409);
      expect(res.body.issue[0].code).toBe('conflict');
      expect(res.body.issue[0].diagnostics).toContain(ids.an);
      expect(res.body.issue[0].diagnostics).toContain(ids.john);
    });
  });
});
