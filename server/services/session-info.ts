/** What the console shows about the caller: user, active tenant, all tenants, permissions. */
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { activeRole, permissionsOf, PERMISSIONS, type Caller, type Permission, type TenantRole } from '@/server/auth/caller.ts';
import { getTenant } from './tenants.ts';

export interface Me {
  kind: 'user' | 'api_key';
  user: { id: string; email: string } | null;
  tenant: { id: string; name: string; role: TenantRole | null } | null;
  tenants: { id: string; name: string; role: TenantRole }[];
  permissions: Permission[];
}

export async function describeCaller(sql: Sql, caller: Caller): Promise<Me> {
  const permissions = PERMISSIONS.filter((p) => permissionsOf(caller).has(p));
  if (caller.kind === 'user') {
    const active = caller.memberships.find((m) => m.tenantId === caller.tenantId);
    return {
      kind: 'user',
      user: { id: caller.userId, email: caller.email },
      tenant: active ? { id: active.tenantId, name: active.tenantName, role: activeRole(caller) } : null,
      tenants: caller.memberships.map((m) => ({ id: m.tenantId, name: m.tenantName, role: m.role })),
      permissions,
    };
  }
  if (caller.kind === 'api_key') {
    const tenant = await getTenant(sql, caller.tenantId);
    return { kind: 'api_key', user: null, tenant: tenant ? { id: tenant.id, name: tenant.name, role: null } : null, tenants: [], permissions };
  }
  throw new Error('describeCaller needs a caller');
}
