import type { Bundle, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { CheckFailure, expect, expectEqual, type Check, type RunContext } from './check.js';
import { CCCD } from './requirements.js';

/**
 * REST behaviour every deployment must have: versions and If-Match, conditional create, search by
 * identifier with `_count` paging, transactions that commit all or nothing — and validation answers
 * with exact `expression`s. Every resource is made unique to the run (its CCCD and family name carry
 * the run id), so that runs never meet, and deleted at the end.
 */

/** A CCCD the profile accepts (12 digits, a province code 001–096 first), unique to the run and n. */
export function testCccd(runId: string, n: number): string {
  const digits = `${parseInt(runId, 36)}${n}`.replace(/\D/g, '').padStart(9, '0').slice(-9);
  return `001${digits}`;
}

export function testPatient(ctx: RunContext, n: number, family = `Kiemthu${ctx.runId}`): Patient {
  return {
    resourceType: 'Patient',
    identifier: [{ system: CCCD, value: testCccd(ctx.runId, n) }],
    name: [{ text: `${family} Thị Mẫu`, family, given: ['Thị', 'Mẫu'] }],
    gender: 'female',
    birthDate: '1990-05-17',
  };
}

const issues = (body: unknown) => ((body as OperationOutcome | undefined)?.issue ?? []);
const idOf = (location: string | null) => location?.match(/\/Patient\/([^/]+)/)?.[1];

export function restChecks(): Check[] {
  let id = '';
  const check = (name: string, run: Check['run'], group: Check['group'] = 'rest'): Check => ({ group, name, run });
  return [
    check('create: POST Patient answers 201 with Location, ETag W/"1" and meta.versionId 1', async (ctx) => {
      const r = await ctx.client.post('Patient', testPatient(ctx, 1));
      expectEqual(r.status, 201, 'status');
      id = idOf(r.headers.get('location')) ?? '';
      expect(id, `no Location (${r.headers.get('location')})`);
      ctx.created.push(`Patient/${id}`);
      expectEqual(r.headers.get('etag'), 'W/"1"', 'ETag');
      expectEqual((r.json as Patient).meta?.versionId, '1', 'meta.versionId');
    }),
    check('read: GET Patient/{id} answers the resource and its ETag', async ({ client }) => {
      const r = await client.get(`Patient/${id}`);
      expectEqual(r.status, 200, 'status');
      expectEqual((r.json as Patient).id, id, 'id');
      expectEqual(r.headers.get('etag'), 'W/"1"', 'ETag');
    }),
    check('update: PUT with If-Match W/"1" makes version 2', async (ctx) => {
      const r = await ctx.client.put(`Patient/${id}`, { ...testPatient(ctx, 1), id, telecom: [{ system: 'phone', value: '0900000000' }] }, { headers: { 'If-Match': 'W/"1"' } });
      expectEqual(r.status, 200, 'status');
      expectEqual(r.headers.get('etag'), 'W/"2"', 'ETag');
      expectEqual((r.json as Patient).meta?.versionId, '2', 'meta.versionId');
    }),
    check('update: a stale If-Match answers 412 and changes nothing', async (ctx) => {
      const r = await ctx.client.put(`Patient/${id}`, { ...testPatient(ctx, 1), id, gender: 'other' }, { headers: { 'If-Match': 'W/"1"' } });
      expectEqual(r.status, 412, 'status');
      expectEqual((await ctx.client.get(`Patient/${id}`)).headers.get('etag'), 'W/"2"', 'ETag after');
    }),
    check('vread: GET Patient/{id}/_history/1 answers version 1', async ({ client }) => {
      const r = await client.get(`Patient/${id}/_history/1`);
      expectEqual(r.status, 200, 'status');
      expectEqual((r.json as Patient).meta?.versionId, '1', 'meta.versionId');
      expectEqual((r.json as Patient).telecom, undefined, 'telecom of version 1');
    }),
    check('conditional create: If-None-Exist matching the patient answers 200 with it, no new resource', async (ctx) => {
      const r = await ctx.client.post('Patient', testPatient(ctx, 1), { headers: { 'If-None-Exist': `identifier=${CCCD}|${testCccd(ctx.runId, 1)}` } });
      expectEqual(r.status, 200, 'status');
      expectEqual(idOf(r.headers.get('location')) ?? (r.json as Patient | undefined)?.id, id, 'the existing patient');
    }),
    check('search: Patient?identifier=system|value finds exactly the patient', async (ctx) => {
      const r = await ctx.client.get(`Patient?identifier=${encodeURIComponent(`${CCCD}|${testCccd(ctx.runId, 1)}`)}`);
      expectEqual(r.status, 200, 'status');
      expectEqual(((r.json as Bundle).entry ?? []).map((e) => e.resource?.id), [id], 'matches');
    }),
    check('transaction: all entries are committed and urn:uuid references rewritten', async (ctx) => {
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [2, 3].map((n) => ({ fullUrl: `urn:uuid:00000000-0000-4000-8000-00000000000${n}`, resource: testPatient(ctx, n), request: { method: 'POST', url: 'Patient' } })),
      };
      (bundle.entry![1].resource as Patient).link = [{ other: { reference: bundle.entry![0].fullUrl }, type: 'seealso' }];
      const r = await ctx.client.post('', bundle);
      expectEqual(r.status, 200, 'status');
      const locations = ((r.json as Bundle).entry ?? []).map((e) => e.response?.location ?? '');
      expectEqual(locations.map((l) => /^Patient\/[^/]+\/_history\/1$/.test(l)), [true, true], 'entry locations');
      for (const l of locations) ctx.created.push(l.split('/_history')[0]);
      const second = await ctx.client.get(locations[1].split('/_history')[0]);
      expectEqual((second.json as Patient).link?.[0].other.reference, locations[0].split('/_history')[0], 'rewritten reference');
    }),
    check('transaction: an invalid entry refuses the whole transaction, naming the entry, and nothing is stored', async (ctx) => {
      const bad = testPatient(ctx, 5);
      bad.identifier![0].value = '999000000001';
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [testPatient(ctx, 4), bad].map((resource) => ({ resource, request: { method: 'POST', url: 'Patient' } })),
      };
      const r = await ctx.client.post('', bundle);
      expectEqual(r.status, 422, 'status');
      expect(issues(r.json).some((i) => i.expression?.[0] === 'Bundle.entry[1].resource.identifier[0].value'), `no issue at Bundle.entry[1].resource.identifier[0].value: ${JSON.stringify(issues(r.json).map((i) => i.expression))}`);
      const after = await ctx.client.get(`Patient?identifier=${encodeURIComponent(`${CCCD}|${testCccd(ctx.runId, 4)}`)}`);
      expectEqual(((after.json as Bundle).entry ?? []).length, 0, 'the valid entry stored');
    }),
    check('search: _count pages through the matches with next links', async (ctx) => {
      const family = `Trang${ctx.runId}`;
      for (const n of [6, 7, 8]) {
        const r = await ctx.client.post('Patient', testPatient(ctx, n, family));
        if (r.status !== 201) throw new CheckFailure(`creating patient ${n}: ${r.status}`);
        ctx.created.push(`Patient/${idOf(r.headers.get('location'))}`);
      }
      const first = await ctx.client.get(`Patient?name=${family}&_count=2`);
      const page1 = first.json as Bundle;
      expectEqual(page1.entry?.length, 2, 'first page entries');
      const next = page1.link?.find((l) => l.relation === 'next')?.url;
      expect(next, 'no next link on the first page');
      const second = await ctx.client.get(relativeTo(ctx.client.baseUrl, next));
      const page2 = second.json as Bundle;
      expectEqual(page2.entry?.length, 1, 'second page entries');
      expect(!page2.link?.some((l) => l.relation === 'next'), 'a next link on the last page');
      const ids = new Set([...(page1.entry ?? []), ...(page2.entry ?? [])].map((e) => e.resource?.id));
      expectEqual(ids.size, 3, 'distinct patients over both pages');
    }),
    check('validation: a CCCD without a province code answers 422 at Patient.identifier[0].value (hb-cccd-2), nothing stored', async (ctx) => {
      const bad = testPatient(ctx, 9);
      bad.identifier![0].value = '999000000009';
      const r = await ctx.client.post('Patient', bad);
      expectEqual(r.status, 422, 'status');
      const issue = issues(r.json).find((i) => i.expression?.[0] === 'Patient.identifier[0].value');
      expect(issue, `no issue at Patient.identifier[0].value: ${JSON.stringify(issues(r.json).map((i) => i.expression))}`);
      expectEqual([issue.severity, issue.code], ['error', 'invariant'], 'severity and code');
      expect(/hb-cccd-2/.test(issue.diagnostics ?? ''), `diagnostics does not name hb-cccd-2: ${issue.diagnostics}`);
    }, 'validation'),
    check('validation: a Patient without name and gender answers 422 at Patient.name and Patient.gender', async (ctx) => {
      const { name: _n, gender: _g, ...bare } = testPatient(ctx, 10);
      const r = await ctx.client.post('Patient', bare);
      expectEqual(r.status, 422, 'status');
      const at = issues(r.json).filter((i) => i.severity === 'error').map((i) => i.expression?.[0]);
      expect(at.includes('Patient.name') && at.includes('Patient.gender'), `errors at ${JSON.stringify(at)}`);
    }, 'validation'),
    check('validation: $validate gives the same answer as a write, and stores nothing', async (ctx) => {
      const bad = testPatient(ctx, 11);
      bad.identifier![0].value = '12345';
      const r = await ctx.client.post('Patient/$validate', bad);
      expectEqual(r.status, 200, 'status');
      const issue = issues(r.json).find((i) => i.expression?.[0] === 'Patient.identifier[0].value' && /hb-cccd-1/.test(i.diagnostics ?? ''));
      expect(issue, `no hb-cccd-1 issue at Patient.identifier[0].value: ${JSON.stringify(issues(r.json).map((i) => [i.expression, i.diagnostics]))}`);
      const after = await ctx.client.get(`Patient?identifier=${encodeURIComponent(`${CCCD}|12345`)}`);
      expectEqual(((after.json as Bundle).entry ?? []).length, 0, 'stored');
    }, 'validation'),
  ];
}

/** A link the server made (absolute, maybe with its public host) as a path under the client's base. */
export function relativeTo(base: string, url: string): string {
  const basePath = new URL(base).pathname.replace(/\/$/, '');
  const u = new URL(url, base);
  return u.pathname.startsWith(basePath) ? `${u.pathname.slice(basePath.length + 1)}${u.search}` : `${u.pathname}${u.search}`;
}
