import { reportCases } from './cases.js';
import { reportSqlOnFhir } from './sql-on-fhir.js';

/** `npm run conformance`: the SQL-on-FHIR v2 suite against the view engine, then the golden claim files. */
const sqlOnFhir = reportSqlOnFhir();
const cases = await reportCases();
if (!sqlOnFhir || !cases) process.exitCode = 1;
