/** Tenants: the unit of isolation. Every event, key and user belongs to one. */
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';

export interface Tenant {
  id: string;
  name: string;
  created_at: string;
}

export async function createTenant(sql: Sql, name: string): Promise<Tenant> {
  const trimmed = name.trim();
  if (!trimmed || trimmed.length > 200) throw new AuditError('invalid_request', 'A tenant name has 1 to 200 characters');
  try {
    return await sql.begin(async (tx) => {
      const [tenant] = await tx`insert into oms_audit.tenants (name) values (${trimmed}) returning id, name, created_at`;
      await tx`insert into oms_audit.tenant_sequences (tenant_id) values (${tenant!.id as string})`;
      return tenant as unknown as Tenant;
    });
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw new AuditError('invalid_request', `A tenant named "${trimmed}" exists already`);
    throw err;
  }
}

export async function getTenant(sql: Sql, id: string): Promise<Tenant | null> {
  const [row] = await sql`select id, name, created_at from oms_audit.tenants where id = ${id}`;
  return (row as unknown as Tenant) ?? null;
}

export async function findTenantByName(sql: Sql, name: string): Promise<Tenant | null> {
  const [row] = await sql`select id, name, created_at from oms_audit.tenants where lower(name) = lower(${name})`;
  return (row as unknown as Tenant) ?? null;
}

export async function listTenants(sql: Sql): Promise<Tenant[]> {
  return (await sql`select id, name, created_at from oms_audit.tenants order by created_at`) as unknown as Tenant[];
}
