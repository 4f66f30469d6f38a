import type { FhirRequest, FhirResponse } from './request.js';
import type { Repository } from '../store/repository.js';

/** A FHIR operation (`$name`) the router dispatches to; the CapabilityStatement lists each one. */
export interface Operation {
  name: string;
  /** Canonical URL of its OperationDefinition. */
  definition: string;
  documentation: string;
  /** Resource types it is invoked on (type and instance level); empty for system level only. */
  resourceTypes: string[];
  system: boolean;
  instance: boolean;
  /** Whether it may be invoked with GET (it changes nothing). */
  affectsState: boolean;
  handle(req: FhirRequest, target: { type?: string; id?: string }, repo: Repository): Promise<FhirResponse>;
}
