import { createHash, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { drive } from './report.js';

/**
 * The physical floor of ingest, measured in the same run on the same bundles: `JSON.parse` of the
 * bundle, one transaction inserting its resources as JSONB rows (one multi-row INSERT), and one
 * RSA-2048 SHA-256 signature of a digest. Nothing else: no validation, no references, no index.
 * Run with the same number of connections as the gateway's ingest, so the ratio compares like with like.
 */
export interface FloorResult {
  store: 'postgres' | 'pglite';
  connections: number;
  bundlesPerSecond: number;
  /** One bundle at a time: the floor's latency. */
  msPerBundle: number;
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

async function floorStep(texts: string[], n: number, insert: (sql: string, params: unknown[]) => Promise<unknown>): Promise<void> {
  const bundle = JSON.parse(texts[n % texts.length]) as { entry: { resource: { resourceType: string } }[] };
  const params: unknown[] = [];
  const rows = bundle.entry.map((e, i) => {
    params.push(randomUUID(), e.resource.resourceType, JSON.stringify(e.resource));
    return `($${i * 3 + 1}, $${i * 3 + 2}, $${i * 3 + 3})`;
  });
  await insert(`INSERT INTO floor_resources (id, type, content) VALUES ${rows.join(', ')}`, params);
  sign('sha256', createHash('sha256').update(texts[n % texts.length]).digest(), privateKey);
}

const TABLE = 'CREATE TABLE IF NOT EXISTS floor_resources (id uuid PRIMARY KEY, type text NOT NULL, content jsonb NOT NULL)';

export async function floorBench(texts: string[], options: { databaseUrl?: string; connections: number; seconds: number }): Promise<FloorResult> {
  if (!options.databaseUrl) {
    // PGlite is one connection in the process: its floor is one bundle at a time.
    const db = new PGlite();
    await db.exec(TABLE);
    const run = (n: number) => db.transaction((tx) => floorStep(texts, n, (sql, params) => tx.query(sql, params)));
    const { perSecond, msPerCall } = await drive(1, options.seconds, run);
    await db.close();
    return { store: 'pglite', connections: 1, bundlesPerSecond: perSecond, msPerBundle: msPerCall };
  }
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: options.connections });
  // end() resolves before the sockets close: the scratch database's drop may still reach one.
  pool.on('error', () => {});
  try {
    await pool.query(TABLE);
    const run = async (n: number) => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await floorStep(texts, n, (sql, params) => client.query(sql, params));
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    };
    const single = await drive(1, Math.min(2, options.seconds), run);
    const many = await drive(options.connections, options.seconds, run);
    return { store: 'postgres', connections: options.connections, bundlesPerSecond: many.perSecond, msPerBundle: single.msPerCall };
  } finally {
    await pool.query('DROP TABLE IF EXISTS floor_resources').catch(() => {});
    await pool.end();
  }
}
