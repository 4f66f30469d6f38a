import { AsyncLocalStorage } from 'node:async_hooks';
import type { PendingAudit } from './audit-log.js';
import type { Principal } from './principal.js';

/**
 * What the security layer knows about the interaction being handled, for the code that runs inside
 * it without a FhirRequest at hand: the write hooks (authorization and audit, inside the write's
 * transaction) and the nested interactions of a bundle or an operation that calls the router again.
 */
export interface SecurityContext {
  /** Undefined when no authentication is configured. */
  principal?: Principal;
  /**
   * An interaction the gateway's own code started on the client's behalf (an operation writing its
   * results through the router): the client was authorized for the operation, not for each write.
   */
  internal: boolean;
  requestId?: string;
  /** Audit events of reads and refusals, written once the outermost interaction is done (before the response is sent). */
  pending: PendingAudit[];
}

export const securityContext = new AsyncLocalStorage<SecurityContext>();
