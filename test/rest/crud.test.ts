import type { Bundle, OperationOutcome, Patient, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SID } from '../support/fixtures.js';
import { FHIR_JSON, startGateway, type TestGateway } from '../support/gateway.js';
import { STORES } from '../support/stores.js';

const BASE = 'http://gw.test/fhir';
const JSON_PATCH = 'application/json-patch+json';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** An adult patient identified by a 12-digit CCCD (citizen identity card) number. */
function benhNhan(cccd: string, extra: Partial<Patient> = {}): Patient {
  return {
    resourceType: 'Patient',
    identifier: [{ system: SID.cccd, value: cccd }],
    name: [{ family: 'Trần', given: ['Thị', 'Mai'], text: 'Trần Thị Mai' }],
    gender: 'female',
    birthDate: '1992-09-14',
    address: [{ line: ['12 Lý Thường Kiệt'], district: 'Hoàn Kiếm', city: 'Hà Nội', country: 'VN' }],
    ...extra,
  };
}

/** `identifier=<CCCD system>|<value>`, as a query string. */
const byCccd = (cccd: string) => new URLSearchParams({ identifier: `${SID.cccd}|${cccd}` }).toString();

describe.each(STORES)('REST create, read, update, patch, delete and history on $name', (store) => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway(store);
  });
  afterAll(() => gw.close());

  const create = (resource: Resource, headers: Record<string, string> = {}) =>
    gw.http.post(`/fhir/${resource.resourceType}`).set({ 'Content-Type': FHIR_JSON, ...headers }).send(JSON.stringify(resource));
  const update = (resource: Resource, headers: Record<string, string> = {}) =>
    gw.http.put(`/fhir/${resource.resourceType}/${resource.id}`).set({ 'Content-Type': FHIR_JSON, ...headers }).send(JSON.stringify(resource));
  const patch = (path: string, ops: unknown, contentType = JSON_PATCH) =>
    gw.http.patch(path).set('Content-Type', contentType).send(JSON.stringify(ops));
  /** Creates and returns the stored resource (asserting the 201). */
  const created = async <T extends Resource>(resource: T): Promise<T & { id: string }> => {
    const res = await create(resource);
    expect(res.status).toBe(201);
    return res.body;
  };
  const patientsWithCccd = async (cccd: string) => {
    const res = await gw.http.get(`/fhir/Patient?${byCccd(cccd)}`);
    expect(res.status).toBe(200);
    return ((res.body as Bundle).entry ?? []).map((e) => e.resource as Patient);
  };
  const versionOf = async (id: string) => (await gw.http.get(`/fhir/Patient/${id}`)).body.meta.versionId as string;

  describe('create', () => {
    it('answers 201 with the stored resource, an absolute Location, ETag W/"1" and Last-Modified', async () => {
      const res = await create(benhNhan('001192000101'));
      expect(res.status).toBe(201);
      expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
      const body = res.body as Patient;
      expect(body.id).toMatch(UUID);
      expect(res.headers.location).toBe(`${BASE}/Patient/${body.id}/_history/1`);
      expect(res.headers.etag).toBe('W/"1"');
      expect(body.meta?.versionId).toBe('1');
      expect(res.headers['last-modified']).toBe(new Date(body.meta!.lastUpdated!).toUTCString());
      expect(body.identifier).toEqual([{ system: SID.cccd, value: '001192000101' }]);
      expect(body.name?.[0].text).toBe('Trần Thị Mai');
    });

    it('ignores an id the client puts in the body of a POST', async () => {
      const res = await create(benhNhan('001192000102', { id: 'id-do-may-khach-chon' }));
      expect(res.status).toBe(201);
      expect(res.body.id).not.toBe('id-do-may-khach-chon');
      expect(res.body.id).toMatch(UUID);
      expect((await gw.http.get(`/fhir/Patient/${res.body.id}`)).status).toBe(200);
      expect((await gw.http.get('/fhir/Patient/id-do-may-khach-chon')).status).toBe(404);
    });
  });

  describe('read and vread', () => {
    it('reads the current version with its version headers', async () => {
      const p = await created(benhNhan('001192000201'));
      const res = await gw.http.get(`/fhir/Patient/${p.id}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(p);
      expect(res.headers.etag).toBe('W/"1"');
      expect(res.headers['last-modified']).toBe(new Date(p.meta!.lastUpdated!).toUTCString());
    });

    it('answers 404 for an unknown id and 410 once the resource is deleted', async () => {
      const unknown = await gw.http.get('/fhir/Patient/khong-ton-tai');
      expect(unknown.status).toBe(404);
      expect((unknown.body as OperationOutcome).issue[0].code).toBe('not-found');

      const p = await created(benhNhan('001192000202'));
      expect((await gw.http.delete(`/fhir/Patient/${p.id}`)).status).toBe(204);
      const gone = await gw.http.get(`/fhir/Patient/${p.id}`);
      expect(gone.status).toBe(410);
      expect((gone.body as OperationOutcome).resourceType).toBe('OperationOutcome');
      expect((gone.body as OperationOutcome).issue[0].code).toBe('deleted');
    });

    it('keeps every earlier version readable after updates, and answers 404 for a version that never was', async () => {
      const v1 = await created(benhNhan('001192000203'));
      const v2 = (await update({ ...v1, telecom: [{ system: 'phone', value: '0912345678', use: 'mobile' }] })).body as Patient;
      const v3 = (await update({ ...v2, maritalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'M' }] } })).body as Patient;
      expect([v2.meta?.versionId, v3.meta?.versionId]).toEqual(['2', '3']);

      for (const [n, expected] of [[1, v1], [2, v2], [3, v3]] as const) {
        const res = await gw.http.get(`/fhir/Patient/${v1.id}/_history/${n}`);
        expect(res.status).toBe(200);
        expect(res.headers.etag).toBe(`W/"${n}"`);
        expect(res.body).toEqual(expected);
      }
      expect((await gw.http.get(`/fhir/Patient/${v1.id}/_history/1`)).body.telecom).toBeUndefined();
      expect((await gw.http.get(`/fhir/Patient/${v1.id}/_history/4`)).status).toBe(404);
      expect((await gw.http.get(`/fhir/Patient/${v1.id}/_history/khong-phai-so`)).status).toBe(404);
      expect((await gw.http.get('/fhir/Patient/khong-ton-tai/_history/1')).status).toBe(404);
    });

    it('answers a conditional read (If-None-Match) with 304 while the version is current', async () => {
      const p = await created(benhNhan('001192000204'));
      const same = await gw.http.get(`/fhir/Patient/${p.id}`).set('If-None-Match', 'W/"1"');
      expect(same.status).toBe(304);
      expect(same.text ?? '').toBe('');
      expect(same.headers.etag).toBe('W/"1"');

      await update({ ...p, gender: 'other' });
      const changed = await gw.http.get(`/fhir/Patient/${p.id}`).set('If-None-Match', 'W/"1"');
      expect(changed.status).toBe(200);
      expect(changed.body.gender).toBe('other');
      expect(changed.headers.etag).toBe('W/"2"');
    });

    it('answers HEAD with the headers of GET and no body', async () => {
      const p = await created(benhNhan('001192000205'));
      const get = await gw.http.get(`/fhir/Patient/${p.id}`);
      const head = await gw.http.head(`/fhir/Patient/${p.id}`);
      expect(head.status).toBe(200);
      expect(head.text ?? '').toBe('');
      expect(head.headers.etag).toBe('W/"1"');
      expect(head.headers['content-type']).toBe(get.headers['content-type']);
      expect(head.headers['content-length']).toBe(get.headers['content-length']);
      expect(head.headers['last-modified']).toBe(get.headers['last-modified']);
      expect((await gw.http.head('/fhir/Patient/khong-ton-tai')).status).toBe(404);
    });
  });

  describe('update', () => {
    it('stores a new version and answers 200 with its headers', async () => {
      const p = await created(benhNhan('001192000301'));
      const res = await update({ ...p, address: [{ line: ['45 Nguyễn Huệ'], district: 'Quận 1', city: 'Hồ Chí Minh', country: 'VN' }] });
      expect(res.status).toBe(200);
      expect(res.headers.etag).toBe('W/"2"');
      expect(res.headers['content-location']).toBe(`${BASE}/Patient/${p.id}/_history/2`);
      expect(res.body.id).toBe(p.id);
      expect(res.body.meta.versionId).toBe('2');
      const read = await gw.http.get(`/fhir/Patient/${p.id}`);
      expect(read.body.address[0].city).toBe('Hồ Chí Minh');
      expect(read.body.meta.versionId).toBe('2');
    });

    it('creates a resource with the client-chosen id of a PUT, with 201', async () => {
      const res = await update(benhNhan('001192000302', { id: 'bv-bach-mai-000123' }));
      expect(res.status).toBe(201);
      expect(res.headers.location).toBe(`${BASE}/Patient/bv-bach-mai-000123/_history/1`);
      expect(res.headers.etag).toBe('W/"1"');
      const read = await gw.http.get('/fhir/Patient/bv-bach-mai-000123');
      expect(read.status).toBe(200);
      expect(read.body.identifier[0].value).toBe('001192000302');
    });

    it('refuses a body whose id differs from the URL, or has none, with 400 naming Patient.id', async () => {
      const p = await created(benhNhan('001192000303'));
      const other = await gw.http.put(`/fhir/Patient/${p.id}`).set('Content-Type', FHIR_JSON).send(JSON.stringify({ ...p, id: 'mot-id-khac', gender: 'male' }));
      expect(other.status).toBe(400);
      expect((other.body as OperationOutcome).issue[0].expression).toEqual(['Patient.id']);
      const { id: _id, ...withoutId } = p;
      const none = await gw.http.put(`/fhir/Patient/${p.id}`).set('Content-Type', FHIR_JSON).send(JSON.stringify({ ...withoutId, gender: 'male' }));
      expect(none.status).toBe(400);
      expect((none.body as OperationOutcome).issue[0].expression).toEqual(['Patient.id']);
      expect((await gw.http.get('/fhir/Patient/mot-id-khac')).status).toBe(404);
      const read = await gw.http.get(`/fhir/Patient/${p.id}`);
      expect(read.body.gender).toBe('female');
      expect(read.body.meta.versionId).toBe('1');
    });

    it('does not create a new version when the same content is sent again', async () => {
      const p = await created(benhNhan('001192000304'));
      // Once exactly as read back (server meta included), once without meta.
      const again = await update(p);
      expect(again.status).toBe(200);
      expect(again.headers.etag).toBe('W/"1"');
      expect(again.body).toEqual(p);
      const { meta: _meta, ...bare } = p;
      const bareAgain = await update(bare as Patient);
      expect(bareAgain.status).toBe(200);
      expect(bareAgain.body.meta.versionId).toBe('1');

      const history = await gw.http.get(`/fhir/Patient/${p.id}/_history`);
      expect((history.body as Bundle).entry).toHaveLength(1);
      expect((await gw.http.get(`/fhir/Patient/${p.id}/_history/2`)).status).toBe(404);
    });
  });

  describe('If-Match (optimistic locking)', () => {
    it('on update: 412 when the version is stale, success when it is current', async () => {
      const p = await created(benhNhan('001192000401'));
      const stale = await update({ ...p, gender: 'male' }, { 'If-Match': 'W/"2"' });
      expect(stale.status).toBe(412);
      expect((stale.body as OperationOutcome).issue[0].expression).toEqual(['If-Match']);
      expect(await versionOf(p.id)).toBe('1');

      const ok = await update({ ...p, gender: 'male' }, { 'If-Match': 'W/"1"' });
      expect(ok.status).toBe(200);
      expect(ok.headers.etag).toBe('W/"2"');

      // Version 1 is no longer current: another client holding it loses.
      const lost = await update({ ...p, gender: 'other' }, { 'If-Match': 'W/"1"' });
      expect(lost.status).toBe(412);
      const read = await gw.http.get(`/fhir/Patient/${p.id}`);
      expect(read.body.gender).toBe('male');
      expect(read.body.meta.versionId).toBe('2');
    });

    it('on delete: 412 when the version is stale, 204 when it is current', async () => {
      const p = await created(benhNhan('001192000402'));
      const stale = await gw.http.delete(`/fhir/Patient/${p.id}`).set('If-Match', 'W/"3"');
      expect(stale.status).toBe(412);
      expect((await gw.http.get(`/fhir/Patient/${p.id}`)).status).toBe(200);

      const ok = await gw.http.delete(`/fhir/Patient/${p.id}`).set('If-Match', 'W/"1"');
      expect(ok.status).toBe(204);
      expect((await gw.http.get(`/fhir/Patient/${p.id}`)).status).toBe(410);
    });

    it('If-Match: * asks only that the resource exists', async () => {
      const p = await created(benhNhan('001192000403'));
      const ok = await update({ ...p, gender: 'male' }, { 'If-Match': '*' });
      expect(ok.status).toBe(200);
      expect(ok.headers.etag).toBe('W/"2"');
      const missing = await update({ ...benhNhan('001192000404'), id: 'chua-co' }, { 'If-Match': '*' });
      expect(missing.status).toBe(412);
      expect((await gw.http.get('/fhir/Patient/chua-co')).status).toBe(404);
    });
  });

  describe('conditional interactions', () => {
    it('conditional create (If-None-Exist): a match answers 200 with the existing resource and stores nothing', async () => {
      const existing = await created(benhNhan('001192000501'));
      const res = await create(benhNhan('001192000501', { gender: 'male' }), { 'If-None-Exist': byCccd('001192000501') });
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(existing.id);
      expect(res.body.gender).toBe('female');
      expect(res.headers.etag).toBe('W/"1"');
      expect(await patientsWithCccd('001192000501')).toHaveLength(1);
      expect(await versionOf(existing.id)).toBe('1');
    });

    it('conditional create (If-None-Exist): no match creates with 201', async () => {
      const res = await create(benhNhan('001192000502'), { 'If-None-Exist': byCccd('001192000502') });
      expect(res.status).toBe(201);
      expect(res.headers.location).toBe(`${BASE}/Patient/${res.body.id}/_history/1`);
      const found = await patientsWithCccd('001192000502');
      expect(found.map((p) => p.id)).toEqual([res.body.id]);
    });

    it('conditional update: no match creates, one match updates that resource, two matches are 412', async () => {
      const url = `/fhir/Patient?${byCccd('001192000503')}`;
      const put = (body: Patient) => gw.http.put(url).set('Content-Type', FHIR_JSON).send(JSON.stringify(body));

      const first = await put(benhNhan('001192000503'));
      expect(first.status).toBe(201);
      const id = first.body.id as string;
      expect(id).toMatch(UUID);

      const second = await put(benhNhan('001192000503', { telecom: [{ system: 'phone', value: '0987654321' }] }));
      expect(second.status).toBe(200);
      expect(second.body.id).toBe(id);
      expect(second.body.meta.versionId).toBe('2');
      expect(second.body.telecom[0].value).toBe('0987654321');
      expect((await patientsWithCccd('001192000503')).map((p) => p.id)).toEqual([id]);

      // A condition that matches two patients is ambiguous: nothing is written.
      const other = await created(benhNhan('001192000504'));
      const both = new URLSearchParams({ identifier: `${SID.cccd}|001192000503,${SID.cccd}|001192000504` });
      const ambiguous = await gw.http.put(`/fhir/Patient?${both}`).set('Content-Type', FHIR_JSON).send(JSON.stringify(benhNhan('001192000503', { gender: 'male' })));
      expect(ambiguous.status).toBe(412);
      expect((ambiguous.body as OperationOutcome).issue[0].code).toBe('multiple-matches');
      expect(await versionOf(id)).toBe('2');
      expect(await versionOf(other.id)).toBe('1');
    });

    it('conditional delete removes the one matching resource; with no match it is a 204 no-op', async () => {
      const p = await created(benhNhan('001192000505'));
      const res = await gw.http.delete(`/fhir/Patient?${byCccd('001192000505')}`);
      expect(res.status).toBe(204);
      expect((await gw.http.get(`/fhir/Patient/${p.id}`)).status).toBe(410);
      expect(await patientsWithCccd('001192000505')).toHaveLength(0);

      const again = await gw.http.delete(`/fhir/Patient?${byCccd('001192000505')}`);
      expect(again.status).toBe(204);
      const history = await gw.http.get(`/fhir/Patient/${p.id}/_history`);
      expect((history.body as Bundle).entry).toHaveLength(2);
    });
  });

  describe('delete', () => {
    it('is idempotent: a second delete answers 204 and writes no new version', async () => {
      const p = await created(benhNhan('001192000601'));
      expect((await gw.http.delete(`/fhir/Patient/${p.id}`)).status).toBe(204);
      expect((await gw.http.delete(`/fhir/Patient/${p.id}`)).status).toBe(204);
      const history = (await gw.http.get(`/fhir/Patient/${p.id}/_history`)).body as Bundle;
      expect(history.entry!.map((e) => e.response?.etag)).toEqual(['W/"2"', 'W/"1"']);
      expect((await gw.http.get(`/fhir/Patient/${p.id}/_history/3`)).status).toBe(404);
    });
  });

  describe('patch', () => {
    it('applies a JSON Patch and bumps the version', async () => {
      const p = await created(benhNhan('001192000701'));
      const res = await patch(`/fhir/Patient/${p.id}`, [
        { op: 'test', path: '/gender', value: 'female' },
        { op: 'add', path: '/telecom', value: [{ system: 'phone', value: '0903123456', use: 'mobile' }] },
        { op: 'replace', path: '/name/0/given/1', value: 'Hoa' },
      ]);
      expect(res.status).toBe(200);
      expect(res.headers.etag).toBe('W/"2"');
      expect(res.body.meta.versionId).toBe('2');
      const read = await gw.http.get(`/fhir/Patient/${p.id}`);
      expect(read.body.telecom).toEqual([{ system: 'phone', value: '0903123456', use: 'mobile' }]);
      expect(read.body.name[0].given).toEqual(['Thị', 'Hoa']);
      expect(read.body.identifier).toEqual(p.identifier);
    });

    it('refuses a patch sent as FHIR JSON with 415', async () => {
      const p = await created(benhNhan('001192000702'));
      const res = await patch(`/fhir/Patient/${p.id}`, [{ op: 'replace', path: '/gender', value: 'male' }], FHIR_JSON);
      expect(res.status).toBe(415);
      expect((res.body as OperationOutcome).resourceType).toBe('OperationOutcome');
      expect(await versionOf(p.id)).toBe('1');
    });

    it('answers 412 when a test operation fails and 422 when the patch cannot be applied, changing nothing', async () => {
      const p = await created(benhNhan('001192000703'));
      const failedTest = await patch(`/fhir/Patient/${p.id}`, [
        { op: 'test', path: '/gender', value: 'male' },
        { op: 'replace', path: '/gender', value: 'other' },
      ]);
      expect(failedTest.status).toBe(412);
      expect((failedTest.body as OperationOutcome).issue[0].expression).toEqual(['body[0]']);
      const noSuchPath = await patch(`/fhir/Patient/${p.id}`, [{ op: 'replace', path: '/contact/0/name/family', value: 'Lê' }]);
      expect(noSuchPath.status).toBe(422);
      expect((noSuchPath.body as OperationOutcome).issue[0].expression).toEqual(['body[0]']);
      const read = await gw.http.get(`/fhir/Patient/${p.id}`);
      expect(read.body.gender).toBe('female');
      expect(read.body.meta.versionId).toBe('1');
    });
  });

  describe('history', () => {
    it('lists the versions of one resource newest first, with methods, statuses and ETags', async () => {
      const p = await created(benhNhan('001192000801'));
      await update({ ...p, gender: 'unknown' });
      await gw.http.delete(`/fhir/Patient/${p.id}`);

      const res = await gw.http.get(`/fhir/Patient/${p.id}/_history`);
      expect(res.status).toBe(200);
      const bundle = res.body as Bundle;
      expect(bundle.type).toBe('history');
      const summary = bundle.entry!.map((e) => [e.request?.method, e.request?.url, e.response?.status, e.response?.etag]);
      expect(summary).toEqual([
        ['DELETE', `Patient/${p.id}`, '204', 'W/"3"'],
        ['PUT', `Patient/${p.id}`, '200', 'W/"2"'],
        ['POST', 'Patient', '201', 'W/"1"'],
      ]);
      expect(bundle.entry!.every((e) => e.fullUrl === `${BASE}/Patient/${p.id}`)).toBe(true);
      // A deletion has no resource; the other versions carry theirs.
      expect(bundle.entry![0].resource).toBeUndefined();
      expect((bundle.entry![1].resource as Patient).gender).toBe('unknown');
      expect((bundle.entry![2].resource as Patient).gender).toBe('female');
    });

    it('lists the versions of a type newest first and pages them with _count and next links', async () => {
      // Health facilities (cơ sở khám chữa bệnh): a type no other test writes.
      const orgs = [];
      for (const [code, name] of [['01001', 'Bệnh viện Bạch Mai'], ['79001', 'Bệnh viện Chợ Rẫy'], ['48001', 'Bệnh viện Đà Nẵng']]) {
        orgs.push(await created({ resourceType: 'Organization', identifier: [{ system: SID.maCskcb, value: code }], name } as Resource));
      }
      await update({ ...orgs[0], active: true } as Resource);

      const seen: string[] = [];
      const lastModified: string[] = [];
      const pages: number[] = [];
      let next: string | undefined = '/fhir/Organization/_history?_count=3';
      while (next) {
        const res = await gw.http.get(next);
        expect(res.status).toBe(200);
        const bundle = res.body as Bundle;
        expect(bundle.type).toBe('history');
        pages.push(bundle.entry!.length);
        seen.push(...bundle.entry!.map((e) => `${e.resource!.id}@${e.response!.etag}`));
        lastModified.push(...bundle.entry!.map((e) => e.response!.lastModified!));
        const link = bundle.link?.find((l) => l.relation === 'next')?.url;
        if (link) expect(link.startsWith(`${BASE}/Organization/_history?`)).toBe(true);
        next = link?.slice('http://gw.test'.length);
      }
      expect(pages).toEqual([3, 1]);
      // Every version once, across the pages…
      expect([...seen].sort()).toEqual([`${orgs[0].id}@W/"2"`, ...orgs.map((o) => `${o.id}@W/"1"`)].sort());
      // …newest first (two writes may share a millisecond, so compare instants, not positions).
      expect(lastModified).toEqual([...lastModified].sort().reverse());
      expect(seen.indexOf(`${orgs[0].id}@W/"2"`)).toBeLessThan(seen.indexOf(`${orgs[0].id}@W/"1"`));
    });
  });

  describe('history paging', () => {
    it('_count=0 answers no entries and no next link (which would point back at the same page)', async () => {
      const p = await created(benhNhan('001192000802'));
      const res = await gw.http.get(`/fhir/Patient/${p.id}/_history?_count=0`);
      expect(res.status).toBe(200);
      const bundle = res.body as Bundle;
      expect(bundle.entry ?? []).toEqual([]);
      expect(bundle.link?.map((l) => l.relation)).toEqual(['self']);
    });
  });

  describe('Prefer: return', () => {
    it('return=minimal answers without a body but with the headers', async () => {
      const res = await create(benhNhan('001192000901'), { Prefer: 'return=minimal' });
      expect(res.status).toBe(201);
      expect(res.text ?? '').toBe('');
      expect(res.headers.location).toMatch(new RegExp(`^${BASE}/Patient/[0-9a-f-]{36}/_history/1$`));
      expect(res.headers.etag).toBe('W/"1"');

      const id = res.headers.location.split('/')[5];
      const read = (await gw.http.get(`/fhir/Patient/${id}`)).body as Patient;
      const upd = await update({ ...read, gender: 'male' }, { Prefer: 'return=minimal' });
      expect(upd.status).toBe(200);
      expect(upd.text ?? '').toBe('');
      expect(upd.headers.etag).toBe('W/"2"');
    });

    it('return=OperationOutcome answers with an OperationOutcome instead of the resource', async () => {
      const res = await create(benhNhan('001192000902'), { Prefer: 'return=OperationOutcome' });
      expect(res.status).toBe(201);
      const oo = res.body as OperationOutcome;
      expect(oo.resourceType).toBe('OperationOutcome');
      expect(oo.issue[0].severity).toBe('information');
      const id = res.headers.location.split('/')[5];
      expect(oo.issue[0].diagnostics).toContain(`Patient/${id}`);
      expect((await gw.http.get(`/fhir/Patient/${id}`)).status).toBe(200);
    });
  });
});
