/**
 * Who is calling, as every transport resolves it: an app's API key, a console
 * user (sign-in), or nobody. Permissions derive from the key's scopes or the
 * user's role in the active tenant; procedures and routes declare the one they need.
 */
import type { ApiKeyScope } from '@/supabase/functions/_shared/api-keys.ts';
import { principalOf, writerOf, type ApiKeyCaller } from '@/supabase/functions/_shared/credentials.ts';
import type { TenantClaims } from '@/supabase/functions/_shared/db.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';

/** Shared with the edge function: whom a caller is (rate limits, claims) and the writer its events record. */
export { principalOf, writerOf };

export const PERMISSIONS = [
  'events:write',
  'events:read',
  'events:export',
  'integrity:verify',
  'keys:manage',
  'users:manage',
  'retention:view',
  'retention:manage',
  'system:view',
  'streams:manage',
  'clock:manage',
  'related-keys:manage',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const TENANT_ROLES = ['viewer', 'auditor', 'admin'] as const;
export type TenantRole = (typeof TENANT_ROLES)[number];

const ROLE_PERMISSIONS: Record<TenantRole, Permission[]> = {
  viewer: ['events:read'],
  auditor: ['events:read', 'events:export', 'integrity:verify', 'retention:view'],
  admin: ['events:read', 'events:export', 'integrity:verify', 'keys:manage', 'users:manage', 'retention:view', 'retention:manage', 'system:view', 'streams:manage', 'clock:manage', 'related-keys:manage'],
};

const SCOPE_PERMISSIONS: Record<ApiKeyScope, Permission[]> = {
  'events:write': ['events:write'],
  // Reading includes exporting what one can read, and where it is kept (retention's own records are events of the tenant too).
  'events:read': ['events:read', 'events:export', 'retention:view'],
};

export interface Membership {
  tenantId: string;
  tenantName: string;
  role: TenantRole;
}

/** The server's callers: the shared kinds it accepts (no service-role tokens here) plus console users. */
export type Caller =
  | { kind: 'anonymous' }
  | ApiKeyCaller
  | {
      kind: 'user';
      userId: string;
      email: string;
      memberships: Membership[];
      /** The tenant the user is working in (chosen in the console header). */
      tenantId: string | null;
      /** The server-side session of a sign-in to this server (absent for an external issuer's token). */
      sessionId?: string;
    };

export function activeRole(caller: Caller): TenantRole | null {
  if (caller.kind !== 'user' || !caller.tenantId) return null;
  return caller.memberships.find((m) => m.tenantId === caller.tenantId)?.role ?? null;
}

// An API key's permissions, worked out once per cached key record (its scopes array), not on every request.
const keyPermissions = new WeakMap<readonly string[], ReadonlySet<Permission>>();

export function permissionsOf(caller: Caller): ReadonlySet<Permission> {
  if (caller.kind === 'api_key') {
    let permissions = keyPermissions.get(caller.scopes);
    if (!permissions) keyPermissions.set(caller.scopes, (permissions = new Set(caller.scopes.flatMap((s) => SCOPE_PERMISSIONS[s] ?? []))));
    return permissions;
  }
  const role = activeRole(caller);
  return new Set(role ? ROLE_PERMISSIONS[role] : []);
}

/**
 * Whether the caller may see personal data opened (docs/personal-data.md, "Roles"): console
 * auditors and admins, and API keys (the applications that wrote it). Console viewers see it
 * masked, and may not ask for it opened.
 */
export function seesPersonalData(caller: Caller): boolean {
  if (caller.kind === 'api_key') return true;
  const role = activeRole(caller);
  return role === 'auditor' || role === 'admin';
}

export function tenantIdOf(caller: Caller): string | null {
  return caller.kind === 'anonymous' ? null : caller.tenantId;
}

/** 401 without a credential, 403 without the permission in the active tenant. */
export function requirePermission(caller: Caller, permission: Permission): { tenantId: string } {
  if (caller.kind === 'anonymous') {
    throw new AuditError('unauthorized', 'Authentication required: send Authorization: Bearer <API key>, or sign in');
  }
  const tenantId = tenantIdOf(caller);
  if (!tenantId) throw new AuditError('forbidden', 'Choose a tenant first');
  if (!permissionsOf(caller).has(permission)) {
    throw new AuditError('forbidden', `This credential lacks the permission ${permission}`);
  }
  return { tenantId };
}

/** The claims a tenant-scoped transaction runs under (row-level security reads tenant_id). */
export function claimsOf(caller: Caller): TenantClaims {
  const tenantId = tenantIdOf(caller);
  if (!tenantId) throw new AuditError('forbidden', 'No tenant for this credential');
  return {
    tenant_id: tenantId,
    sub: principalOf(caller),
    role: 'authenticated',
    ...(caller.kind === 'user' ? { tenant_role: activeRole(caller) ?? undefined } : {}),
    ...(caller.kind === 'api_key' ? { scopes: caller.scopes } : {}),
  };
}
