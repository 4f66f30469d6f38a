import type { Resource } from '@medplum/fhirtypes';
import { typeSchema } from '../fhir/definitions.js';

export type SummaryMode = 'true' | 'false' | 'text' | 'data' | 'count';

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED', display: 'subsetted' };

/** `_summary` and `_elements`: the resource reduced as asked, tagged SUBSETTED when anything was left out. */
export function subset(resource: Resource, summary?: SummaryMode, elements?: string[]): Resource {
  if ((!summary || summary === 'false' || summary === 'count') && !elements?.length) return resource;
  const schema = typeSchema(resource.resourceType);
  const mandatory = schema.mandatoryProperties ?? new Set<string>();
  let keep: (name: string) => boolean;
  if (elements?.length) {
    const wanted = new Set(elements.map((e) => e.replace(new RegExp(`^${resource.resourceType}\\.`), '').split('.')[0]));
    keep = (name) => wanted.has(name) || mandatory.has(name);
  } else if (summary === 'true') {
    const summaryProps = schema.summaryProperties ?? new Set<string>();
    keep = (name) => summaryProps.has(name) || mandatory.has(name);
  } else if (summary === 'text') {
    keep = (name) => name === 'text' || mandatory.has(name);
  } else {
    keep = (name) => name !== 'text';
  }
  const out: Record<string, unknown> = {};
  let dropped = false;
  for (const [key, value] of Object.entries(resource)) {
    const name = elementName(key, schema.elements);
    if (key === 'resourceType' || key === 'id' || key === 'meta' || keep(name)) out[key] = value;
    else dropped = true;
  }
  if (dropped) {
    const meta = { ...resource.meta, tag: [...(resource.meta?.tag ?? []), SUBSETTED] };
    out.meta = meta;
  }
  return out as unknown as Resource;
}

/** The element a JSON key belongs to: `deceasedBoolean` → `deceased`, `_birthDate` → `birthDate`. */
function elementName(key: string, elements: Record<string, unknown>): string {
  const name = key.startsWith('_') ? key.slice(1) : key;
  if (name in elements) return name;
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] >= 'A' && name[i] <= 'Z' && `${name.slice(0, i)}[x]` in elements) return name.slice(0, i);
  }
  return name;
}
