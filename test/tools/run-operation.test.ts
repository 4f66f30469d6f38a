import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, CapabilityStatement, OperationOutcome, Parameters } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROFILES_DIR } from '../../gateway/paths.js';
import { FHIR_JSON, startGateway, type TestGateway } from '../support/gateway.js';
import { STORES } from '../support/stores.js';

/**
 * `$viewdefinition-run`: a view (inline, or a mapping file by name) over the resources sent, as
 * JSON, NDJSON or CSV; nothing stored; every refusal an OperationOutcome naming the parameter or
 * the place in the view.
 */
const outpatient = JSON.parse(readFileSync(join(PROFILES_DIR, 'examples', 'outpatient-visit.json'), 'utf8')) as Bundle;
const patients = [
  { resourceType: 'Patient', id: 'a', gender: 'female', name: [{ family: 'Lan' }] },
  { resourceType: 'Patient', id: 'b', gender: 'male', name: [{ family: 'Minh' }, { family: 'Bình' }] },
];
const view = { resourceType: 'ViewDefinition', resource: 'Patient', status: 'active', select: [{ column: [{ name: 'id', path: 'getResourceKey()' }, { name: 'gender', path: 'gender' }] }] };
const params = (...parameter: Parameters['parameter'] & object) => ({ resourceType: 'Parameters', parameter }) as Parameters;
const resources = patients.map((resource) => ({ name: 'resource', resource: resource as never }));

