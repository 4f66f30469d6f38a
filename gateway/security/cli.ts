import { readFileSync } from 'node:fs';
import { loadConfig } from '../config.js';
import { openDatabase } from '../server.js';
import type { Database } from '../store/database.js';
import { migrate } from '../store/migrations.js';
import { AuditLog } from './audit-log.js';
import { ClientRegistry } from './clients.js';
import type { Role } from './principal.js';

export const SECURITY_USAGE = `  npm run cli -- client add --id <client id> --name <name> --role hospital|citizen|auditor|admin
        [--facility <MA_CSKCB>] [--cccd <12 digits>] --jwks <public JWK or JWK Set file> [--scopes "<SMART scopes>"]
      registers a client (or replaces its key, role and scopes) in the gateway's database
  npm run cli -- client list | client disable --id <client id>
  npm run cli -- audit verify
      walks the audit log's hash chains; exit code 1 when an event was altered or removed`;

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

async function withDatabase<T>(fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await openDatabase(loadConfig());
  try {
    await migrate(db);
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** `client …`: the administrator's way to manage who may ask for tokens (the database of DATABASE_URL or ./data). */
export async function clientCommand(args: string[], usage: string): Promise<number> {
  const [sub, ...rest] = args;
  return withDatabase(async (db) => {
    const clients = new ClientRegistry(db);
    if (sub === 'add') {
      const jwksFile = option(rest, 'jwks');
      if (!jwksFile || !option(rest, 'id') || !option(rest, 'role')) {
        console.error(usage);
        return 2;
      }
      try {
        const c = await clients.save({
          clientId: option(rest, 'id')!,
          name: option(rest, 'name') ?? option(rest, 'id')!,
          role: option(rest, 'role') as Role,
          facility: option(rest, 'facility'),
          cccd: option(rest, 'cccd'),
          scopes: option(rest, 'scopes'),
          jwks: JSON.parse(readFileSync(jwksFile, 'utf8')),
        });
        console.log(`registered ${c.clientId}: ${c.role}${c.facility ? ` of facility ${c.facility}` : ''}${c.cccd ? ' bound to a CCCD' : ''}; scopes ${c.scopeText}`);
        return 0;
      } catch (e) {
        console.error(`not registered: ${(e as Error).message}`);
        return 1;
      }
    }
    if (sub === 'list') {
      for (const c of await clients.list()) console.log(`${c.clientId}\t${c.role}\t${c.facility ?? ''}\t${c.scopeText}\t${c.disabledAt ? `disabled ${c.disabledAt}` : 'active'}`);
      return 0;
    }
    if (sub === 'disable') {
      const id = option(rest, 'id');
      if (!id) {
        console.error(usage);
        return 2;
      }
      const done = await clients.disable(id);
      console.log(done ? `disabled ${id}` : `no client ${id}`);
      return done ? 0 : 1;
    }
    console.error(usage);
    return 2;
  });
}

/** `audit verify`: exit 0 when every chain is whole, 1 with the problems otherwise. */
export async function auditCommand(args: string[], usage: string): Promise<number> {
  if (args[0] !== 'verify') {
    console.error(usage);
    return 2;
  }
  return withDatabase(async (db) => {
    const result = await new AuditLog(db, 1).verify();
    if (result.ok) {
      console.log(`audit log verified: ${result.events} events, every chain whole`);
      return 0;
    }
    for (const p of result.problems) console.error(p);
    console.error(`audit log NOT verified: ${result.problems.length} problem(s) in ${result.events} events`);
    return 1;
  });
}
