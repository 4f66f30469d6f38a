import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { Resource, StructureDefinition } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { loadR4Definitions } from '../../gateway/fhir/definitions.js';
import { ProfileRegistry } from '../../gateway/validation/registry.js';
import { ProfileValidator } from '../../gateway/validation/validate.js';

/**
 * A differential test against @medplum/core's validateResource (4.5.2), on the R4 base definitions
 * (no Vietnamese profile: validateAgainst the core StructureDefinition). Valid resources of 16 types
 * are mutated systematically, one fault at a time; wherever medplum finds an error, ours must too.
 * Where ours finds an error that medplum does not, the case must be on the allow-list below, each
 * entry being a rule of the specification that medplum does not check. A new disagreement either
 * way, or an allow-listed one that disappears, fails the test.
 */
const CORE = 'http://hl7.org/fhir/StructureDefinition/';
const definitions = loadR4Definitions(); // also indexes the definitions into @medplum/core
const validator = new ProfileValidator(new ProfileRegistry());

type Obj = Record<string, any>;

const BASE: Obj[] = [
  { resourceType: 'Patient', identifier: [{ system: 'http://example.org/mrn', value: '1' }], active: true, name: [{ family: 'Nguyễn', given: ['An'] }], telecom: [{ system: 'phone', value: '0901' }], gender: 'male', birthDate: '1985-03-02', address: [{ city: 'Hà Nội' }], managingOrganization: { reference: 'Organization/1' } },
  { resourceType: 'Observation', status: 'final', category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }], code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }], text: 'Mạch' }, subject: { reference: 'Patient/1' }, effectiveDateTime: '2024-05-01T08:00:00+07:00', issued: '2024-05-01T08:05:00+07:00', valueQuantity: { value: 80, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' } },
  { resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, subject: { reference: 'Patient/1' }, period: { start: '2024-05-01T08:00:00+07:00', end: '2024-05-01T10:00:00+07:00' }, reasonCode: [{ text: 'Sốt' }] },
  { resourceType: 'Condition', clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] }, code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'J06.9' }] }, subject: { reference: 'Patient/1' }, recordedDate: '2024-05-01' },
  { resourceType: 'Organization', active: true, name: 'Bệnh viện', telecom: [{ system: 'phone', value: '028' }] },
  { resourceType: 'Practitioner', name: [{ family: 'Trần', given: ['Bình'] }], gender: 'female', birthDate: '1980-01-01', qualification: [{ code: { text: 'Bác sĩ' } }] },
  { resourceType: 'Coverage', status: 'active', beneficiary: { reference: 'Patient/1' }, payor: [{ display: 'BHXH' }], period: { start: '2024-01-01', end: '2024-12-31' } },
  { resourceType: 'Procedure', status: 'completed', code: { text: 'Nội soi' }, subject: { reference: 'Patient/1' }, performedDateTime: '2024-05-01T09:00:00+07:00' },
  { resourceType: 'MedicationRequest', status: 'active', intent: 'order', medicationCodeableConcept: { text: 'Paracetamol' }, subject: { reference: 'Patient/1' }, authoredOn: '2024-05-01T09:00:00+07:00', dosageInstruction: [{ text: '500mg x 3', timing: { repeat: { frequency: 3, period: 1, periodUnit: 'd' } } }] },
  { resourceType: 'AllergyIntolerance', clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] }, type: 'allergy', category: ['medication'], criticality: 'high', code: { text: 'Penicillin' }, patient: { reference: 'Patient/1' } },
  { resourceType: 'Immunization', status: 'completed', vaccineCode: { text: 'BCG' }, patient: { reference: 'Patient/1' }, occurrenceDateTime: '2024-01-01', primarySource: true },
  { resourceType: 'DiagnosticReport', status: 'final', code: { text: 'Công thức máu' }, subject: { reference: 'Patient/1' }, effectiveDateTime: '2024-05-01T09:00:00+07:00', issued: '2024-05-01T11:00:00+07:00', result: [{ reference: 'Observation/1' }] },
  { resourceType: 'Location', status: 'active', name: 'Khoa Nội', mode: 'instance', position: { longitude: 106.7, latitude: 10.8 } },
  { resourceType: 'ServiceRequest', status: 'active', intent: 'order', code: { text: 'X-quang' }, subject: { reference: 'Patient/1' }, priority: 'routine', authoredOn: '2024-05-01T08:30:00+07:00' },
  { resourceType: 'Appointment', status: 'booked', start: '2024-05-10T08:00:00+07:00', end: '2024-05-10T08:30:00+07:00', participant: [{ actor: { reference: 'Patient/1' }, status: 'accepted' }] },
  { resourceType: 'Medication', code: { text: 'Paracetamol 500mg' }, status: 'active', amount: { numerator: { value: 500, unit: 'mg' }, denominator: { value: 1, unit: 'viên' } } },
];

