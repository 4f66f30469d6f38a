import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { Response } from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ResourceValidator } from '../../gateway/validation/validator.js';
import { patient, SID } from '../support/fixtures.js';
import { FHIR_JSON, startGateway, type TestGateway } from '../support/gateway.js';
import { STORES } from '../support/stores.js';

/**
 * Whatever a client sends, the gateway answers with a FHIR OperationOutcome in JSON and a 4xx that
 * says what was wrong (and where, when there is a where) — never a crash, a 500 or an HTML page.
 */
function expectOutcome(res: Response, status: number, code: string, message: RegExp, expression?: string[]): OperationOutcome {
  expect(res.status, res.text.slice(0, 300)).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/fhir\+json\b/);
  expect(res.text).not.toMatch(/<html|<!doctype|<pre>/i);
  const oo = res.body as OperationOutcome;
  expect(oo.resourceType).toBe('OperationOutcome');
  expect(oo.issue).toHaveLength(1);
  expect(oo.issue[0].severity).toBe('error');
  expect(oo.issue[0].code).toBe(code);
  expect(oo.issue[0].diagnostics).toMatch(message);
  if (expression) expect(oo.issue[0].expression).toEqual(expression);
  return oo;
}

/** Own or inherited: anything that reached Object.prototype shows up on a fresh object. */
function expectNoPollution(): void {
  for (const key of ['polluted', 'isAdmin']) {
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, key), key).toBe(false);
    expect(({} as Record<string, unknown>)[key], key).toBeUndefined();
  }
}