describe.each(STORES)('$viewdefinition-run on $name', (store) => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway(store);
  });
  afterAll(async () => gw?.close());

  const run = (body: Parameters, path = '/fhir/ViewDefinition/$run') => gw.http.post(path).set('Content-Type', FHIR_JSON).send(JSON.stringify(body));

  it('runs an inline view over inline resources, as JSON, NDJSON (the default) and CSV', async () => {
    const json = await run(params({ name: 'viewResource', resource: view as never }, ...resources, { name: '_format', valueCode: 'json' }));
    expect(json.status).toBe(200);
    expect(json.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(json.text)).toEqual([{ id: 'Patient/a', gender: 'female' }, { id: 'Patient/b', gender: 'male' }]);

    const ndjson = await run(params({ name: 'viewResource', resource: view as never }, ...resources));
    expect(ndjson.headers['content-type']).toMatch(/^application\/x-ndjson/);
    expect(ndjson.text).toBe('{"id":"Patient/a","gender":"female"}\n{"id":"Patient/b","gender":"male"}\n');

    const csv = await gw.http.post('/fhir/ViewDefinition/$run?_format=csv&_limit=1').set('Content-Type', FHIR_JSON).send(JSON.stringify(params({ name: 'viewResource', resource: view as never }, ...resources)));
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.text).toBe('id,gender\r\nPatient/a,female\r\n');
    const noHeader = await run(params({ name: 'viewResource', resource: view as never }, ...resources, { name: '_format', valueCode: 'csv' }, { name: 'header', valueBoolean: false }));
    expect(noHeader.text).toBe('Patient/a,female\r\nPatient/b,male\r\n');
  });

  it('runs a mapping file by name over a Bundle, with the episode context the gateway binds', async () => {
    const r = await run(params({ name: 'viewReference', valueReference: { reference: 'ViewDefinition/XML1' } }, { name: 'resource', resource: outpatient as never }, { name: '_format', valueCode: 'json' }));
    expect(r.status).toBe(200);
    const rows = JSON.parse(r.text) as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(rows[0].MA_LK).toBe('10085-20250310-000473');
    // %XML2/%XML3 are bound: XML1's totals are the lines' sums, not 0.
    expect(Number(rows[0].T_TONGCHI_BV)).toBeGreaterThan(0);

    // The same at instance level, with the file's name as the id, and at system level.
    const lines = await run(params({ name: 'resource', resource: outpatient as never }, { name: '_format', valueCode: 'json' }), '/fhir/ViewDefinition/XML2/$run');
    expect(JSON.parse(lines.text).map((l: { MA_THUOC: string }) => l.MA_THUOC).length).toBeGreaterThan(0);
    const book = await run(params({ name: 'viewReference', valueString: 'healthbook/cards' }, { name: 'resource', resource: outpatient as never }, { name: '_format', valueCode: 'json' }), '/fhir/$viewdefinition-run');
    expect(book.status).toBe(200);
    expect(JSON.parse(book.text)[0].MA_THE_BHYT).toBeTruthy();
  });

  it('stores nothing', async () => {
    await run(params({ name: 'resource', resource: outpatient as never }), '/fhir/ViewDefinition/XML1/$run');
    const found = await gw.http.get('/fhir/Patient?_summary=count');
    expect(found.body.total).toBe(0);
  });

  it('refuses a view that does not compile with the place in the request', async () => {
    const broken = { ...view, select: [{ column: [{ name: 'id', path: 'id' }, { name: 'bad', path: "name.where(family = )" }] }] };
    const r = await run(params({ name: 'viewResource', resource: broken as never }, ...resources));
    expect(r.status).toBe(400);
    const issue = (r.body as OperationOutcome).issue![0];
    expect(issue.expression).toEqual(['Parameters.parameter[0].resource.select[0].column[1]']);
    expect(issue.diagnostics).toMatch(/is not valid FHIRPath/);
  });

  it('answers 422 when the view fails on the data, placed in the view', async () => {
    const many = { ...view, select: [{ column: [{ name: 'family', path: 'name.family' }] }] };
    const r = await run(params({ name: 'viewResource', resource: many as never }, ...resources));
    expect(r.status).toBe(422);
    expect((r.body as OperationOutcome).issue![0].expression).toEqual(['Parameters.parameter[0].resource.select[0].column[0]']);
  });

  it('names the parameter at fault', async () => {
    const cases: [Parameters, number, string][] = [
      [params(...resources), 400, 'Parameters.parameter'],
      [params({ name: 'viewReference', valueString: 'XML99' }, ...resources), 404, 'Parameters.parameter[0]'],
      [params({ name: 'viewResource', resource: view as never }, { name: 'patient', valueReference: { reference: 'Patient/a' } }), 400, 'Parameters.parameter[1]'],
      [params({ name: 'viewResource', resource: view as never }, ...resources, { name: '_limit', valueInteger: 0 }), 400, 'Parameters.parameter[3].valueInteger'],
      [params({ name: 'viewResource', resource: view as never }, ...resources, { name: '_format', valueCode: 'parquet' }), 400, 'Parameters.parameter[3].valueCode'],
      [params({ name: 'viewResource', resource: view as never }), 400, 'Parameters.parameter'],
    ];
    for (const [body, status, expression] of cases) {
      const r = await run(body);
      expect([r.status, (r.body as OperationOutcome).issue?.[0].expression]).toEqual([status, [expression]]);
    }
  });

  it('is listed in the CapabilityStatement at system level, its R4 form', async () => {
    const cs = (await gw.http.get('/fhir/metadata')).body as CapabilityStatement;
    const op = cs.rest![0].operation?.find((o) => o.name === 'viewdefinition-run');
    expect(op?.definition).toBe('http://sql-on-fhir.org/OperationDefinition/$viewdefinition-run');
    // ViewDefinition is not an R4 resource type: not listed as one.
    expect(cs.rest![0].resource!.some((r) => r.type === ('ViewDefinition' as never))).toBe(false);
    // The type is served by its operations only.
    expect((await gw.http.get('/fhir/ViewDefinition')).status).toBe(404);
  });

  it('the studio is not served outside development mode', async () => {
    expect((await gw.http.get('/studio')).status).toBe(404);
    expect((await gw.http.post('/studio').send('bundle=x')).status).toBe(404);
  });
});
