import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The project folder: the nearest ancestor of this module holding package.json. It is the same from
 * the TypeScript sources (gateway/) and from the compiled output (dist/gateway/), so `profiles/` and
 * `mappings/` — data, not code — are found beside package.json in both.
 */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above the gateway sources');
    dir = parent;
  }
  return dir;
}

export const PROJECT_ROOT = findRoot();
export const PROFILES_DIR = join(PROJECT_ROOT, 'profiles');
export const MAPPINGS_DIR = join(PROJECT_ROOT, 'mappings');

export const VERSION: string = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')).version;

export function readProfileJson<T>(relativePath: string): T {
  return JSON.parse(readFileSync(join(PROFILES_DIR, relativePath), 'utf8')) as T;
}
