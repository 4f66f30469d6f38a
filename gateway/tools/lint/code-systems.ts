import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The code systems a mapping may name: the project's own (profiles/fhir, the national catalogues of
 * profiles/catalogues), the HL7 terminology and identifier namespaces, a few well-known external
 * ones, and those a mapping folder declares external in `lint.json` (`externalCodeSystems`, each with
 * why it is not in profiles/). Anything else is a typo or a list that was never added.
 */
const EXTERNAL_PREFIXES = ['http://terminology.hl7.org/CodeSystem/', 'http://hl7.org/fhir/', 'http://loinc.org', 'http://snomed.info/sct', 'http://unitsofmeasure.org', 'urn:ietf:', 'urn:iso:'];

export function knownCodeSystems(profilesDir: string, mappingsDir: string): (url: string) => boolean {
  const known = new Set<string>();
  for (const dir of [join(profilesDir, 'fhir'), join(profilesDir, 'catalogues')]) {
    for (const file of jsonFiles(dir)) {
      try {
        const r = JSON.parse(readFileSync(file, 'utf8')) as { resourceType?: string; url?: string };
        if (r.resourceType === 'CodeSystem' && r.url) known.add(r.url);
      } catch {
        // A broken profile file is the profile build's to report, not the mapping linter's.
      }
    }
  }
  const declared = join(mappingsDir, 'lint.json');
  if (existsSync(declared)) {
    const { externalCodeSystems = [] } = JSON.parse(readFileSync(declared, 'utf8')) as { externalCodeSystems?: { url: string }[] };
    for (const e of externalCodeSystems) known.add(e.url);
  }
  return (url) => known.has(url) || EXTERNAL_PREFIXES.some((p) => url.startsWith(p));
}

function jsonFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return jsonFiles(path);
    return name.endsWith('.json') ? [path] : [];
  });
}

/** A URL is a code system's when it names one (`…/CodeSystem/x`); identifier systems (`…/sid/…`) are not. */
export const isCodeSystemUrl = (text: string): boolean => /\/CodeSystem\/[A-Za-z0-9.-]+$/.test(text);
