import type { ElementDefinition, StructureDefinition } from '@medplum/fhirtypes';

/** Finds a StructureDefinition by canonical URL (core R4, or one of the project's own). */
export type DefinitionResolver = (url: string) => StructureDefinition | undefined;

/**
 * Turns a profile's differential into a snapshot: the base snapshot with every differential element
 * merged in, new slices inserted after their siblings, and datatype children expanded where the
 * differential reaches into them (`Patient.identifier:cccd.system`).
 *
 * Written here, not taken from a library, because the snapshot generators that exist need the HL7
 * package registry (unreachable here) or take ~40 s per run (../shared/reference/packages.md §1.7),
 * and our profiles use a small, fixed set of operations: cardinality, must-support, fixed and pattern
 * values, bindings, constraints, type narrowing, and slicing of repeating elements.
 */
export function generateSnapshot(sd: StructureDefinition, resolve: DefinitionResolver): StructureDefinition {
  const base = sd.baseDefinition ? resolve(sd.baseDefinition) : undefined;
  if (!base?.snapshot?.element) throw new Error(`${sd.url}: base ${sd.baseDefinition} not found or has no snapshot`);
  const elements: ElementDefinition[] = structuredClone(base.snapshot.element);
  for (const diff of sd.differential?.element ?? []) {
    if (!diff.id) throw new Error(`${sd.url}: differential element without id`);
    const index = ensureElement(elements, diff.id, resolve, sd.url!);
    merge(elements[index], diff, sd.url!);
  }
  return { ...sd, snapshot: { element: elements } };
}

/** The path of an element id: `Patient.identifier:cccd.system` → `Patient.identifier.system`. */
export function pathOf(id: string): string {
  return id
    .split('.')
    .map((s) => s.split(':')[0])
    .join('.');
}

function ensureElement(elements: ElementDefinition[], id: string, resolve: DefinitionResolver, url: string): number {
  const existing = elements.findIndex((e) => e.id === id);
  if (existing >= 0) return existing;
  const dot = id.lastIndexOf('.');
  if (dot < 0) throw new Error(`${url}: element ${id} is not in the base`);
  const parentId = id.slice(0, dot);
  const last = id.slice(dot + 1);
  const parentIndex = ensureElement(elements, parentId, resolve, url);

  const colon = last.indexOf(':');
  if (colon >= 0) {
    // A new slice of `parentId.name`: a copy of the sliced element, placed after it, its children and earlier slices.
    const slicedId = `${parentId}.${last.slice(0, colon)}`;
    const slicedIndex = ensureElement(elements, slicedId, resolve, url);
    const sliced = elements[slicedIndex];
    if (!sliced.slicing) throw new Error(`${url}: slice ${id} of ${slicedId}, which declares no slicing`);
    const { slicing: _slicing, ...rest } = structuredClone(sliced);
    const slice: ElementDefinition = { ...rest, id, sliceName: last.slice(colon + 1), min: 0 };
    elements.splice(endOfSubtree(elements, slicedIndex, slicedId), 0, slice);
    return elements.findIndex((e) => e.id === id);
  }

  // A child of a slice: copy the sliced element's children (a BackboneElement's are in this snapshot).
  const sliceColon = parentId.lastIndexOf(':');
  if (sliceColon > parentId.lastIndexOf('.')) {
    const slicedId = parentId.slice(0, sliceColon);
    const descendants = elements.filter((e) => e.id!.startsWith(`${slicedId}.`));
    if (descendants.length > 0) {
      const copies = descendants.map((e) => ({ ...structuredClone(e), id: `${parentId}${e.id!.slice(slicedId.length)}` }));
      elements.splice(parentIndex + 1, 0, ...copies);
      const found = elements.findIndex((e) => e.id === id);
      if (found >= 0) return found;
    }
  }

  // A child the base does not list: expand the parent's datatype under it.
  const parent = elements[parentIndex];
  const typeCode = parent.type?.length === 1 ? parent.type[0].code : undefined;
  const typeSd = typeCode ? resolve(`http://hl7.org/fhir/StructureDefinition/${typeCode}`) : undefined;
  if (!typeSd?.snapshot?.element) throw new Error(`${url}: cannot expand ${parentId} (type ${typeCode ?? 'choice or unknown'}) to reach ${id}`);
  const parentPath = parent.path!;
  const children = typeSd.snapshot.element.slice(1).map((e) => {
    const copy = structuredClone(e);
    const rel = e.id!.slice(typeCode!.length);
    copy.id = `${parentId}${rel}`;
    copy.path = `${parentPath}${e.path!.slice(typeCode!.length)}`;
    return copy;
  });
  elements.splice(parentIndex + 1, 0, ...children);
  const found = elements.findIndex((e) => e.id === id);
  if (found < 0) throw new Error(`${url}: ${typeCode} has no element ${last} (for ${id})`);
  return found;
}

/** Index just past the element at `index` with its descendants and slices (and theirs). */
function endOfSubtree(elements: ElementDefinition[], index: number, id: string): number {
  let end = index + 1;
  while (end < elements.length) {
    const other = elements[end].id!;
    if (!other.startsWith(`${id}.`) && !other.startsWith(`${id}:`)) break;
    end++;
  }
  return end;
}

const ALWAYS_SET = new Set(['short', 'definition', 'comment', 'requirements', 'label', 'mustSupport', 'maxLength', 'isModifier', 'isSummary', 'meaningWhenMissing', 'sliceName', 'slicing', 'binding', 'type', 'alias']);

function merge(target: ElementDefinition, diff: ElementDefinition, url: string): void {
  for (const [key, value] of Object.entries(diff) as [keyof ElementDefinition & string, unknown][]) {
    if (key === 'id' || key === 'path') continue;
    if (key === 'min') {
      if ((value as number) < (target.min ?? 0)) throw new Error(`${url}: ${diff.id} loosens min ${target.min} to ${value}`);
      target.min = value as number;
    } else if (key === 'max') {
      if (target.max !== '*' && (value === '*' || Number(value) > Number(target.max))) throw new Error(`${url}: ${diff.id} loosens max ${target.max} to ${value}`);
      target.max = value as string;
    } else if (key === 'constraint') {
      const added = (value as NonNullable<ElementDefinition['constraint']>).map((c) => ({ ...c, source: c.source ?? url }));
      target.constraint = [...(target.constraint ?? []), ...added];
    } else if (key === 'extension') {
      target.extension = [...(target.extension ?? []), ...(value as NonNullable<ElementDefinition['extension']>)];
    } else if (ALWAYS_SET.has(key) || key.startsWith('fixed') || key.startsWith('pattern') || key.startsWith('_')) {
      (target as unknown as Record<string, unknown>)[key] = structuredClone(value);
    } else {
      throw new Error(`${url}: ${diff.id} sets ${key}, which the snapshot generator does not handle`);
    }
  }
}
