import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../gateway/config.js';
import { useMappingFolders } from '../../gateway/mapping/folders.js';
import { tableMappings } from '../../gateway/mapping/mappings.js';
import { healthBook } from '../../gateway/outputs/healthbook/definition.js';
import { MAPPINGS_DIR, PROFILES_DIR } from '../../gateway/paths.js';
import { reloadMappings } from '../../gateway/tools/dev/reload.js';
import { watchMappingFolders } from '../../gateway/tools/dev/watch.js';

/**
 * Development mode's reload: an edited mapping replaces the compiled one; a broken one leaves the
 * last good version in place (and says which file); the watcher does it on save; production mode
 * refuses the development tools.
 */
describe('reloading the mapping folders', () => {
  let dir: string;
  let xml5: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'reload-'));
    cpSync(MAPPINGS_DIR, join(dir, 'mappings'), { recursive: true });
    xml5 = join(dir, 'mappings', 'XML5.json');
    useMappingFolders({ mappings: join(dir, 'mappings') });
  });
  afterAll(() => {
    useMappingFolders();
    rmSync(dir, { recursive: true, force: true });
  });
  const xml5Mapping = () => tableMappings('3176').find((m) => m.table === 'XML5')!;

  it('swaps in an edited file, keeps the last good one when a file is broken, and names it', () => {
    const before = xml5Mapping();
    const book = healthBook();
    writeFileSync(xml5, readFileSync(xml5, 'utf8').replace('"resource": "ClinicalImpression"', '"resource": "ClinicalImpression", "description": "edited"'));
    reloadMappings();
    const edited = xml5Mapping();
    expect(edited).not.toBe(before);
    expect(edited.definition.description).toBe('edited');

    writeFileSync(xml5, readFileSync(xml5, 'utf8').replace('"resource": "ClinicalImpression"', '"resource": "NoSuchType"'));
    expect(() => reloadMappings()).toThrow(/XML5\.json: resource: NoSuchType is not an R4 resource type/);
    expect(xml5Mapping()).toBe(edited);
    // Caches of other kinds were restored too, not emptied.
    expect(healthBook()).not.toBe(undefined);
    expect(healthBook().sections).toEqual(book.sections);
  });

  it('the watcher reloads on save and reports a broken file until it compiles again', async () => {
    const logs: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    const watcher = watchMappingFolders({ mappings: join(dir, 'mappings'), profiles: PROFILES_DIR }, log);
    try {
      const until = async (ok: () => boolean) => {
        for (let i = 0; i < 100 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
        expect(ok()).toBe(true);
      };
      const set = (from: string, to: string) => writeFileSync(xml5, readFileSync(xml5, 'utf8').replace(from, to));
      // The file left broken by the test above is mended: reloaded.
      set('"resource": "NoSuchType"', '"resource": "ClinicalImpression"');
      await until(() => watcher.status().generation === 1);
      // Broken on save: the error is kept, with the file, and the linter places it.
      set('"resource": "ClinicalImpression"', '"resource": "NoSuchType"');
      await until(() => watcher.status().error !== undefined);
      expect(watcher.status().error?.message).toMatch(/XML5\.json/);
      expect(watcher.status().generation).toBe(1);
      expect(watcher.lint().some((f) => f.file.endsWith('XML5.json') && f.severity === 'error')).toBe(true);
      // Mended again: reloaded, the error gone.
      set('"resource": "NoSuchType"', '"resource": "ClinicalImpression"');
      await until(() => watcher.status().generation === 2 && watcher.status().error === undefined);
      expect(watcher.lint().filter((f) => f.severity === 'error')).toEqual([]);
      expect(logs.some((l) => l.msg === 'mapping folders reloaded')).toBe(true);
    } finally {
      watcher.close();
    }
  });

  it('production never runs the development tools', () => {
    expect(() => loadConfig({ GATEWAY_MODE: 'production', GATEWAY_DEV_TOOLS: 'on' })).toThrow(/development only/);
    expect(loadConfig({}).devTools).toBe(false);
  });
});
