import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPortalSimulator, type PortalSimulator } from '../../conformance/portal-sim/index.js';
import { PROJECT_ROOT } from '../../gateway/paths.js';
import { selfSignedCredentials } from '../../gateway/signing/keys.js';
import { outpatientText } from '../support/episodes.js';

/**
 * Nothing acknowledged is lost, nothing accepted is sent twice: episodes are finished under load
 * against a portal that fails 30% of requests (errors, dropped connections, answers lost after
 * acceptance), the gateway process is killed (SIGKILL) mid-run and started again, and in the end
 * every file version is accepted exactly once.
 *
 * PostgreSQL only: a real server survives its client being killed; the embedded PGlite lives in the
 * killed process (its durability is PostgreSQL's WAL in a file system the process shares).
 */
const serverUrl = process.env.TEST_DATABASE_URL;

describe.skipIf(!serverUrl)('the outbox across a crash, with a failing portal (PostgreSQL)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-crash-'));
  const dbName = `gw_crash_${process.pid}`;
  const facility = selfSignedCredentials('Trung tâm Y tế huyện Bắc Hà (10085)');
  let sim: PortalSimulator;
  let databaseUrl = '';
  let gateway: ChildProcess | undefined;
  const port = 19_000 + (process.pid % 1000);

  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: serverUrl });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    sim = await startPortalSimulator({
      accounts: [{ username: '10085_BV', password: 'mat-khau', facility: '10085' }],
      trustAnchors: [facility.credentials.certificate],
      faults: { failRate: 0.15, dropRate: 0.05, dropAfterAcceptRate: 0.1, seed: 11 },
    });
    const credentials = join(dir, 'credentials', '10085');
    mkdirSync(credentials, { recursive: true });
    writeFileSync(join(credentials, 'key.pem'), facility.keyPem);
    writeFileSync(join(credentials, 'cert.pem'), facility.certificatePem);
    writeFileSync(join(credentials, 'portal.json'), JSON.stringify({ username: '10085_BV', password: 'mat-khau' }));
    await admin(`CREATE DATABASE ${dbName}`);
    const url = new URL(serverUrl!);
    url.pathname = `/${dbName}`;
    databaseUrl = url.toString();
  });

  afterAll(async () => {
    gateway?.kill('SIGKILL');
    await sim?.close();
    await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'gateway/main.ts')], {
      env: {
        ...process.env,
        PORT: String(port),
        DATABASE_URL: databaseUrl,
        GATEWAY_MODE: 'production',
        CREDENTIALS_DIR: join(dir, 'credentials'),
        BHXH_PORTAL_URL: sim.url,
        LOG_LEVEL: 'error',
        PORTAL_TIMEOUT_MS: '2000',
        PORTAL_RETRY_BASE_MS: '200',
        PORTAL_LEASE_MS: '3000',
        PORTAL_RATE_LIMIT: '200',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    for (let i = 0; i < 300; i++) {
      if (child.exitCode !== null) throw new Error(`the gateway exited with ${child.exitCode}`);
      if (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)) return child;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the gateway did not start');
  };

  const query = async <T,>(sql: string): Promise<T[]> => {
    const c = new pg.Client({ connectionString: databaseUrl });
    await c.connect();
    try {
      return (await c.query(sql)).rows as T[];
    } finally {
      await c.end();
    }
  };

  it('sends every file version exactly once', { timeout: 180_000 }, async () => {
    sim.setFaults({ failRate: 0.15, dropRate: 0.05, dropAfterAcceptRate: 0.1, seed: 11 });
    gateway = await start();
    const EPISODES = 24;
    const posted = await Promise.all(
      Array.from({ length: EPISODES }, (_, i) =>
        fetch(`http://127.0.0.1:${port}/fhir`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: outpatientText(900_000 + i) }).then((r) => r.status),
      ),
    );
    expect(posted.every((s) => s === 200)).toBe(true);

    // Killed while sending: some files claimed, some sent with their answer lost.
    await new Promise((r) => setTimeout(r, 600));
    gateway.kill('SIGKILL');
    await new Promise((r) => gateway!.once('exit', r));
    const midway = await query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM dossiers GROUP BY status');
    // Every acknowledged episode had its files queued before the kill, and not all were sent yet.
    expect(midway.reduce((sum, r) => sum + r.n, 0)).toBe(EPISODES * 2);
    expect(midway.some((r) => r.status !== 'accepted'), JSON.stringify(midway)).toBe(true);
    gateway = await start();

    let rows: { status: string; n: number }[] = [];
    for (let i = 0; i < 600; i++) {
      rows = await query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM dossiers GROUP BY status');
      if (rows.length === 1 && rows[0].status === 'accepted') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(rows, `midway: ${JSON.stringify(midway)}`).toEqual([{ status: 'accepted', n: EPISODES * 2 }]);

    // Exactly one accepted file per dossier version, and the portal's receipts are the ones kept.
    const dossiers = await query<{ ma_lk: string; kind: string; receipt: { maGiaoDich: string } }>('SELECT ma_lk, kind, receipt FROM dossiers');
    const accepted = sim.accepted();
    for (const d of dossiers) {
      const files = accepted.filter((s) => s.maLk === d.ma_lk && s.kind === d.kind);
      expect(files, `${d.kind} ${d.ma_lk}`).toHaveLength(1);
      expect(d.receipt.maGiaoDich).toBe(files[0].maGiaoDich);
    }
    expect(accepted).toHaveLength(EPISODES * 2);
    // The portal was really failing: resends happened.
    expect(sim.all().length).toBeGreaterThan(EPISODES * 2);
  });
});