interface Mutant {
  /** `Patient.gender: code outside the required binding` */
  label: string;
  kind: string;
  resource: Obj;
}

/** One-fault mutants of a valid resource, driven by its core StructureDefinition. */
function mutants(resource: Obj, sd: StructureDefinition): Mutant[] {
  const type = resource.resourceType as string;
  const out: Mutant[] = [];
  const add = (kind: string, key: string, mutate: (r: Obj) => void) => {
    const r = structuredClone(resource);
    mutate(r);
    out.push({ label: `${type}.${key}: ${kind}`, kind, resource: r });
  };
  const elements = new Map((sd.snapshot?.element ?? []).filter((e) => e.path!.split('.').length === 2).map((e) => [e.path!.split('.')[1], e]));
  const elementOf = (key: string) => elements.get(key) ?? [...elements.entries()].find(([k]) => k.endsWith('[x]') && key.startsWith(k.slice(0, -3)))?.[1];

  for (const [name, el] of elements) {
    if ((el.min ?? 0) > 0 && !name.endsWith('[x]') && name in resource) add('required element dropped', name, (r) => delete r[name]);
  }
  for (const key of Object.keys(resource)) {
    if (key === 'resourceType') continue;
    const value = resource[key];
    const el = elementOf(key)!;
    const typeCode = el.type?.length === 1 ? el.type[0].code : el.type?.find((t) => key.endsWith(t.code[0].toUpperCase() + t.code.slice(1)))?.code;
    add('null', key, (r) => (r[key] = null));
    if (Array.isArray(value)) {
      add('empty array', key, (r) => (r[key] = []));
      add('single value instead of array', key, (r) => (r[key] = value[0]));
      add('wrong JSON type', key, (r) => (r[key] = [typeof value[0] === 'string' ? 42 : 'x']));
      if (typeof value[0] === 'object') {
        add('unknown element inside', key, (r) => (r[key][0].foo = 'bar'));
        add('empty object', key, (r) => (r[key] = [{}]));
      }
      continue;
    }
    add('array instead of single value', key, (r) => (r[key] = [value]));
    add('wrong JSON type', key, (r) => (r[key] = typeof value === 'string' ? 42 : 'x'));
    if (typeof value === 'string') add('empty string', key, (r) => (r[key] = ''));
    if (typeof value === 'object') {
      add('unknown element inside', key, (r) => (r[key].foo = 'bar'));
      add('empty object', key, (r) => (r[key] = {}));
    }
    if (typeCode === 'date' || typeCode === 'dateTime' || typeCode === 'instant') {
      add('impossible date', key, (r) => (r[key] = value.replace(/^(\d{4})-\d\d(-\d\d)?/, '$1-02-30')));
    }
    if (typeCode === 'dateTime' || typeCode === 'instant') add('time without zone', key, (r) => (r[key] = '2024-05-01T08:00:00'));
    if (el.binding?.strength === 'required') {
      if (typeCode === 'code') add('code outside the required binding', key, (r) => (r[key] = 'not-a-code'));
      if (typeCode === 'CodeableConcept' && value.coding) add('code outside the required binding', key, (r) => (r[key].coding[0].code = 'not-a-code'));
    }
  }
  add('unknown element', 'foo', (r) => (r.foo = 'bar'));
  add('bad id', 'id', (r) => (r.id = 'not an id'));
  return out;
}

