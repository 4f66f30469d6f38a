import type { Resource } from '@medplum/fhirtypes';
import { toTimestamp } from '../fhir/dates.js';
import type { Queryable } from './database.js';
import { indexResource, type ResourceIndex } from './search/index-keys.js';
import type { SearchRequest } from './search/query.js';
import { orderBy, SqlParams, whereClause } from './search/sql.js';

/** A version as stored: the resource carries `meta.versionId` and `meta.lastUpdated`. */
export interface StoredVersion {
  resource: Resource;
  versionId: number;
  deleted: boolean;
}

/** One new version to write. For a delete, `resource` is the tombstone (type, id and meta only). */
export interface VersionWrite {
  resource: Resource & { id: string };
  versionId: number;
  lastUpdated: string;
  deleted: boolean;
  /** Computed once by the caller when it already needed it (conditional matching); else here. */
  index?: ResourceIndex;
  /** Created under an id the server has just assigned (POST): nothing stored can have read it yet. */
  freshId?: boolean;
}

export interface ResourceKey {
  type: string;
  id: string;
}

export interface HistoryQuery {
  type?: string;
  id?: string;
  since?: string;
  count: number;
  offset: number;
}

/**
 * Versions written by one statement (7 parameters each, within PostgreSQL's 65,535). A `write` of
 * at most this many is a single statement, atomic on its own; a larger one must run in a transaction.
 */
export const MAX_VERSIONS_PER_STATEMENT = 1000;

interface ContentRow {
  content: Resource;
  version_id: number;
  deleted: boolean;
}

const toVersion = (row: ContentRow): StoredVersion => ({ resource: row.content, versionId: row.version_id, deleted: row.deleted });

/**
 * Resource versions in PostgreSQL: `resources` holds the current version of each resource (and its
 * search keys), `resource_history` every earlier one. Reads work on the pool or in a transaction;
 * `write` takes several statements and must run inside one.
 */
export class Repository {
  constructor(private readonly db: Queryable) {}

  /** The connection or transaction it works on, for other tables written atomically with it (the outbox). */
  get queryable(): Queryable {
    return this.db;
  }

  /** Current versions of these resources; with `lock`, row-locked until the transaction ends. */
  async current(targets: ResourceKey[], lock = false): Promise<Map<string, StoredVersion>> {
    const found = new Map<string, StoredVersion>();
    if (targets.length === 0) return found;
    // Sorted, so that concurrent transactions take row locks in one order and cannot deadlock.
    const sorted = [...targets].sort((a, b) => (a.type + '/' + a.id < b.type + '/' + b.id ? -1 : 1));
    const { rows } = await this.db.query<ContentRow & { resource_type: string; id: string }>(
      `SELECT r.resource_type, r.id, r.content, r.version_id, r.deleted
         FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(t, i, n)
         JOIN resources r ON r.resource_type = k.t AND r.id = k.i
        ORDER BY k.n${lock ? ' FOR UPDATE OF r' : ''}`,
      [sorted.map((t) => t.type), sorted.map((t) => t.id)],
    );
    for (const row of rows) found.set(`${row.resource_type}/${row.id}`, toVersion(row));
    return found;
  }

  async read(type: string, id: string): Promise<StoredVersion | undefined> {
    const { rows } = await this.db.query<ContentRow>(
      'SELECT content, version_id, deleted FROM resources WHERE resource_type = $1 AND id = $2',
      [type, id],
    );
    return rows[0] && toVersion(rows[0]);
  }

  async readVersion(type: string, id: string, versionId: number): Promise<StoredVersion | undefined> {
    const { rows } = await this.db.query<ContentRow>(
      `SELECT content, version_id, deleted FROM resources WHERE resource_type = $1 AND id = $2 AND version_id = $3
       UNION ALL
       SELECT content, version_id, deleted FROM resource_history WHERE resource_type = $1 AND id = $2 AND version_id = $3`,
      [type, id, versionId],
    );
    return rows[0] && toVersion(rows[0]);
  }

