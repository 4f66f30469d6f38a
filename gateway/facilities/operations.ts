import type { Organization, Parameters, ParametersParameter } from '@medplum/fhirtypes';
import { badRequest, FhirError, notFound, operationOutcome, textIn, type Language } from '../fhir/outcome.js';
import type { PortalClient } from '../outbox/portal-client.js';
import type { Operation } from '../rest/operations.js';
import { CredentialError } from '../signing/keys.js';
import type { Database } from '../store/database.js';
import type { Repository } from '../store/repository.js';
import type { FacilityCredentials } from './credentials.js';
import { allReadiness, ATTESTED_STEPS, checkPortalLogin, readiness, recordCheck, type Readiness } from './readiness.js';
import type { FacilityRegistry, FacilitySecrets } from './registry.js';

/**
 * Administration of the facilities, on their Organizations:
 * - `POST Organization/{id}/$credentials` sets the signing credentials and/or portal account
 *   (sealed at rest; the answer says what the certificate is, never what a secret is);
 * - `POST Organization/{id}/$attest` records a step an administrator vouches for;
 * - `GET Organization/{id}/$readiness` (or `GET Organization/$readiness` for all) answers the
 *   onboarding checklist as a Parameters; `POST Organization/{id}/$check-portal` logs in to the
 *   portal with the facility's account and records the result.
 */
export interface FacilityServices {
  db: Database;
  registry: FacilityRegistry;
  credentials: FacilityCredentials;
  portal: PortalClient;
}

export function facilityOperations(s: FacilityServices): Operation[] {
  const base = { resourceTypes: ['Organization'], system: false };
  return [
    {
      ...base,
      name: 'credentials',
      definition: 'https://healthbook-gateway.vn/fhir/OperationDefinition/credentials',
      documentation: 'Sets a facility’s signing credentials (pkcs12 + password, privateKey + certificate, or remoteSigner + certificate) and portal account (portalUsername, portalPassword, lienThongCode, standard, portalUrl); the card-lookup officer registered with BHXH (lookupOfficerName, lookupOfficerCccd); revoke=true stops its submissions',
      instance: true,
      affectsState: true,
      async handle(req, target, repo) {
        const org = await organization(repo, target.id!);
        const update = secretsFrom(req.body);
        let record;
        try {
          record = await s.registry.save(org.id!, update);
        } catch (e) {
          if (e instanceof CredentialError) throw new FhirError(422, [{ severity: 'error', code: 'security', message: { vi: `Không dùng được thông tin ký: ${e.message}`, en: `The signing credentials cannot be used: ${e.message}` }, expression: ['Parameters.parameter'] }]);
          throw e;
        }
        const said = [
          record.certificate ? `certificate "${record.certificate.subject.replace(/\n/g, ', ')}" valid to ${new Date(record.certificate.validTo).toISOString().slice(0, 10)}` : undefined,
          record.secrets.portal ? `portal account ${record.secrets.portal.username}` : undefined,
          // The officer's name only: the CCCD is personal data, kept sealed and never echoed.
          record.secrets.lookupOfficer ? `lookup officer ${record.secrets.lookupOfficer.name}` : undefined,
          record.revokedAt ? `revoked on ${record.revokedAt}` : undefined,
        ].filter(Boolean).join('; ');
        return { status: 200, body: operationOutcome([{ severity: 'information', code: 'informational', message: { vi: `Đã lưu: ${said}`, en: `Stored: ${said}` } }], req.lang) };
      },
    },
    {
      ...base,
      name: 'attest',
      definition: 'https://healthbook-gateway.vn/fhir/OperationDefinition/attest',
      documentation: `Records an onboarding step an administrator vouches for (step: ${[...ATTESTED_STEPS].join(', ')}; date; approver)`,
      instance: true,
      affectsState: true,
      async handle(req, target, repo) {
        const org = await organization(repo, target.id!);
        const p = params(req.body);
        const step = p.get('step')?.valueCode;
        const date = p.get('date')?.valueDate;
        const approver = p.get('approver')?.valueString;
        if (!step || !ATTESTED_STEPS.has(step)) throw badRequest({ vi: `step phải là ${[...ATTESTED_STEPS].join(', ')}`, en: `step must be ${[...ATTESTED_STEPS].join(', ')}` }, 'Parameters.parameter.step');
        if (!date || !/^\d{4}-\d{2}-\d{2}$/.test(date)) throw badRequest({ vi: 'date là ngày phê duyệt (YYYY-MM-DD)', en: 'date is the approval date (YYYY-MM-DD)' }, 'Parameters.parameter.date');
        if (!approver) throw badRequest({ vi: 'approver là người phê duyệt', en: 'approver names who approved it' }, 'Parameters.parameter.approver');
        await recordCheck(s.db, org.id!, step, true, 'attested', { by: approver, on: date });
        return { status: 200, body: toParameters([await readiness(s.db, s.registry, s.credentials, org, new Date())], req.lang) };
      },
    },
    {
      ...base,
      name: 'readiness',
      definition: 'https://healthbook-gateway.vn/fhir/OperationDefinition/readiness',
      documentation: 'The onboarding checklist of a facility (instance) or of every facility (type)',
      instance: true,
      affectsState: false,
      async handle(req, target, repo) {
        const now = new Date();
        const list = target.id ? [await readiness(s.db, s.registry, s.credentials, await organization(repo, target.id), now)] : await allReadiness(s.db, s.registry, s.credentials, now);
        return { status: 200, body: toParameters(list, req.lang) };
      },
    },
    {
      ...base,
      name: 'check-portal',
      definition: 'https://healthbook-gateway.vn/fhir/OperationDefinition/check-portal',
      documentation: 'Logs in to the BHXH portal with the facility’s account and records whether it succeeds',
      instance: true,
      affectsState: true,
      async handle(req, target, repo) {
        const org = await organization(repo, target.id!);
        await checkPortalLogin(s.db, s.credentials, s.portal, org);
        return { status: 200, body: toParameters([await readiness(s.db, s.registry, s.credentials, org, new Date())], req.lang) };
      },
    },
  ];
}