describe.each(STORES)('hostile input on $name', (store) => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway(store);
  });
  afterAll(() => gw.close());
  let logsBefore = 0;
  afterEach(() => {
    // A refused request is a client error: nothing logged as an unexpected (server) error.
    expect(gw.logs.slice(logsBefore).filter((l) => (l.level as number) >= 50)).toEqual([]);
  });

  const postRaw = (path: string, text: string, type = FHIR_JSON) => gw.http.post(path).set('Content-Type', type).send(text);
  const countAll = async () => (await gw.db.query<{ n: number }>('SELECT count(*)::int AS n FROM resources')).rows[0].n;
  let before = 0;
  beforeEach(async () => {
    before = await countAll();
    logsBefore = gw.logs.length;
  });

  it('says what is wrong in Vietnamese unless the client prefers English', async () => {
    const vi = await gw.http.post('/fhir/Patient').set({ 'Content-Type': FHIR_JSON, 'Accept-Language': '' }).send('{"resourceType":');
    expectOutcome(vi, 400, 'invalid', /^JSON sai cú pháp: /);
    const viVn = await gw.http.get('/fhir/Khong-Co').set('Accept-Language', 'vi-VN,vi;q=0.9,en;q=0.5');
    expect(viVn.body.issue[0].diagnostics).toBe('Máy chủ không hỗ trợ loại tài nguyên "Khong-Co"');
    const en = await gw.http.get('/fhir/Khong-Co').set('Accept-Language', 'fr;q=1, en;q=0.8');
    expect(en.body.issue[0].diagnostics).toBe('Resource type "Khong-Co" is not supported by this server');
  });

  it('refuses malformed JSON with 400 and the parser position', async () => {
    const res = await postRaw('/fhir/Patient', '{"resourceType": "Patient", "gender": ');
    expectOutcome(res, 400, 'invalid', /^Malformed JSON: /);
    const trailing = await postRaw('/fhir/Patient', '{"resourceType": "Patient"} trailing');
    expectOutcome(trailing, 400, 'invalid', /^Malformed JSON: .*position 28/);
  });

  it('refuses an array, a number, a string or null as the body of a create', async () => {
    for (const body of ['[]', '[{"resourceType":"Patient"}]', '42', '"Patient"', 'null']) {
      const res = await postRaw('/fhir/Patient', body);
      expectOutcome(res, 400, 'invalid', /^The request body must be a FHIR resource in JSON$/);
    }
    const put = await gw.http.put('/fhir/Patient/p1').set('Content-Type', FHIR_JSON).send('[{"resourceType":"Patient","id":"p1"}]');
    expectOutcome(put, 400, 'invalid', /must be a FHIR resource/);
    expect(await countAll()).toBe(before);
  });

  it('refuses an object without resourceType, naming the element', async () => {
    const res = await postRaw('/fhir/Patient', '{"gender":"male"}');
    expectOutcome(res, 400, 'invalid', /no resourceType/, ['resourceType']);
  });

  it('refuses a body whose resourceType differs from the URL', async () => {
    const res = await postRaw('/fhir/Patient', JSON.stringify({ resourceType: 'Observation', status: 'final', code: { text: 'x' } }));
    expectOutcome(res, 400, 'invalid', /is a Observation but the URL says Patient/, ['Patient.resourceType']);
    const put = await gw.http.put('/fhir/Patient/p2').set('Content-Type', FHIR_JSON).send(JSON.stringify({ resourceType: 'Encounter', id: 'p2' }));
    expectOutcome(put, 400, 'invalid', /is a Encounter but the URL says Patient/, ['Patient.resourceType']);
    expect(await countAll()).toBe(before);
  });

  it('refuses an update whose body id is missing or differs from the URL id', async () => {
    const other = await gw.http.put('/fhir/Patient/p3').set('Content-Type', FHIR_JSON).send(JSON.stringify({ ...patient(), id: 'someone-else' }));
    expectOutcome(other, 400, 'invalid', /id "someone-else" does not match the id "p3" in the URL/, ['Patient.id']);
    const none = await gw.http.put('/fhir/Patient/p3').set('Content-Type', FHIR_JSON).send(JSON.stringify(patient()));
    expectOutcome(none, 400, 'invalid', /must carry id "p3"/, ['Patient.id']);
    expect((await gw.http.get('/fhir/Patient/p3')).status).toBe(404);
  });

  it('answers 404 for a resource type it does not support, whatever the method', async () => {
    expectOutcome(await gw.http.get('/fhir/Foo'), 404, 'not-found', /Resource type "Foo" is not supported/);
    expectOutcome(await gw.http.get('/fhir/Foo/1'), 404, 'not-found', /Resource type "Foo" is not supported/);
    expectOutcome(await postRaw('/fhir/Foo', '{"resourceType":"Foo"}'), 404, 'not-found', /Resource type "Foo" is not supported/);
    // Names that exist on every JavaScript object are not resource types either.
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      expectOutcome(await gw.http.get(`/fhir/${name}`), 404, 'not-found', new RegExp(`Resource type "${name}" is not supported`));
    }
  });

  it('answers 404 with an OperationOutcome (not an HTML page) outside the FHIR API', async () => {
    const res = await gw.http.get('/nope').set('Accept', 'text/html');
    expectOutcome(res, 404, 'not-found', /^Nothing at GET \/nope; the FHIR API is under \/fhir$/);
    const post = await gw.http.post('/nope/deeper').set('Content-Type', FHIR_JSON).send('{}');
    expectOutcome(post, 404, 'not-found', /^Nothing at POST \/nope;/);
    const tooDeep = await gw.http.get('/fhir/Patient/1/_history/1/extra');
    expectOutcome(tooDeep, 404, 'not-found', /No FHIR endpoint at \/Patient\/1\/_history\/1\/extra/);
  });

  it('refuses a malformed percent-encoding in the path or the query with 400', async () => {
    expectOutcome(await gw.http.get('/fhir/Patient/%E0%A4%A'), 400, 'invalid', /Malformed percent-encoding in the URL path/);
    expectOutcome(await gw.http.get('/fhir/Patient/%'), 400, 'invalid', /Malformed percent-encoding in the URL path/);
    expectOutcome(await gw.http.get('/fhir/%C0%AF'), 400, 'invalid', /Malformed percent-encoding in the URL path/);
    const put = await gw.http.put('/fhir/Patient/%ZZ').set('Content-Type', FHIR_JSON).send(JSON.stringify({ resourceType: 'Patient', id: '%ZZ' }));
    expectOutcome(put, 400, 'invalid', /Malformed percent-encoding in the URL path/);
    // In the query too: a search must not quietly look for U+FFFD instead.
    expectOutcome(await gw.http.get('/fhir/Patient?gender=male&name=%E0%A4%A'), 400, 'invalid', /^Malformed percent-encoding in the query: "name=%E0%A4%A"$/);
    // Well-formed encoding of an id that is not a FHIR id is a different, precise error.
    expectOutcome(await gw.http.get('/fhir/Patient/a%20b'), 400, 'invalid', /"a b" is not a valid resource id/, ['id']);
  });

  it('refuses JSON nested 10,000 levels deep with 400 and a location', async () => {
    const depth = 10_000;
    const objects = `{"resourceType":"Patient","extension":${'{"extension":'.repeat(depth)}1${'}'.repeat(depth)}}`;
    const res = await postRaw('/fhir/Patient', objects);
    const oo = expectOutcome(res, 400, 'invalid', /^JSON nested deeper than 64 levels$/);
    expect(oo.issue[0].expression).toEqual([`Patient${'.extension'.repeat(64)}`]);

    // Arrays in arrays have no property names; the location names the items instead.
    const arrays = `{"resourceType":"Patient","name":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    const arr = expectOutcome(await postRaw('/fhir/Patient', arrays), 400, 'invalid', /^JSON nested deeper than 64 levels$/);
    expect(arr.issue[0].expression).toEqual([`Patient.name${'[0]'.repeat(63)}`]);

    // Also inside a transaction bundle.
    const bundle = `{"resourceType":"Bundle","type":"transaction","entry":[${'['.repeat(depth)}${']'.repeat(depth)}]}`;
    expectOutcome(await postRaw('/fhir', bundle), 400, 'invalid', /^JSON nested deeper than 64 levels$/);
    expect(await countAll()).toBe(before);
  });

  it('accepts nesting as deep as real FHIR needs', async () => {
    // Contained resource → extension → extension → valueCodeableConcept → coding: well under the limit.
    const nested = patient('079000000100', {
      contained: [{ resourceType: 'Organization', id: 'o1', name: 'Trạm Y tế', extension: [{ url: 'http://x/a', extension: [{ url: 'b', valueCodeableConcept: { coding: [{ system: 'http://x', code: 'c' }] } }] }] }],
      managingOrganization: { reference: '#o1' },
    } as Partial<Resource>);
    const res = await postRaw('/fhir/Patient', JSON.stringify(nested));
    expect(res.status).toBe(201);
    expect(res.body.contained[0].extension[0].extension[0].valueCodeableConcept.coding[0].code).toBe('c');
  });

  it.each([
    ['__proto__ at the top', '{"resourceType":"Patient","__proto__":{"polluted":true}}', '__proto__', 'Patient.__proto__'],
    ['__proto__ in an array item', '{"resourceType":"Patient","name":[{"family":"X"},{"__proto__":{"polluted":true}}]}', '__proto__', 'Patient.name[1].__proto__'],
    ['constructor.prototype deep down', '{"resourceType":"Patient","contact":[{"name":{"constructor":{"prototype":{"isAdmin":true}}}}]}', 'constructor', 'Patient.contact[0].name.constructor'],
    ['prototype', '{"resourceType":"Patient","extension":[{"url":"http://x","prototype":{"isAdmin":true}}]}', 'prototype', 'Patient.extension[0].prototype'],
  ])('refuses %s with 400 naming the property, and pollutes nothing', async (_label, body, key, expression) => {
    const res = await postRaw('/fhir/Patient', body);
    expectOutcome(res, 400, 'invalid', new RegExp(`^Property "${key}" is not allowed in FHIR JSON$`), [expression]);
    expectNoPollution();
    expect(await countAll()).toBe(before);
  });

  it('refuses prototype keys inside a transaction bundle entry, located in the bundle', async () => {
    const body = `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","name":[{"__proto__":{"polluted":true}}]},"request":{"method":"POST","url":"Patient"}}]}`;
    expectOutcome(await postRaw('/fhir', body), 400, 'invalid', /"__proto__" is not allowed/, ['Bundle.entry[0].resource.name[0].__proto__']);
    expectNoPollution();
    expect(await countAll()).toBe(before);
  });

  it('refuses JSON Patch operations that aim at a prototype, and pollutes nothing', async () => {
    const created = await postRaw('/fhir/Patient', JSON.stringify(patient('079000000101')));
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    for (const path of ['/__proto__/polluted', '/constructor/prototype/isAdmin', '/name/0/__proto__/polluted']) {
      const res = await gw.http.patch(`/fhir/Patient/${id}`).set('Content-Type', 'application/json-patch+json').send(JSON.stringify([{ op: 'add', path, value: true }]));
      expectOutcome(res, 422, 'processing', new RegExp(`^The patch cannot be applied to Patient/${id}: `));
    }
    // A prototype key in a patch value is refused when the body is read.
    const inValue = await gw.http.patch(`/fhir/Patient/${id}`).set('Content-Type', 'application/json-patch+json').send('[{"op":"add","path":"/extension","value":[{"__proto__":{"polluted":true}}]}]');
    expectOutcome(inValue, 400, 'invalid', /"__proto__" is not allowed/, ['body[0].value[0].__proto__']);
    expectNoPollution();
    const after = await gw.http.get(`/fhir/Patient/${id}`);
    expect(after.body.meta.versionId).toBe('1');
  });

  it('refuses a prototype key inside a JSON Patch carried by a Binary entry, located at the entry', async () => {
    const ops = '[{"op":"add","path":"/x","value":{"__proto__":{"a":1}}}]';
    const bundle = {
      resourceType: 'Bundle', type: 'transaction',
      entry: [{ resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data: Buffer.from(ops).toString('base64') }, request: { method: 'PATCH', url: 'Patient/x' } }],
    };
    expectOutcome(await postRaw('/fhir', JSON.stringify(bundle)), 400, 'invalid', /"__proto__" is not allowed/, ['Bundle.entry[0].resource.data']);
    expectNoPollution();
  });

  it('refuses malformed percent-encoding in a condition instead of matching something the client never sent', async () => {
    const cond = await postRaw('/fhir/Patient', JSON.stringify(patient('079000000102'))).set('If-None-Exist', 'identifier=%E0%A4%A');
    expectOutcome(cond, 400, 'invalid', /Malformed percent-encoding/, ['If-None-Exist']);
    const inBundle = {
      resourceType: 'Bundle', type: 'batch',
      entry: [{ request: { method: 'GET', url: 'Patient?identifier=%E0%A4%A' } }],
    };
    const res = await postRaw('/fhir', JSON.stringify(inBundle));
    expect(res.status).toBe(200);
    expect(res.body.entry[0].response.status).toBe('400 Bad Request');
    expect(res.body.entry[0].response.outcome.issue[0].expression).toEqual(['Bundle.entry[0].request.url']);
    expect(await countAll()).toBe(before);
  });

  it('refuses an unsupported Content-Type with 415', async () => {
    const res = await postRaw('/fhir/Patient', JSON.stringify(patient()), 'text/plain');
    expectOutcome(res, 415, 'not-supported', /^Content-Type "text\/plain" is not supported; send application\/fhir\+json$/);
    const xml = await postRaw('/fhir/Patient', '<Patient xmlns="http://hl7.org/fhir"/>', 'application/fhir+xml');
    expectOutcome(xml, 415, 'not-supported', /Content-Type "application\/fhir\+xml" is not supported/);
    const none = await gw.http.post('/fhir/Patient').set('Content-Type', '').send(Buffer.from(JSON.stringify(patient())));
    expectOutcome(none, 415, 'not-supported', /is not supported; send application\/fhir\+json/);
    expect(await countAll()).toBe(before);
  });

  it('refuses a JSON body posted as a PATCH without the JSON Patch media type with 415', async () => {
    const res = await gw.http.patch('/fhir/Patient/x').set('Content-Type', FHIR_JSON).send('[]');
    expectOutcome(res, 415, 'not-supported', /application\/json-patch\+json/);
  });

  it('refuses an unknown charset or a body that does not decompress', async () => {
    const charset = await postRaw('/fhir/Patient', '{}', 'application/fhir+json; charset=x-klingon');
    expectOutcome(charset, 415, 'not-supported', /Unsupported charset or content encoding/);
    const gzip = await gw.http.post('/fhir/Patient').set('Content-Type', FHIR_JSON).set('Content-Encoding', 'gzip').send('this is not gzip');
    expectOutcome(gzip, 400, 'invalid', /could not be decompressed/);
  });

  it('answers 406 to _format=xml and to an Accept that rules JSON out', async () => {
    const res = await gw.http.get('/fhir/Patient?_format=xml');
    expectOutcome(res, 406, 'not-supported', /^_format "xml" is not supported; this server speaks application\/fhir\+json$/, ['_format']);
    expectOutcome(await gw.http.get('/fhir/metadata?_format=application/fhir%2Bxml'), 406, 'not-supported', /_format "application\/fhir\+xml"/, ['_format']);
    expectOutcome(await gw.http.get('/fhir/Patient').set('Accept', 'application/fhir+xml'), 406, 'not-supported', /Accept "application\/fhir\+xml" is not supported/);
    // A browser's Accept still gets JSON, never HTML.
    const browser = await gw.http.get('/fhir/metadata').set('Accept', 'text/html,application/xhtml+xml;q=0.9');
    expect(browser.status).toBe(200);
    expect(browser.headers['content-type']).toMatch(/^application\/fhir\+json\b/);
  });

  it('refuses malformed search values with 400 naming the parameter', async () => {
    expectOutcome(await gw.http.get('/fhir/Patient?_count=-1'), 400, 'invalid', /_count must be a non-negative integer/, ['_count']);
    expectOutcome(await gw.http.get('/fhir/Patient?birthdate=yesterday'), 400, 'invalid', /"yesterday" is not a valid FHIR date/, ['birthdate']);
    expectOutcome(await gw.http.get('/fhir/Patient?_id=a%20b'), 400, 'invalid', /"a b" is not a valid resource id/, ['_id']);
    const strict = await gw.http.get('/fhir/Patient?__proto__=1').set('Prefer', 'handling=strict');
    expectOutcome(strict, 400, 'not-supported', /Unknown search parameter "__proto__"/, ['__proto__']);
    expectNoPollution();
  });
});

