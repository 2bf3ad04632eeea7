/**
 * Console sessions, recorded server-side. Each sign-in (password, or accepting
 * an invitation) is a row in oms_audit.console_sessions named by the JWT's
 * `sid` claim; every request checks the row (one primary-key lookup, no cache),
 * so sign-out, "sign out everywhere" and a password change end sessions on
 * the very next request, not when the token expires.
 */
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import type { ObservedClient } from '@/supabase/functions/_shared/ingest.ts';
import { signSessionToken } from '@/server/auth/jwt.ts';
import { newSessionId } from '@/server/auth/session.ts';
import { env } from '@/server/env.ts';
import { getUser, type ConsoleUser } from './users.ts';

export interface StartedSession {
  user: ConsoleUser;
  token: string;
  sessionId: string;
  expiresAt: Date;
}

export interface SessionRow {
  id: string;
  created_at: string;
  expires_at: string;
  ip: string | null;
  user_agent: string | null;
  method: 'password' | 'invitation';
  current: boolean;
}

/** Records a session for the user and signs its token. */
export async function startSession(sql: Sql, user: ConsoleUser, observed: ObservedClient, method: SessionRow['method']): Promise<StartedSession> {
  const sessionId = newSessionId();
  const expiresAt = new Date(Date.now() + env().SESSION_HOURS * 3600_000);
  await sql`
    insert into oms_audit.console_sessions (id, user_id, expires_at, ip, user_agent, method)
    values (${sessionId}, ${user.id}, ${expiresAt.toISOString()}, ${observed.ip}, ${observed.userAgent?.slice(0, 1024) ?? null}, ${method})`;
  const { token } = await signSessionToken({
    userId: user.id,
    email: user.email,
    sessionId,
    tenants: user.memberships.map((m) => ({ tenant_id: m.tenantId, role: m.role })),
    expiresAt,
  });
  return { user, token, sessionId, expiresAt };
}

/** The per-request check: two primary-key lookups (server/services/sessions.test.ts holds its plan). */
export function sessionLookup(sql: Sql, sessionId: string, userId: string) {
  return sql`
    select s.revoked_at is not null as revoked, s.expires_at <= now() as expired, u.disabled_at is not null as disabled
    from oms_audit.console_sessions s join oms_audit.users u on u.id = s.user_id
    where s.id = ${sessionId} and s.user_id = ${userId}`;
}

/**
 * The user of a live session: 401 when the session was revoked, has expired,
 * belongs to someone else, or the user is disabled or gone.
 */
export async function sessionUser(sql: Sql, sessionId: string, userId: string): Promise<ConsoleUser> {
  const [row] = await sessionLookup(sql, sessionId, userId);
  if (!row) throw new AuditError('unauthorized', 'This session is not known; sign in again');
  if (row.revoked) throw new AuditError('unauthorized', 'This session has ended; sign in again');
  if (row.expired) throw new AuditError('unauthorized', 'Your session has expired; sign in again');
  if (row.disabled) throw new AuditError('unauthorized', 'This user is disabled');
  const user = await getUser(sql, userId);
  if (!user) throw new AuditError('unauthorized', 'This user no longer exists; sign in again');
  return user;
}

export async function listSessions(sql: Sql, userId: string, currentId: string | undefined): Promise<SessionRow[]> {
  const rows = await sql`
    select id, created_at, expires_at, host(ip) as ip, user_agent, method
    from oms_audit.console_sessions
    where user_id = ${userId} and revoked_at is null and expires_at > now()
    order by created_at desc limit 100`;
  return rows.map((r) => ({ ...(r as unknown as Omit<SessionRow, 'current'>), current: r.id === currentId }));
}

/** Ends one session of the user (sign-out, or "end this session" from the Account page). */
export async function revokeSession(sql: Sql, input: { userId: string; sessionId: string; reason: string }): Promise<boolean> {
  const rows = await sql`
    update oms_audit.console_sessions set revoked_at = now(), revoked_reason = ${input.reason}
    where id = ${input.sessionId} and user_id = ${input.userId} and revoked_at is null returning id`;
  return rows.length > 0;
}

/** Ends every live session of the user, or all but one (`except`, after a password change). Returns how many. */
export async function revokeUserSessions(sql: Sql, input: { userId: string; reason: string; except?: string }): Promise<number> {
  const rows = await sql`
    update oms_audit.console_sessions set revoked_at = now(), revoked_reason = ${input.reason}
    where user_id = ${input.userId} and revoked_at is null and expires_at > now() and id <> ${input.except ?? ''} returning id`;
  return rows.length;
}
