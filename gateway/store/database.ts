import { conflict } from '../fhir/outcome.js';

/**
 * The one small storage interface: SQL with parameters, and transactions. Two implementations share
 * every statement: a real PostgreSQL server through `pg`, and embedded PGlite (PostgreSQL compiled
 * to WebAssembly) for the zero-setup default and for tests.
 */
export interface QueryResult<R> {
  rows: R[];
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Runs `fn` in one database transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** SQLSTATEs after which the whole transaction can simply be run again. */
const RETRYABLE = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '23505', // unique_violation: two writers created the same new id at once; the retry sees the winner
]);

export function isRetryable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && RETRYABLE.has((error as { code?: string }).code ?? '');
}

/**
 * A transaction that is retried when PostgreSQL reports a conflict that a re-run resolves.
 * `fn` must be a pure function of its input and the database state (it is called again on retry).
 */
export function retryingTransaction<T>(db: Database, fn: (tx: Queryable) => Promise<T>, attempts = 5): Promise<T> {
  return withRetries(() => db.transaction(fn), attempts);
}

/** Runs `attempt` again (a few times, with jitter) while it fails with a retryable SQLSTATE. */
export async function withRetries<T>(run: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (!isRetryable(error)) throw error;
      // Still conflicting after several runs: the client's to retry later, not a server fault.
      if (attempt >= attempts) throw conflict({ vi: 'Các yêu cầu đồng thời liên tục thay đổi cùng tài nguyên; hãy thử lại', en: 'Concurrent requests kept changing the same resources; try again' });
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
    }
  }
}