  /**
   * Writes new versions in a few statements whatever their number: earlier versions move to the
   * history table, then one upsert. The upsert only replaces version n-1 with version n, so a write
   * that lost a race fails loudly (and the transaction is retried) instead of overwriting.
   */
  async write(writes: VersionWrite[]): Promise<void> {
    for (let i = 0; i < writes.length; i += MAX_VERSIONS_PER_STATEMENT) {
      await this.writeStatement(writes.slice(i, i + MAX_VERSIONS_PER_STATEMENT));
    }
  }

  private async writeStatement(writes: VersionWrite[]): Promise<void> {
    if (writes.length === 0) return;
    const p = new SqlParams();
    const values: string[] = [];
    const dates = { t: [] as string[], i: [] as string[], p: [] as string[], l: [] as string[], h: [] as string[] };
    for (const w of writes) {
      const { resourceType: type, id } = w.resource;
      const index = w.deleted ? { tokens: [], dates: [] } : (w.index ?? indexResource(w.resource));
      // Each resource is its own json parameter: PostgreSQL reads it once, with no escaping inside an array literal.
      values.push(
        `(${p.add(type)}, ${p.add(id)}, ${p.add(w.versionId)}::int, ${p.add(w.lastUpdated)}::timestamptz, ` +
          `${p.add(w.deleted)}::boolean, ${p.add(JSON.stringify(w.resource))}::json, ${p.add(index.tokens)}::text[])`,
      );
      for (const d of index.dates) {
        dates.t.push(type);
        dates.i.push(id);
        dates.p.push(d.param);
        dates.l.push(toTimestamp(d.low));
        dates.h.push(toTimestamp(d.high));
      }
    }
    // One statement, so that a batch of creates needs no explicit transaction and a single round trip.
    // All its parts see the table as it was before the statement: the history copy reads the replaced
    // versions, and the date rows deleted are the old ones only.
    const { rows: result } = await this.db.query<{ written: number }>(
      `WITH input (t, i, v, lu, d, c, k) AS (VALUES ${values.join(', ')}),
       moved AS (
         INSERT INTO resource_history (resource_type, id, version_id, last_updated, deleted, content)
         SELECT r.resource_type, r.id, r.version_id, r.last_updated, r.deleted, r.content
           FROM resources r JOIN input ON r.resource_type = input.t AND r.id = input.i AND input.v > 1),
       undated AS (
         DELETE FROM resource_dates x USING input WHERE x.resource_type = input.t AND x.id = input.i AND input.v > 1),
       created AS (
         -- A first version must be new: a concurrent creator makes this fail (unique violation) and retry.
         INSERT INTO resources (resource_type, id, version_id, last_updated, deleted, content, tokens)
         SELECT t, i, v, lu, d, c, k FROM input WHERE v = 1 RETURNING 1),
       updated AS (
         -- A later version replaces exactly its predecessor, which the caller holds locked.
         UPDATE resources r SET version_id = input.v, last_updated = input.lu, deleted = input.d, content = input.c, tokens = input.k
           FROM input WHERE r.resource_type = input.t AND r.id = input.i AND input.v > 1 AND r.version_id = input.v - 1
         RETURNING 1),
       dated AS (
         INSERT INTO resource_dates (resource_type, id, param, low, high)
         SELECT * FROM unnest(${p.add(dates.t)}::text[], ${p.add(dates.i)}::text[], ${p.add(dates.p)}::text[],
                              ${p.add(dates.l)}::timestamptz[], ${p.add(dates.h)}::timestamptz[]))
       SELECT ((SELECT count(*) FROM created) + (SELECT count(*) FROM updated))::int AS written`,
      p.values,
    );
    if (result[0].written !== writes.length) {
      // Only a later version can miss (its predecessor changed): updates run in a transaction, which this rolls back.
      throw Object.assign(new Error('A concurrent write replaced a version being updated'), { code: '40001' });
    }
  }

  /** One page of matches (one more than asked, so the caller knows whether a next page exists). */
  async search(req: SearchRequest, limit: number): Promise<Resource[]> {
    const p = new SqlParams();
    const where = whereClause(req, p);
    const order = orderBy(req, p);
    const { rows } = await this.db.query<{ content: Resource }>(
      `SELECT r.content FROM resources r WHERE ${where} ORDER BY ${order} LIMIT ${p.add(limit)} OFFSET ${p.add(req.offset)}`,
      p.values,
    );
    return rows.map((r) => r.content);
  }

