import pg from 'pg';

/** One statement on a PostgreSQL server outside any gateway (creating or dropping a benchmark's scratch database). */
export async function adminQuery(serverUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
