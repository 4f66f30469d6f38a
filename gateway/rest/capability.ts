import type { CapabilityStatement, CapabilityStatementRestResource, CapabilityStatementRestResourceSearchParam, ResourceType } from '@medplum/fhirtypes';
import { ACCEPTED_TYPES } from '../fhir/resource-types.js';
import { searchParams } from '../store/search/params.js';
import type { Operation } from './operations.js';

/** Types whose records are never changed or removed once written. */
const APPEND_ONLY = new Set(['AuditEvent']);

export interface CapabilityInput {
  baseUrl: string;
  version: string;
  startedAt: string;
  operations: Operation[];
  /** Profiles the server validates against, per resource type (none until profiles exist). */
  profiles?: Record<string, string[]>;
}

/**
 * The CapabilityStatement, generated from what the router, the store and the registered operations
 * really do — not written by hand, so it cannot drift from the code.
 */
export function capabilityStatement(input: CapabilityInput): CapabilityStatement {
  const resources: CapabilityStatementRestResource[] = ACCEPTED_TYPES.map((type) => {
    const params = [...searchParams(type).values()];
    const references = params.filter((p) => p.type === 'reference');
    const ops = input.operations.filter((o) => o.resourceTypes.includes(type));
    return {
      type: type as ResourceType,
      ...(input.profiles?.[type]?.length ? { supportedProfile: input.profiles[type] } : {}),
      // The audit log is append-only (gateway/security): no update, patch or delete of an AuditEvent.
      interaction: ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type']
        .filter((code) => !(APPEND_ONLY.has(type) && ['update', 'patch', 'delete'].includes(code)))
        .map((code) => ({ code })) as CapabilityStatementRestResource['interaction'],
      versioning: 'versioned',
      readHistory: true,
      updateCreate: !APPEND_ONLY.has(type),
      conditionalCreate: true,
      conditionalRead: 'full-support',
      conditionalUpdate: !APPEND_ONLY.has(type),
      conditionalDelete: APPEND_ONLY.has(type) ? 'not-supported' : 'single',
      referencePolicy: ['literal', 'local'],
      searchInclude: references.map((p) => `${type}:${p.code}`),
      searchRevInclude: ACCEPTED_TYPES.flatMap((source) =>
        [...searchParams(source).values()].filter((p) => p.type === 'reference' && p.targets.includes(type)).map((p) => `${source}:${p.code}`),
      ),
      searchParam: [
        { name: '_id', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/Resource-id' },
        { name: '_lastUpdated', type: 'date', definition: 'http://hl7.org/fhir/SearchParameter/Resource-lastUpdated' },
        ...params.map((p) => ({ name: p.code, type: p.type, ...(p.definition ? { definition: p.definition } : {}), ...(p.documentation ? { documentation: p.documentation } : {}) })),
      ] as CapabilityStatementRestResourceSearchParam[],
      ...(ops.length ? { operation: ops.map((o) => ({ name: o.name, definition: o.definition, documentation: o.documentation })) } : {}),
    };
  });
  const systemOps = input.operations.filter((o) => o.system);
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: input.startedAt,
    publisher: 'VN health-book gateway',
    kind: 'instance',
    software: { name: 'vn-healthbook-gateway', version: input.version },
    implementation: { description: 'FHIR R4 gateway for the Vietnamese electronic health book (QĐ 130/4750/3176 XML, QĐ 1332)', url: input.baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'application/json'],
    patchFormat: ['application/json-patch+json'],
    rest: [
      {
        mode: 'server',
        documentation: 'Transactions are atomic (one database transaction); batch entries are independent. Unknown search parameters are ignored unless Prefer: handling=strict.',
        resource: resources,
        interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'history-system' }],
        searchParam: [
          { name: '_count', type: 'number', documentation: 'Page size (default 20, at most 1000)' },
          { name: '_offset', type: 'number', documentation: 'Index of the first match on the page' },
          { name: '_sort', type: 'string', documentation: '_id, _lastUpdated or a date parameter; prefix - for descending' },
          { name: '_total', type: 'token', documentation: 'none | estimate | accurate' },
          { name: '_summary', type: 'token', documentation: 'true | false | text | data | count' },
          { name: '_elements', type: 'string', documentation: 'Top-level elements to return' },
        ] as CapabilityStatementRestResourceSearchParam[],
        ...(systemOps.length ? { operation: systemOps.map((o) => ({ name: o.name, definition: o.definition, documentation: o.documentation })) } : {}),
      },
    ],
  };
}
