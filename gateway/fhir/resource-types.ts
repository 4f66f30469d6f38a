/**
 * The resource types the gateway stores. The first group feeds the claim XML and the health book;
 * the second carries what a hospital system sends alongside them or what the gateway itself keeps.
 * Definitional resources (StructureDefinition, ValueSet, …) are not stored: they live in `profiles/`.
 */
export const CLINICAL_TYPES = [
  'Patient', 'RelatedPerson', 'Coverage', 'Organization', 'Practitioner', 'PractitionerRole', 'Location',
  'Encounter', 'EpisodeOfCare', 'Condition', 'Procedure', 'Observation', 'DiagnosticReport', 'Specimen',
  'Medication', 'MedicationRequest', 'MedicationDispense', 'MedicationAdministration', 'MedicationStatement',
  'ServiceRequest', 'Appointment', 'ChargeItem', 'Claim', 'ClaimResponse', 'AllergyIntolerance',
  'Immunization', 'FamilyMemberHistory', 'CarePlan', 'CareTeam', 'ClinicalImpression', 'DocumentReference',
  'Composition', 'Binary', 'Device', 'ImagingStudy', 'Media', 'Consent', 'Flag', 'Communication',
  'QuestionnaireResponse', 'CoverageEligibilityRequest', 'CoverageEligibilityResponse',
] as const;

export const GATEWAY_TYPES = [
  'Task', 'Provenance', 'AuditEvent', 'Bundle', 'Measure', 'MeasureReport', 'Endpoint', 'Group',
] as const;

export const ACCEPTED_TYPES: readonly string[] = [...CLINICAL_TYPES, ...GATEWAY_TYPES].sort();

const accepted = new Set(ACCEPTED_TYPES);

export function isAcceptedType(type: string): boolean {
  return accepted.has(type);
}

/** FHIR `id`: 1–64 of letters, digits, `-` and `.`. */
export const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;
