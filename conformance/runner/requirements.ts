import type { CapabilityStatement } from '@medplum/fhirtypes';
import { canonical, SID } from '../../gateway/fhir/vn.js';
import { expect, type Check } from './check.js';

/**
 * Everything the runner relies on a deployment to declare: the operations it invokes, the search
 * parameters it searches with, the profiles it expects writes to be validated against. The first
 * check reads them from the CapabilityStatement, so that a deployment that drops one is told so
 * before the checks that need it fail; test/conformance keeps this list in step with the requests
 * the runner really makes.
 */
export const REQUIREMENTS = {
  operations: [
    // At system level: the R4 form of $viewdefinition-run (ViewDefinition is not an R4 resource type).
    { name: 'viewdefinition-run', type: undefined },
    { name: 'xml130', type: undefined },
    { name: 'xml130-checkin', type: undefined },
    { name: 'summary', type: 'Patient' },
    { name: 'validate', type: 'Patient' },
  ],
  searchParams: [
    { type: 'Patient', name: 'identifier' },
    { type: 'Patient', name: 'name' },
    { type: undefined, name: '_count' },
    // In the next links the server makes.
    { type: undefined, name: '_offset' },
  ],
  interactions: [
    { type: 'Patient', code: 'create' },
    { type: 'Patient', code: 'read' },
    { type: 'Patient', code: 'vread' },
    { type: 'Patient', code: 'update' },
    { type: 'Patient', code: 'delete' },
    { type: undefined, code: 'transaction' },
  ],
  profiles: [{ type: 'Patient', url: canonical('StructureDefinition', 'hb-patient') }],
} as const;

export const CCCD = SID.cccd;

/** What the CapabilityStatement lacks of REQUIREMENTS; empty when it declares all. */
export function missingFromCapability(cs: CapabilityStatement): string[] {
  const rest = cs.rest?.find((r) => r.mode === 'server');
  const resource = (type: string) => rest?.resource?.find((r) => r.type === type);
  const missing: string[] = [];
  for (const op of REQUIREMENTS.operations) {
    const declared = op.type ? resource(op.type)?.operation : rest?.operation;
    if (!declared?.some((o) => o.name === op.name)) missing.push(`operation $${op.name}${op.type ? ` on ${op.type}` : ' (system)'}`);
  }
  for (const p of REQUIREMENTS.searchParams) {
    const declared = p.type ? resource(p.type)?.searchParam : rest?.searchParam;
    if (!declared?.some((s) => s.name === p.name)) missing.push(`search parameter ${p.type ?? '(all types)'} ${p.name}`);
  }
  for (const i of REQUIREMENTS.interactions) {
    const declared = i.type ? resource(i.type)?.interaction : rest?.interaction;
    if (!declared?.some((x) => x.code === i.code)) missing.push(`interaction ${i.code}${i.type ? ` on ${i.type}` : ''}`);
  }
  for (const p of REQUIREMENTS.profiles) {
    if (!resource(p.type)?.supportedProfile?.includes(p.url)) missing.push(`profile ${p.url} on ${p.type}`);
  }
  return missing;
}

export const metadataCheck: Check = {
  group: 'metadata',
  name: 'the CapabilityStatement declares every operation, search parameter, interaction and profile the kit checks',
  async run({ client }) {
    const r = await client.get('metadata');
    expect(r.status === 200, `GET metadata answered ${r.status}`);
    const missing = missingFromCapability(r.json as CapabilityStatement);
    expect(missing.length === 0, `missing: ${missing.join('; ')}`);
  },
};