/**
 * Where we report an error and medplum 4.5.2 does not, by kind of fault. Each is a rule of R4 that
 * medplum does not check:
 * - required bindings: medplum does not check bindings at all;
 * - empty arrays and empty strings: forbidden by the JSON format (§2.6.2) — medplum only sees empty
 *   arrays and strings when the element is required;
 * - empty objects: ele-1 — medplum checks it inside arrays only;
 * - the id: 1–64 of [A-Za-z0-9-.] (Resource.id is typed `string` in the snapshots, medplum takes that);
 * - impossible dates (30 February): medplum checks the pattern, not the calendar;
 * - a dateTime with a time but no zone: "If hours and minutes are specified, a time zone SHALL be
 *   populated" — medplum's dateTime pattern makes the zone optional (it does check instants).
 */
const STRICTER_THAN_MEDPLUM: Record<string, string[]> = {
  'code outside the required binding': [
    'Patient.gender', 'Observation.status', 'Encounter.status', 'Condition.clinicalStatus', 'Practitioner.gender', 'Coverage.status',
    'Procedure.status', 'MedicationRequest.status', 'MedicationRequest.intent', 'AllergyIntolerance.clinicalStatus', 'AllergyIntolerance.type',
    'AllergyIntolerance.criticality', 'Immunization.status', 'DiagnosticReport.status', 'Location.status', 'Location.mode',
    'ServiceRequest.status', 'ServiceRequest.intent', 'ServiceRequest.priority', 'Appointment.status', 'Medication.status',
  ],
  'empty array': [
    'Patient.identifier', 'Patient.name', 'Patient.telecom', 'Patient.address', 'Observation.category', 'Encounter.reasonCode',
    'Organization.telecom', 'Practitioner.name', 'Practitioner.qualification', 'MedicationRequest.dosageInstruction',
    'AllergyIntolerance.category', 'DiagnosticReport.result',
  ],
  'empty string': [
    'Patient.gender', 'Patient.birthDate', 'Observation.issued', 'Condition.recordedDate', 'Organization.name', 'Practitioner.gender',
    'Practitioner.birthDate', 'MedicationRequest.authoredOn', 'AllergyIntolerance.type', 'AllergyIntolerance.criticality',
    'DiagnosticReport.issued', 'Location.status', 'Location.name', 'Location.mode', 'ServiceRequest.priority', 'ServiceRequest.authoredOn',
    'Medication.status',
  ],
  'empty object': [
    'Patient.managingOrganization', 'Observation.subject', 'Encounter.subject', 'Encounter.period', 'Condition.clinicalStatus',
    'Condition.code', 'Coverage.period', 'Procedure.code', 'AllergyIntolerance.code', 'DiagnosticReport.subject', 'Location.position',
    'ServiceRequest.code', 'Medication.code', 'Medication.amount',
  ],
  'bad id': [
    'Patient.id', 'Observation.id', 'Encounter.id', 'Condition.id', 'Organization.id', 'Practitioner.id', 'Coverage.id', 'Procedure.id',
    'MedicationRequest.id', 'AllergyIntolerance.id', 'Immunization.id', 'DiagnosticReport.id', 'Location.id', 'ServiceRequest.id',
    'Appointment.id', 'Medication.id',
  ],
  'impossible date': [
    'Patient.birthDate', 'Observation.effectiveDateTime', 'Observation.issued', 'Condition.recordedDate', 'Practitioner.birthDate',
    'Procedure.performedDateTime', 'MedicationRequest.authoredOn', 'Immunization.occurrenceDateTime', 'DiagnosticReport.effectiveDateTime',
    'DiagnosticReport.issued', 'ServiceRequest.authoredOn', 'Appointment.start', 'Appointment.end',
  ],
  'time without zone': [
    'Observation.effectiveDateTime', 'Condition.recordedDate', 'Procedure.performedDateTime', 'MedicationRequest.authoredOn',
    'Immunization.occurrenceDateTime', 'DiagnosticReport.effectiveDateTime', 'ServiceRequest.authoredOn',
  ],
};

