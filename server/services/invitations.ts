/**
 * Invitations: the only way a person joins a tenant. An admin (or an operator
 * with the CLI) invites an email with a role; the invitation's one-time link
 * (72 hours; only its SHA-256 is stored; shown once, and mailed when SMTP is
 * configured) lets the invitee
 *   - choose their own password, when the email has no account yet, or
 *   - join with the account they already have, by proving they own it: signed
 *     in as that email, or entering its password.
 * No admin sets or learns another person's password, and an invitation from
 * one tenant never changes an account another tenant relies on.
 *
 * Creating an invitation answers the same whether or not the email has an
 * account anywhere (only membership of the inviting tenant is checked, which
 * its admins see anyway).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import type { ObservedClient } from '@/supabase/functions/_shared/ingest.ts';
import type { TenantRole } from '@/server/auth/caller.ts';
import { hashPassword } from '@/server/auth/passwords.ts';
import { env } from '@/server/env.ts';
import { personSql } from './people.ts';
import { CONSOLE_EVENT_TYPES, recordUserAction } from './console-audit.ts';
import { sendMail } from './mail.ts';
import { limitPasswordAttempts, recordFailedPassword, recordSignIn, WRONG_CREDENTIALS } from './sign-in.ts';
import { startSession, type StartedSession } from './sessions.ts';
import { addMembership, authenticate, createAccount, getUser, isMemberByEmail, normalizeEmail, parseRole, requireGoodPassword, type ConsoleUser } from './users.ts';

export const INVITATION_HOURS = 72;
const TOKEN_PREFIX = 'omsi_';

export type InvitationStatus = 'pending' | 'expired' | 'accepted' | 'revoked';

export interface Invitation {
  id: string;
  email: string;
  role: TenantRole;
  status: InvitationStatus;
  created_at: string;
  created_by: string;
  expires_at: string;
  accepted_at: string | null;
  revoked_at: string | null;
}

export interface CreatedInvitation {
  invitation: Invitation;
  /** The secret, shown once: `/invitation#<token>` on the console opens it. */
  token: string;
  path: string;
  mailed: boolean;
}

const tokenHash = (token: string) => createHash('sha256').update(token).digest();

/** Where the invitee opens it: the token is in the fragment, which browsers send to no server and no Referer. */
export function invitationPath(token: string): string {
  return `/invitation#${token}`;
}

const SELECT = (sql: Sql) => sql`
  id, email, role, created_at, ${sql.unsafe(personSql('invitations.created_by'))} as created_by, expires_at, accepted_at, revoked_at,
  case when accepted_at is not null then 'accepted' when revoked_at is not null then 'revoked' when expires_at <= now() then 'expired' else 'pending' end as status`;

export async function createInvitation(sql: Sql, input: { tenantId: string; email: string; role: string; createdBy: string }): Promise<CreatedInvitation> {
  const email = normalizeEmail(input.email);
  const role = parseRole(input.role);
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const invitation = await sql.begin(async (tx) => {
    const t = tx as unknown as Sql;
    await tx`select pg_advisory_xact_lock(hashtext('oms_audit.memberships'), hashtext(${input.tenantId}))`;
    if (await isMemberByEmail(t, input.tenantId, email)) {
      throw new AuditError('invalid_request', `${email} is a member of this tenant already; change their role instead`, [{ field: 'email', message: 'is a member already' }]);
    }
    // One live link per email and tenant: a new invitation replaces the earlier ones.
    await tx`
      update oms_audit.invitations set revoked_at = now(), revoked_by = ${input.createdBy}
      where tenant_id = ${input.tenantId} and email = ${email} and accepted_at is null and revoked_at is null`;
    try {
      const [row] = await tx`
        insert into oms_audit.invitations (tenant_id, email, role, token_hash, created_by, expires_at)
        values (${input.tenantId}, ${email}, ${role}, ${tokenHash(token)}, ${input.createdBy}, now() + make_interval(hours => ${INVITATION_HOURS}))
        returning ${SELECT(t)}`;
      return row as unknown as Invitation;
    } catch (err) {
      if ((err as { code?: string }).code === '23503') throw new AuditError('not_found', `No tenant ${input.tenantId}`);
      throw err;
    }
  });
  const [tenant] = await sql`select name from oms_audit.tenants where id = ${input.tenantId}`;
  const base = env().PUBLIC_URL;
  const mailed = base
    ? await sendMail({
        to: email,
        subject: `You are invited to ${tenant!.name as string} on oms-audit`,
        text: [
          `You are invited to the audit trail of ${tenant!.name as string} as ${role}.`,
          '',
          `Open this link within ${INVITATION_HOURS} hours to choose your password, or to join with the oms-audit account you already have:`,
          '',
          new URL(invitationPath(token), base).toString(),
          '',
          'If you did not expect this invitation, ignore this mail: nothing happens unless the link is opened and accepted.',
        ].join('\n'),
      })
    : false;
  return { invitation, token, path: invitationPath(token), mailed };
}

export async function listInvitations(sql: Sql, tenantId: string): Promise<Invitation[]> {
  return (await sql`
    select ${SELECT(sql)} from oms_audit.invitations
    where tenant_id = ${tenantId} and (accepted_at is null or accepted_at > now() - interval '30 days')
    order by created_at desc limit 500`) as unknown as Invitation[];
}

