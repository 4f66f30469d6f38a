import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CodeSystem, Resource, StructureDefinition, ValueSet } from '@medplum/fhirtypes';
import { loadR4Definitions, r4ExtensionDefinitions, r4Terminology } from '../fhir/definitions.js';
import { PROFILES_DIR } from '../paths.js';
import { compileProfile, type CompiledProfile } from './compile.js';
import { Terminology } from './terminology.js';

/** What profiles/fhir/index.json says applies by default (written by `npm run profiles`). */
export interface ProfileIndex {
  defaults: Record<string, string>;
  compositionTypes: Record<string, string>;
}

const CORE = 'http://hl7.org/fhir/StructureDefinition/';
const unversioned = (url: string) => (url.includes('|') ? url.slice(0, url.indexOf('|')) : url);

/**
 * The StructureDefinitions the gateway validates against — R4 core with HL7's published extensions,
 * and the project's own profiles and extensions from profiles/fhir — compiled on first use, and the
 * terminology behind them.
 */
export class ProfileRegistry {
  readonly terminology = new Terminology();
  readonly index: ProfileIndex = { defaults: {}, compositionTypes: {} };
  private readonly definitions = new Map<string, StructureDefinition>();
  private readonly own: StructureDefinition[] = [];
  private readonly compiled = new Map<string, CompiledProfile>();

  constructor(artifactsDir = join(PROFILES_DIR, 'fhir'), cataloguesDir = join(PROFILES_DIR, 'catalogues')) {
    for (const [url, sd] of loadR4Definitions()) this.definitions.set(url, sd);
    for (const sd of r4ExtensionDefinitions()) this.definitions.set(sd.url, sd);
    for (const r of r4Terminology()) this.terminology.add(r);
    // National catalogues (ICD-10, DMDC): one folder each, every JSON file a CodeSystem (see its README).
    if (existsSync(cataloguesDir)) {
      for (const folder of readdirSync(cataloguesDir, { withFileTypes: true }).filter((d) => d.isDirectory())) {
        for (const file of readdirSync(join(cataloguesDir, folder.name)).filter((f) => f.endsWith('.json')).sort()) {
          this.terminology.add(JSON.parse(readFileSync(join(cataloguesDir, folder.name, file), 'utf8')));
        }
      }
    }
    if (!existsSync(artifactsDir)) return;
    for (const file of readdirSync(artifactsDir).sort()) {
      if (!file.endsWith('.json')) continue;
      const json = JSON.parse(readFileSync(join(artifactsDir, file), 'utf8'));
      if (file === 'index.json') Object.assign(this.index, json);
      else if (json.resourceType === 'StructureDefinition') {
        this.definitions.set(json.url, json);
        this.own.push(json);
      } else if (json.resourceType === 'CodeSystem' || json.resourceType === 'ValueSet') {
        this.terminology.add(json as CodeSystem | ValueSet);
      }
    }
  }

  /** The project's own StructureDefinitions (profiles and extensions). */
  ownDefinitions(): readonly StructureDefinition[] {
    return this.own;
  }

  has(url: string): boolean {
    return this.definitions.has(unversioned(url));
  }

  definition(url: string): StructureDefinition | undefined {
    return this.definitions.get(unversioned(url));
  }

  profile(url: string): CompiledProfile | undefined {
    const key = unversioned(url);
    let compiled = this.compiled.get(key);
    if (!compiled) {
      const sd = this.definitions.get(key);
      if (!sd) return undefined;
      compiled = compileProfile(sd);
      this.compiled.set(key, compiled);
    }
    return compiled;
  }

  /** The base definition of a datatype or resource type (`Identifier`, `Patient`). */
  base(type: string): CompiledProfile | undefined {
    return this.profile(`${CORE}${type}`);
  }

  /** The profile a resource is validated against when it declares none. */
  defaultProfile(resource: Resource): string {
    if (resource.resourceType === 'Composition') {
      const codes = (resource.type?.coding ?? []).map((c) => c.code ?? '');
      const paper = codes.map((c) => this.index.compositionTypes[c]).find(Boolean);
      if (paper) return paper;
    }
    return this.index.defaults[resource.resourceType] ?? `${CORE}${resource.resourceType}`;
  }

  /** Profiles of the project by resource type, for the CapabilityStatement. */
  supportedProfiles(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const sd of this.own) if (sd.kind === 'resource') (out[sd.type!] ??= []).push(sd.url!);
    return out;
  }
}
