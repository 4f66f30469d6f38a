import type { CodeSystem, ElementDefinition, Extension, StructureDefinition, ValueSet } from '@medplum/fhirtypes';
import { canonical } from '../../fhir/vn.js';

/**
 * The authoring formats under profiles/source, turned into FHIR resources. They are the FHIR
 * differential with a few conveniences an author would otherwise type by hand:
 * - element `path` is derived from `id`;
 * - a short id (`dan-toc`, `hb-ext-ethnicity`) in a binding, a type profile or a fixed system is
 *   expanded to the gateway's canonical URL;
 * - a constraint's `human` is Vietnamese and `en` its English translation (the FHIR translation
 *   extension on `_human`);
 * - an extension is declared by its value type, or by its named parts for a complex one.
 */

export interface ConceptSource {
  code: string;
  display: string;
  en?: string;
  xml?: string;
}
export interface CodeSystemSource {
  id: string;
  title: string;
  description?: string;
  xml?: string;
  concepts: ConceptSource[];
}

export interface ConstraintSource {
  key: string;
  severity: 'error' | 'warning';
  human: string;
  en: string;
  expression: string;
}

export type ElementSource = Omit<ElementDefinition, 'constraint' | 'path'> & { id: string; constraint?: ConstraintSource[] };

export interface ProfileSource {
  id: string;
  type: string;
  title: string;
  description: string;
  /** Another of our profiles to derive from; by default the R4 resource. */
  base?: string;
  /** This profile applies to resources of its type that declare none (for Composition: of this `type` code). */
  default?: boolean | string;
  elements: ElementSource[];
}

export interface ExtensionPartSource {
  name: string;
  title?: string;
  type: string | string[];
  min?: number;
  max?: string | number;
  binding?: string;
  xml?: string;
}
export interface ExtensionSource {
  id: string;
  title: string;
  description: string;
  context: string[];
  xml?: string;
  value?: { type: string | string[]; binding?: string };
  parts?: ExtensionPartSource[];
}

const TRANSLATION = 'http://hl7.org/fhir/StructureDefinition/translation';
const FHIR_SD = 'http://hl7.org/fhir/StructureDefinition/';

/** A short id becomes our canonical URL of the given kind; anything with a scheme is kept. */
export function expandUrl(kind: string, value: string): string {
  return /^[a-z][a-z0-9+.-]*:/.test(value) ? value : canonical(kind, value);
}

export function englishOf(value: string, en: string): { _human: Extension & object } {
  return { _human: { extension: [{ url: TRANSLATION, extension: [{ url: 'lang', valueCode: 'en' }, { url: 'content', valueString: en }] }] } as never };
}

export function codeSystem(src: CodeSystemSource): CodeSystem {
  return {
    resourceType: 'CodeSystem',
    id: src.id,
    url: canonical('CodeSystem', src.id),
    name: pascal(src.id),
    title: src.title,
    status: 'active',
    publisher: 'VN health-book gateway',
    ...(src.description ? { description: src.description } : {}),
    caseSensitive: true,
    content: 'complete',
    valueSet: canonical('ValueSet', src.id),
    count: src.concepts.length,
    ...(src.concepts.some((c) => c.xml) ? { property: [{ code: 'xml', description: 'The XML field the code stands for', type: 'string' as const }] } : {}),
    concept: src.concepts.map((c) => ({
      code: c.code,
      display: c.display,
      ...(c.en ? { designation: [{ language: 'en', value: c.en }] } : {}),
      ...(c.xml ? { property: [{ code: 'xml', valueString: c.xml }] } : {}),
    })),
  };
}

export function valueSetOf(src: CodeSystemSource): ValueSet {
  return {
    resourceType: 'ValueSet',
    id: src.id,
    url: canonical('ValueSet', src.id),
    name: pascal(src.id),
    title: src.title,
    status: 'active',
    publisher: 'VN health-book gateway',
    ...(src.description ? { description: src.description } : {}),
    compose: { include: [{ system: canonical('CodeSystem', src.id) }] },
  };
}

