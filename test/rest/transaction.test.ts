import type { Bundle, Encounter, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bhytCoverage, episodeTransaction, entry, patient, SID, visitUnderWay } from '../support/fixtures.js';
import { FHIR_JSON, startGateway, type TestGateway } from '../support/gateway.js';
import { STORES } from '../support/stores.js';

describe.each(STORES)('transactions and batches on $name', (store) => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway(store);
  });
  afterAll(() => gw.close());

  const post = (bundle: unknown) => gw.http.post('/fhir').set('Content-Type', FHIR_JSON).send(JSON.stringify(bundle));
  const countAll = async () => {
    const { rows } = await gw.db.query<{ n: number }>('SELECT count(*)::int AS n FROM resources');
    return rows[0].n;
  };

  it('stores a Patient, Coverage, Encounter and Conditions in one call and resolves urn:uuid references', async () => {
    const bundle = episodeTransaction({ cccd: '001090000001', maLk: 'LK-T-1' });
    const res = await post(bundle);
    expect(res.status).toBe(200);
    const out = res.body as Bundle;
    expect(out.type).toBe('transaction-response');
    expect(out.entry).toHaveLength(6);
    expect(out.entry!.map((e) => e.response?.status)).toEqual(Array(6).fill('201 Created'));
    expect(out.entry!.map((e) => e.resource?.resourceType)).toEqual(['Patient', 'Coverage', 'Encounter', 'Condition', 'Condition', 'Organization']);

    const [patientEntry, coverageEntry, encounterEntry, conditionEntry, secondCondition, orgEntry] = out.entry!;
    const patientRef = `Patient/${patientEntry.resource!.id}`;
    const encounterRef = `Encounter/${encounterEntry.resource!.id}`;
    expect(patientEntry.response!.location).toBe(`${patientRef}/_history/1`);
    expect(patientEntry.response!.etag).toBe('W/"1"');

    // Read back: references rewritten, versions and ETags set.
    const enc = await gw.http.get(`/fhir/${encounterRef}`);
    expect(enc.status).toBe(200);
    expect(enc.headers.etag).toBe('W/"1"');
    expect(enc.headers['last-modified']).toBeTruthy();
    expect((enc.body as Encounter).subject?.reference).toBe(patientRef);
    expect((enc.body as Encounter).meta?.versionId).toBe('1');
    // References in both directions (Encounter.diagnosis → Condition → Encounter) are resolved.
    expect((enc.body as Encounter).diagnosis?.map((d) => d.condition.reference)).toEqual([
      `Condition/${conditionEntry.resource!.id}`, `Condition/${secondCondition.resource!.id}`,
    ]);
    expect((enc.body as Encounter).serviceProvider?.reference).toBe(`Organization/${orgEntry.resource!.id}`);

    const cov = await gw.http.get(`/fhir/Coverage/${coverageEntry.resource!.id}`);
    expect(cov.body.beneficiary.reference).toBe(patientRef);
    const cond = await gw.http.get(`/fhir/Condition/${conditionEntry.resource!.id}`);
    expect(cond.body.subject.reference).toBe(patientRef);
    expect(cond.body.encounter.reference).toBe(encounterRef);
    // No urn:uuid survives anywhere in what was stored.
    const { rows } = await gw.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resources WHERE content::text LIKE '%urn:uuid:%'`);
    expect(rows[0].n).toBe(0);
  });

  it('leaves nothing behind when one entry is bad, and names the entry', async () => {
    const before = await countAll();
    const bundle = episodeTransaction({ cccd: '001090000002', maLk: 'LK-T-2' });
    // The fourth entry claims to be a Condition but is an Observation.
    bundle.entry![3].resource = { resourceType: 'Observation', status: 'final', code: { text: 'x' } } as Resource;
    const res = await post(bundle);
    expect(res.status).toBe(400);
    const oo = res.body as OperationOutcome;
    expect(oo.resourceType).toBe('OperationOutcome');
    expect(oo.issue[0].expression).toEqual(['Bundle.entry[3].resource.resourceType']);
    expect(await countAll()).toBe(before);
  });

  it('rolls back earlier writes when a later entry fails in the database phase', async () => {
    const created = await gw.http.post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(JSON.stringify(patient('001090000003')));
    const id = created.body.id;
    const before = await countAll();
    const bundle: Bundle = {
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        entry(patient('001090000004')),
        // A stale If-Match fails only after the Patient above has been planned.
        { resource: { ...patient('001090000003'), id, gender: 'female' } as Resource, request: { method: 'PUT', url: `Patient/${id}`, ifMatch: 'W/"7"' } },
      ],
    };
    const res = await post(bundle);
    expect(res.status).toBe(412);
    expect(res.body.issue[0].expression[0]).toBe('Bundle.entry[1].request.ifMatch');
    expect(await countAll()).toBe(before);
    const still = await gw.http.get(`/fhir/Patient/${id}`);
    expect(still.body.gender).toBe('male');
    expect(still.body.meta.versionId).toBe('1');
  });

  it('stores a transaction larger than one write statement', async () => {
    const before = await countAll();
    const many = (n: number): Bundle => ({
      resourceType: 'Bundle', type: 'transaction',
      entry: Array.from({ length: n }, (_, i) =>
        entry({ resourceType: 'Observation', status: 'final', code: { text: `chỉ số ${i}` }, subject: { reference: 'Patient/p-bulk' }, encounter: { reference: 'Encounter/e-bulk' } } as Resource),
      ),
    });
    const ok = await post(many(1205));
    expect(ok.status).toBe(200);
    expect(ok.body.entry).toHaveLength(1205);
    expect(await countAll()).toBe(before + 1205);
  });

  it('reports a urn:uuid reference that matches no entry, with its path', async () => {
    const bundle: Bundle = {
      resourceType: 'Bundle', type: 'transaction',
      entry: [entry({ resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject: { reference: 'urn:uuid:0000-missing' } } as Resource)],
    };
    const res = await post(bundle);
    expect(res.status).toBe(400);
    expect(res.body.issue[0].expression).toEqual(['Bundle.entry[0].resource.subject.reference']);
    expect(res.body.issue[0].diagnostics).toContain('urn:uuid:0000-missing');
  });

  it('processes DELETE, POST, PUT, GET in that order and answers in the client order', async () => {
    const a = (await gw.http.post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(JSON.stringify(patient('001090000010')))).body;
    const b = (await gw.http.post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(JSON.stringify(patient('001090000011')))).body;
    const bundle: Bundle = {
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        // The GET is first in the bundle but runs last, so it sees the new Patient.
        { request: { method: 'GET', url: 'Patient?identifier=001090000012' } },
        { resource: { ...b, gender: 'female' }, request: { method: 'PUT', url: `Patient/${b.id}` } },
        entry(patient('001090000012')),
        { request: { method: 'DELETE', url: `Patient/${a.id}` } },
      ],
    };
    const res = await post(bundle);
    expect(res.status).toBe(200);
    const statuses = (res.body as Bundle).entry!.map((e) => e.response!.status);
    expect(statuses).toEqual(['200 OK', '200 OK', '201 Created', '204 No Content']);
    const searchset = (res.body as Bundle).entry![0].resource as Bundle;
    expect(searchset.type).toBe('searchset');
    expect(searchset.entry).toHaveLength(1);
    expect((await gw.http.get(`/fhir/Patient/${a.id}`)).status).toBe(410);
    expect((await gw.http.get(`/fhir/Patient/${b.id}`)).body.meta.versionId).toBe('2');
  });

  it('resolves conditional references and conditional creates inside the transaction', async () => {
    const existing = (await gw.http.post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(JSON.stringify(patient('001090000020')))).body;
    const bundle: Bundle = {
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        // Conditional create that matches the stored patient: no new Patient, fullUrl maps to it.
        entry(patient('001090000020'), 'POST', 'Patient', { fullUrl: 'urn:uuid:aaaaaaaa-0000-0000-0000-000000000001', request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${SID.cccd}|001090000020` } }),
        entry(visitUnderWay({ subject: 'urn:uuid:aaaaaaaa-0000-0000-0000-000000000001', serviceProvider: 'Organization/bv-1', maLk: 'LK-T-20' })),
        entry(bhytCoverage(`Patient?identifier=${SID.cccd}|001090000020`)),
      ],
    };
    const res = await post(bundle);
    expect(res.status).toBe(200);
    const [p, e, c] = (res.body as Bundle).entry!;
    expect(p.response!.status).toBe('200 OK');
    expect(p.resource!.id).toBe(existing.id);
    expect((e.resource as Encounter).subject!.reference).toBe(`Patient/${existing.id}`);
    expect((c.resource as { beneficiary: { reference: string } }).beneficiary.reference).toBe(`Patient/${existing.id}`);
    const found = await gw.http.get(`/fhir/Patient?identifier=${SID.cccd}|001090000020`);
    expect(found.body.total).toBe(1);
  });

  it('fails a conditional reference that matches nothing or several', async () => {
    await gw.http.post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(JSON.stringify(patient('001090000030', { gender: 'other' } as Partial<Resource>)));
    await gw.http.post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(JSON.stringify(patient('001090000031', { gender: 'other' } as Partial<Resource>)));
    const none = await post({ resourceType: 'Bundle', type: 'transaction', entry: [entry({ resourceType: 'Encounter', status: 'planned', class: { code: 'AMB' }, subject: { reference: 'Patient?identifier=nobody' } } as Resource)] });
    expect(none.status).toBe(400);
    expect(none.body.issue[0].expression).toEqual(['Bundle.entry[0].resource.subject.reference']);
    const many = await post({ resourceType: 'Bundle', type: 'transaction', entry: [entry({ resourceType: 'Encounter', status: 'planned', class: { code: 'AMB' }, subject: { reference: 'Patient?gender=other' } } as Resource)] });
    expect(many.status).toBe(412);
    expect(many.body.issue[0].code).toBe('multiple-matches');
  });

  it('refuses two entries on the same resource', async () => {
    const p = (await gw.http.post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(JSON.stringify(patient('001090000040')))).body;
    const res = await post({
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        { resource: p, request: { method: 'PUT', url: `Patient/${p.id}` } },
        { request: { method: 'DELETE', url: `Patient/${p.id}` } },
      ],
    });
    expect(res.status).toBe(400);
    expect(res.body.issue[0].code).toBe('duplicate');
  });

  it('applies a JSON Patch carried in a Binary entry', async () => {
    const p = (await gw.http.post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(JSON.stringify(patient('001090000050')))).body;
    const ops = [{ op: 'replace', path: '/gender', value: 'female' }];
    const res = await post({
      resourceType: 'Bundle', type: 'transaction',
      entry: [{ resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data: Buffer.from(JSON.stringify(ops)).toString('base64') }, request: { method: 'PATCH', url: `Patient/${p.id}` } }],
    });
    expect(res.status).toBe(200);
    expect(res.body.entry[0].resource.gender).toBe('female');
    expect(res.body.entry[0].resource.meta.versionId).toBe('2');
  });

  it('processes batch entries independently', async () => {
    const res = await post({
      resourceType: 'Bundle', type: 'batch',
      entry: [
        entry(patient('001090000060')),
        { resource: { resourceType: 'Patient', birthDate: '1990-01-01' }, request: { method: 'PUT', url: 'Patient/bad id!' } },
        { request: { method: 'GET', url: 'Patient/does-not-exist' } },
        entry({ resourceType: 'Encounter', status: 'planned', class: { code: 'AMB' }, subject: { reference: 'urn:uuid:elsewhere' } } as Resource),
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('batch-response');
    const statuses = (res.body as Bundle).entry!.map((e) => e.response!.status);
    expect(statuses).toEqual(['201 Created', '400 Bad Request', '404 Not Found', '400 Bad Request']);
    expect(res.body.entry[1].response.outcome.resourceType).toBe('OperationOutcome');
    const found = await gw.http.get('/fhir/Patient?identifier=001090000060');
    expect(found.body.total).toBe(1);
  });

  it('tells a client who posts a transaction to /Bundle where to post it', async () => {
    const res = await gw.http.post('/fhir/Bundle').set('Content-Type', FHIR_JSON).send(JSON.stringify(episodeTransaction()));
    expect(res.status).toBe(400);
    expect(res.body.issue[0].diagnostics).toMatch(/base URL/);
    expect(res.body.issue[0].expression).toEqual(['Bundle.type']);
  });

  it('stores a document Bundle posted to /Bundle without touching its internal references', async () => {
    const doc = {
      resourceType: 'Bundle', type: 'document',
      identifier: { system: 'urn:ietf:rfc:3986', value: 'urn:uuid:0c2f7b1e-6d1a-4a8e-9d0b-1f2e3d4c5b6a' },
      timestamp: '2024-01-01T08:00:00+07:00',
      entry: [{ fullUrl: 'urn:uuid:d1', resource: { resourceType: 'Composition', status: 'final', type: { text: 'x' }, subject: { reference: 'urn:uuid:d2' }, date: '2024-01-01', author: [{ display: 'a' }], title: 't' } }],
    };
    const res = await gw.http.post('/fhir/Bundle').set('Content-Type', FHIR_JSON).send(JSON.stringify(doc));
    expect(res.status).toBe(201);
    expect(res.body.entry[0].resource.subject.reference).toBe('urn:uuid:d2');
  });
});
