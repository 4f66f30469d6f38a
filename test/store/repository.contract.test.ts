import type { Patient, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database, Queryable } from '../../gateway/store/database.js';
import { MIGRATIONS, migrate } from '../../gateway/store/migrations.js';
import { MAX_VERSIONS_PER_STATEMENT, Repository, type VersionWrite } from '../../gateway/store/repository.js';
import { parseSearch } from '../../gateway/store/search/query.js';
import { SID } from '../support/fixtures.js';
import { STORES } from '../support/stores.js';

/**
 * The storage contract, below HTTP: what gateway/store/repository.ts promises whoever plans writes
 * (versions, history, tombstones, the version check, locks, search keys) on a migrated database.
 */

const T0 = '2024-05-01T01:00:00.000Z';
const T1 = '2024-05-01T02:00:00.000Z';
const T2 = '2024-05-01T03:00:00.000Z';

/** A Patient version as the write planner hands it over: id, meta.versionId and meta.lastUpdated set. */
function version(id: string, versionId: number, lastUpdated: string, fields: Partial<Patient> = {}): VersionWrite {
  const resource = { resourceType: 'Patient', id, meta: { versionId: String(versionId), lastUpdated }, ...fields } as Patient & { id: string };
  return { resource, versionId, lastUpdated, deleted: false };
}

function tombstone(id: string, versionId: number, lastUpdated: string): VersionWrite {
  const resource = { resourceType: 'Patient', id, meta: { versionId: String(versionId), lastUpdated } } as Resource & { id: string };
  return { resource, versionId, lastUpdated, deleted: true };
}

const cccd = (value: string) => ({ identifier: [{ system: SID.cccd, value }] });

