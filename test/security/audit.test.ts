import type { AuditEvent } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../gateway/security/audit-log.js';
import { outpatientEpisode } from '../support/episodes.js';
import { FHIR_JSON, type TestGateway } from '../support/gateway.js';
import { STORES } from '../support/stores.js';
import { accessToken, registerClient, secureGateway } from './support.js';

interface Row {
  chain: number;
  seq: number;
  client_id: string;
  action: string;
  outcome: string;
  patients: string[];
  content: AuditEvent;
}

describe.each(STORES)('the audit log on $name', (store) => {
  let gw: TestGateway;
  let hospital: string;
  let auditor: string;
  let patientId: string;
  const events = async (where = 'true', params: unknown[] = []) =>
    (await gw.db.query<Row>(`SELECT chain, seq::int AS seq, client_id, action, outcome, patients, content FROM audit_events WHERE ${where} ORDER BY recorded, chain, seq`, params)).rows;
  const auth = (t: string) => ({ Authorization: `Bearer ${t}` });

  beforeAll(async () => {
    gw = await secureGateway(store);
    hospital = await accessToken(gw, await registerClient(gw, { id: 'his-a', role: 'hospital', facility: '10085' }));
    auditor = await accessToken(gw, await registerClient(gw, { id: 'auditor', role: 'auditor' }));
  });
  afterAll(() => gw.close());

  it('records one event per bundle entry, in the transaction of the write', async () => {
    const bundle = outpatientEpisode(7);
    const res = await gw.http.post('/fhir').set(auth(hospital)).set('Content-Type', FHIR_JSON).send(JSON.stringify(bundle));
    expect(res.status).toBe(200);
    const writes = await events(`client_id = 'his-a' AND content->'subtype'->0->>'code' IN ('create', 'update', 'patch', 'delete')`);
    expect(writes).toHaveLength(bundle.entry!.length);
    patientId = (res.body.entry as { response: { location: string } }[]).map((e) => e.response.location).find((l) => l.startsWith('Patient/'))!.split('/')[1];
    const encounterWrite = writes.find((w) => w.content.entity?.some((e) => e.what?.reference?.startsWith('Encounter/')));
    expect(encounterWrite?.patients).toEqual([patientId]);
    expect(encounterWrite?.content.agent?.[0].who?.identifier?.value).toBe('his-a');
    expect(encounterWrite?.content.outcome).toBe('0');
    // Every write's events share the transaction: same chain, consecutive.
    expect(new Set(writes.map((w) => w.chain)).size).toBe(1);
  });

  it('rolls the audit back with a refused write, and records the refusal instead', async () => {
    const before = (await events()).length;
    const bad = outpatientEpisode(8, '79024'); // another facility's episode, posted by facility 10085
    const res = await gw.http.post('/fhir').set(auth(hospital)).set('Content-Type', FHIR_JSON).send(JSON.stringify(bad));
    expect(res.status).toBe(403);
    const after = await events();
    expect(after.length).toBe(before + 1);
    expect(after.at(-1)).toMatchObject({ client_id: 'his-a', outcome: '4' });
    expect(after.at(-1)!.content.outcomeDesc).toMatch(/^403/);
  });

  it('records reads before answering: who, what, which patient, outcome', async () => {
    await gw.http.get(`/fhir/Patient/${patientId}`).set(auth(hospital)).expect(200);
    const read = (await events(`client_id = 'his-a' AND action = 'R' AND content->'subtype'->0->>'code' = 'read'`)).at(-1)!;
    expect(read.patients).toEqual([patientId]);
    expect(read.content.entity?.some((e) => e.what?.reference === `Patient/${patientId}`)).toBe(true);
    await gw.http.get(`/fhir/Observation?patient=${patientId}`).set(auth(hospital)).expect(200);
    const search = (await events(`content->'subtype'->0->>'code' = 'search-type'`)).at(-1)!;
    expect(search.patients).toEqual([patientId]);
    expect(Buffer.from(search.content.entity!.find((e) => e.query)!.query!, 'base64').toString()).toBe(`Observation?patient=${patientId}`);
    // A refused read and a request without a token are recorded too.
    await gw.http.get('/fhir/AuditEvent').set(auth(hospital)).expect(403);
    expect((await events()).at(-1)).toMatchObject({ client_id: 'his-a', outcome: '4' });
    await gw.http.get(`/fhir/Patient/${patientId}`).expect(401);
    expect((await events()).at(-1)).toMatchObject({ client_id: 'anonymous', outcome: '4' });
  });

  it('lets the auditor read it through FHIR, and no one change it', async () => {
    const res = await gw.http.get(`/fhir/AuditEvent?patient=Patient/${patientId}&_count=500`).set(auth(auditor)).expect(200);
    expect(res.body.type).toBe('searchset');
    expect(res.body.entry.length).toBeGreaterThan(3);
    const one = res.body.entry[0].resource as AuditEvent;
    expect((await gw.http.get(`/fhir/AuditEvent/${one.id}`).set(auth(auditor))).body.id).toBe(one.id);
    expect((await gw.http.put(`/fhir/AuditEvent/${one.id}`).set(auth(auditor)).set('Content-Type', FHIR_JSON).send(JSON.stringify(one))).status).toBe(403);
    expect((await gw.http.delete(`/fhir/AuditEvent/${one.id}`).set(auth(auditor))).status).toBe(403);
    // Not even a stray statement.
    await expect(gw.db.query(`UPDATE audit_events SET outcome = '0'`)).rejects.toThrow(/append-only/);
    await expect(gw.db.query(`DELETE FROM audit_events`)).rejects.toThrow(/append-only/);
  });

  it('keeps the chains whole under concurrent writers', async () => {
    await Promise.all(Array.from({ length: 12 }, (_, i) => gw.http.get(`/fhir/Patient/${patientId}?n=${i}`).set(auth(hospital))));
    await Promise.all(Array.from({ length: 4 }, (_, i) => gw.http.post('/fhir').set(auth(hospital)).set('Content-Type', FHIR_JSON).send(JSON.stringify(outpatientEpisode(20 + i)))));
    const result = await new AuditLog(gw.db, 4).verify();
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.events).toBe((await events()).length);
  });

  it('detects an altered, a removed and a cut-off event', async () => {
    const log = new AuditLog(gw.db, 4);
    expect((await log.verify()).ok).toBe(true);
    const [victim] = await events(`client_id = 'his-a' AND action = 'R'`);
    // Whoever tampers has to get past the append-only trigger first (a superuser can).
    const tamper = async (sql: string, params: unknown[] = []) => {
      await gw.db.transaction(async (tx) => {
        await tx.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only');
        await tx.query(sql, params);
        await tx.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only');
      });
    };
    const original = (await gw.db.query<{ content: string }>('SELECT content::text AS content FROM audit_events WHERE chain = $1 AND seq = $2', [victim.chain, victim.seq])).rows[0].content;
    await tamper(`UPDATE audit_events SET content = $3::json WHERE chain = $1 AND seq = $2`, [victim.chain, victim.seq, original.replace('"outcome":"0"', '"outcome":"4"')]);
    let result = await log.verify();
    expect(result.ok).toBe(false);
    expect(result.problems).toContain(`chain ${victim.chain}: event ${victim.seq} was altered`);
    await tamper(`UPDATE audit_events SET content = $3::json WHERE chain = $1 AND seq = $2`, [victim.chain, victim.seq, original]);
    expect((await log.verify()).ok).toBe(true);

    // Removed from the middle of a chain: the longest, so that its middle is neither its first nor
    // its last event (how events spread over the chains depends on the concurrent writers).
    const all = await events();
    const lengths = new Map<number, number>();
    for (const e of all) lengths.set(e.chain, (lengths.get(e.chain) ?? 0) + 1);
    const longest = [...lengths].sort((a, b) => b[1] - a[1])[0][0];
    const chainRows = all.filter((e) => e.chain === longest).sort((a, b) => a.seq - b.seq);
    expect(chainRows.length).toBeGreaterThanOrEqual(3);
    const middle = chainRows[Math.floor(chainRows.length / 2)];
    await tamper('DELETE FROM audit_events WHERE chain = $1 AND seq = $2', [middle.chain, middle.seq]);
    result = await log.verify();
    expect(result.ok).toBe(false);
    expect(result.problems.some((p) => p.includes(`event ${middle.seq} missing`))).toBe(true);

    // The last events of another chain cut off.
    const { rows: heads } = await gw.db.query<{ chain: number; seq: number }>('SELECT chain, seq::int AS seq FROM audit_chains WHERE chain <> $1 AND chain <> $2 AND seq > 1 ORDER BY seq DESC LIMIT 1', [victim.chain, longest]);
    await tamper('DELETE FROM audit_events WHERE chain = $1 AND seq = $2', [heads[0].chain, heads[0].seq]);
    result = await log.verify();
    expect(result.problems.some((p) => p.startsWith(`chain ${heads[0].chain}: ends at event ${heads[0].seq - 1}`))).toBe(true);
  });
});

