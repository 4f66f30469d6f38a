import type { Bundle, Patient, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedCredentials, toPkcs12 } from '../../gateway/signing/keys.js';
import { outpatientEpisode } from '../support/episodes.js';
import { FHIR_JSON, type TestGateway } from '../support/gateway.js';
import { STORES } from '../support/stores.js';
import { accessToken, assertion, registerClient, secureGateway, type TestClient } from './support.js';

/** Every identifier value and name of the patients (and their cards) in these bundles. */
function personalData(bundles: Bundle[]): string[] {
  const out = new Set<string>();
  for (const b of bundles) {
    for (const e of b.entry ?? []) {
      const r = e.resource as Resource;
      if (r.resourceType === 'Patient') {
        const p = r as Patient;
        for (const id of p.identifier ?? []) if (id.value) out.add(id.value);
        for (const n of p.name ?? []) {
          if (n.text) out.add(n.text);
          if (n.family) out.add(n.family);
          for (const g of n.given ?? []) if (g.length > 3) out.add(g);
        }
        if (p.birthDate) out.add(p.birthDate);
        for (const t of p.telecom ?? []) if (t.value) out.add(t.value);
      }
      if (r.resourceType === 'Coverage') for (const id of (r as { identifier?: { value?: string }[] }).identifier ?? []) if (id.value) out.add(id.value);
    }
  }
  return [...out];
}

describe('no health data or secrets in the logs', () => {
  let gw: TestGateway;
  let hospitalA: TestClient;
  let admin: TestClient;
  beforeAll(async () => {
    // startGateway logs at debug level and keeps every line.
    gw = await secureGateway(STORES[0], { LOG_LEVEL: 'debug' });
    hospitalA = await registerClient(gw, { id: 'his-a', role: 'hospital', facility: '10085', alg: 'RS384' });
    admin = await registerClient(gw, { id: 'admin', role: 'admin' });
  });
  afterAll(() => gw.close());

  it('finds none of the patients’ identifiers or names, nor a key, password or token, after a representative slice of the API', async () => {
    const bundles = [outpatientEpisode(31), outpatientEpisode(32), outpatientEpisode(33, '79024')];
    const token = await accessToken(gw, hospitalA);
    const citizen = await registerClient(gw, { id: 'app-31', role: 'citizen', cccd: '010167000031' });
    const citizenToken = await accessToken(gw, citizen);
    const adminToken = await accessToken(gw, admin);
    const a = { Authorization: `Bearer ${token}` };
    const post = (path: string, body: unknown, auth = a) => gw.http.post(path).set(auth).set('Content-Type', FHIR_JSON).send(JSON.stringify(body));

    expect((await post('/fhir', bundles[0])).status).toBe(200);
    expect((await post('/fhir', bundles[1])).status).toBe(200);
    expect((await post('/fhir', bundles[2])).status).toBe(403); // another facility's episode
    const secrets = personalData(bundles);
    expect(secrets.length).toBeGreaterThan(10);
    const patient = (await gw.http.get('/fhir/Patient?identifier=010167000031').set(a)).body.entry[0].resource as Patient;
    const encounter = (await gw.http.get(`/fhir/Encounter?subject=Patient/${patient.id}`).set(a)).body.entry[0].resource;
    await gw.http.get(`/fhir/Patient/${patient.id}`).set(a).expect(200);
    await gw.http.get(`/fhir/Patient?name=${encodeURIComponent(patient.name![0].text!)}&birthdate=${patient.birthDate}`).set(a).expect(200);
    await gw.http.get(`/fhir/Patient/${patient.id}/_history`).set(a).expect(200);
    await gw.http.get(`/fhir/Encounter/${encounter.id}/$xml130`).set(a).expect(200);
    await gw.http.get(`/fhir/Patient/$summary?identifier=010167000031`).set(a);
    await gw.http.get(`/fhir/Patient/$summary?identifier=010167000031`).set({ Authorization: `Bearer ${citizenToken}` }).expect(200);
    await gw.http.get(`/book/${patient.id}`).set({ Authorization: `Bearer ${citizenToken}` }).expect(200);
    await post('/fhir/Patient/$match', { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: { resourceType: 'Patient', name: patient.name, birthDate: patient.birthDate } }] });
    // Refused and invalid: their messages name fields, never values, in the log.
    await post('/fhir/Patient', { ...patient, id: undefined, meta: undefined, birthDate: 'not-a-date' }).expect(422);
    await gw.http.get(`/fhir/Patient?identifier=010167000033`).expect(401);
    await gw.http.get(`/fhir/Patient?identifier=010167000033`).set('Authorization', 'Bearer not.a.token').expect(401);
    // A facility's credentials: a PKCS#12 and its password, a portal password.
    const org = (await gw.http.get('/fhir/Organization?identifier=10085').set(a)).body.entry[0].resource;
    const creds = selfSignedCredentials('Trung tâm Y tế huyện Bắc Hà (10085)');
    const answer = await post(`/fhir/Organization/${org.id}/$credentials`, {
      resourceType: 'Parameters',
      parameter: [
        { name: 'pkcs12', valueBase64Binary: toPkcs12(creds.keyPem, creds.certificatePem, 'p12-bi-mat', '3des').toString('base64') },
        { name: 'password', valueString: 'p12-bi-mat' },
        { name: 'portalUsername', valueString: '10085_BV' },
        { name: 'portalPassword', valueString: 'cong-bi-mat' },
      ],
    }, { Authorization: `Bearer ${adminToken}` });
    expect(answer.status, answer.text).toBe(200);
    const wrong = await post(`/fhir/Organization/${org.id}/$credentials`, { resourceType: 'Parameters', parameter: [
      { name: 'pkcs12', valueBase64Binary: toPkcs12(creds.keyPem, creds.certificatePem, 'p12-bi-mat', '3des').toString('base64') },
      { name: 'password', valueString: 'sai-mat-khau-bi-mat' },
    ] }, { Authorization: `Bearer ${adminToken}` });
    expect(wrong.status).toBe(422);
    for (const secret of ['p12-bi-mat', 'cong-bi-mat', 'sai-mat-khau-bi-mat', 'PRIVATE KEY']) {
      expect(answer.text + wrong.text, secret).not.toContain(secret);
    }
    const used = await assertion(hospitalA);

    const logText = JSON.stringify(gw.logs);
    expect(gw.logs.length).toBeGreaterThan(20);
    const found = secrets.filter((s) => logText.includes(s));
    expect(found).toEqual([]);
    const keyMaterial = [token, citizenToken, adminToken, used.split('.')[2], 'p12-bi-mat', 'cong-bi-mat', 'sai-mat-khau-bi-mat', 'PRIVATE KEY', creds.keyPem.split('\n')[1], String((hospitalA.publicJwk as { n?: string }).n).slice(0, 40)];
    for (const k of keyMaterial) expect(logText, k.slice(0, 12)).not.toContain(k);
    // The master key and the sealed signing key of the gateway never leave the database in clear.
    const { rows } = await gw.db.query<{ private_sealed: string }>('SELECT private_sealed FROM auth_keys');
    expect(rows[0].private_sealed).toMatch(/^v1:/);
    expect(logText).not.toContain(rows[0].private_sealed.slice(3, 40));
  });
});