describe.each(STORES)('body size limit on $name', (store) => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway(store, {}, { BODY_LIMIT: '1kb' });
  });
  afterAll(() => gw.close());

  it('refuses a body over BODY_LIMIT with 413 and stores nothing', async () => {
    const before = await countResources(gw);
    const big = patient('079000000200', { text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${'x'.repeat(2000)}</div>` } } as Partial<Resource>);
    const res = await gw.http.post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(JSON.stringify(big));
    expectOutcome(res, 413, 'too-long', /^The request body exceeds the limit of 1024 bytes \(BODY_LIMIT\)$/);
    const bundle = { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: big, request: { method: 'POST', url: 'Patient' } }] };
    expectOutcome(await gw.http.post('/fhir').set('Content-Type', FHIR_JSON).send(JSON.stringify(bundle)), 413, 'too-long', /exceeds the limit of 1024 bytes/);
    expect(await countResources(gw)).toBe(before);
    expect(gw.logs.filter((l) => l.level === 50)).toEqual([]);
  });

  it('still accepts a body under the limit', async () => {
    const res = await gw.http.post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(JSON.stringify(patient('079000000201')));
    expect(res.status).toBe(201);
  });
});

describe.each(STORES)('unexpected failures on $name', (store) => {
  let gw: TestGateway;
  const NAME = 'Trần Thị Bích Ngọc';
  const CCCD = '079301555777';
  const broken: ResourceValidator = {
    validate(resource) {
      // A plain Error whose message quotes patient data, as a careless library might.
      const r = resource as { name?: { text?: string }[]; identifier?: { value?: string }[] };
      throw new Error(`validator exploded on "${r.name?.[0]?.text}" with identifier "${r.identifier?.[0]?.value}"`);
    },
  };
  beforeAll(async () => {
    gw = await startGateway(store, { validator: broken });
  });
  afterAll(() => gw.close());

  it('answers 500 with the correlation id and logs the error without any patient data', async () => {
    const before = await countResources(gw);
    const body = patient(CCCD, { name: [{ family: 'Trần', given: ['Thị', 'Bích', 'Ngọc'], text: NAME }] } as Partial<Resource>);
    const res = await gw.http.post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(JSON.stringify(body));
    expect(res.status).toBe(500);
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json\b/);
    const requestId = res.headers['x-request-id'] as string;
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    const oo = res.body as OperationOutcome;
    expect(oo.resourceType).toBe('OperationOutcome');
    expect(oo.issue[0].severity).toBe('fatal');
    expect(oo.issue[0].code).toBe('exception');
    expect(oo.issue[0].diagnostics).toContain(requestId);
    // Neither the response nor the log carries what the client sent.
    expect(res.text).not.toContain(CCCD);
    expect(res.text).not.toContain('Bích');

    const errors = gw.logs.filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ requestId, route: '/fhir/Patient', msg: 'unexpected error', err: { name: 'Error' } });
    expect((errors[0].err as { message: string }).message).toMatch(/^validator exploded on "…" with identifier "…"$/);
    expect(gw.logs.some((l) => l.requestId === requestId && l.msg === 'request' && l.status === 500)).toBe(true);
    const logText = JSON.stringify(gw.logs);
    for (const secret of [CCCD, NAME, 'Trần', 'Bích', 'Ngọc', SID.cccd]) expect(logText).not.toContain(secret);

    // The transaction was rolled back.
    expect(await countResources(gw)).toBe(before);
  });

  it('uses the client-supplied X-Request-Id as the correlation id', async () => {
    const res = await gw.http.put('/fhir/Patient/client-chosen-id-77').set('Content-Type', FHIR_JSON).set('X-Request-Id', 'client-corr-42').send(JSON.stringify({ ...patient(CCCD), id: 'client-chosen-id-77' }));
    expect(res.status).toBe(500);
    expect(res.headers['x-request-id']).toBe('client-corr-42');
    expect(res.body.issue[0].diagnostics).toContain('client-corr-42');
    const entry = gw.logs.find((l) => l.level === 50 && l.requestId === 'client-corr-42');
    expect(entry).toBeDefined();
    // The client's id for the resource is not logged either: the route is a shape.
    expect(entry!.route).toBe('/fhir/Patient/:id');
    expect(JSON.stringify(gw.logs)).not.toContain('client-chosen-id-77');
  });
});

/** Resources in the store (the gateway's own, such as the report Measures, included). */
async function countResources(gw: TestGateway): Promise<number> {
  return (await gw.db.query<{ n: number }>('SELECT count(*)::int AS n FROM resources')).rows[0].n;
}
