import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { Language } from '../fhir/outcome.js';
import type { Principal } from '../security/principal.js';

/**
 * A FHIR interaction independent of HTTP: what the express layer builds from a request, and what
 * a bundle entry becomes, so that both go through the same router.
 */
export interface FhirRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path segments after the base: `['Patient', '123', '_history', '2']`. */
  path: string[];
  query: [string, string][];
  body?: unknown;
  /** The body's media type, when there is one (`application/json-patch+json` for a patch). */
  contentType?: string;
  ifMatch?: string;
  ifNoneMatch?: string;
  ifNoneExist?: string;
  ifModifiedSince?: string;
  prefer: Prefer;
  /** Absolute base URL for links and fullUrls, e.g. `http://localhost:8080/fhir`. */
  baseUrl: string;
  /** Where this request sits in the client's document (`Bundle.entry[3]`), or '' for a plain HTTP call. */
  at: string;
  /** The language of messages (Accept-Language: Vietnamese unless English is preferred). */
  lang: Language;
  /** 'json' when the client's Accept names JSON (not just any type): operations that answer documents then answer FHIR. 'csv' when it asks for text/csv (reports). */
  accept?: 'json' | 'csv';
  /** Who asks, when authentication is configured (bundle entries inherit it); see gateway/security. */
  principal?: Principal;
  /** The HTTP request's correlation id, for the audit trail. */
  requestId?: string;
}

export interface FhirResponse {
  status: number;
  body?: Resource;
  /** `Type/id/_history/n`, for Location / Content-Location / entry.response.location. */
  location?: string;
  etag?: string;
  lastModified?: string;
  /** Warnings about a write that succeeded (a bundle entry's response.outcome). */
  outcome?: OperationOutcome;
  /** A document that is not FHIR JSON (a claim file), sent as it is instead of `body`. */
  document?: {
    contentType: string;
    text: string;
    filename?: string;
    /** The text gzip-compressed, for a client that accepts it (a large document compressed once and kept). */
    gzip?: () => Buffer;
  };
}

export interface Prefer {
  return?: 'minimal' | 'representation' | 'OperationOutcome';
  handling?: 'strict' | 'lenient';
}

export function parsePrefer(header: string | undefined): Prefer {
  const prefer: Prefer = {};
  for (const part of (header ?? '').split(/[;,]/)) {
    const [key, value] = part.trim().split('=').map((s) => s?.trim().replace(/^"|"$/g, ''));
    if (key === 'return' && (value === 'minimal' || value === 'representation' || value === 'OperationOutcome')) prefer.return = value;
    if (key === 'handling' && (value === 'strict' || value === 'lenient')) prefer.handling = value;
  }
  return prefer;
}

/** The values of one query parameter (in order). */
export function queryValues(query: [string, string][], name: string): string[] {
  return query.filter(([k]) => k === name).map(([, v]) => v);
}

/** The response headers of a stored version. */
export function versionHeaders(resource: Resource): Pick<FhirResponse, 'location' | 'etag' | 'lastModified'> {
  const versionId = resource.meta?.versionId;
  return {
    location: `${resource.resourceType}/${resource.id}/_history/${versionId}`,
    etag: `W/"${versionId}"`,
    lastModified: resource.meta?.lastUpdated,
  };
}