/**
 * Mutants for which we report more than one error: a null where the resource has an invariant on the
 * element (org-1 name or identifier, ait-1 clinicalStatus, app-2/app-3 start and end together). The
 * null is reported, and the invariant sees the element as absent — two rules, both broken.
 */
const SEVERAL_ERRORS = [
  'Organization.name: null', 'AllergyIntolerance.clinicalStatus: null', 'Appointment.start: null', 'Appointment.end: null',
];

function medplumErrors(resource: Obj): string[] {
  try {
    validateResource(resource as Resource);
    return [];
  } catch (e) {
    if (!(e instanceof OperationOutcomeError)) throw e;
    return (e.outcome.issue ?? []).filter((i) => i.severity === 'error' || i.severity === 'fatal').map((i) => i.details?.text ?? i.diagnostics ?? '?');
  }
}

const ourErrors = (resource: Obj) =>
  validator.validateAgainst(resource as Resource, `${CORE}${resource.resourceType}`).filter((i) => i.severity === 'error' || i.severity === 'fatal');

const ALL: Mutant[] = BASE.flatMap((r) => mutants(r, definitions.get(`${CORE}${r.resourceType}`)!));
const results = ALL.map((m) => ({ ...m, medplum: medplumErrors(m.resource), ours: ourErrors(m.resource) }));

describe('our validator against @medplum/core on base R4', () => {
  it.each(BASE.map((r) => [r.resourceType, r] as const))('both accept the valid %s', (_type, resource) => {
    expect(medplumErrors(resource)).toEqual([]);
    expect(ourErrors(resource)).toEqual([]);
  });

  it('mutates every resource in many ways', () => {
    expect(ALL.length).toBeGreaterThan(400);
    expect(new Set(ALL.map((m) => m.kind))).toEqual(new Set([
      'required element dropped', 'null', 'empty array', 'single value instead of array', 'array instead of single value', 'wrong JSON type',
      'unknown element inside', 'empty object', 'empty string', 'impossible date', 'time without zone', 'code outside the required binding',
      'unknown element', 'bad id',
    ]));
  });

  it('reports an error wherever medplum does', () => {
    const missed = results.filter((r) => r.medplum.length > 0 && r.ours.length === 0).map((r) => `${r.label} (medplum: ${r.medplum.join('; ')})`);
    expect(missed).toEqual([]);
    // The comparison has teeth: medplum finds most of these faults.
    expect(results.filter((r) => r.medplum.length > 0).length).toBeGreaterThan(300);
  });

  it('reports more than medplum exactly on the allow-listed cases', () => {
    const stricter = results.filter((r) => r.ours.length > 0 && r.medplum.length === 0).map((r) => r.label).sort();
    const allowed = Object.entries(STRICTER_THAN_MEDPLUM).flatMap(([kind, where]) => where.map((w) => `${w}: ${kind}`)).sort();
    expect(stricter).toEqual(allowed);
  });

  it('finds some error in every mutant (none is accepted by both)', () => {
    expect(results.filter((r) => r.ours.length === 0).map((r) => r.label)).toEqual([]);
  });

  it('says each fault once', () => {
    const several = results.filter((r) => r.ours.length > 1).map((r) => r.label).sort();
    expect(several).toEqual([...SEVERAL_ERRORS].sort());
  });
});
