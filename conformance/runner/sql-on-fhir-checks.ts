import { compareRows, isExperimental, loadSuite, type SuiteFile, type SuiteTest } from '../sql-on-fhir.js';
import { CheckFailure, type Check, type RunContext } from './check.js';

/**
 * The SQL-on-FHIR v2 shared suite through a deployment's `POST $viewdefinition-run` (the R4 form):
 * each test's view and resources sent inline, its rows compared in any
 * order, an expected error answered by a 4xx. Tests tagged experimental (draft features) are left
 * out: they are not part of what a deployment promises.
 */
export function sqlOnFhirChecks(): { checks: Check[]; experimental: number } {
  const checks: Check[] = [];
  let experimental = 0;
  for (const file of loadSuite()) {
    for (const test of file.tests) {
      if (isExperimental(file, test)) {
        experimental++;
        continue;
      }
      checks.push({ group: 'sql-on-fhir', name: `${file.file} › ${test.title}`, run: (ctx) => suiteCheck(ctx, file, test) });
    }
  }
  return { checks, experimental };
}

async function suiteCheck(ctx: RunContext, file: SuiteFile, test: SuiteTest): Promise<void> {
  const parameter = [{ name: 'viewResource', resource: test.view }, ...file.resources.map((resource) => ({ name: 'resource', resource }))];
  const run = (format: string) => ctx.client.post('$viewdefinition-run', { resourceType: 'Parameters', parameter: [...parameter, { name: '_format', valueCode: format }] });
  const r = await run('json');
  if (test.expectError) {
    if (r.status >= 400 && r.status < 500) return;
    throw new CheckFailure(`expected an error, got ${r.status}`);
  }
  if (r.status !== 200) throw new CheckFailure(`answered ${r.status}: ${r.text.slice(0, 300)}`);
  const rows = JSON.parse(r.text) as Record<string, unknown>[];
  if (test.expectColumns) {
    // The CSV header names the columns even when there is no row.
    const header = (await run('csv')).text.split('\r\n')[0];
    const columns = header === '' ? [] : header.split(',');
    if (JSON.stringify(columns) !== JSON.stringify(test.expectColumns)) throw new CheckFailure(`columns -${JSON.stringify(test.expectColumns)} +${JSON.stringify(columns)}`);
  }
  const failure = compareRows(rows, test.expect ?? []);
  if (failure) throw new CheckFailure(failure);
}
