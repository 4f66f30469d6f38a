import { reportCases } from './cases.js';
import { runnerMain } from './runner/main.js';
import { reportSqlOnFhir } from './sql-on-fhir.js';

/**
 * `npm run conformance`: the SQL-on-FHIR v2 suite against the view engine, then the golden claim
 * files and health books, in process. With `--base-url <FHIR base>`: the conformance kit against a
 * running deployment (conformance/runner/).
 */
const args = process.argv.slice(2);
if (args.some((a) => a === '--base-url' || a.startsWith('--base-url='))) {
  process.exitCode = await runnerMain(args);
} else {
  const sqlOnFhir = reportSqlOnFhir();
  const cases = await reportCases();
  if (!sqlOnFhir || !cases) process.exitCode = 1;
}
