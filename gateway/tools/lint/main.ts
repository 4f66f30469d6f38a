import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { mappingFolders } from '../../mapping/folders.js';
import { formatFinding, lintFolders } from './lint.js';

/**
 * `npm run lint:mappings [-- --mappings <dir> --profiles <dir>]`: lints the mapping folders and
 * prints one `file:line:column: severity: message` line per finding (editors jump to it). Exit code
 * 1 when there is an error; warnings alone pass. `--errors` prints errors only.
 */
const { values } = parseArgs({ options: { mappings: { type: 'string' }, profiles: { type: 'string' }, errors: { type: 'boolean', default: false } } });
const defaults = mappingFolders();
const findings = lintFolders({ mappings: values.mappings ? resolve(values.mappings) : defaults.mappings, profiles: values.profiles ? resolve(values.profiles) : defaults.profiles });
for (const f of findings) if (!values.errors || f.severity === 'error') console.log(formatFinding(f));
const errors = findings.filter((f) => f.severity === 'error').length;
console.log(`${errors} errors, ${findings.length - errors} warnings`);
process.exitCode = errors > 0 ? 1 : 0;
