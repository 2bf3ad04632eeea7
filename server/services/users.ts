/**
 * Console accounts and their membership of tenants. An account belongs to a
 * person, not to a tenant: no tenant admin creates one or sets its password
 * (people join by invitation, server/services/invitations.ts). Memberships are
 * read from here on every request, so a role change, a disabled member or a
 * removal takes effect at once, whatever a token issued earlier says.
 */
import { personSql } from './people.ts';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { TENANT_ROLES, type Membership, type TenantRole } from '@/server/auth/caller.ts';
import { hashPassword, needsRehash, passwordProblem, verifyPassword } from '@/server/auth/passwords.ts';

export interface ConsoleUser {
  id: string;
  email: string;
  disabled: boolean;
  /** The tenants the user may act in now (memberships disabled by an admin are left out). */
  memberships: Membership[];
}

export interface TenantMember {
  user_id: string;
  email: string;
  role: TenantRole;
  created_at: string;
  created_by: string | null;
  disabled_at: string | null;
  disabled_by: string | null;
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

export function requireGoodPassword(password: string, field = 'password'): void {
  const problem = passwordProblem(password);
  if (problem) throw new AuditError('invalid_request', `Password ${problem}`, [{ field, message: problem }]);
}

async function membershipsOf(sql: Sql, userId: string): Promise<Membership[]> {
  const rows = await sql`
    select m.tenant_id, t.name as tenant_name, m.role
    from oms_audit.tenant_memberships m join oms_audit.tenants t on t.id = m.tenant_id
    where m.user_id = ${userId} and m.disabled_at is null
    order by lower(t.name)`;
  return rows.map((r) => ({ tenantId: r.tenant_id as string, tenantName: r.tenant_name as string, role: r.role as TenantRole }));
}

export async function getUser(sql: Sql, id: string): Promise<ConsoleUser | null> {
  const [row] = await sql`select id, email, disabled_at is not null as disabled from oms_audit.users where id = ${id}`;
  if (!row) return null;
  return { id: row.id as string, email: row.email as string, disabled: row.disabled as boolean, memberships: await membershipsOf(sql, id) };
}

/**
 * The user for an email and password, or null (unknown email, wrong password,
 * disabled): the same password work either way. A hash made with older
 * parameters is replaced by one with today's once the password is known good.
 */
export async function authenticate(sql: Sql, email: string, password: string): Promise<ConsoleUser | null> {
  const [row] = await sql`select id, password_hash, disabled_at is not null as disabled from oms_audit.users where email = ${email.trim().toLowerCase()}`;
  const stored = (row?.password_hash as string | null | undefined) ?? null;
  const ok = await verifyPassword(password, stored);
  if (!row || !ok || row.disabled) return null;
  if (needsRehash(stored!)) {
    await sql`update oms_audit.users set password_hash = ${await hashPassword(password)} where id = ${row.id as string} and password_hash = ${stored}`;
  }
  return getUser(sql, row.id as string);
}

/** Which user an email belongs to (for recording failed sign-ins in that user's tenants). */
export async function findUserByEmail(sql: Sql, email: string): Promise<ConsoleUser | null> {
  const [row] = await sql`select id from oms_audit.users where email = ${email.trim().toLowerCase()}`;
  return row ? getUser(sql, row.id as string) : null;
}

/**
 * A new account with the password its owner chose; null when the email has
 * one already (it is never joined, and its password never changed, here).
 */
export async function createAccount(sql: Sql, input: { email: string; passwordHash: string; createdBy: string }): Promise<string | null> {
  const [row] = await sql`
    insert into oms_audit.users (email, password_hash, created_by) values (${normalizeEmail(input.email)}, ${input.passwordHash}, ${input.createdBy})
    on conflict (email) do nothing returning id`;
  return (row?.id as string | undefined) ?? null;
}

/** Gives a user a role in a tenant; false when they are a member already. */
export async function addMembership(sql: Sql, input: { tenantId: string; userId: string; role: TenantRole; createdBy: string }): Promise<boolean> {
  const [member] = await sql`
    insert into oms_audit.tenant_memberships (tenant_id, user_id, role, created_by)
    values (${input.tenantId}, ${input.userId}, ${input.role}, ${input.createdBy})
    on conflict (tenant_id, user_id) do nothing returning user_id`;
  return Boolean(member);
}

/** Whether an email is a member of this tenant (what its admins see in their list anyway). */
export async function isMemberByEmail(sql: Sql, tenantId: string, email: string): Promise<boolean> {
  const [row] = await sql`
    select 1 from oms_audit.tenant_memberships m join oms_audit.users u on u.id = m.user_id
    where m.tenant_id = ${tenantId} and u.email = ${email}`;
  return Boolean(row);
}

/** Sets the user's own password: the current one is required. */
export async function changePassword(sql: Sql, input: { userId: string; current: string; next: string }): Promise<void> {
  requireGoodPassword(input.next, 'new_password');
  const [row] = await sql`select password_hash from oms_audit.users where id = ${input.userId}`;
  const stored = (row?.password_hash as string | null | undefined) ?? null;
  if (!(await verifyPassword(input.current, stored))) {
    throw new AuditError('forbidden', 'The current password is wrong', [{ field: 'current_password', message: 'is wrong' }]);
  }
  await sql`update oms_audit.users set password_hash = ${await hashPassword(input.next)} where id = ${input.userId}`;
}

export async function listMembers(sql: Sql, tenantId: string): Promise<TenantMember[]> {
  return (await sql`
    select u.id as user_id, u.email, m.role, m.created_at, ${sql.unsafe(personSql('m.created_by'))} as created_by, m.disabled_at, ${sql.unsafe(personSql('m.disabled_by'))} as disabled_by
    from oms_audit.tenant_memberships m join oms_audit.users u on u.id = m.user_id
    where m.tenant_id = ${tenantId}
    order by u.email`) as unknown as TenantMember[];
}

/**
 * A tenant keeps at least one enabled admin: the last one cannot be demoted,
 * disabled or removed. Runs under the tenant's membership lock.
 */
async function refuseLastAdmin(sql: Sql, tenantId: string, userId: string): Promise<void> {
  const [row] = await sql`
    select count(*) filter (where m.role = 'admin' and m.disabled_at is null and u.disabled_at is null and m.user_id <> ${userId})::int as other_admins,
           bool_or(m.user_id = ${userId} and m.role = 'admin' and m.disabled_at is null) as is_admin
    from oms_audit.tenant_memberships m join oms_audit.users u on u.id = m.user_id
    where m.tenant_id = ${tenantId}`;
  if (row?.is_admin && (row.other_admins as number) === 0) throw new AuditError('invalid_request', 'A tenant needs at least one admin: make someone else admin first');
}

/** Changes to one member of one tenant: serialized per tenant, so two admins cannot demote each other at once. */
function withMembershipLock<T>(sql: Sql, tenantId: string, work: (tx: Sql) => Promise<T>): Promise<T> {
  return sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext('oms_audit.memberships'), hashtext(${tenantId}))`;
    return work(tx as unknown as Sql);
  }) as Promise<T>;
}

function noMember(userId: string): AuditError {
  return new AuditError('not_found', `No member ${userId} in this tenant`);
}

export function setMemberRole(sql: Sql, input: { tenantId: string; userId: string; role: string }): Promise<TenantMember> {
  const role = parseRole(input.role);
  return withMembershipLock(sql, input.tenantId, async (tx) => {
    if (role !== 'admin') await refuseLastAdmin(tx, input.tenantId, input.userId);
    const [row] = await tx`
      update oms_audit.tenant_memberships set role = ${role}
      where tenant_id = ${input.tenantId} and user_id = ${input.userId} returning user_id`;
    if (!row) throw noMember(input.userId);
    return (await listMembers(tx, input.tenantId)).find((m) => m.user_id === input.userId)!;
  });
}

/**
 * Disables (or re-enables) a member in this tenant only: from the next request
 * on, their sessions no longer reach this tenant; their account and other tenants are untouched.
 */
export function setMemberDisabled(sql: Sql, input: { tenantId: string; userId: string; disabled: boolean; by: string }): Promise<TenantMember> {
  return withMembershipLock(sql, input.tenantId, async (tx) => {
    if (input.disabled) await refuseLastAdmin(tx, input.tenantId, input.userId);
    const [row] = input.disabled
      ? await tx`
          update oms_audit.tenant_memberships set disabled_at = coalesce(disabled_at, now()), disabled_by = coalesce(disabled_by, ${input.by})
          where tenant_id = ${input.tenantId} and user_id = ${input.userId} returning user_id`
      : await tx`
          update oms_audit.tenant_memberships set disabled_at = null, disabled_by = null
          where tenant_id = ${input.tenantId} and user_id = ${input.userId} returning user_id`;
    if (!row) throw noMember(input.userId);
    return (await listMembers(tx, input.tenantId)).find((m) => m.user_id === input.userId)!;
  });
}

export async function removeMember(sql: Sql, input: { tenantId: string; userId: string }): Promise<void> {
  await withMembershipLock(sql, input.tenantId, async (tx) => {
    await refuseLastAdmin(tx, input.tenantId, input.userId);
    const [row] = await tx`delete from oms_audit.tenant_memberships where tenant_id = ${input.tenantId} and user_id = ${input.userId} returning user_id`;
    if (!row) throw noMember(input.userId);
  });
}
