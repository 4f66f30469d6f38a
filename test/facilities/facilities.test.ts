import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Binary, Bundle, Organization, Parameters, Task } from '@medplum/fhirtypes';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPortalSimulator, type PortalSimulator } from '../../conformance/portal-sim/index.js';
import { SID } from '../../gateway/fhir/vn.js';
import { SubmissionWorker } from '../../gateway/outbox/worker.js';
import { selfSignedCredentials, toPkcs12 } from '../../gateway/signing/keys.js';
import { ARTIFACTS, openPages } from '../support/browser.js';
import { outpatientEpisode } from '../support/episodes.js';
import { FHIR_JSON, startGateway, type TestGateway } from '../support/gateway.js';
import { STORES } from '../support/stores.js';

/**
 * One gateway, several facilities, against the portal simulator: each signs with its own
 * certificate (set through `$credentials`, sealed at rest), one facility's trouble stops only that
 * facility, a facility without a code keeps its files until it gets one, and the readiness page
 * says where each stands — read in headless Chromium.
 */
const dir = mkdtempSync(join(tmpdir(), 'gw-facilities-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const A = { code: '10085', name: 'Trung tâm Y tế huyện Bắc Hà', password: 'a-mat-khau', creds: selfSignedCredentials('Trung tâm Y tế huyện Bắc Hà (10085)') };
const B = { code: '10099', name: 'Phòng khám Đa khoa Sa Pa', password: 'b-mat-khau', creds: selfSignedCredentials('Phòng khám Đa khoa Sa Pa (10099)') };
const C = { code: '10077', password: 'c-mat-khau', creds: selfSignedCredentials('Phòng khám Mới (10077)') };
const certFile = (who: typeof A | typeof C, name: string) => {
  const file = join(dir, `${name}.pem`);
  writeFileSync(file, who.creds.certificatePem);
  return file;
};

describe.each(STORES)('facilities on $name', (store) => {
  let gw: TestGateway;
  let sim: PortalSimulator;
  let worker: SubmissionWorker;
  let ahead = 0;
  let n = (store.name === 'postgres' ? 50_000 : 40_000);
  const logs: string[] = [];

  beforeAll(async () => {
    sim = await startPortalSimulator({
      accounts: [A, B, C].map((f) => ({ username: `${f.code}_BV`, password: f.password, facility: f.code })),
      trustAnchors: [A.creds.credentials.certificate, B.creds.credentials.certificate, C.creds.credentials.certificate],
    });
    gw = await startGateway(store, {}, { GATEWAY_MODE: 'production', GATEWAY_MASTER_KEY: randomBytes(32).toString('base64'), BHXH_PORTAL_URL: sim.url });
    worker = new SubmissionWorker({
      db: gw.db,
      credentials: gw.facilities.credentials,
      portal: gw.facilities.portal,
      log: pino({ level: 'silent' }),
      clock: () => new Date(Date.now() + ahead * 3_600_000),
      retryBaseMs: 1_000,
      ratePerSecond: 1_000,
    });
  });
  afterAll(async () => {
    await gw.close();
    await sim.close();
  });

  const post = async (bundle: Bundle) => {
    const r = await gw.http.post('/fhir').set('Content-Type', FHIR_JSON).send(bundle);
    expect(r.status, JSON.stringify(r.body).slice(0, 400)).toBe(200);
    return r.body as Bundle;
  };
  const located = (response: Bundle, type: string) => response.entry!.find((e) => e.response!.location!.startsWith(`${type}/`))!.response!.location!.split('/')[1];
  const claimTask = async (encounterId: string) =>
    (((await gw.http.get(`/fhir/Task?focus=Encounter/${encounterId}&code=xml130&_sort=-_lastUpdated`)).body as Bundle).entry ?? []).map((e) => e.resource as Task)[0];
  const drain = async () => {
    for (let round = 0; round < 100; round++) {
      if ((await worker.runOnce()) === 0) {
        const { rows } = await gw.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM dossiers WHERE status IN ('queued', 'sending')`);
        if (rows[0].n === 0) return;
        ahead += 1;
      }
    }
  };
  const orgId = async (code: string) => ((await gw.http.get(`/fhir/Organization?identifier=${SID.maCskcb}|${code}`)).body as Bundle).entry![0].resource!.id!;
  const setCredentials = (id: string, parameter: Parameters['parameter']) =>
    gw.http.post(`/fhir/Organization/${id}/$credentials`).set('Content-Type', FHIR_JSON).send({ resourceType: 'Parameters', parameter });
  const signedFile = async (task: Task) => {
    const binary = (await gw.http.get(`/fhir/${task.input![0].valueReference!.reference}`)).body as Binary;
    const file = join(dir, `${task.id}.xml`);
    writeFileSync(file, Buffer.from(binary.data!, 'base64'));
    return file;
  };
  const xmlsec1 = (file: string, cert: string) => spawnSync('xmlsec1', ['--verify', '--trusted-pem', cert, file], { encoding: 'utf8' }).status === 0;

  let encounterA = '';
  let encounterB = '';

  it('signs each facility’s files with its own certificate, and only with it', async () => {
    encounterA = located(await post(outpatientEpisode(n++, A.code)), 'Encounter');
    encounterB = located(await post(outpatientEpisode(n++, B.code)), 'Encounter');
    const a = await setCredentials(await orgId(A.code), [
      { name: 'pkcs12', valueBase64Binary: toPkcs12(A.creds.keyPem, A.creds.certificatePem, 'p12-secret', '3des').toString('base64') },
      { name: 'password', valueString: 'p12-secret' },
      { name: 'portalUsername', valueString: `${A.code}_BV` },
      { name: 'portalPassword', valueString: A.password },
      { name: 'lienThongCode', valueString: 'LT-10085' },
    ]);
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    expect(JSON.stringify(a.body)).not.toContain('p12-secret');
    expect(JSON.stringify(a.body)).not.toContain(A.password);
    const b = await setCredentials(await orgId(B.code), [
      { name: 'privateKey', valueString: B.creds.keyPem },
      { name: 'certificate', valueString: B.creds.certificatePem },
      { name: 'portalUsername', valueString: `${B.code}_BV` },
      { name: 'portalPassword', valueString: B.password },
    ]);
    expect(b.status).toBe(200);
    await drain();

    const ta = await claimTask(encounterA);
    const tb = await claimTask(encounterB);
    expect([ta.status, tb.status]).toEqual(['completed', 'completed']);
    const [fileA, fileB] = [await signedFile(ta), await signedFile(tb)];
    const [pemA, pemB] = [certFile(A, 'a'), certFile(B, 'b')];
    expect([xmlsec1(fileA, pemA), xmlsec1(fileA, pemB)]).toEqual([true, false]);
    expect([xmlsec1(fileB, pemB), xmlsec1(fileB, pemA)]).toEqual([true, false]);
  });

  it('keeps secrets sealed: not in the database in clear, not in any answer, not in the logs', async () => {
    const { rows } = await gw.db.query<{ sealed: string }>('SELECT sealed FROM facility_credentials');
    expect(rows.length).toBeGreaterThanOrEqual(2);
    for (const r of rows) {
      expect(r.sealed.startsWith('v1:')).toBe(true);
      for (const secret of [A.password, B.password, 'p12-secret', 'BEGIN RSA PRIVATE KEY']) expect(r.sealed).not.toContain(secret);
    }
    const org = (await gw.http.get(`/fhir/Organization/${await orgId(A.code)}`)).body as Organization;
    expect(JSON.stringify(org)).not.toContain(A.password);
    const everything = JSON.stringify(gw.logs) + logs.join('');
    for (const secret of [A.password, B.password, 'p12-secret']) expect(everything).not.toContain(secret);
  });

  it('stops only the facility whose portal password is wrong, and says so', async () => {
    await setCredentials(await orgId(B.code), [{ name: 'portalUsername', valueString: `${B.code}_BV` }, { name: 'portalPassword', valueString: 'wrong' }]);
    const a = located(await post(outpatientEpisode(n++, A.code)), 'Encounter');
    const b = located(await post(outpatientEpisode(n++, B.code)), 'Encounter');
    await drain();
    expect((await claimTask(a)).status).toBe('completed');
    const held = await claimTask(b);
    expect(held.status).toBe('on-hold');
    expect(held.statusReason?.text).toMatch(/refused the login of 10099_BV/);
    await setCredentials(await orgId(B.code), [{ name: 'portalUsername', valueString: `${B.code}_BV` }, { name: 'portalPassword', valueString: B.password }]);
  });

  it('stops only the facility whose certificate expired or was revoked', async () => {
    const expired = selfSignedCredentials('Trung tâm Y tế huyện Bắc Hà — cũ', { notBefore: new Date(Date.now() - 400 * 86_400_000), days: 365 });
    await setCredentials(await orgId(A.code), [{ name: 'privateKey', valueString: expired.keyPem }, { name: 'certificate', valueString: expired.certificatePem }]);
    await setCredentials(await orgId(B.code), [{ name: 'revoke', valueBoolean: true }]);
    const a = located(await post(outpatientEpisode(n++, A.code)), 'Encounter');
    const b = located(await post(outpatientEpisode(n++, B.code)), 'Encounter');
    await drain();
    expect((await claimTask(a)).statusReason?.text).toMatch(/^cannot sign: the certificate expired on /);
    expect((await claimTask(b)).statusReason?.text).toMatch(/^cannot sign: the certificate was revoked on /);
    // Back in order: A's own certificate again, B's credentials set anew (which lifts the revocation).
    await setCredentials(await orgId(A.code), [{ name: 'privateKey', valueString: A.creds.keyPem }, { name: 'certificate', valueString: A.creds.certificatePem }]);
    await setCredentials(await orgId(B.code), [{ name: 'privateKey', valueString: B.creds.keyPem }, { name: 'certificate', valueString: B.creds.certificatePem }]);
    ahead += 2; // held files are looked at again after an hour
    await drain();
    expect([(await claimTask(a)).status, (await claimTask(b)).status]).toEqual(['completed', 'completed']);
  });

  it('keeps the files of a facility without a code, and sends them once it has one', async () => {
    const bundles = [outpatientEpisode(n++, C.code), outpatientEpisode(n++, C.code)];
    for (const bundle of bundles) {
      const org = bundle.entry!.find((e) => e.resource?.resourceType === 'Organization')!;
      delete (org.resource as Organization).identifier;
      delete org.request!.ifNoneExist;
      (org.resource as Organization).name = 'Phòng khám Mới';
    }
    const first = await post(bundles[0]);
    const organizationId = located(first, 'Organization');
    // The second episode's facility is the same Organization.
    const second = bundles[1];
    const ref = second.entry!.find((e) => e.resource?.resourceType === 'Organization')!.fullUrl!;
    second.entry = second.entry!.filter((e) => e.fullUrl !== ref);
    second.entry = JSON.parse(JSON.stringify(second.entry).replaceAll(ref, `Organization/${organizationId}`));
    const episodes = [located(first, 'Encounter'), located(await post(second), 'Encounter')];
    await drain();
    for (const e of episodes) expect((await claimTask(e)).status).toBe('on-hold');

    const org = (await gw.http.get(`/fhir/Organization/${organizationId}`)).body as Organization;
    await setCredentials(organizationId, [
      { name: 'privateKey', valueString: C.creds.keyPem }, { name: 'certificate', valueString: C.creds.certificatePem },
      { name: 'portalUsername', valueString: `${C.code}_BV` }, { name: 'portalPassword', valueString: C.password },
    ]);
    const assigned = await gw.http.put(`/fhir/Organization/${organizationId}`).set('Content-Type', FHIR_JSON).send({ ...org, meta: undefined, identifier: [{ system: SID.maCskcb, value: C.code }] });
    expect(assigned.status).toBe(200);
    await drain();
    for (const e of episodes) {
      const task = await claimTask(e);
      expect(task.status).toBe('completed');
      expect(xmlsec1(await signedFile(task), certFile(C, 'c'))).toBe(true);
    }
    expect(sim.accepted().filter((s) => s.facility === C.code && s.kind === 'claim')).toHaveLength(2);
  });

  it('shows where each facility stands, in FHIR and on the readiness page', async () => {
    const idA = await orgId(A.code);
    const attest = await gw.http.post(`/fhir/Organization/${idA}/$attest`).set('Content-Type', FHIR_JSON).send({
      resourceType: 'Parameters', parameter: [{ name: 'step', valueCode: 'quy-che' }, { name: 'date', valueDate: '2025-02-20' }, { name: 'approver', valueString: 'Giám đốc Sở Y tế' }],
    });
    expect(attest.status).toBe(200);
    await gw.http.post(`/fhir/Organization/${idA}/$check-portal`);
    await setCredentials(await orgId(B.code), [{ name: 'portalUsername', valueString: `${B.code}_BV` }, { name: 'portalPassword', valueString: 'wrong' }]);
    await gw.http.post(`/fhir/Organization/${await orgId(B.code)}/$check-portal`);

    const r = await gw.http.get(`/fhir/Organization/${idA}/$readiness`);
    const steps = Object.fromEntries((r.body as Parameters).parameter![0].part!.filter((p) => p.name === 'step').map((p) => [p.part![0].valueCode, p.part![2].valueCode]));
    expect(steps).toMatchObject({ 'ma-cskcb': 'done', 'lien-thong': 'done', 'tai-khoan': 'done', 'chung-thu': 'done', 'chung-thu-cong': 'done', his: 'done', 'quy-che': 'done', 'ho-so-dau-tien': 'done' });
    // The example episodes ended in 2025: accepted long after the 24 hours.
    expect(steps['trong-24-gio']).toBe('failed');

    const { base, browser, close } = await openPages(gw.app);
    try {
      const pageView = await browser.newPage({ viewport: { width: 390, height: 844 }, locale: 'vi-VN' });
      await pageView.goto(`${base}/readiness`);
      expect(await pageView.locator('h1').textContent()).toBe('Sẵn sàng liên thông Sổ sức khỏe điện tử');
      const cell = (code: string, step: string) => pageView.locator(`article[data-facility="${code}"] tr[data-step="${step}"] td`).first();
      expect(await cell(A.code, 'quy-che').textContent()).toContain('Đạt');
      expect(await cell(B.code, 'tai-khoan').textContent()).toContain('Không đạt');
      expect(await pageView.locator(`article[data-facility="${B.code}"] tr[data-step="tai-khoan"]`).textContent()).toContain('10099_BV');
      expect(await cell(A.code, 'trong-24-gio').textContent()).toContain('Không đạt');
      const c = pageView.locator(`article[data-facility="${C.code}"]`);
      expect(await c.count()).toBe(1);
      await pageView.screenshot({ path: join(ARTIFACTS, `readiness-${store.name}.png`), fullPage: true });
    } finally {
      await close();
    }
  });
});