  /**
   * The first `limit` matches of each of several searches, in one round trip (the conditions of a
   * transaction bundle: its facility, practitioners and patient, looked up together).
   */
  async searchEach(reqs: SearchRequest[], limit: number): Promise<Resource[][]> {
    if (reqs.length === 0) return [];
    if (reqs.length === 1) return [await this.search(reqs[0], limit)];
    const p = new SqlParams();
    const parts = reqs.map(
      (req, i) => `(SELECT ${i} AS q, r.content FROM resources r WHERE ${whereClause(req, p)} ORDER BY ${orderBy(req, p)} LIMIT ${p.add(limit)} OFFSET ${p.add(req.offset)})`,
    );
    const { rows } = await this.db.query<{ q: number; content: Resource }>(parts.join(' UNION ALL '), p.values);
    const out = reqs.map((): Resource[] => []);
    for (const row of rows) out[row.q].push(row.content);
    return out;
  }

  async count(req: SearchRequest): Promise<number> {
    const p = new SqlParams();
    const { rows } = await this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resources r WHERE ${whereClause(req, p)}`, p.values);
    return rows[0].n;
  }

  /** Live resources by `Type/id` (for `_include`); missing and deleted ones are skipped. */
  async fetch(targets: ResourceKey[]): Promise<Resource[]> {
    if (targets.length === 0) return [];
    const { rows } = await this.db.query<{ content: Resource }>(
      `SELECT r.content FROM unnest($1::text[], $2::text[]) AS k(t, i)
         JOIN resources r ON r.resource_type = k.t AND r.id = k.i WHERE NOT r.deleted`,
      [targets.map((t) => t.type), targets.map((t) => t.id)],
    );
    return rows.map((r) => r.content);
  }

  /** Live resources of a type holding any of these index keys (for `_revinclude`). */
  async withAnyKey(type: string, keys: string[], limit: number): Promise<Resource[]> {
    if (keys.length === 0) return [];
    const { rows } = await this.db.query<{ content: Resource }>(
      `SELECT r.content FROM resources r WHERE r.resource_type = $1 AND NOT r.deleted AND r.tokens && $2::text[]
        ORDER BY r.last_updated, r.id LIMIT $3`,
      [type, keys, limit],
    );
    return rows.map((r) => r.content);
  }

  /** Versions newest first, for one resource, one type or the whole store. */
  async history(q: HistoryQuery): Promise<StoredVersion[]> {
    const p = new SqlParams();
    const conditions: string[] = [];
    if (q.type) conditions.push(`resource_type = ${p.add(q.type)}`);
    if (q.id) conditions.push(`id = ${p.add(q.id)}`);
    if (q.since) conditions.push(`last_updated >= ${p.add(q.since)}::timestamptz`);
    const where = conditions.length ? `WHERE ${conditions.join(' AND ')}` : '';
    const { rows } = await this.db.query<ContentRow>(
      `SELECT content, version_id, deleted FROM (
         SELECT content, version_id, deleted, last_updated, resource_type, id FROM resources ${where}
         UNION ALL
         SELECT content, version_id, deleted, last_updated, resource_type, id FROM resource_history ${where}
       ) h ORDER BY last_updated DESC, resource_type, id, version_id DESC LIMIT ${p.add(q.count)} OFFSET ${p.add(q.offset)}`,
      p.values,
    );
    return rows.map(toVersion);
  }

  /**
   * Serialises transactions that test the same condition (conditional create or update), so that
   * two of them cannot both find nothing and both create. Held until the transaction ends.
   */
  async lockConditions(conditions: string[]): Promise<void> {
    if (conditions.length === 0) return;
    // One round trip; always in the same order, so that two transactions cannot deadlock on them.
    await this.db.query(
      'SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) FROM (SELECT DISTINCT k FROM unnest($1::text[]) k ORDER BY k) s',
      [conditions],
    );
  }
}
