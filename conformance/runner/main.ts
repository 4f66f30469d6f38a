import { parseArgs } from 'node:util';
import { runConformance } from './run.js';

/**
 * `npm run conformance -- --base-url http://host:port/fhir [--report conformance-report.json]
 * [--header 'Authorization: Bearer …'] [--only <text>]`: the conformance kit against a deployment.
 * Exit code 1 when a check fails.
 */
export async function runnerMain(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'base-url': { type: 'string' },
      report: { type: 'string', default: 'conformance-report.json' },
      header: { type: 'string', multiple: true, default: [] },
      only: { type: 'string' },
    },
  });
  const headers = Object.fromEntries(
    values.header!.map((h) => {
      const colon = h.indexOf(':');
      if (colon < 1) throw new Error(`--header "${h}" is not "Name: value"`);
      return [h.slice(0, colon).trim(), h.slice(colon + 1).trim()];
    }),
  );
  const report = await runConformance({ baseUrl: values['base-url']!, headers, only: values.only, reportFile: values.report });
  console.error(`report: ${values.report}${report.skipped ? `; ${report.skipped} experimental SQL-on-FHIR tests not run` : ''}${report.cleanup.failed.length ? `; ${report.cleanup.failed.length} test resources could not be deleted` : ''}`);
  return report.failed === 0 ? 0 : 1;
}
