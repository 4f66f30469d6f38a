import type { Parameters, Resource } from '@medplum/fhirtypes';
import { badRequest, notFound, operationOutcome, type Issue } from '../fhir/outcome.js';
import { ACCEPTED_TYPES } from '../fhir/resource-types.js';
import type { Operation } from '../rest/operations.js';
import type { FhirRequest } from '../rest/request.js';
import type { Repository } from '../store/repository.js';
import type { ProfileValidator } from './validate.js';
import type { ResourceValidator } from './validator.js';

const MODES = new Set(['create', 'update', 'delete']);

/**
 * `$validate` (type and instance level): the same checks a write makes, on a resource that is not
 * stored. Answers 200 with the OperationOutcome — the operation succeeded; the issues say whether
 * the resource would be accepted.
 */
export function validateOperation(writeValidator: ResourceValidator, profiles: ProfileValidator): Operation {
  return {
    name: 'validate',
    definition: 'http://hl7.org/fhir/OperationDefinition/Resource-validate',
    documentation: 'Validates a resource (or a Parameters with resource, mode and profile) exactly as a write would, without storing it',
    resourceTypes: [...ACCEPTED_TYPES],
    system: false,
    instance: true,
    affectsState: false,
    async handle(req: FhirRequest, target: { type?: string; id?: string }, repo: Repository) {
      const { resource, mode, profile } = input(req.body);
      if (mode && !MODES.has(mode)) throw badRequest(`mode must be create, update or delete, not "${mode}"`, 'Parameters.parameter.mode');
      if (mode === 'delete' || (mode !== undefined && mode !== 'create' && !resource)) {
        if (!target.id) throw badRequest('mode delete is invoked on an instance: [type]/[id]/$validate');
        const stored = await repo.read(target.type!, target.id);
        if (!stored || stored.deleted) throw notFound(`${target.type}/${target.id} is not known`, 'id');
        return { status: 200, body: outcome([], req) };
      }
      if (!resource) throw badRequest('$validate needs a resource, in the body or as the "resource" parameter', 'resource');
      if (resource.resourceType !== target.type) {
        throw badRequest(`The resource is a ${String(resource.resourceType)} but $validate was invoked on ${target.type}`, `${resource.resourceType}.resourceType`);
      }
      if (target.id && resource.id !== undefined && resource.id !== target.id) {
        throw badRequest(`The resource id "${resource.id}" does not match "${target.id}" in the URL`, `${resource.resourceType}.id`);
      }
      const issues = profile ? profiles.validateAgainst(resource, profile) : writeValidator.validate(resource);
      return { status: 200, body: outcome(issues, req) };
    },
  };
}

function outcome(issues: Issue[], req: FhirRequest) {
  if (issues.length > 0) return operationOutcome(issues, req.lang);
  return operationOutcome([{ severity: 'information', code: 'informational', message: { vi: 'Hợp lệ', en: 'Valid' } }], req.lang);
}

function input(body: unknown): { resource?: Resource; mode?: string; profile?: string } {
  const b = body as Resource | undefined;
  if (b?.resourceType !== 'Parameters') return { resource: b };
  const params = (b as Parameters).parameter ?? [];
  return {
    resource: params.find((p) => p.name === 'resource')?.resource,
    mode: params.find((p) => p.name === 'mode')?.valueCode,
    profile: params.find((p) => p.name === 'profile')?.valueUri ?? params.find((p) => p.name === 'profile')?.valueCanonical,
  };
}
