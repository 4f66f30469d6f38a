import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Binary, Bundle, Encounter, OperationOutcome, Task } from '@medplum/fhirtypes';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPortalSimulator, type PortalSimulator } from '../../conformance/portal-sim/index.js';
import { fileCredentials } from '../../gateway/facilities/credentials.js';
import { PortalClient } from '../../gateway/outbox/portal-client.js';
import { SubmissionWorker } from '../../gateway/outbox/worker.js';
import { selfSignedCredentials } from '../../gateway/signing/keys.js';
import { EpisodeGenerator } from '../../gateway/tools/generate/episodes.js';
import { outpatientEpisode } from '../support/episodes.js';
import { FHIR_JSON, startGateway, type TestGateway } from '../support/gateway.js';
import { STORES } from '../support/stores.js';

/**
 * The outbox end to end, against the portal simulator over HTTP: a finished episode queues its
 * claim and check-in in the write's transaction; the worker signs each with its facility's own
 * certificate and sends it; the Task tells the story. xmlsec1 checks what was sent.
 */
const dir = mkdtempSync(join(tmpdir(), 'gw-outbox-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const facilityA = selfSignedCredentials('Trung tâm Y tế huyện Bắc Hà (10085)');
const PASSWORD = 'mat-khau-10085';
const credentialsDir = join(dir, 'credentials');
mkdirSync(join(credentialsDir, '10085'), { recursive: true });
writeFileSync(join(credentialsDir, '10085', 'key.pem'), facilityA.keyPem);
writeFileSync(join(credentialsDir, '10085', 'cert.pem'), facilityA.certificatePem);
const certFile = join(dir, 'a.pem');
writeFileSync(certFile, facilityA.certificatePem);

const silent = pino({ level: 'silent' });

describe.each(STORES)('submission to the portal on $name', (store) => {
  let gw: TestGateway;
  let sim: PortalSimulator;
  let worker: SubmissionWorker;
  /** Hours the worker's clock is ahead of the wall clock: retries come due without waiting. */
  let ahead = 0;
  let n = 0;

  beforeAll(async () => {
    sim = await startPortalSimulator({ accounts: [{ username: '10085_BV', password: PASSWORD, facility: '10085' }], trustAnchors: [facilityA.credentials.certificate] });
    writeFileSync(join(credentialsDir, '10085', 'portal.json'), JSON.stringify({ baseUrl: sim.url, username: '10085_BV', password: PASSWORD, standard: '3176' }));
    gw = await startGateway(store, {}, { TRUST_ANCHORS: certFile });
    worker = new SubmissionWorker({
      db: gw.db,
      credentials: fileCredentials({ dir: credentialsDir, portalUrl: sim.url, standard: '3176' }),
      portal: new PortalClient(5_000),
      log: silent,
      clock: () => new Date(Date.now() + ahead * 3_600_000),
      retryBaseMs: 1_000,
      ratePerSecond: 1_000,
      random: () => 0.5,
    });
  });
  afterAll(async () => {
    await gw.close();
    await sim.close();
  });
  beforeEach(() => sim.setFaults({}));
  afterEach(() => {
    ahead = 0;
  });

  const post = async (bundle: Bundle) => {
    const r = await gw.http.post('/fhir').set('Content-Type', FHIR_JSON).send(bundle);
    expect(r.status, JSON.stringify(r.body).slice(0, 500)).toBe(200);
    return r.body as Bundle;
  };
  const encounterOf = (response: Bundle) => response.entry!.find((e) => e.response!.location!.startsWith('Encounter/'))!;
  const tasksOf = async (encounterId: string) =>
    ((await gw.http.get(`/fhir/Task?focus=Encounter/${encounterId}&_sort=_lastUpdated`)).body as Bundle).entry?.map((e) => e.resource as Task) ?? [];
  const claimTasks = async (encounterId: string) => (await tasksOf(encounterId)).filter((t) => t.code?.coding?.[0].code === 'xml130');
  /** Runs the worker until nothing is due, letting retry delays pass. */
  const drain = async () => {
    for (let round = 0; round < 200; round++) {
      const handled = await worker.runOnce();
      if (handled === 0) {
        const { rows } = await gw.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM dossiers WHERE status IN ('queued', 'sending')`);
        if (rows[0].n === 0) return;
        ahead += 1;
      }
    }
    throw new Error('the queue did not drain');
  };
  const episode = (facility?: string) => outpatientEpisode(700_000 + (n++) + (store.name === 'postgres' ? 1000 : 0), facility);

  it('queues a finished episode’s claim and check-in with the write, then signs, sends and records the receipt', async () => {
    const response = await post(episode());
    const encounterId = encounterOf(response).response!.location!.split('/')[1];
    const queued = await tasksOf(encounterId);
    expect(queued.map((t) => [t.code?.coding?.[0].code, t.status]).sort()).toEqual([['xml130', 'requested'], ['xml130-checkin', 'requested']]);

    await drain();
    const [task] = await claimTasks(encounterId);
    expect(task.status).toBe('completed');
    const outputs = Object.fromEntries((task.output ?? []).map((o) => [o.type.text, o.valueString]));
    const accepted = sim.accepted().find((s) => s.kind === 'claim' && s.maLk === task.identifier?.find((i) => i.system?.endsWith('/ma-lk'))?.value);
    expect(outputs).toMatchObject({ maKetQua: '200', maGiaoDich: accepted?.maGiaoDich });
    expect(task.executionPeriod?.end).toBeDefined();
    expect(task.restriction?.period?.end).toBe('2025-03-11T03:05:00.000Z'); // the episode ended 10:05 on 10/03 (UTC+7), plus 24 hours

    // What was sent is the Binary of the Task, and it verifies with xmlsec1 against the facility's certificate only.
    const binaryId = task.input?.[0].valueReference?.reference;
    const binary = (await gw.http.get(`/fhir/${binaryId}`)).body as Binary;
    const file = join(dir, `${task.id}.xml`);
    writeFileSync(file, Buffer.from(binary.data!, 'base64'));
    const xmlsec1 = spawnSync('xmlsec1', ['--verify', '--trusted-pem', certFile, file], { encoding: 'utf8' });
    expect(xmlsec1.status, xmlsec1.stderr).toBe(0);
    const checkin = (await tasksOf(encounterId)).find((t) => t.code?.coding?.[0].code === 'xml130-checkin');
    expect(checkin?.status).toBe('completed');
  });

  it('queues nothing when the write fails', async () => {
    const before = await gw.db.query<{ n: number }>('SELECT count(*)::int AS n FROM dossiers');
    const bad = episode();
    const enc = bad.entry!.find((e) => e.resource?.resourceType === 'Encounter')!.resource as Encounter;
    (bad.entry!.find((e) => e.resource?.resourceType === 'Condition')!.resource as { code?: unknown }).code = undefined;
    expect(enc.status).toBe('finished');
    const r = await gw.http.post('/fhir').set('Content-Type', FHIR_JSON).send(bad);
    expect(r.status).toBe(422);
    const after = await gw.db.query<{ n: number }>('SELECT count(*)::int AS n FROM dossiers');
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  it('makes no new version for an unchanged episode, and version 2 — sent as a new file — for a corrected one', async () => {
    const response = await post(episode());
    const location = encounterOf(response).response!.location!;
    const encounterId = location.split('/')[1];
    await drain();
    const encounter = (await gw.http.get(`/fhir/Encounter/${encounterId}`)).body as Encounter;

    // The same Encounter again (a new FHIR version, the same claim): nothing new to send.
    const again = await gw.http.put(`/fhir/Encounter/${encounterId}`).set('Content-Type', FHIR_JSON).send({ ...encounter, meta: undefined, language: 'vi' });
    expect(again.status).toBe(200);
    expect(await claimTasks(encounterId)).toHaveLength(1);

    const advice = encounter.extension!.find((e) => e.url.endsWith('hb-ext-advice'))!;
    advice.valueString = 'Tái khám sau 5 ngày.';
    const corrected = await gw.http.put(`/fhir/Encounter/${encounterId}`).set('Content-Type', FHIR_JSON).send({ ...encounter, meta: undefined });
    expect(corrected.status).toBe(200);
    await drain();
    const tasks = await claimTasks(encounterId);
    expect(tasks.map((t) => [t.identifier?.[0].value?.split('/').pop(), t.status])).toEqual([['1', 'completed'], ['2', 'completed']]);
    const maLk = tasks[0].identifier?.find((i) => i.system?.endsWith('/ma-lk'))?.value;
    expect(sim.accepted().filter((s) => s.kind === 'claim' && s.maLk === maLk)).toHaveLength(2);
  });

  it('keeps a rejection with the portal’s reason and does not send it again', async () => {
    sim.setFaults({ rejectRate: 1 });
    const response = await post(episode());
    const encounterId = encounterOf(response).response!.location!.split('/')[1];
    await drain();
    const [task] = await claimTasks(encounterId);
    expect(task.status).toBe('rejected');
    const thongDiep = task.output?.find((o) => o.type.text === 'thongDiep')?.valueString;
    expect(thongDiep).toBeTruthy();
    expect(task.statusReason?.text).toBe(thongDiep);
    const sent = sim.all().length;
    sim.setFaults({});
    ahead = 48;
    await drain();
    expect(sim.all().length).toBe(sent);
    expect((await claimTasks(encounterId))[0].status).toBe('rejected');
  });

  it('keeps a claim with errors unsent, says why on the Task, and tells the hospital system on the write', async () => {
    const bad = episode();
    const enc = bad.entry!.find((e) => e.resource?.resourceType === 'Encounter')!.resource as Encounter;
    enc.identifier = enc.identifier!.filter((i) => !i.system!.endsWith('/ma-hsba')); // MA_HSBA is required in XML1
    const response = await post(bad);
    const outcome = encounterOf(response).response!.outcome as OperationOutcome;
    expect(outcome.issue.map((i) => [i.severity, i.location?.[0]])).toContainEqual(['warning', 'TONG_HOP/MA_HSBA']);
    const encounterId = encounterOf(response).response!.location!.split('/')[1];
    await drain();
    const [task] = await claimTasks(encounterId);
    expect(task.status).toBe('failed');
    const issues = task.contained?.[0] as OperationOutcome;
    expect(issues.issue.map((i) => i.location?.[0])).toContain('TONG_HOP/MA_HSBA');
    expect(sim.all().some((s) => s.kind === 'claim' && s.maLk === enc.identifier![0].value)).toBe(false);
  });

  it('retries through failures and lost answers; each file is accepted once', async () => {
    sim.setFaults({ failRate: 0.3, dropRate: 0.1, dropAfterAcceptRate: 0.2, seed: 7 });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(encounterOf(await post(episode())).response!.location!.split('/')[1]);
    await drain();
    for (const id of ids) expect((await claimTasks(id)).map((t) => t.status)).toEqual(['completed']);
    const claims = sim.accepted().filter((s) => s.kind === 'claim');
    expect(new Set(claims.map((s) => s.sha256)).size).toBe(claims.length);
    // Some answers were lost after acceptance: the resends got the original receipt.
    expect(sim.all().some((s) => s.duplicateOf)).toBe(true);
  });

  it('holds a facility without a certificate, alone', async () => {
    const other = await post(episode('10099'));
    const ours = await post(episode());
    await drain();
    const held = await claimTasks(encounterOf(other).response!.location!.split('/')[1]);
    expect(held[0].status).toBe('on-hold');
    expect(held[0].statusReason?.text).toBe('cannot sign: no signing certificate is configured for it');
    expect((await claimTasks(encounterOf(ours).response!.location!.split('/')[1]))[0].status).toBe('completed');
  });

  it('lists claims at risk of the 24-hour rule until they are accepted', async () => {
    const response = await post(episode());
    const encounterId = encounterOf(response).response!.location!.split('/')[1];
    const [task] = await claimTasks(encounterId);
    const atRisk = async () => (((await gw.http.get('/fhir/Task/$at-risk')).body as Bundle).entry ?? []).map((e) => e.resource!.id);
    expect(await atRisk()).toContain(task.id); // the example episode ended in 2025
    await drain();
    expect(await atRisk()).not.toContain(task.id);
  });

  it('$submit queues a stored episode again only when it changed, and answers its Task', async () => {
    const response = await post(episode());
    const encounterId = encounterOf(response).response!.location!.split('/')[1];
    const r = await gw.http.post(`/fhir/Encounter/${encounterId}/$submit`);
    expect(r.status).toBe(200);
    expect((r.body as Task).focus?.reference).toBe(`Encounter/${encounterId}`);
    expect(await claimTasks(encounterId)).toHaveLength(1);
    expect((await gw.http.post('/fhir/Encounter/nope/$submit')).status).toBe(404);
  });

  it('queues the very files $xml130 builds from the store later (the write reads its own resources from memory)', async () => {
    // A long stay: many lines, results and notes, whose row order the store would give by id.
    const stay = new EpisodeGenerator({ seed: store.name === 'postgres' ? 98 : 99 }).episode({ kind: 'inpatient', index: 1 });
    const encounterId = encounterOf(await post(stay)).response!.location!.split('/')[1];
    const { rows } = await gw.db.query<{ kind: string; document: string }>('SELECT kind, document FROM dossiers WHERE encounter_id = $1 ORDER BY kind', [encounterId]);
    expect(rows.map((r) => r.kind)).toEqual(['checkin', 'claim']);
    const withoutDate = (xml: string) => xml.replace(/<NGAYLAP>[^<]*<\/NGAYLAP>/, '');
    const claim = await gw.http.get(`/fhir/Encounter/${encounterId}/$xml130`).buffer(true);
    expect(claim.status).toBe(200);
    expect(withoutDate(rows[1].document)).toBe(withoutDate(claim.text));
    const checkin = await gw.http.get(`/fhir/Encounter/${encounterId}/$xml130-checkin`).buffer(true);
    expect(rows[0].document).toBe(checkin.text);
  });

  it('$verify-xml130 says whether a file is signed by a trusted certificate and untouched', async () => {
    const response = await post(episode());
    const encounterId = encounterOf(response).response!.location!.split('/')[1];
    await drain();
    const [task] = await claimTasks(encounterId);
    const binary = (await gw.http.get(`/fhir/${task.input![0].valueReference!.reference}`)).body as Binary;
    const xml = Buffer.from(binary.data!, 'base64').toString('utf8');
    const ok = await gw.http.post('/fhir/$verify-xml130').set('Content-Type', 'application/xml').send(xml);
    expect(ok.status).toBe(200);
    expect((ok.body as OperationOutcome).issue.map((i) => i.severity)).toEqual(['information']);
    const tampered = await gw.http.post('/fhir/$verify-xml130').set('Content-Type', 'application/xml').send(xml.replace('<SOLUONGHOSO>1<', '<SOLUONGHOSO>2<'));
    expect((tampered.body as OperationOutcome).issue[0]).toMatchObject({ severity: 'error', code: 'invariant' });
  });
});
