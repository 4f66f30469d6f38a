import type { Resource } from '@medplum/fhirtypes';
import type { Issue } from '../fhir/outcome.js';

/**
 * Checks a resource about to be written. Issues carry expressions relative to the resource
 * (`Patient.identifier[0].value`); the caller places them in the request (`Bundle.entry[3].resource…`).
 */
export interface ResourceValidator {
  validate(resource: Resource): Issue[];
}

/**
 * Several validators as one: every issue of each, each fault once. The structural checks and the
 * profiles both look at the id and meta; what a later validator finds with the same severity and
 * code at the same place as an earlier one is the same fault, said once (by the first).
 */
export function allOf(...validators: ResourceValidator[]): ResourceValidator {
  return {
    validate(resource) {
      const out: Issue[] = [];
      for (const v of validators) {
        const before = new Set(out.map(place));
        out.push(...v.validate(resource).filter((i) => !before.has(place(i))));
      }
      return dedupe(out);
    },
  };
}

const place = (i: Issue) => `${i.severity}|${i.code}|${i.expression?.[0]}`;

/** One issue per fault: the same message at the same place is said once (several profiles may find it). */
export function dedupe(issues: Issue[]): Issue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.severity}|${i.code}|${i.expression?.[0]}|${typeof i.message === 'string' ? i.message : i.message.en}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
