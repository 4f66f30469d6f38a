import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../gateway/paths.js';
import { mappingGuide } from '../../gateway/tools/guide/guide.js';

/** docs/mappings/ is what `npm run guide` makes of the mapping files and table definitions now. */
const dir = join(PROJECT_ROOT, 'docs', 'mappings');

describe('the mapping guide', () => {
  const pages = mappingGuide();

  it('is up to date: run `npm run guide` after changing mappings/ or profiles/qd4750/', () => {
    const stale = pages.filter((p) => !existsSync(join(dir, p.file)) || readFileSync(join(dir, p.file), 'utf8') !== p.text).map((p) => p.file);
    const extra = readdirSync(dir).filter((f) => f.endsWith('.md') && !pages.some((p) => p.file === f));
    expect({ stale, extra }).toEqual({ stale: [], extra: [] });
  });

  it('has a page per table with every field, its FHIRPath and its code list', () => {
    const xml1 = pages.find((p) => p.file === 'XML1.md')!.text;
    expect(xml1).toMatch(/^\| 1 \| MA_LK \| string\(100\) \| yes \| `identifier\.where\(system = 'http:\/\/fhir\.hl7\.org\.vn\/core\/sid\/ma-lk'\)\.value/m);
    expect(xml1).toMatch(/\| MA_LOAI_KCB \| string\(2\) \| yes \| `type\.coding.*\| \[loai-kcb\]\(\.\.\/\.\.\/profiles\/fhir\/CodeSystem-loai-kcb\.json\): `01` Khám bệnh; /);
    expect(pages.map((p) => p.file)).toEqual(expect.arrayContaining(['README.md', 'XML0.md', 'XML15.md', 'XML13-qd4750.md']));
  });
});
