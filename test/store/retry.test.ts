import { describe, expect, it } from 'vitest';
import { FhirError } from '../../gateway/fhir/outcome.js';
import { retryingTransaction, type Database, type Queryable } from '../../gateway/store/database.js';

/** A database whose transactions fail with the given SQLSTATEs, in turn, then succeed. */
function flaky(codes: string[]): Database & { runs: number } {
  const db = {
    kind: 'pglite' as const,
    runs: 0,
    query: async () => ({ rows: [] }),
    exec: async () => {},
    close: async () => {},
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const code = codes[db.runs++];
      if (code) throw Object.assign(new Error(`sqlstate ${code}`), { code });
      return fn(db);
    },
  };
  return db;
}

describe('retryingTransaction', () => {
  it('runs the transaction again after a serialization failure, a deadlock or a duplicate new id', async () => {
    const db = flaky(['40001', '40P01', '23505']);
    await expect(retryingTransaction(db, async () => 'done')).resolves.toBe('done');
    expect(db.runs).toBe(4);
  });

  it('does not retry other errors', async () => {
    const db = flaky(['42P01']);
    await expect(retryingTransaction(db, async () => 'done')).rejects.toMatchObject({ code: '42P01' });
    expect(db.runs).toBe(1);
  });

  it('answers 409 once the conflicts outlast its attempts', async () => {
    const db = flaky(Array(5).fill('40001'));
    const error = await retryingTransaction(db, async () => 'done').catch((e) => e);
    expect(error).toBeInstanceOf(FhirError);
    expect(error.status).toBe(409);
    expect(error.issues[0].code).toBe('conflict');
    expect(db.runs).toBe(5);
  });
});
