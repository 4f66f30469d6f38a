import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS_DIR, buildProfiles } from './build.js';

/** `npm run profiles`: regenerates profiles/fhir from profiles/source. */
const files = buildProfiles();
mkdirSync(ARTIFACTS_DIR, { recursive: true });
for (const old of readdirSync(ARTIFACTS_DIR)) if (!files.has(old)) rmSync(join(ARTIFACTS_DIR, old));
for (const [name, text] of files) writeFileSync(join(ARTIFACTS_DIR, name), text);
console.log(`profiles: ${files.size} files in ${ARTIFACTS_DIR}`);
