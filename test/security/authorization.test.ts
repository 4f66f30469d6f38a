import type { Bundle, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outpatientEpisode } from '../support/episodes.js';
import { SID, visitUnderWay } from '../support/fixtures.js';
import { FHIR_JSON, type TestGateway } from '../support/gateway.js';
import { STORES } from '../support/stores.js';
import { accessToken, registerClient, secureGateway } from './support.js';

const A = '10085';
const B = '79024';
// outpatientEpisode(n) makes the CCCD 010167 + n (six digits).
const CCCD_A = '010167000001';
const CCCD_B = '010167000002';

type Who = 'hospitalA' | 'hospitalB' | 'citizenA' | 'auditor' | 'admin';
interface Attempt {
  name: string;
  who: Who;
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  body?: unknown;
  type?: string;
  /** 403 for a refusal; 'hidden' when the answer succeeds but must hold none of the other facility's data. */
  expect: 403 | 'hidden';
}

describe.each(STORES)('authorization on $name', (store) => {
  let gw: TestGateway;
  const tokens = {} as Record<Who, string>;
  const ids = {} as Record<string, string>;
  let patientB: Resource;

  const as = (who: Who, method: Attempt['method'], path: string, body?: unknown, type = FHIR_JSON) => {
    const req = gw.http[method](path).set('Authorization', `Bearer ${tokens[who]}`);
    return body === undefined ? req : req.set('Content-Type', type).send(typeof body === 'string' ? body : JSON.stringify(body));
  };
  const one = async (sql: string, params: unknown[] = []) => (await gw.db.query<{ id: string }>(sql, params)).rows[0]?.id;
  const idOf = (type: string, facility: string, extra = '') =>
    one(`SELECT r.id FROM resources r WHERE r.resource_type = $1 AND NOT r.deleted AND r.content::text LIKE $2 ${extra} LIMIT 1`, [type, `%${facility === A ? ids.encounterA : ids.encounterB}%`]);

  beforeAll(async () => {
    gw = await secureGateway(store);
    const clients = {
      hospitalA: await registerClient(gw, { id: 'his-a', role: 'hospital', facility: A }),
      hospitalB: await registerClient(gw, { id: 'his-b', role: 'hospital', facility: B }),
      citizenA: await registerClient(gw, { id: 'app-citizen-a', role: 'citizen', cccd: CCCD_A }),
      auditor: await registerClient(gw, { id: 'auditor', role: 'auditor' }),
      admin: await registerClient(gw, { id: 'admin', role: 'admin' }),
    };
    for (const [who, c] of Object.entries(clients)) tokens[who as Who] = await accessToken(gw, c);
    const a = await as('hospitalA', 'post', '/fhir', outpatientEpisode(1, A));
    expect(a.status, a.text.slice(0, 500)).toBe(200);
    const b = await as('hospitalB', 'post', '/fhir', outpatientEpisode(2, B));
    expect(b.status, b.text.slice(0, 500)).toBe(200);
    ids.patientA = (await one(`SELECT id FROM resources WHERE resource_type = 'Patient' AND content::text LIKE $1`, [`%${CCCD_A}%`]))!;
    ids.patientB = (await one(`SELECT id FROM resources WHERE resource_type = 'Patient' AND content::text LIKE $1`, [`%${CCCD_B}%`]))!;
    patientB = (await gw.db.query<{ content: Resource }>(`SELECT content FROM resources WHERE resource_type = 'Patient' AND id = $1`, [ids.patientB])).rows[0].content;
    ids.orgA = (await one(`SELECT id FROM resources WHERE resource_type = 'Organization' AND content::text LIKE $1`, [`%"${A}"%`]))!;
    ids.orgB = (await one(`SELECT id FROM resources WHERE resource_type = 'Organization' AND content::text LIKE $1`, [`%"${B}"%`]))!;
    ids.encounterA = (await one(`SELECT id FROM resources WHERE resource_type = 'Encounter' AND content::text LIKE $1`, [`%Organization/${ids.orgA}%`]))!;
    ids.encounterB = (await one(`SELECT id FROM resources WHERE resource_type = 'Encounter' AND content::text LIKE $1`, [`%Organization/${ids.orgB}%`]))!;
    for (const type of ['Condition', 'Observation', 'MedicationRequest', 'ChargeItem', 'DiagnosticReport']) {
      ids[`${type}B`] = (await idOf(type, B))!;
      ids[`${type}A`] = (await idOf(type, A))!;
    }
    ids.coverageB = (await one(`SELECT id FROM resources WHERE resource_type = 'Coverage' AND content::text LIKE $1`, [`%Patient/${ids.patientB}%`]))!;
    ids.taskB = (await one(`SELECT id FROM resources WHERE resource_type = 'Task' AND content::text LIKE $1`, [`%Encounter/${ids.encounterB}%`]))!;
    ids.bookB = (await one(`SELECT id FROM resources WHERE resource_type = 'Composition' AND content::text LIKE $1 AND content::text LIKE '%60591-5%'`, [`%Patient/${ids.patientB}%`]))!;
    for (const [k, v] of Object.entries(ids)) expect(v, k).toBeTruthy();
    // Hospital A is treating its patient now: an open episode (the example one ended in 2025).
    const open = await as('hospitalA', 'post', '/fhir/Encounter', { ...visitUnderWay({ subject: `Patient/${ids.patientA}`, serviceProvider: `Organization/${ids.orgA}`, maLk: 'LK-OPEN-A' }) });
    expect(open.status, open.text.slice(0, 400)).toBe(201);
  });
  afterAll(() => gw.close());

  const attempts = (): Attempt[] => {
    const pB = ids.patientB;
    const eB = ids.encounterB;
    const txn = (entries: unknown[]) => ({ resourceType: 'Bundle', type: 'transaction', entry: entries });
    const conditionFor = (enc: string, patient: string) => ({ resourceType: 'Condition', subject: { reference: `Patient/${patient}` }, encounter: { reference: `Encounter/${enc}` }, code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'I10' }] }, recordedDate: '2025-03-10T09:00:00+07:00' });
    const list: Attempt[] = [
      // Hospital A, at B's episode and patient: reads.
      { name: 'read B patient', who: 'hospitalA', method: 'get', path: `/fhir/Patient/${pB}`, expect: 403 },
      { name: 'read B encounter', who: 'hospitalA', method: 'get', path: `/fhir/Encounter/${eB}`, expect: 403 },
      ...['Condition', 'Observation', 'MedicationRequest', 'ChargeItem', 'DiagnosticReport'].map((t): Attempt => ({ name: `read B ${t}`, who: 'hospitalA', method: 'get', path: `/fhir/${t}/${ids[`${t}B`]}`, expect: 403 })),
      { name: 'read B coverage', who: 'hospitalA', method: 'get', path: `/fhir/Coverage/${ids.coverageB}`, expect: 403 },
      { name: 'read B task', who: 'hospitalA', method: 'get', path: `/fhir/Task/${ids.taskB}`, expect: 403 },
      { name: 'read B book composition', who: 'hospitalA', method: 'get', path: `/fhir/Composition/${ids.bookB}`, expect: 403 },
      { name: 'vread B patient', who: 'hospitalA', method: 'get', path: `/fhir/Patient/${pB}/_history/1`, expect: 403 },
      { name: 'vread B encounter', who: 'hospitalA', method: 'get', path: `/fhir/Encounter/${eB}/_history/1`, expect: 403 },
      { name: 'history of B patient', who: 'hospitalA', method: 'get', path: `/fhir/Patient/${pB}/_history`, expect: 'hidden' },
      { name: 'history of Encounter type', who: 'hospitalA', method: 'get', path: '/fhir/Encounter/_history', expect: 'hidden' },
      { name: 'system history', who: 'hospitalA', method: 'get', path: '/fhir/_history?_count=1000', expect: 'hidden' },
      // Searches, includes.
      { name: 'search B patient by CCCD', who: 'hospitalA', method: 'get', path: `/fhir/Patient?identifier=${CCCD_B}`, expect: 'hidden' },
      { name: 'search B patient by system|CCCD', who: 'hospitalA', method: 'get', path: `/fhir/Patient?identifier=${SID.cccd}|${CCCD_B}`, expect: 'hidden' },
      { name: 'search all patients', who: 'hospitalA', method: 'get', path: '/fhir/Patient?_count=1000', expect: 'hidden' },
      { name: 'POST _search patients', who: 'hospitalA', method: 'post', path: '/fhir/Patient/_search', body: `identifier=${CCCD_B}`, type: 'application/x-www-form-urlencoded', expect: 'hidden' },
      { name: 'search B encounters by subject', who: 'hospitalA', method: 'get', path: `/fhir/Encounter?subject=Patient/${pB}`, expect: 'hidden' },
      { name: 'search all encounters', who: 'hospitalA', method: 'get', path: '/fhir/Encounter', expect: 'hidden' },
      { name: 'search B observations', who: 'hospitalA', method: 'get', path: `/fhir/Observation?patient=${pB}`, expect: 'hidden' },
      { name: 'search B condition by id', who: 'hospitalA', method: 'get', path: `/fhir/Condition?_id=${ids.ConditionB}`, expect: 'hidden' },
      { name: 'search B coverage by card', who: 'hospitalA', method: 'get', path: '/fhir/Coverage?_count=1000', expect: 'hidden' },
      { name: 'revinclude B encounters through B org', who: 'hospitalA', method: 'get', path: `/fhir/Organization?_id=${ids.orgB}&_revinclude=Encounter:service-provider`, expect: 'hidden' },
      { name: 'revinclude B encounters through B patient', who: 'hospitalA', method: 'get', path: `/fhir/Patient?_id=${pB}&_revinclude=Encounter:subject`, expect: 'hidden' },
      { name: 'include B patient from own encounters iterate', who: 'hospitalA', method: 'get', path: '/fhir/Encounter?_include=Encounter:subject&_revinclude:iterate=Encounter:subject', expect: 'hidden' },
      { name: 'search B tasks', who: 'hospitalA', method: 'get', path: `/fhir/Task?focus=Encounter/${eB}`, expect: 'hidden' },
      { name: 'search B book', who: 'hospitalA', method: 'get', path: `/fhir/Composition?subject=Patient/${pB}`, expect: 'hidden' },
      { name: 'count across facilities', who: 'hospitalA', method: 'get', path: '/fhir/Patient?_summary=count', expect: 403 },
      // Operations.
      { name: 'B claim file', who: 'hospitalA', method: 'get', path: `/fhir/Encounter/${eB}/$xml130`, expect: 403 },
      { name: 'B claim table', who: 'hospitalA', method: 'get', path: `/fhir/Encounter/${eB}/$xml130?table=XML1`, expect: 403 },
      { name: 'B check-in file', who: 'hospitalA', method: 'get', path: `/fhir/Encounter/${eB}/$xml130-checkin`, expect: 403 },
      { name: 'submit B episode', who: 'hospitalA', method: 'post', path: `/fhir/Encounter/${eB}/$submit`, body: { resourceType: 'Parameters' }, expect: 403 },
      { name: 'B health book by id', who: 'hospitalA', method: 'get', path: `/fhir/Patient/${pB}/$summary`, expect: 403 },
      { name: 'B health book by CCCD', who: 'hospitalA', method: 'get', path: `/fhir/Patient/$summary?identifier=${CCCD_B}`, expect: 403 },
      { name: 'B health book page', who: 'hospitalA', method: 'get', path: `/book/${pB}`, expect: 403 },
      { name: 'at-risk lists B tasks', who: 'hospitalA', method: 'get', path: '/fhir/Task/$at-risk', expect: 'hidden' },
      { name: 'match finds B patient', who: 'hospitalA', method: 'post', path: '/fhir/Patient/$match', body: { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: { resourceType: 'Patient', identifier: [{ system: SID.cccd, value: CCCD_B }] } }] }, expect: 'hidden' },
      { name: 'card lookup for facility B', who: 'hospitalA', method: 'post', path: '/fhir/CoverageEligibilityRequest/$submit', body: { resourceType: 'CoverageEligibilityRequest', status: 'active', purpose: ['validation'], created: '2025-03-10T08:00:00+07:00', insurer: { display: 'BHXH' }, patient: { reference: `Patient/${pB}` }, provider: { identifier: { system: SID.maCskcb, value: B } } }, expect: 403 },
      { name: 'facility credentials (admin only)', who: 'hospitalA', method: 'post', path: `/fhir/Organization/${ids.orgA}/$credentials`, body: { resourceType: 'Parameters', parameter: [{ name: 'revoke', valueBoolean: true }] }, expect: 403 },
      { name: 'readiness page (admin only)', who: 'hospitalA', method: 'get', path: '/readiness', expect: 403 },
      { name: 'audit log (auditor only)', who: 'hospitalA', method: 'get', path: '/fhir/AuditEvent', expect: 403 },
      // Writes.
      { name: 'update B patient', who: 'hospitalA', method: 'put', path: `/fhir/Patient/${pB}`, body: { ...patientB, gender: 'male' }, expect: 403 },
      { name: 'patch B patient', who: 'hospitalA', method: 'patch', path: `/fhir/Patient/${pB}`, body: [{ op: 'replace', path: '/gender', value: 'male' }], type: 'application/json-patch+json', expect: 403 },
      { name: 'delete B patient', who: 'hospitalA', method: 'delete', path: `/fhir/Patient/${pB}`, expect: 403 },
      { name: 'conditional update B patient by CCCD', who: 'hospitalA', method: 'put', path: `/fhir/Patient?identifier=${SID.cccd}|${CCCD_B}`, body: { ...patientB, id: undefined, meta: undefined, gender: 'male' }, expect: 403 },
      { name: 'conditional delete B patient', who: 'hospitalA', method: 'delete', path: `/fhir/Patient?identifier=${SID.cccd}|${CCCD_B}`, expect: 403 },
      { name: 'take over B encounter', who: 'hospitalA', method: 'patch', path: `/fhir/Encounter/${eB}`, body: [{ op: 'replace', path: '/serviceProvider', value: { reference: `Organization/${ids.orgA}` } }], type: 'application/json-patch+json', expect: 403 },
      { name: 'delete B encounter', who: 'hospitalA', method: 'delete', path: `/fhir/Encounter/${eB}`, expect: 403 },
      { name: 'delete B observation', who: 'hospitalA', method: 'delete', path: `/fhir/Observation/${ids.ObservationB}`, expect: 403 },
      { name: 'add a condition to B episode', who: 'hospitalA', method: 'post', path: '/fhir/Condition', body: conditionFor(eB, pB), expect: 403 },
      { name: 'encounter served by B', who: 'hospitalA', method: 'post', path: '/fhir/Encounter', body: { ...visitUnderWay({ subject: `Patient/${ids.patientA}`, serviceProvider: `Organization/${ids.orgB}`, maLk: 'LK-X' }) }, expect: 403 },
      { name: 'rename B organization', who: 'hospitalA', method: 'patch', path: `/fhir/Organization/${ids.orgB}`, body: [{ op: 'replace', path: '/name', value: 'x' }], type: 'application/json-patch+json', expect: 403 },
      { name: 'transaction adding to B episode', who: 'hospitalA', method: 'post', path: '/fhir', body: txn([{ resource: conditionFor(eB, pB), request: { method: 'POST', url: 'Condition' } }]), expect: 403 },
      { name: 'transaction reading B patient', who: 'hospitalA', method: 'post', path: '/fhir', body: txn([{ request: { method: 'GET', url: `Patient/${pB}` } }]), expect: 403 },
      { name: 'transaction updating B patient', who: 'hospitalA', method: 'post', path: '/fhir', body: txn([{ resource: { ...patientB, gender: 'male' }, request: { method: 'PUT', url: `Patient/${pB}` } }]), expect: 403 },
      { name: 'transaction deleting B encounter', who: 'hospitalA', method: 'post', path: '/fhir', body: txn([{ request: { method: 'DELETE', url: `Encounter/${eB}` } }]), expect: 403 },
      { name: 'transaction writing an AuditEvent', who: 'hospitalA', method: 'post', path: '/fhir', body: txn([{ resource: { resourceType: 'AuditEvent', type: { code: 'rest' }, recorded: '2025-01-01T00:00:00Z', agent: [{ requestor: true }], source: { observer: { display: 'x' } } }, request: { method: 'POST', url: 'AuditEvent' } }]), expect: 403 },
      { name: 'batch reading B patient', who: 'hospitalA', method: 'post', path: '/fhir', body: { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: `Patient/${pB}` } }] }, expect: 'hidden' },
      { name: 'batch updating B patient', who: 'hospitalA', method: 'post', path: '/fhir', body: { resourceType: 'Bundle', type: 'batch', entry: [{ resource: { ...patientB, gender: 'male' }, request: { method: 'PUT', url: `Patient/${pB}` } }] }, expect: 'hidden' },
      { name: 'conditional create echoes B patient', who: 'hospitalA', method: 'post', path: '/fhir', body: txn([{ resource: { resourceType: 'Patient', identifier: [{ system: SID.cccd, value: CCCD_B }] }, request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${SID.cccd}|${CCCD_B}` } }]), expect: 'hidden' },
      // Hospital B, at A.
      { name: 'B reads A patient', who: 'hospitalB', method: 'get', path: `/fhir/Patient/${ids.patientA}`, expect: 403 },
      { name: 'B reads A health book (not treating)', who: 'hospitalB', method: 'get', path: `/fhir/Patient/${ids.patientA}/$summary`, expect: 403 },
      { name: 'B reads A claim file', who: 'hospitalB', method: 'get', path: `/fhir/Encounter/${ids.encounterA}/$xml130`, expect: 403 },
      { name: 'B searches A patient', who: 'hospitalB', method: 'get', path: `/fhir/Patient?identifier=${CCCD_A}`, expect: 'hidden' },
      // Hospital B's own patient is not being treated now (the episode ended long ago): no book.
      { name: 'B reads its own past patient book', who: 'hospitalB', method: 'get', path: `/fhir/Patient/${pB}/$summary`, expect: 403 },
      // The citizen: their own book only.
      { name: 'citizen reads another book', who: 'citizenA', method: 'get', path: `/fhir/Patient/${pB}/$summary`, expect: 403 },
      { name: 'citizen reads another book by CCCD', who: 'citizenA', method: 'get', path: `/fhir/Patient/$summary?identifier=${CCCD_B}`, expect: 403 },
      { name: 'citizen reads another book page', who: 'citizenA', method: 'get', path: `/book/${pB}`, expect: 403 },
      { name: 'citizen reads own Patient resource', who: 'citizenA', method: 'get', path: `/fhir/Patient/${ids.patientA}`, expect: 403 },
      { name: 'citizen searches patients', who: 'citizenA', method: 'get', path: `/fhir/Patient?identifier=${CCCD_A}`, expect: 403 },
      { name: 'citizen reads own encounter', who: 'citizenA', method: 'get', path: `/fhir/Encounter/${ids.encounterA}`, expect: 403 },
      { name: 'citizen writes', who: 'citizenA', method: 'post', path: '/fhir/Patient', body: { resourceType: 'Patient' }, expect: 403 },
      { name: 'citizen posts a bundle', who: 'citizenA', method: 'post', path: '/fhir', body: txn([{ request: { method: 'GET', url: `Patient/${ids.patientA}` } }]), expect: 403 },
      { name: 'citizen reads the audit log', who: 'citizenA', method: 'get', path: '/fhir/AuditEvent', expect: 403 },
      { name: 'citizen claim file', who: 'citizenA', method: 'get', path: `/fhir/Encounter/${ids.encounterA}/$xml130`, expect: 403 },
      // The auditor and the administrator read no health data.
      { name: 'auditor reads a patient', who: 'auditor', method: 'get', path: `/fhir/Patient/${ids.patientA}`, expect: 403 },
      { name: 'auditor reads a book', who: 'auditor', method: 'get', path: `/fhir/Patient/${ids.patientA}/$summary`, expect: 403 },
      { name: 'auditor deletes an audit event', who: 'auditor', method: 'delete', path: '/fhir/AuditEvent/x', expect: 403 },
      { name: 'auditor rewrites an audit event', who: 'auditor', method: 'put', path: '/fhir/AuditEvent/x', body: { resourceType: 'AuditEvent', id: 'x' }, expect: 403 },
      { name: 'admin reads a patient', who: 'admin', method: 'get', path: `/fhir/Patient/${ids.patientA}`, expect: 403 },
      { name: 'admin searches encounters', who: 'admin', method: 'get', path: '/fhir/Encounter', expect: 403 },
      { name: 'admin reads a book page', who: 'admin', method: 'get', path: `/book/${ids.patientA}`, expect: 403 },
      { name: 'admin writes a patient in a bundle', who: 'admin', method: 'post', path: '/fhir', body: txn([{ resource: { ...patientB, id: undefined, meta: undefined }, request: { method: 'POST', url: 'Patient' } }]), expect: 403 },
    ];
    return list;
  };

  /** Every identifier, name and id of the other side that must not appear in an answer. */
  const secretsOf = (who: Who) =>
    who === 'hospitalB'
      ? [ids.patientA, ids.encounterA, CCCD_A]
      : [ids.patientB, ids.encounterB, CCCD_B, ids.ConditionB, ids.ObservationB, ids.taskB, ids.coverageB, ids.bookB, '2000000002'];

  it('refuses every cross-facility and cross-patient attempt (at least 50)', async () => {
    const list = attempts();
    expect(list.length).toBeGreaterThanOrEqual(50);
    const before = (await gw.db.query<{ n: number; v: number }>(`SELECT count(*)::int AS n, sum(version_id)::int AS v FROM resources WHERE resource_type <> 'AuditEvent'`)).rows[0];
    const failures: string[] = [];
    for (const a of list) {
      const res = await as(a.who, a.method, a.path, a.body, a.type);
      if (a.expect === 403) {
        if (res.status !== 403 || res.body?.issue?.[0]?.code !== 'forbidden') failures.push(`${a.name}: ${res.status} ${res.text.slice(0, 160)}`);
      } else if (res.status >= 500) {
        failures.push(`${a.name}: ${res.status}`);
      } else {
        // Entries of the other side are left out; ids in links and locations are allowed, content is not.
        const content = JSON.stringify(res.body?.entry?.map((e: { resource?: Resource; response?: unknown }) => ({ resource: e.resource, outcome: (e.response as { outcome?: unknown })?.outcome })) ?? res.body ?? res.text);
        const leaked = secretsOf(a.who).filter((s) => s && content.includes(s) && !(a.name.startsWith('conditional create') && s === ids.patientB));
        if (leaked.length) failures.push(`${a.name}: leaked ${leaked.join(', ')}`);
        if (a.name.startsWith('batch')) {
          const status = (res.body as Bundle).entry?.[0]?.response?.status;
          if (!status?.startsWith('403')) failures.push(`${a.name}: batch entry ${status}`);
        }
      }
    }
    expect(failures).toEqual([]);
    // Nothing the attempts tried to write was written.
    const after = (await gw.db.query<{ n: number; v: number }>(`SELECT count(*)::int AS n, sum(version_id)::int AS v FROM resources WHERE resource_type <> 'AuditEvent'`)).rows[0];
    expect(after).toEqual(before);
  });

  it('allows the legitimate counterparts', async () => {
    const ok = async (who: Who, method: Attempt['method'], path: string, body?: unknown, type?: string) => {
      const res = await as(who, method, path, body, type);
      expect(res.status, `${who} ${method} ${path}: ${res.text.slice(0, 300)}`).toBeLessThan(300);
      return res;
    };
    expect((await ok('hospitalA', 'get', `/fhir/Patient/${ids.patientA}`)).body.id).toBe(ids.patientA);
    expect((await ok('hospitalA', 'get', `/fhir/Encounter/${ids.encounterA}`)).body.id).toBe(ids.encounterA);
    expect((await ok('hospitalA', 'get', `/fhir/Observation/${ids.ObservationA}`)).body.id).toBe(ids.ObservationA);
    const search = await ok('hospitalA', 'get', `/fhir/Patient?identifier=${CCCD_A}`);
    expect(search.body.entry.map((e: { resource: Resource }) => e.resource.id)).toEqual([ids.patientA]);
    expect(search.body.total).toBe(1);
    const encounters = await ok('hospitalA', 'get', '/fhir/Encounter?_include=Encounter:subject');
    const types = encounters.body.entry.map((e: { resource: Resource }) => `${e.resource.resourceType}/${e.resource.id}`);
    expect(types).toContain(`Encounter/${ids.encounterA}`);
    expect(types).toContain(`Patient/${ids.patientA}`);
    expect(types).not.toContain(`Encounter/${ids.encounterB}`);
    expect((await ok('hospitalA', 'get', `/fhir/Encounter/${ids.encounterA}/$xml130?table=XML1`)).text).toContain('<MA_CSKCB>10085</MA_CSKCB>');
    const book = await ok('hospitalA', 'get', `/fhir/Patient/${ids.patientA}/$summary`);
    expect(book.text).toContain(`Patient/${ids.patientA}`);
    await ok('hospitalA', 'get', `/fhir/Patient/$summary?identifier=${CCCD_A}`);
    await ok('hospitalA', 'get', `/book/${ids.patientA}`);
    await ok('hospitalA', 'put', `/fhir/Patient/${ids.patientA}`, { ...(await as('hospitalA', 'get', `/fhir/Patient/${ids.patientA}`)).body, gender: 'female' });
    await ok('hospitalA', 'post', '/fhir/Condition', { resourceType: 'Condition', subject: { reference: `Patient/${ids.patientA}` }, encounter: { reference: `Encounter/${ids.encounterA}` }, code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'I10' }] }, recordedDate: '2025-03-10T09:00:00+07:00' });
    // The citizen: their own book, by id, by CCCD, as a page.
    expect((await ok('citizenA', 'get', `/fhir/Patient/${ids.patientA}/$summary`)).text).toContain('"type":"document"');
    await ok('citizenA', 'get', `/fhir/Patient/$summary?identifier=${CCCD_A}`);
    await ok('citizenA', 'get', `/book/${ids.patientA}`);
    // The auditor reads the audit log; the administrator the facilities.
    const audit = await ok('auditor', 'get', `/fhir/AuditEvent?patient=Patient/${ids.patientA}`);
    expect(audit.body.entry.length).toBeGreaterThan(0);
    await ok('admin', 'get', `/fhir/Organization/${ids.orgA}`);
    await ok('admin', 'get', '/readiness');
  });
});
