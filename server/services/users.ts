/**
 * Console users and their role in each tenant. Passwords are scrypt hashes;
 * memberships are read from here on every request, so a role change or a
 * removal takes effect at once, whatever a token issued earlier says.
 */
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { TENANT_ROLES, type Membership, type TenantRole } from '@/server/auth/caller.ts';
import { hashPassword, passwordProblem, verifyPassword } from '@/server/auth/passwords.ts';

export interface ConsoleUser {
  id: string;
  email: string;
  disabled: boolean;
  memberships: Membership[];
}

export interface TenantMember {
  user_id: string;
  email: string;
  role: TenantRole;
  created_at: string;
  created_by: string | null;
}

const EMAIL = /^[^\s@]+@[^\s@]+$/;

export function normalizeEmail(email: string): string {
  const e = email.trim().toLowerCase();
  if (!EMAIL.test(e) || e.length > 320) throw new AuditError('invalid_request', 'Email must be an address like name@example.com', [{ field: 'email', message: 'must be an email address' }]);
  return e;
}

export function parseRole(role: string): TenantRole {
  if (!(TENANT_ROLES as readonly string[]).includes(role)) {
    throw new AuditError('invalid_request', `Role must be one of ${TENANT_ROLES.join(', ')}`, [{ field: 'role', message: `must be one of ${TENANT_ROLES.join(', ')}` }]);
  }
  return role as TenantRole;
}

async function membershipsOf(sql: Sql, userId: string): Promise<Membership[]> {
  const rows = await sql`
    select m.tenant_id, t.name as tenant_name, m.role
    from oms_audit.tenant_memberships m join oms_audit.tenants t on t.id = m.tenant_id
    where m.user_id = ${userId}
    order by lower(t.name)`;
  return rows.map((r) => ({ tenantId: r.tenant_id as string, tenantName: r.tenant_name as string, role: r.role as TenantRole }));
}

export async function getUser(sql: Sql, id: string): Promise<ConsoleUser | null> {
  const [row] = await sql`select id, email, disabled_at is not null as disabled from oms_audit.users where id = ${id}`;
  if (!row) return null;
  return { id: row.id as string, email: row.email as string, disabled: row.disabled as boolean, memberships: await membershipsOf(sql, id) };
}

/** The user for an email and password, or null (unknown email, wrong password, disabled). Constant-time either way. */
export async function authenticate(sql: Sql, email: string, password: string): Promise<ConsoleUser | null> {
  const [row] = await sql`select id, password_hash, disabled_at is not null as disabled from oms_audit.users where email = ${email.trim().toLowerCase()}`;
  const ok = await verifyPassword(password, (row?.password_hash as string | null | undefined) ?? null);
  if (!row || !ok || row.disabled) return null;
  return getUser(sql, row.id as string);
}

/** Which user an email belongs to (for recording failed sign-ins in that user's tenants). */
export async function findUserByEmail(sql: Sql, email: string): Promise<ConsoleUser | null> {
  const [row] = await sql`select id from oms_audit.users where email = ${email.trim().toLowerCase()}`;
  return row ? getUser(sql, row.id as string) : null;
}

/**
 * Creates a user with a role in a tenant, or gives an existing user (same
 * email) a role there. A new user needs a password; an existing user keeps theirs.
 */
export async function createUser(
  sql: Sql,
  input: { email: string; password?: string; tenantId: string; role: string; createdBy: string },
): Promise<{ user: ConsoleUser; created: boolean }> {
  const email = normalizeEmail(input.email);
  const role = parseRole(input.role);
  const [existing] = await sql`select id from oms_audit.users where email = ${email}`;
  let userId = existing?.id as string | undefined;
  if (!userId) {
    const password = input.password ?? '';
    const problem = passwordProblem(password);
    if (problem) throw new AuditError('invalid_request', `Password ${problem}`, [{ field: 'password', message: problem }]);
    const hash = await hashPassword(password);
    const [row] = await sql`
      insert into oms_audit.users (email, password_hash, created_by) values (${email}, ${hash}, ${input.createdBy})
      on conflict (email) do nothing returning id`;
    userId = (row?.id as string | undefined) ?? ((await sql`select id from oms_audit.users where email = ${email}`)[0]!.id as string);
  }
  try {
    const [member] = await sql`
      insert into oms_audit.tenant_memberships (tenant_id, user_id, role, created_by)
      values (${input.tenantId}, ${userId}, ${role}, ${input.createdBy})
      on conflict (tenant_id, user_id) do nothing returning user_id`;
    if (!member && existing) throw new AuditError('invalid_request', `${email} is a member of this tenant already; change their role instead`, [{ field: 'email', message: 'is a member already' }]);
  } catch (err) {
    if ((err as { code?: string }).code === '23503') throw new AuditError('not_found', `No tenant ${input.tenantId}`);
    throw err;
  }
  return { user: (await getUser(sql, userId))!, created: !existing };
}

export async function listMembers(sql: Sql, tenantId: string): Promise<TenantMember[]> {
  return (await sql`
    select u.id as user_id, u.email, m.role, m.created_at, m.created_by
    from oms_audit.tenant_memberships m join oms_audit.users u on u.id = m.user_id
    where m.tenant_id = ${tenantId}
    order by u.email`) as unknown as TenantMember[];
}

/** A tenant keeps at least one admin: the last one cannot be demoted or removed. */
async function refuseLastAdmin(sql: Sql, tenantId: string, userId: string): Promise<void> {
  const [row] = await sql`
    select count(*) filter (where role = 'admin')::int as admins, bool_or(user_id = ${userId} and role = 'admin') as is_admin
    from oms_audit.tenant_memberships where tenant_id = ${tenantId}`;
  if (row?.is_admin && (row.admins as number) <= 1) throw new AuditError('invalid_request', 'A tenant needs at least one admin: make someone else admin first');
}

export async function setMemberRole(sql: Sql, input: { tenantId: string; userId: string; role: string }): Promise<TenantMember> {
  const role = parseRole(input.role);
  return sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext('oms_audit.memberships'), hashtext(${input.tenantId}))`;
    if (role !== 'admin') await refuseLastAdmin(tx as unknown as Sql, input.tenantId, input.userId);
    const [row] = await tx`
      update oms_audit.tenant_memberships set role = ${role}
      where tenant_id = ${input.tenantId} and user_id = ${input.userId} returning user_id`;
    if (!row) throw new AuditError('not_found', `No member ${input.userId} in this tenant`);
    return (await listMembers(tx as unknown as Sql, input.tenantId)).find((m) => m.user_id === input.userId)!;
  }) as Promise<TenantMember>;
}

export async function removeMember(sql: Sql, input: { tenantId: string; userId: string }): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext('oms_audit.memberships'), hashtext(${input.tenantId}))`;
    await refuseLastAdmin(tx as unknown as Sql, input.tenantId, input.userId);
    const [row] = await tx`delete from oms_audit.tenant_memberships where tenant_id = ${input.tenantId} and user_id = ${input.userId} returning user_id`;
    if (!row) throw new AuditError('not_found', `No member ${input.userId} in this tenant`);
  });
}
