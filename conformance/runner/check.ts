import type { FhirClient } from './client.js';

/**
 * One conformance check: a name a person reads in the output, the group it belongs to, and what it
 * does against the deployment. It throws (CheckFailure or any error) to fail, with why.
 */
export interface Check {
  group: 'metadata' | 'rest' | 'validation' | 'cases' | 'sql-on-fhir';
  name: string;
  run(ctx: RunContext): Promise<void>;
}

export interface RunContext {
  client: FhirClient;
  /** Unique to this run: identifiers and names made with it never meet another run's. */
  runId: string;
  /** Resources this run created (`Type/id`), deleted at the end, newest first. */
  created: string[];
}

export class CheckFailure extends Error {}

export function expect(condition: unknown, why: string): asserts condition {
  if (!condition) throw new CheckFailure(why);
}

export function expectEqual<T>(got: T, want: T, what: string): void {
  const [g, w] = [JSON.stringify(got), JSON.stringify(want)];
  if (g !== w) throw new CheckFailure(`${what}: -${w} +${g}`);
}