async function organization(repo: Repository, id: string): Promise<Organization> {
  const stored = await repo.read('Organization', id);
  if (!stored || stored.deleted) throw notFound({ vi: `Không có Organization/${id}`, en: `Organization/${id} is not known` }, 'id');
  return stored.resource as Organization;
}

function params(body: unknown): Map<string, ParametersParameter> {
  const p = body as Parameters | undefined;
  if (p?.resourceType !== 'Parameters') throw badRequest({ vi: 'Thân yêu cầu phải là Parameters', en: 'The body must be a Parameters' }, 'resourceType');
  return new Map((p.parameter ?? []).map((x) => [x.name, x]));
}

function secretsFrom(body: unknown): FacilitySecrets & { revoke?: boolean } {
  const p = params(body);
  const str = (name: string) => p.get(name)?.valueString ?? p.get(name)?.valueUrl ?? p.get(name)?.valueUri;
  const out: FacilitySecrets & { revoke?: boolean } = {};
  const pkcs12 = p.get('pkcs12')?.valueBase64Binary;
  if (pkcs12) out.signing = { pkcs12, password: str('password') ?? '' };
  else if (str('privateKey') && str('certificate')) out.signing = { keyPem: str('privateKey'), certificatePem: str('certificate') };
  else if (str('remoteSigner') && str('certificate')) out.signing = { remoteUrl: str('remoteSigner'), certificatePem: str('certificate') };
  const username = str('portalUsername');
  const password = str('portalPassword');
  if (username || password) {
    if (!username || !password) throw badRequest({ vi: 'Cần cả portalUsername và portalPassword', en: 'Both portalUsername and portalPassword are needed' }, 'Parameters.parameter');
    const standard = p.get('standard')?.valueCode;
    if (standard !== undefined && standard !== '4750' && standard !== '3176') throw badRequest({ vi: 'standard là 4750 hoặc 3176', en: 'standard is 4750 or 3176' }, 'Parameters.parameter.standard');
    out.portal = { username, password, lienThongCode: str('lienThongCode'), standard: standard as '4750' | '3176' | undefined, baseUrl: str('portalUrl') };
  }
  const officerName = str('lookupOfficerName')?.trim();
  const officerCccd = str('lookupOfficerCccd')?.trim();
  if (officerName || officerCccd) {
    if (!officerName || !officerCccd) throw badRequest({ vi: 'Cần cả lookupOfficerName và lookupOfficerCccd (cán bộ tra cứu đã đăng ký với BHXH)', en: 'Both lookupOfficerName and lookupOfficerCccd are needed (the lookup officer registered with BHXH)' }, 'Parameters.parameter');
    if (!/^[0-9]{12}$/.test(officerCccd)) throw badRequest({ vi: 'lookupOfficerCccd là số CCCD gồm 12 chữ số', en: 'lookupOfficerCccd is a 12-digit CCCD number' }, 'Parameters.parameter.lookupOfficerCccd');
    out.lookupOfficer = { name: officerName, cccd: officerCccd };
  }
  if (p.get('revoke')?.valueBoolean === true) out.revoke = true;
  if (!out.signing && !out.portal && !out.lookupOfficer && !out.revoke) {
    throw badRequest({ vi: 'Không có gì để lưu: gửi pkcs12 + password, privateKey + certificate, remoteSigner + certificate, portalUsername + portalPassword, hoặc lookupOfficerName + lookupOfficerCccd', en: 'Nothing to store: send pkcs12 + password, privateKey + certificate, remoteSigner + certificate, portalUsername + portalPassword, or lookupOfficerName + lookupOfficerCccd' }, 'Parameters.parameter');
  }
  return out;
}

export function toParameters(list: Readiness[], lang: Language): Parameters {
  return {
    resourceType: 'Parameters',
    parameter: list.map((r) => ({
      name: 'facility',
      part: [
        { name: 'organization', valueReference: { reference: `Organization/${r.organizationId}`, display: r.name } },
        ...(r.facility ? [{ name: 'code', valueString: r.facility }] : []),
        { name: 'ready', valueBoolean: r.ready },
        ...r.steps.map((step) => ({
          name: 'step',
          part: [
            { name: 'code', valueCode: step.code },
            { name: 'title', valueString: textIn(step.title, lang) },
            { name: 'status', valueCode: step.status },
            ...(step.detail ? [{ name: 'detail', valueString: textIn(step.detail, lang) }] : []),
            ...(step.when ? [{ name: 'when', valueDateTime: step.when }] : []),
          ],
        })),
      ],
    })),
  };
}
