import pg from 'pg';
import type { Database } from '../../gateway/store/database.js';
import { migrate } from '../../gateway/store/migrations.js';
import { openPglite } from '../../gateway/store/pglite.js';
import { openPostgres } from '../../gateway/store/postgres.js';

export interface StoreFactory {
  name: 'pglite' | 'postgres';
  /** A fresh, migrated, empty database; closing it drops it. */
  open(): Promise<Database>;
}

const pglite: StoreFactory = {
  name: 'pglite',
  async open() {
    const db = await openPglite();
    await migrate(db);
    return db;
  },
};

/** A new database on the server named by TEST_DATABASE_URL, dropped again on close. */
function postgres(serverUrl: string): StoreFactory {
  return {
    name: 'postgres',
    async open() {
      const name = `gw_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
      const admin = new pg.Client({ connectionString: serverUrl });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
      const url = new URL(serverUrl);
      url.pathname = `/${name}`;
      const db = openPostgres({ connectionString: url.toString(), poolSize: 8 });
      await migrate(db);
      return {
        ...db,
        async close() {
          await db.close();
          const dropper = new pg.Client({ connectionString: serverUrl });
          await dropper.connect();
          await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
          await dropper.end();
        },
      };
    },
  };
}

/** PGlite always; a real PostgreSQL server too when TEST_DATABASE_URL is set. */
export const STORES: StoreFactory[] = process.env.TEST_DATABASE_URL ? [pglite, postgres(process.env.TEST_DATABASE_URL)] : [pglite];
