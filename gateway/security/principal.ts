/**
 * Who is asking, once a token was verified: the client, its role, what it is bound to (a
 * facility's MA_CSKCB, a citizen's CCCD) and the SMART v2 scopes it was granted.
 */
export type Role = 'hospital' | 'citizen' | 'auditor' | 'admin';
export const ROLES: readonly Role[] = ['hospital', 'citizen', 'auditor', 'admin'];

export interface Principal {
  clientId: string;
  role: Role;
  /** MA_CSKCB of the facility a hospital client acts for. */
  facility?: string;
  /** CCCD of the citizen a citizen token is bound to. */
  cccd?: string;
  scopes: Scope[];
  /** Who issued the token (the gateway or the external identity provider). */
  issuer: string;
}

/** `system/Encounter.cruds`: a context, a resource type (or `*`) and permissions (c r u d s). */
export interface Scope {
  context: 'patient' | 'user' | 'system';
  type: string;
  permissions: Set<Permission>;
}
export type Permission = 'c' | 'r' | 'u' | 'd' | 's';

const SCOPE = /^(patient|user|system)\/([A-Za-z]+|\*)\.([a-z*]+)(\?.*)?$/;

/**
 * SMART v2 scopes (`.cruds` subsets in that order); the v1 forms `.read`, `.write` and `.*` are
 * read as `rs`, `cud` and `cruds`. Anything else (`openid`, `launch/patient`…) is not a resource
 * scope and is ignored. Query-restricted scopes (`?category=`) are refused: the gateway does not
 * enforce them, and granting one as if unrestricted would widen access.
 */
export function parseScope(text: string): Scope | undefined {
  const m = SCOPE.exec(text);
  if (!m || m[4]) return undefined;
  const perms = m[3] === 'read' ? 'rs' : m[3] === 'write' ? 'cud' : m[3] === '*' ? 'cruds' : m[3];
  if (!/^c?r?u?d?s?$/.test(perms) || perms === '') return undefined;
  return { context: m[1] as Scope['context'], type: m[2], permissions: new Set(perms.split('') as Permission[]) };
}

export function parseScopes(text: string | undefined): Scope[] {
  return (text ?? '').split(/\s+/).filter(Boolean).flatMap((s) => parseScope(s) ?? []);
}

export function formatScope(s: Scope): string {
  return `${s.context}/${s.type}.${['c', 'r', 'u', 'd', 's'].filter((p) => s.permissions.has(p as Permission)).join('')}`;
}

/** Whether any scope grants this permission on this type. */
export function scopeAllows(scopes: readonly Scope[], type: string, permission: Permission): boolean {
  return scopes.some((s) => (s.type === '*' || s.type === type) && s.permissions.has(permission));
}

/**
 * The scopes a client gets: those it asked for, cut down to those registered for it (a request for
 * `system/*.cruds` by a client registered for `system/Encounter.rs` gets `system/Encounter.rs`).
 * Asking for nothing gets everything registered.
 */
export function grantScopes(requested: Scope[], registered: Scope[]): Scope[] {
  if (requested.length === 0) return registered;
  const out: Scope[] = [];
  for (const want of requested) {
    for (const have of registered) {
      if (have.context !== want.context) continue;
      const type = have.type === '*' ? want.type : want.type === '*' ? have.type : have.type === want.type ? have.type : undefined;
      if (!type) continue;
      const permissions = new Set([...want.permissions].filter((p) => have.permissions.has(p)));
      if (permissions.size > 0) out.push({ context: want.context, type, permissions });
    }
  }
  return out;
}

/** What a role may be registered for when the administrator names no scopes. */
export const DEFAULT_SCOPES: Record<Role, string> = {
  hospital: 'system/*.cruds',
  citizen: 'patient/*.rs',
  auditor: 'system/AuditEvent.rs',
  admin: 'system/Organization.cruds',
};