describe('npm run cli -- audit verify', () => {
  it('exits 0 on a whole log and 1 once an event was altered', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { openPglite } = await import('../../gateway/store/pglite.js');
    const { migrate } = await import('../../gateway/store/migrations.js');
    const { auditEvent } = await import('../../gateway/security/audit-log.js');
    const { auditCommand } = await import('../../gateway/security/cli.js');
    const dir = mkdtempSync(join(tmpdir(), 'gw-audit-'));
    const saved = { data: process.env.GATEWAY_DATA_DIR, url: process.env.DATABASE_URL };
    process.env.GATEWAY_DATA_DIR = dir;
    delete process.env.DATABASE_URL;
    try {
      let db = await openPglite(join(dir, 'pglite'));
      await migrate(db);
      const log = new AuditLog(db, 2);
      await log.prepare();
      for (let i = 0; i < 5; i++) await log.record([auditEvent({ interaction: 'read', action: 'R', entities: [`Patient/p${i}`], patients: [`p${i}`], outcome: '0' })]);
      await db.close();
      expect(await auditCommand(['verify'], 'usage')).toBe(0);
      db = await openPglite(join(dir, 'pglite'));
      await db.exec(`ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
        UPDATE audit_events SET client_id = 'someone-else', content = replace(content::text, 'Patient/p3', 'Patient/p9')::json WHERE content::text LIKE '%Patient/p3%';`);
      await db.close();
      expect(await auditCommand(['verify'], 'usage')).toBe(1);
    } finally {
      if (saved.data === undefined) delete process.env.GATEWAY_DATA_DIR;
      else process.env.GATEWAY_DATA_DIR = saved.data;
      if (saved.url !== undefined) process.env.DATABASE_URL = saved.url;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
