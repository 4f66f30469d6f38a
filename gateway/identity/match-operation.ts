import type { Bundle, Parameters, Patient } from '@medplum/fhirtypes';
import { badRequest, FhirError } from '../fhir/outcome.js';
import type { Operation } from '../rest/operations.js';
import type { FhirRequest } from '../rest/request.js';
import type { Repository } from '../store/repository.js';
import { parseSearch } from '../store/search/query.js';
import { scoreMatch, type PatientMatch } from './match.js';

const MATCH_GRADE = 'http://hl7.org/fhir/StructureDefinition/match-grade';
const CANDIDATES = 200;

/** FHIR search escaping of one value (`,`, `|`, `$` and `\`). */
const escapeValue = (v: string) => v.replace(/[\\,|$]/g, (c) => `\\${c}`);

/**
 * `Patient/$match`: the stored patients that may be the person described, scored. Candidates are
 * those sharing an identifier (normalised, BHYT ↔ BHXH number, BHYT cards on Coverages too) or the
 * birth date or family name; each is scored by identity/match.ts. When the identifiers point at two
 * different patients the answer is a 409: the records conflict, and merging is a person's decision.
 */
export function matchOperation(): Operation {
  return {
    name: 'match',
    definition: 'http://hl7.org/fhir/OperationDefinition/Patient-match',
    documentation: 'Finds the patients a Patient resource may describe: by CCCD, personal ID, passport or BHYT card (certain), else by name, birth date and sex (scored)',
    resourceTypes: ['Patient'],
    system: false,
    instance: false,
    affectsState: false,
    async handle(req: FhirRequest, _target, repo: Repository) {
      const { patient, onlyCertain, count } = input(req.body);
      const candidates = new Map<string, Patient>();
      const add = (list: Patient[]) => list.forEach((p) => candidates.set(p.id!, p));
      const identifiers = (patient.identifier ?? []).filter((i) => i.value);
      if (identifiers.length > 0) {
        const value = identifiers.map((i) => (i.system ? `${escapeValue(i.system)}|${escapeValue(i.value!)}` : escapeValue(i.value!))).join(',');
        add((await repo.search(parseSearch('Patient', [['identifier', value]], { strict: true }), CANDIDATES)) as Patient[]);
      }
      if (patient.birthDate) add((await repo.search(parseSearch('Patient', [['birthdate', patient.birthDate]], { strict: true }), CANDIDATES)) as Patient[]);
      const family = patient.name?.find((n) => n.family)?.family;
      if (family) add((await repo.search(parseSearch('Patient', [['family', family]], { strict: true }), CANDIDATES)) as Patient[]);

      const scored = [...candidates.values()].map((c) => scoreMatch(patient, c)).filter((m) => m.grade !== 'certainly-not');
      const certain = scored.filter((m) => m.grade === 'certain');
      if (certain.length > 1) throw conflicting(certain);
      const matches = (onlyCertain ? certain : scored).sort((a, b) => b.score - a.score).slice(0, count);
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type: 'searchset',
        total: matches.length,
        entry: matches.map((m) => ({
          fullUrl: `${req.baseUrl}/Patient/${m.patient.id}`,
          resource: m.patient,
          search: { mode: 'match', score: m.score, extension: [{ url: MATCH_GRADE, valueCode: m.grade }] },
        })),
      };
      return { status: 200, body: bundle };
    },
  };
}

function conflicting(certain: PatientMatch[]): FhirError {
  const ids = certain.map((m) => `Patient/${m.patient.id}`).join(', ');
  return new FhirError(409, [{
    severity: 'error', code: 'conflict', expression: ['Patient.identifier'],
    message: {
      vi: `Các số định danh của người bệnh trỏ tới nhiều hồ sơ khác nhau (${ids}); cần người có thẩm quyền đối chiếu, không gộp tự động`,
      en: `The patient's identifiers point at different records (${ids}); a person must reconcile them, they are never merged automatically`,
    },
  }]);
}

function input(body: unknown): { patient: Patient; onlyCertain: boolean; count: number } {
  const params = (body as Parameters | undefined)?.resourceType === 'Parameters' ? ((body as Parameters).parameter ?? []) : undefined;
  const patient = (params ? params.find((p) => p.name === 'resource')?.resource : body) as Patient | undefined;
  if (patient?.resourceType !== 'Patient') throw badRequest({ vi: '$match cần một Patient, trong thân yêu cầu hoặc tham số "resource"', en: '$match needs a Patient, as the body or as the "resource" parameter' }, 'Parameters.parameter.resource');
  const count = params?.find((p) => p.name === 'count')?.valueInteger ?? 10;
  if (!Number.isInteger(count) || count < 1) throw badRequest({ vi: 'count phải là số nguyên dương', en: 'count must be a positive integer' }, 'Parameters.parameter.count');
  return { patient, onlyCertain: params?.find((p) => p.name === 'onlyCertainMatches')?.valueBoolean === true, count: Math.min(count, 100) };
}
