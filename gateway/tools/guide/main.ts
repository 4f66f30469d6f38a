import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../../paths.js';
import { mappingGuide } from './guide.js';

/**
 * `npm run guide`: writes docs/mappings/ from the mapping files and table definitions.
 * `npm run guide -- --check`: writes nothing, exits 1 and names the pages that are stale.
 */
export const GUIDE_DIR = join(PROJECT_ROOT, 'docs', 'mappings');

const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });
const pages = mappingGuide();
if (values.check) {
  const stale = staleGuidePages(pages);
  for (const s of stale) console.log(`docs/mappings/${s}: stale`);
  console.log(stale.length ? 'the mapping guide is stale: run npm run guide' : 'the mapping guide is up to date');
  process.exitCode = stale.length ? 1 : 0;
} else {
  mkdirSync(GUIDE_DIR, { recursive: true });
  for (const f of readdirSync(GUIDE_DIR)) if (f.endsWith('.md') && !pages.some((p) => p.file === f)) rmSync(join(GUIDE_DIR, f));
  for (const p of pages) writeFileSync(join(GUIDE_DIR, p.file), p.text);
  console.log(`wrote ${pages.length} pages to docs/mappings/`);
}

function staleGuidePages(list: typeof pages): string[] {
  const stale = list.filter((p) => !existsSync(join(GUIDE_DIR, p.file)) || readFileSync(join(GUIDE_DIR, p.file), 'utf8') !== p.text).map((p) => p.file);
  const extra = existsSync(GUIDE_DIR) ? readdirSync(GUIDE_DIR).filter((f) => f.endsWith('.md') && !list.some((p) => p.file === f)) : [];
  return [...stale, ...extra];
}
