import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { compileView, type ViewDefinition } from '../gateway/mapping/view.js';

/**
 * The SQL-on-FHIR v2 shared test suite (sql-on-fhir-v2/, see its SOURCE.md) against the view engine.
 * `npm run conformance` (conformance/main.ts) prints each failure and a summary, and fails when a
 * test that is not experimental fails; test/mapping/sql-on-fhir.test.ts runs the same cases under vitest.
 */

export interface SuiteTest {
  title: string;
  tags?: string[];
  view: unknown;
  expect?: Record<string, unknown>[];
  expectColumns?: string[];
  expectError?: boolean;
}

export interface SuiteFile {
  file: string;
  tags?: string[];
  resources: unknown[];
  tests: SuiteTest[];
}

export const SUITE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'sql-on-fhir-v2');

export function loadSuite(): SuiteFile[] {
  return readdirSync(SUITE_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, ...(JSON.parse(readFileSync(join(SUITE_DIR, file), 'utf8')) as Omit<SuiteFile, 'file'>) }));
}

export function isExperimental(file: SuiteFile, test: SuiteTest): boolean {
  return (test.tags ?? file.tags ?? []).includes('experimental');
}

/** Runs one test: undefined when it passes, else why it failed. */
export function runTest(file: SuiteFile, test: SuiteTest): string | undefined {
  let rows: Record<string, unknown>[];
  let columns: string[];
  try {
    const view = compileView(test.view as ViewDefinition);
    columns = view.columns.map((c) => c.name);
    rows = view.run(file.resources);
  } catch (e) {
    return test.expectError ? undefined : `unexpected error: ${(e as Error).message}`;
  }
  if (test.expectError) return 'expected an error, got rows';

  if (test.expectColumns && !isDeepStrictEqual(columns, test.expectColumns)) {
    return `columns ${JSON.stringify(columns)}, expected ${JSON.stringify(test.expectColumns)}`;
  }
  const misordered = rows.find((row) => !isDeepStrictEqual(Object.keys(row), columns));
  if (misordered) return `row keys ${JSON.stringify(Object.keys(misordered))} differ from the columns ${JSON.stringify(columns)}`;
  return compareRows(rows, test.expect ?? []);
}

/** Rows in any order (the spec promises none), each expected row matched by exactly one actual row. */
export function compareRows(actual: Record<string, unknown>[], expected: Record<string, unknown>[]): string | undefined {
  const unmatched = [...actual];
  const missing = expected.filter((want) => {
    const i = unmatched.findIndex((got) => isDeepStrictEqual(got, want));
    if (i < 0) return true;
    unmatched.splice(i, 1);
    return false;
  });
  if (missing.length === 0 && unmatched.length === 0) return undefined;
  return [
    missing.length > 0 && `missing ${JSON.stringify(missing)}`,
    unmatched.length > 0 && `unexpected ${JSON.stringify(unmatched)}`,
  ]
    .filter(Boolean)
    .join('; ');
}

/** Runs the suite, prints failures and the summary line; true when no non-experimental test failed. */
export function reportSqlOnFhir(): boolean {
  let passed = 0;
  let failed = 0;
  let experimentalFailed = 0;
  for (const file of loadSuite()) {
    for (const test of file.tests) {
      const failure = runTest(file, test);
      if (failure === undefined) {
        passed++;
        continue;
      }
      failed++;
      const experimental = isExperimental(file, test);
      if (experimental) experimentalFailed++;
      console.log(`FAIL ${file.file} › ${test.title}${experimental ? ' (experimental)' : ''}: ${failure}`);
    }
  }
  console.log(`sql-on-fhir: ${passed} passed, ${failed} failed${experimentalFailed > 0 ? ` (${experimentalFailed} experimental failed)` : ''}`);
  return failed === experimentalFailed;
}
