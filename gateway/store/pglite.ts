import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { Database, Queryable, QueryResult } from './database.js';

/**
 * Embedded PostgreSQL (PGlite) in this process. `dataDir` undefined means in memory (tests).
 * PGlite runs one statement at a time and queues transactions, so concurrent requests are safe but
 * serialised; one process owns the folder, so PGlite is for a single replica. Use PostgreSQL for more.
 */
export async function openPglite(dataDir?: string): Promise<Database> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir);
  return {
    kind: 'pglite',
    query: <R>(sql: string, params?: unknown[]) => db.query<R>(sql, params) as Promise<QueryResult<R>>,
    exec: async (sql: string) => void (await db.exec(sql)),
    transaction: <T>(fn: (tx: Queryable) => Promise<T>) =>
      db.transaction((tx) =>
        fn({
          query: <R>(sql: string, params?: unknown[]) => tx.query<R>(sql, params) as Promise<QueryResult<R>>,
          exec: async (sql: string) => void (await tx.exec(sql)),
        }),
      ),
    close: () => db.close(),
  };
}