describe.each(STORES)('the repository contract on $name', (store) => {
  let db: Database;
  let repo: Repository;
  beforeAll(async () => {
    db = await store.open();
    repo = new Repository(db);
  });
  afterAll(() => db.close());

  /** Writes as the gateway does: inside one transaction. */
  const write = (...writes: VersionWrite[]) => db.transaction((tx) => new Repository(tx).write(writes));
  const find = async (query: [string, string][]) => (await repo.search(parseSearch('Patient', query, { strict: true }), 100)).map((r) => r.id);
  const rows = async (table: 'resources' | 'resource_history' | 'resource_dates', id: string, q: Queryable = db) =>
    (await q.query<Record<string, unknown>>(`SELECT * FROM ${table} WHERE resource_type = 'Patient' AND id = $1 ORDER BY 1, 2, 3`, [id])).rows;
  const historyVersions = async (id: string) =>
    (await db.query<{ version_id: number }>(`SELECT version_id FROM resource_history WHERE resource_type = 'Patient' AND id = $1 ORDER BY version_id`, [id])).rows.map((r) => r.version_id);

  it('writes a first version and reads it back, as current and as version 1', async () => {
    const v1 = version('c-read', 1, T0, { ...cccd('100000000001'), gender: 'female', birthDate: '1990-02-03' });
    await write(v1);
    const current = await repo.read('Patient', 'c-read');
    expect(current).toEqual({ resource: v1.resource, versionId: 1, deleted: false });
    // Key order survives the store (content is json, not jsonb).
    expect(Object.keys(current!.resource)).toEqual(['resourceType', 'id', 'meta', 'identifier', 'gender', 'birthDate']);
    expect(await repo.readVersion('Patient', 'c-read', 1)).toEqual(current);
    expect(await repo.readVersion('Patient', 'c-read', 2)).toBeUndefined();
    expect(await repo.read('Patient', 'nobody')).toBeUndefined();
    expect(await repo.read('Observation', 'c-read')).toBeUndefined();
    // A first version leaves nothing in history.
    expect(await historyVersions('c-read')).toEqual([]);
    const [row] = await rows('resources', 'c-read');
    expect(row).toMatchObject({ version_id: 1, deleted: false });
    expect(new Date(row.last_updated as string).toISOString()).toBe(T0);
  });

  it('moves the replaced version to the history table, unchanged', async () => {
    const v1 = version('c-hist', 1, T0, { gender: 'male' });
    const v2 = version('c-hist', 2, T1, { gender: 'female' });
    await write(v1);
    await write(v2);

    const history = await rows('resource_history', 'c-hist');
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ version_id: 1, deleted: false, content: v1.resource });
    expect(new Date(history[0].last_updated as string).toISOString()).toBe(T0);
    expect(await rows('resources', 'c-hist')).toEqual([expect.objectContaining({ version_id: 2, content: v2.resource })]);

    expect((await repo.read('Patient', 'c-hist'))?.resource).toEqual(v2.resource);
    expect((await repo.readVersion('Patient', 'c-hist', 1))?.resource).toEqual(v1.resource);
    expect((await repo.readVersion('Patient', 'c-hist', 2))?.resource).toEqual(v2.resource);
    const all = await repo.history({ type: 'Patient', id: 'c-hist', count: 10, offset: 0 });
    expect(all.map((v) => [v.versionId, v.deleted])).toEqual([[2, false], [1, false]]);
    expect((await repo.history({ type: 'Patient', id: 'c-hist', count: 1, offset: 1 })).map((v) => v.versionId)).toEqual([1]);
  });

  it('keeps a tombstone as the current version of a deleted resource', async () => {
    await write(version('c-del', 1, T0, { ...cccd('100000000002'), birthDate: '1970-01-01' }));
    expect(await find([['identifier', '100000000002']])).toEqual(['c-del']);
    await write(tombstone('c-del', 2, T1));

    const current = await repo.read('Patient', 'c-del');
    expect(current).toMatchObject({ versionId: 2, deleted: true });
    expect(current!.resource).toEqual({ resourceType: 'Patient', id: 'c-del', meta: { versionId: '2', lastUpdated: T1 } });
    expect(await repo.readVersion('Patient', 'c-del', 1)).toMatchObject({ deleted: false, resource: { identifier: cccd('100000000002').identifier } });
    // Not found by search, not fetched for _include, and its search keys are gone.
    expect(await find([['identifier', '100000000002']])).toEqual([]);
    expect(await find([['_id', 'c-del']])).toEqual([]);
    expect(await find([['birthdate', '1970-01-01']])).toEqual([]);
    expect(await repo.fetch([{ type: 'Patient', id: 'c-del' }])).toEqual([]);
    expect(await repo.count(parseSearch('Patient', [['_id', 'c-del']], { strict: true }))).toBe(0);
    expect((await rows('resources', 'c-del'))[0].tokens).toEqual([]);
    expect(await rows('resource_dates', 'c-del')).toEqual([]);
    expect(await historyVersions('c-del')).toEqual([1]);
    expect((await repo.history({ type: 'Patient', id: 'c-del', count: 10, offset: 0 })).map((v) => [v.versionId, v.deleted])).toEqual([[2, true], [1, false]]);

    // A resource can come back after a delete: the next version replaces the tombstone.
    await write(version('c-del', 3, T2, cccd('100000000002')));
    expect(await find([['identifier', '100000000002']])).toEqual(['c-del']);
    expect(await historyVersions('c-del')).toEqual([1, 2]);
  });

  it('refuses a write whose version is not the current one plus one, with a SQLSTATE the transaction retries', async () => {
    await write(version('c-stale', 1, T0, { gender: 'male' }));
    // A second "create": the new row collides (unique violation).
    await expect(write(version('c-stale', 1, T1, { gender: 'female' }))).rejects.toMatchObject({ code: '23505' });
    for (const bad of [
      version('c-stale', 3, T1, { gender: 'female' }), // skips version 2
      version('c-never', 2, T1, { gender: 'female' }), // version 2 of nothing
    ]) {
      await expect(write(bad), `version ${bad.versionId} of ${bad.resource.id}`).rejects.toMatchObject({ code: '40001' });
    }
    // A batch with one stale write is refused whole.
    await expect(write(version('c-stale-ok', 1, T1), version('c-stale', 5, T1))).rejects.toMatchObject({ code: '40001' });

    // Nothing of the refused writes remains.
    expect(await repo.read('Patient', 'c-stale')).toMatchObject({ versionId: 1, resource: { gender: 'male' } });
    expect(await historyVersions('c-stale')).toEqual([]);
    expect(await repo.read('Patient', 'c-never')).toBeUndefined();
    expect(await repo.read('Patient', 'c-stale-ok')).toBeUndefined();
    // The right next version still goes through.
    await write(version('c-stale', 2, T1, { gender: 'female' }));
    expect(await repo.read('Patient', 'c-stale')).toMatchObject({ versionId: 2, resource: { gender: 'female' } });
  });

  it('current() returns the current versions asked for, and with lock=true row-locks them in the transaction', async () => {
    await write(version('c-lock-a', 1, T0), version('c-lock-b', 1, T0));
    await write(version('c-lock-b', 2, T1, { gender: 'male' }));
    const found = await repo.current([{ type: 'Patient', id: 'c-lock-b' }, { type: 'Patient', id: 'c-lock-a' }, { type: 'Patient', id: 'c-missing' }]);
    expect([...found.keys()].sort()).toEqual(['Patient/c-lock-a', 'Patient/c-lock-b']);
    expect(found.get('Patient/c-lock-b')).toMatchObject({ versionId: 2, deleted: false });
    expect(await repo.current([])).toEqual(new Map());

    // A locked row carries the locking transaction's id in xmax; an unlocked read leaves it alone.
    const lockerOf = (tx: Queryable, id: string) =>
      tx.query<{ mine: boolean; xmax: string }>(
        `SELECT xmax::text AS xmax, xmax::text = (txid_current() % 4294967296)::text AS mine FROM resources WHERE resource_type = 'Patient' AND id = $1`,
        [id],
      );
    await db.transaction(async (tx) => {
      await new Repository(tx).current([{ type: 'Patient', id: 'c-lock-a' }], false);
      expect((await lockerOf(tx, 'c-lock-a')).rows[0].mine).toBe(false);
      await new Repository(tx).current([{ type: 'Patient', id: 'c-lock-a' }], true);
      expect((await lockerOf(tx, 'c-lock-a')).rows[0].mine).toBe(true);
      expect((await lockerOf(tx, 'c-lock-b')).rows[0].mine).toBe(false);
    });
  });

  it.runIf(store.name === 'postgres')('current(…, true) blocks other writers until the transaction ends', async () => {
    await write(version('c-block', 1, T0));
    const noWait = () => db.query(`SELECT 1 FROM resources WHERE resource_type = 'Patient' AND id = 'c-block' FOR UPDATE NOWAIT`);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = db.transaction(async (tx) => {
      await new Repository(tx).current([{ type: 'Patient', id: 'c-block' }], true);
      locked();
      await held;
    });
    await isLocked;
    // Another connection cannot lock (or update) the row meanwhile: 55P03 lock_not_available.
    await expect(noWait()).rejects.toMatchObject({ code: '55P03' });
    release();
    await holder;
    await expect(noWait()).resolves.toBeDefined();
  });

  it('lockConditions() takes transaction-scoped advisory locks', async () => {
    const advisory = (tx: Queryable) =>
      tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()`);
    await db.transaction(async (tx) => {
      await new Repository(tx).lockConditions(['Patient?identifier=b', 'Patient?identifier=a', 'Patient?identifier=a']);
      expect((await advisory(tx)).rows[0].n).toBe(2);
    });
    expect((await advisory(db)).rows[0].n).toBe(0);
  });

  it('replaces search keys and dates on update: the old values no longer match', async () => {
    await write(version('c-keys', 1, T0, { ...cccd('100000000003'), name: [{ family: 'Lê', given: ['Minh'] }], birthDate: '1985-03-02' }));
    expect(await find([['identifier', `${SID.cccd}|100000000003`]])).toEqual(['c-keys']);
    expect(await find([['birthdate', '1985-03-02']])).toEqual(['c-keys']);
    expect(await find([['family', 'Lê']])).toEqual(['c-keys']);

    await write(version('c-keys', 2, T1, { ...cccd('100000000004'), name: [{ family: 'Phạm', given: ['Minh'] }], birthDate: '1986-04-05' }));
    expect(await find([['identifier', '100000000003']])).toEqual([]);
    expect(await find([['identifier', `${SID.cccd}|100000000003`]])).toEqual([]);
    expect(await find([['birthdate', '1985-03-02']])).toEqual([]);
    expect(await find([['family', 'Lê']])).toEqual([]);
    expect(await find([['identifier', `${SID.cccd}|100000000004`]])).toEqual(['c-keys']);
    expect(await find([['birthdate', '1986-04-05']])).toEqual(['c-keys']);
    expect(await find([['family', 'Phạm']])).toEqual(['c-keys']);
    // One date row: the new birthDate; the old one is not left behind.
    const dates = await rows('resource_dates', 'c-keys');
    expect(dates.map((d) => d.param)).toEqual(['birthdate']);
    expect(new Date(dates[0].low as string).toISOString()).toBe('1986-04-04T17:00:00.000Z');
    expect((await rows('resources', 'c-keys'))[0].tokens).not.toContain(`identifier#100000000003`);
  });

  it('writes more versions than one statement takes, and a refusal in a later statement undoes the earlier ones', async () => {
    const many = Array.from({ length: MAX_VERSIONS_PER_STATEMENT + 5 }, (_, i) => version(`c-many-${i}`, 1, T0));
    await write(...many);
    expect((await repo.read('Patient', `c-many-${MAX_VERSIONS_PER_STATEMENT + 4}`))?.versionId).toBe(1);

    // The last version of the batch is stale: it fails in the second statement, after the first wrote.
    const doomed = Array.from({ length: MAX_VERSIONS_PER_STATEMENT + 5 }, (_, i) => version(`c-doomed-${i}`, 1, T0));
    doomed.push(version('c-many-0', 5, T1));
    await expect(write(...doomed)).rejects.toMatchObject({ code: '40001' });
    expect(await repo.read('Patient', 'c-doomed-0')).toBeUndefined();
    expect((await repo.read('Patient', 'c-many-0'))?.versionId).toBe(1);
  });

  it('leaves nothing behind when the transaction throws', async () => {
    await write(version('c-tx-old', 1, T0, { ...cccd('100000000005'), birthDate: '2000-01-01' }));
    const before = await Promise.all((['resources', 'resource_history', 'resource_dates'] as const).map((t) => rows(t, 'c-tx-old')));
    const failure = new Error('abort after writing');
    await expect(
      db.transaction(async (tx) => {
        const r = new Repository(tx);
        await r.write([version('c-tx-new', 1, T1, { ...cccd('100000000006'), birthDate: '2001-01-01' }), version('c-tx-old', 2, T1, { ...cccd('100000000007'), birthDate: '2002-01-01' })]);
        // Visible inside the transaction…
        expect((await r.read('Patient', 'c-tx-new'))?.versionId).toBe(1);
        expect((await rows('resource_history', 'c-tx-old', tx)).length).toBe(1);
        throw failure;
      }),
    ).rejects.toBe(failure);
    // …and gone after it.
    expect(await repo.read('Patient', 'c-tx-new')).toBeUndefined();
    for (const t of ['resources', 'resource_history', 'resource_dates'] as const) expect(await rows(t, 'c-tx-new')).toEqual([]);
    const after = await Promise.all((['resources', 'resource_history', 'resource_dates'] as const).map((t) => rows(t, 'c-tx-old')));
    expect(after).toEqual(before);
    expect(await find([['identifier', '100000000005']])).toEqual(['c-tx-old']);
    expect(await find([['identifier', '100000000007']])).toEqual([]);
    expect(await find([['birthdate', '2001-01-01']])).toEqual([]);
  });

  it('migrations are idempotent: a second run applies nothing', async () => {
    const recorded = async () => (await db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version);
    expect(await recorded()).toEqual(MIGRATIONS.map((m) => m.version));
    const count = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM resources')).rows[0].n;
    const resources = await count();
    expect(await migrate(db)).toEqual([]);
    expect(await migrate(db)).toEqual([]);
    expect(await recorded()).toEqual(MIGRATIONS.map((m) => m.version));
    // And it touched no data.
    expect(await count()).toBe(resources);
  });
});
