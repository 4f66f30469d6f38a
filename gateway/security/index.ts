import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { AuditEvent } from '@medplum/fhirtypes';
import type { WriteHook } from '../bundle/transaction.js';
import type { Config } from '../config.js';
import { Vault } from '../facilities/vault.js';
import type { Logger } from '../log.js';
import type { Database } from '../store/database.js';
import { AuditLog } from './audit-log.js';
import { securityContext } from './context.js';
import { Authenticator } from './authenticate.js';
import { ClientRegistry } from './clients.js';
import { edgeSecurity, type EdgeSecurity } from './edge.js';
import { GatewayKeys } from './gateway-keys.js';
import { SecurityGuard, securityWriteHook, type RouterGuard } from './guard.js';
import { AccessPolicy } from './policy.js';
import { authenticates } from './settings.js';
import { TokenServer } from './token-server.js';

/** The security layer as the server wires it: the router's guard, the write hook, the edge. */
export interface Security {
  guard: RouterGuard;
  hook: WriteHook;
  edge: EdgeSecurity;
  policy: AccessPolicy;
  audit?: AuditLog;
  clients: ClientRegistry;
  /**
   * Adds an event an operation knows more about than the guard (a card lookup's officer) to the
   * chained log, written with the interaction's own events; false when the log is off or no
   * interaction is under way.
   */
  recordEvent(event: AuditEvent, patients: string[]): boolean;
}

export async function createSecurity(config: Config, db: Database, log: Logger): Promise<Security> {
  const s = config.security;
  const authRequired = authenticates(s);
  const policy = new AccessPolicy({ treatingWindowDays: s.treatingWindowDays });
  const audit = s.audit ? new AuditLog(db, s.auditChains) : undefined;
  await audit?.prepare();
  const clients = new ClientRegistry(db);
  let keys: GatewayKeys | undefined;
  if (s.mode === 'smart') {
    // The token signing key is a secret like the facilities' credentials: sealed under the master key.
    const vault = Vault.fromEnvironment({ key: config.masterKey, file: config.masterKeyFile, developmentFile: config.mode === 'development' ? join(config.dataDir, 'master.key') : undefined });
    if (!vault) throw new Error('AUTH=smart needs GATEWAY_MASTER_KEY (or GATEWAY_MASTER_KEY_FILE) to keep the gateway’s token signing key');
    keys = new GatewayKeys(db, vault);
    await keys.signingKey();
  }
  const guardOptions = { policy, audit, authRequired };
  return {
    guard: new SecurityGuard(guardOptions),
    hook: securityWriteHook(guardOptions),
    edge: edgeSecurity({
      settings: s,
      db,
      log,
      policy,
      audit,
      authenticator: authRequired ? new Authenticator(s, keys) : undefined,
      tokens: keys ? new TokenServer(clients, keys, s, log) : undefined,
      publicBaseUrl: config.publicBaseUrl,
    }),
    policy,
    audit,
    clients,
    recordEvent(event, patients) {
      const ctx = securityContext.getStore();
      if (!audit || !ctx) return false;
      ctx.pending.push({ event: { ...event, id: event.id ?? randomUUID(), recorded: event.recorded ?? new Date().toISOString() }, clientId: ctx.principal?.clientId ?? 'anonymous', patients });
      return true;
    },
  };
}
