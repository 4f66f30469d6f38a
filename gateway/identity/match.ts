import type { HumanName, Patient } from '@medplum/fhirtypes';
import { foldText } from '../fhir/text.js';
import { identifierForms, PERSON_IDENTIFIER_SYSTEMS } from '../fhir/vn.js';

export type MatchGrade = 'certain' | 'probable' | 'possible' | 'certainly-not';

export interface PatientMatch {
  patient: Patient;
  score: number;
  grade: MatchGrade;
}

/**
 * How sure we are that a stored patient is the person described. A shared person identifier (CCCD,
 * passport, BHYT card by its BHXH number) is certain; a different value in the same identifier system
 * is certainly not the same person, whatever the demographics say; otherwise name, birth date and sex
 * add up to a score. Pure: the candidates come from the store.
 */
export function scoreMatch(input: Patient, candidate: Patient): PatientMatch {
  const mine = personIdentifierForms(input);
  const theirs = personIdentifierForms(candidate);
  // A number typed without its system matches that number in any person-identifier system.
  const theirValues = new Set([...theirs].map((k) => `*|${k.slice(k.indexOf('|') + 1)}`));
  if ([...mine].some((k) => theirs.has(k) || theirValues.has(k))) return { patient: candidate, score: 1, grade: 'certain' };
  const mySystems = new Set([...mine].map((k) => k.split('|')[0]).filter((s) => s !== '*'));
  if ([...theirs].some((k) => mySystems.has(k.split('|')[0]))) return { patient: candidate, score: 0, grade: 'certainly-not' };

  let score = 0;
  score += nameScore(input.name ?? [], candidate.name ?? []);
  if (input.birthDate && candidate.birthDate) {
    if (input.birthDate === candidate.birthDate) score += 0.35;
    else if (input.birthDate.slice(0, 4) === candidate.birthDate.slice(0, 4)) score += 0.1;
    else score -= 0.3;
  }
  if (input.gender && candidate.gender) score += input.gender === candidate.gender ? 0.1 : -0.3;
  score = Math.max(0, Math.min(0.99, Math.round(score * 100) / 100));
  const grade: MatchGrade = score >= 0.9 ? 'probable' : score >= 0.6 ? 'possible' : 'certainly-not';
  return { patient: candidate, score, grade };
}

/**
 * `system|value` for each form of each person identifier (normalised; a BHYT card also as its BHXH
 * number); an identifier without a system counts as `*|value`.
 */
export function personIdentifierForms(patient: Patient): Set<string> {
  const out = new Set<string>();
  for (const id of patient.identifier ?? []) {
    if (!id.value || (id.system && !PERSON_IDENTIFIER_SYSTEMS.includes(id.system))) continue;
    for (const form of identifierForms(id.system, id.value)) out.add(`${id.system ?? '*'}|${form.value}`);
  }
  return out;
}

function fullNames(names: HumanName[]): { full: string; family: string; given: string[] }[] {
  return names.map((n) => {
    const family = foldText(n.family ?? '');
    const given = (n.given ?? []).map(foldText);
    return { full: foldText(n.text ?? [n.family, ...(n.given ?? [])].filter(Boolean).join(' ')), family, given };
  });
}

/** Vietnamese names are compared accent- and case-insensitively; the whole name weighs most. */
function nameScore(a: HumanName[], b: HumanName[]): number {
  let best = 0;
  for (const x of fullNames(a)) {
    for (const y of fullNames(b)) {
      if (x.full && x.full === y.full) best = Math.max(best, 0.55);
      else if (x.family && x.family === y.family && x.given.some((g) => y.given.includes(g))) best = Math.max(best, 0.35);
      else if (x.family && x.family === y.family) best = Math.max(best, 0.15);
    }
  }
  return best;
}