export async function revokeInvitation(sql: Sql, input: { tenantId: string; id: string; revokedBy: string }): Promise<Invitation> {
  const [row] = await sql`
    update oms_audit.invitations set revoked_at = now(), revoked_by = ${input.revokedBy}
    where id = ${input.id} and tenant_id = ${input.tenantId} and accepted_at is null and revoked_at is null
    returning ${SELECT(sql)}`;
  if (row) return row as unknown as Invitation;
  const [existing] = await sql`select ${SELECT(sql)} from oms_audit.invitations where id = ${input.id} and tenant_id = ${input.tenantId}`;
  if (!existing) throw new AuditError('not_found', `No invitation ${input.id} in this tenant`);
  throw new AuditError('invalid_request', `This invitation is ${existing.status as string} already`);
}

interface LiveInvitation {
  id: string;
  tenant_id: string;
  tenant_name: string;
  email: string;
  role: TenantRole;
  expires_at: string;
}

/** The invitation a link names, or why it can no longer be used. */
async function liveInvitation(sql: Sql, token: string, lock = false): Promise<LiveInvitation> {
  if (!token.startsWith(TOKEN_PREFIX) || token.length > 100) throw new AuditError('not_found', 'This invitation link is not valid: check that you copied all of it');
  const [row] = lock
    ? await sql`
        select i.id, i.tenant_id, t.name as tenant_name, i.email, i.role, i.expires_at, i.expires_at <= now() as expired, i.accepted_at, i.revoked_at
        from oms_audit.invitations i join oms_audit.tenants t on t.id = i.tenant_id where i.token_hash = ${tokenHash(token)} for update of i`
    : await sql`
        select i.id, i.tenant_id, t.name as tenant_name, i.email, i.role, i.expires_at, i.expires_at <= now() as expired, i.accepted_at, i.revoked_at
        from oms_audit.invitations i join oms_audit.tenants t on t.id = i.tenant_id where i.token_hash = ${tokenHash(token)}`;
  if (!row) throw new AuditError('not_found', 'This invitation link is not valid: check that you copied all of it');
  const ask = `ask an admin of ${row.tenant_name as string} for a new invitation`;
  if (row.accepted_at) throw new AuditError('not_found', `This invitation has been used already; ${ask} if you need one`);
  if (row.revoked_at) throw new AuditError('not_found', `This invitation was withdrawn; ${ask}`);
  if (row.expired) throw new AuditError('not_found', `This invitation expired; ${ask}`);
  return row as unknown as LiveInvitation;
}

/** What the invitation page shows before the invitee acts. */
export async function inspectInvitation(sql: Sql, token: string): Promise<{ email: string; role: TenantRole; tenant_name: string; expires_at: string }> {
  const { email, role, tenant_name, expires_at } = await liveInvitation(sql, token);
  return { email, role, tenant_name, expires_at };
}

export type Acceptance =
  /** Signed in as the invited email: proof enough. */
  | { as: 'signed_in'; user: { id: string; email: string } }
  /** The invited email's existing account, with its password. */
  | { as: 'existing_account'; password: string }
  /** No account yet for the invited email: the invitee's own new password. */
  | { as: 'new_account'; password: string };

export interface Accepted {
  user: ConsoleUser;
  tenantId: string;
  tenantName: string;
  role: TenantRole;
  /** A new sign-in when the invitee proved themselves with a password. */
  session: StartedSession | null;
}

/** Accepts an invitation, once: the row is locked, so two uses of one link cannot both succeed. */
export async function acceptInvitation(sql: Sql, token: string, how: Acceptance, observed: ObservedClient): Promise<Accepted> {
  const seen = await liveInvitation(sql, token);
  let userId: string;
  let newHash: string | null = null;
  if (how.as === 'signed_in') {
    if (how.user.email !== seen.email) throw new AuditError('forbidden', `This invitation is for ${seen.email}, and you are signed in as ${how.user.email}: sign out first, then open the link again`);
    userId = how.user.id;
  } else if (how.as === 'existing_account') {
    limitPasswordAttempts(seen.email, observed);
    const user = await authenticate(sql, seen.email, how.password);
    if (!user) {
      recordFailedPassword(sql, seen.email, observed, 'invitation');
      throw new AuditError('unauthorized', WRONG_CREDENTIALS);
    }
    userId = user.id;
  } else {
    requireGoodPassword(how.password);
    newHash = await hashPassword(how.password);
    userId = '';
  }
  const accepted = await sql.begin(async (tx) => {
    const t = tx as unknown as Sql;
    const invitation = await liveInvitation(t, token, true);
    await tx`select pg_advisory_xact_lock(hashtext('oms_audit.memberships'), hashtext(${invitation.tenant_id}))`;
    if (newHash) {
      const created = await createAccount(t, { email: invitation.email, passwordHash: newHash, createdBy: `invitation:${invitation.id}` });
      // The email has an account: only its owner's password (or session) may join it to this tenant.
      if (!created) throw new AuditError('invalid_request', `${invitation.email} has an oms-audit account already: accept with its password, or sign in first`, [{ field: 'password', message: 'use the existing account' }]);
      userId = created;
    }
    await addMembership(t, { tenantId: invitation.tenant_id, userId, role: invitation.role, createdBy: `invitation:${invitation.id}` });
    await tx`update oms_audit.invitations set accepted_at = now(), accepted_by = ${userId} where id = ${invitation.id}`;
    return invitation;
  });
  const user = (await getUser(sql, userId))!;
  await recordUserAction(sql, user, accepted.tenant_id, { eventType: CONSOLE_EVENT_TYPES.invitation, objectType: 'INVITATION', objectId: accepted.id, context: { action: 'accepted', role: accepted.role, as: how.as } }, observed);
  const session = how.as === 'signed_in' ? null : await startSession(sql, user, observed, 'invitation');
  if (session) await recordSignIn(sql, user, observed, 'invitation');
  return { user, tenantId: accepted.tenant_id, tenantName: accepted.tenant_name, role: accepted.role, session };
}
