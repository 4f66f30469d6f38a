import type { Resource } from '@medplum/fhirtypes';
import type { Issue } from '../fhir/outcome.js';
import { ID_PATTERN, isAcceptedType } from '../fhir/resource-types.js';
import { messages } from './messages.js';
import type { ResourceValidator } from './validator.js';

/**
 * The checks every stored resource passes whatever its profile: a known type and a well-formed id and meta.
 * Issues are worded as the profile validator words the same faults, so that allOf() says each once.
 */
export const structureValidator: ResourceValidator = {
  validate(resource: Resource): Issue[] {
    const issues: Issue[] = [];
    const type = resource.resourceType;
    if (!isAcceptedType(type)) {
      issues.push({ severity: 'error', code: 'not-supported', message: messages.unsupportedType(type), expression: [`${type}.resourceType`] });
    }
    if (resource.id !== undefined && (typeof resource.id !== 'string' || !ID_PATTERN.test(resource.id))) {
      issues.push({ severity: 'error', code: 'value', message: messages.badFormat(resource.id, 'id'), expression: [`${type}.id`] });
    }
    if (resource.meta !== undefined && (typeof resource.meta !== 'object' || resource.meta === null || Array.isArray(resource.meta))) {
      issues.push({ severity: 'error', code: 'structure', message: messages.notObject(`${type}.meta`, 'Meta'), expression: [`${type}.meta`] });
    }
    return issues;
  },
};