export function profileDifferential(src: ProfileSource): StructureDefinition {
  return {
    resourceType: 'StructureDefinition',
    id: src.id,
    url: canonical('StructureDefinition', src.id),
    name: pascal(src.id),
    title: src.title,
    status: 'draft',
    publisher: 'VN health-book gateway',
    description: src.description,
    fhirVersion: '4.0.1',
    kind: 'resource',
    abstract: false,
    type: src.type,
    baseDefinition: src.base ? expandUrl('StructureDefinition', src.base) : `${FHIR_SD}${src.type}`,
    derivation: 'constraint',
    differential: { element: src.elements.map(element) },
  };
}

function element(src: ElementSource): ElementDefinition {
  const { constraint, binding, type, ...rest } = src;
  const out: ElementDefinition = { ...rest, path: pathOfId(src.id) };
  if (binding) out.binding = { ...binding, valueSet: binding.valueSet && expandUrl('ValueSet', binding.valueSet) };
  if (type) {
    out.type = type.map((t) => ({
      ...t,
      ...(t.profile ? { profile: t.profile.map((p) => expandUrl('StructureDefinition', p)) } : {}),
      ...(t.targetProfile ? { targetProfile: t.targetProfile.map((p) => (p.includes('/') ? p : `${FHIR_SD}${p}`)) } : {}),
    }));
  }
  if (constraint) {
    out.constraint = constraint.map((c) => ({ key: c.key, severity: c.severity, human: c.human, ...englishOf(c.human, c.en), expression: c.expression }));
  }
  return out;
}

const pathOfId = (id: string) =>
  id
    .split('.')
    .map((s) => s.split(':')[0])
    .join('.');

export function extensionDifferential(src: ExtensionSource): StructureDefinition {
  const url = canonical('StructureDefinition', src.id);
  const types = (t: string | string[]) => [t].flat().map((code) => ({ code }));
  const binding = (vs?: string) => (vs ? { binding: { strength: 'required' as const, valueSet: expandUrl('ValueSet', vs) } } : {});
  const elements: ElementDefinition[] = [{ id: 'Extension', path: 'Extension', short: src.title, definition: src.description }];
  if (src.parts) {
    elements.push({ id: 'Extension.extension', path: 'Extension.extension', min: src.parts.some((p) => (p.min ?? 0) > 0) ? 1 : 0, slicing: { discriminator: [{ type: 'value', path: 'url' }], rules: 'open' } });
    for (const part of src.parts) {
      const id = `Extension.extension:${part.name}`;
      elements.push(
        { id, path: 'Extension.extension', sliceName: part.name, min: part.min ?? 0, max: String(part.max ?? 1), ...(part.title ? { short: part.title } : {}) },
        { id: `${id}.extension`, path: 'Extension.extension.extension', max: '0' },
        { id: `${id}.url`, path: 'Extension.extension.url', fixedUri: part.name },
        { id: `${id}.value[x]`, path: 'Extension.extension.value[x]', min: 1, type: types(part.type), ...binding(part.binding) },
      );
    }
    elements.push({ id: 'Extension.url', path: 'Extension.url', fixedUri: url }, { id: 'Extension.value[x]', path: 'Extension.value[x]', max: '0' });
  } else if (src.value) {
    elements.push(
      { id: 'Extension.extension', path: 'Extension.extension', max: '0' },
      { id: 'Extension.url', path: 'Extension.url', fixedUri: url },
      { id: 'Extension.value[x]', path: 'Extension.value[x]', min: 1, type: types(src.value.type), ...binding(src.value.binding) },
    );
  } else {
    throw new Error(`extension ${src.id} has neither a value nor parts`);
  }
  return {
    resourceType: 'StructureDefinition',
    id: src.id,
    url,
    name: pascal(src.id),
    title: src.title,
    status: 'draft',
    publisher: 'VN health-book gateway',
    description: src.description,
    fhirVersion: '4.0.1',
    kind: 'complex-type',
    abstract: false,
    context: src.context.map((expression) => ({ type: 'element' as const, expression })),
    type: 'Extension',
    baseDefinition: `${FHIR_SD}Extension`,
    derivation: 'constraint',
    differential: { element: elements },
  };
}

function pascal(id: string): string {
  return id
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');
}

