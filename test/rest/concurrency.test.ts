import type { Bundle, Patient, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { patient, SID } from '../support/fixtures.js';
import { FHIR_JSON, startGateway, type TestGateway } from '../support/gateway.js';
import { STORES } from '../support/stores.js';

/**
 * Concurrent writers on one resource. PGlite runs one transaction at a time, so there the requests
 * queue; on PostgreSQL they really race on a pool of connections and must be serialised by row
 * locks, advisory locks and the version check of the upsert (with retries), never by luck.
 */
const N = 20;

describe.each(STORES)('concurrent writes on $name', (store) => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway(store);
  });
  afterAll(() => gw.close());

  const create = async (cccd: string, extra: Partial<Patient> = {}): Promise<Patient> => {
    const res = await gw.http.post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(JSON.stringify(patient(cccd, extra as Partial<Resource>)));
    expect(res.status).toBe(201);
    return res.body as Patient;
  };
  const put = (body: Patient, headers: Record<string, string> = {}) =>
    gw.http.put(`/fhir/Patient/${body.id}`).set('Content-Type', FHIR_JSON).set(headers).send(JSON.stringify(body));
  const withPhone = (p: Patient, i: number): Patient => ({ ...p, telecom: [{ system: 'phone', value: `09000000${String(i).padStart(2, '0')}` }] });
  const history = async (id: string): Promise<Patient[]> => {
    const res = await gw.http.get(`/fhir/Patient/${id}/_history?_count=1000`);
    expect(res.status).toBe(200);
    return ((res.body as Bundle).entry ?? []).map((e) => e.resource as Patient);
  };
  const phones = (versions: Patient[]) => versions.map((v) => v.telecom?.[0]?.value).filter((v): v is string => !!v);
  let logsBefore = 0;
  beforeEach(() => {
    logsBefore = gw.logs.length;
  });
  /** No unexpected error reached the log during this test (a 500 would). */
  const noErrorsLogged = () => expect(gw.logs.slice(logsBefore).filter((l) => (l.level as number) >= 50)).toEqual([]);

  it(`${N} concurrent unconditional PUTs on one Patient all succeed and none is lost`, async () => {
    const p = await create('079000100001');
    const results = await Promise.all(Array.from({ length: N }, (_, i) => put(withPhone(p, i))));

    expect(results.map((r) => r.status)).toEqual(Array(N).fill(200));
    // Each PUT made a version of its own: 2..N+1, each once.
    const versions = results.map((r) => Number(r.body.meta.versionId)).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: N }, (_, i) => i + 2));
    expect(results.map((r) => r.headers.etag).sort()).toEqual(versions.map((v) => `W/"${v}"`).sort());

    const current = await gw.http.get(`/fhir/Patient/${p.id}`);
    expect(current.body.meta.versionId).toBe(String(N + 1));

    const all = await history(p.id!);
    expect(all).toHaveLength(N + 1);
    expect(all.map((v) => Number(v.meta!.versionId))).toEqual(Array.from({ length: N + 1 }, (_, i) => N + 1 - i));
    // Every value that was sent is in exactly one version, and the version a PUT reported holds its value.
    expect(phones(all).sort()).toEqual(Array.from({ length: N }, (_, i) => withPhone(p, i).telecom![0].value).sort());
    for (const r of results) {
      const v = await gw.http.get(`/fhir/Patient/${p.id}/_history/${r.body.meta.versionId}`);
      expect(v.body.telecom).toEqual(r.body.telecom);
    }
    // The current version is the newest history entry, and lastUpdated never goes back from one version to the next.
    expect(current.body.telecom).toEqual(all[0].telecom);
    const stamps = all.map((v) => Date.parse(v.meta!.lastUpdated!)).reverse();
    expect(stamps).toEqual([...stamps].sort((a, b) => a - b));
    noErrorsLogged();
  });

  it(`${N} concurrent PATCHes that each append a telecom lose none`, async () => {
    const p = await create('079000100002', { telecom: [{ system: 'email', value: 'first@example.vn' }] });
    const results = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        gw.http.patch(`/fhir/Patient/${p.id}`).set('Content-Type', 'application/json-patch+json')
          .send(JSON.stringify([{ op: 'add', path: '/telecom/-', value: { system: 'phone', value: `n${i}` } }])),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(N).fill(200));
    const final = (await gw.http.get(`/fhir/Patient/${p.id}`)).body as Patient;
    expect(final.meta!.versionId).toBe(String(N + 1));
    // Each patch applied to the version before it: all N appended values are there, each once.
    expect(final.telecom!.map((t) => t.value).sort()).toEqual(['first@example.vn', ...Array.from({ length: N }, (_, i) => `n${i}`)].sort());
    noErrorsLogged();
  });

  it(`${N} concurrent PUTs with If-Match W/"1": exactly one wins, the rest get 412`, async () => {
    const p = await create('079000100004');
    const results = await Promise.all(Array.from({ length: N }, (_, i) => put(withPhone(p, i), { 'If-Match': 'W/"1"' })));

    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(N - 1);
    for (const lost of results.filter((r) => r.status === 412)) {
      expect(lost.body.resourceType).toBe('OperationOutcome');
      expect(lost.body.issue[0].code).toBe('conflict');
      expect(lost.body.issue[0].expression).toEqual(['If-Match']);
      expect(lost.body.issue[0].diagnostics).toMatch(/If-Match asks for version 1 but the current version is 2/);
    }
    const winner = results.find((r) => r.status === 200)!;
    const current = (await gw.http.get(`/fhir/Patient/${p.id}`)).body as Patient;
    expect(current.meta!.versionId).toBe('2');
    expect(current.telecom).toEqual(winner.body.telecom);
    expect(await history(p.id!)).toHaveLength(2);
    noErrorsLogged();
  });

  it('10 concurrent conditional creates with the same If-None-Exist create exactly one resource', async () => {
    const cccd = '079000100005';
    const criteria = `identifier=${SID.cccd}|${cccd}`;
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        gw.http.post('/fhir/Patient').set('Content-Type', FHIR_JSON).set('If-None-Exist', criteria).send(JSON.stringify(patient(cccd))),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    // Everyone was answered with the one resource.
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    const found = await gw.http.get(`/fhir/Patient?${criteria}`);
    expect(found.body.total).toBe(1);
    const { rows } = await gw.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM resources WHERE resource_type = 'Patient' AND content::text LIKE $1`,
      [`%${cccd}%`],
    );
    expect(rows[0].n).toBe(1);
    noErrorsLogged();
  });

  it('10 concurrent conditional creates inside transaction bundles create exactly one resource', async () => {
    const cccd = '079000100006';
    const bundle = () => ({
      resourceType: 'Bundle', type: 'transaction',
      entry: [{ resource: patient(cccd), request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${SID.cccd}|${cccd}` } }],
    });
    const results = await Promise.all(Array.from({ length: 10 }, () => gw.http.post('/fhir').set('Content-Type', FHIR_JSON).send(JSON.stringify(bundle()))));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(results.map((r) => r.body.entry[0].response.status).sort()).toEqual([...Array(9).fill('200 OK'), '201 Created']);
    const found = await gw.http.get(`/fhir/Patient?identifier=${SID.cccd}|${cccd}`);
    expect(found.body.total).toBe(1);
    noErrorsLogged();
  });

  it('10 concurrent PUTs that create the same client-chosen id: one 201, then 200s, versions 1..10', async () => {
    const id = 'race-create-1';
    const count = 10;
    const results = await Promise.all(Array.from({ length: count }, (_, i) => put(withPhone({ ...(patient('079000100007') as Patient), id }, i))));

    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(count - 1);
    expect(results.map((r) => Number(r.body.meta.versionId)).sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    // The 201 is the one that wrote version 1.
    expect(results.find((r) => r.status === 201)!.body.meta.versionId).toBe('1');

    const all = await history(id);
    expect(all.map((v) => v.meta!.versionId)).toEqual(Array.from({ length: count }, (_, i) => String(count - i)));
    expect(phones(all).sort()).toEqual(Array.from({ length: count }, (_, i) => withPhone(patient() as Patient, i).telecom![0].value).sort());
    noErrorsLogged();
  });

  it('concurrent DELETE and PUTs leave a consistent version chain', async () => {
    const p = await create('079000100008');
    const requests = [
      ...Array.from({ length: 5 }, (_, i) => put(withPhone(p, i))),
      gw.http.delete(`/fhir/Patient/${p.id}`),
      ...Array.from({ length: 5 }, (_, i) => put(withPhone(p, i + 5))),
    ];
    const results = await Promise.all(requests);
    // A PUT after the delete recreates the resource (201); every request succeeds.
    expect(results.every((r) => [200, 201, 204].includes(r.status))).toBe(true);
    const { rows } = await gw.db.query<{ version_id: number }>(
      `SELECT version_id FROM resources WHERE resource_type = 'Patient' AND id = $1
       UNION ALL SELECT version_id FROM resource_history WHERE resource_type = 'Patient' AND id = $1 ORDER BY 1`,
      [p.id],
    );
    // 1 (create) + 10 PUTs + 1 delete: versions 1..12 without a gap or a duplicate.
    expect(rows.map((r) => r.version_id)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    noErrorsLogged();
  });
});
