/**
 * Local sign-in: email + password → a Supabase-compatible JWT for the
 * session cookie. Every attempt on a known email is recorded as AUDIT_SIGN_IN
 * in each of that user's tenants (success or failure); attempts are limited
 * per email and per client address.
 */
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import type { ObservedClient } from '@/supabase/functions/_shared/ingest.ts';
import { signSessionToken } from '@/server/auth/jwt.ts';
import { RateLimiter } from '@/server/auth/rate-limit.ts';
import { newSessionId } from '@/server/auth/session.ts';
import { CONSOLE_EVENT_TYPES, recordUserAction } from './console-audit.ts';
import { authenticate, findUserByEmail, type ConsoleUser } from './users.ts';

const holder = globalThis as typeof globalThis & { __omsAuditSignInLimiter?: RateLimiter };
// 10 attempts at once, then one every 6 seconds, per email and per address.
const limiter = () => (holder.__omsAuditSignInLimiter ??= new RateLimiter(1 / 6, 10));

export interface SignedIn {
  user: ConsoleUser;
  token: string;
  sessionId: string;
  expiresAt: Date;
}

export async function signIn(sql: Sql, input: { email: string; password: string }, observed: ObservedClient): Promise<SignedIn> {
  const email = input.email.trim().toLowerCase();
  limiter().take(`email:${email}`);
  if (observed.ip) limiter().take(`ip:${observed.ip}`);
  const user = await authenticate(sql, email, input.password);
  if (!user) {
    const known = await findUserByEmail(sql, email);
    if (known) {
      for (const m of known.memberships) {
        await recordUserAction(sql, known, m.tenantId, { eventType: CONSOLE_EVENT_TYPES.signIn, objectType: 'CONSOLE_USER', objectId: known.email, outcome: 'failure', context: { reason: known.disabled ? 'user disabled' : 'wrong password' } }, observed);
      }
    }
    throw new AuditError('unauthorized', 'Wrong email or password');
  }
  if (!user.memberships.length) throw new AuditError('forbidden', 'This user has no role in any tenant yet; ask an admin to add you');
  const sessionId = newSessionId();
  const { token, expiresAt } = await signSessionToken({
    userId: user.id,
    email: user.email,
    sessionId,
    tenants: user.memberships.map((m) => ({ tenant_id: m.tenantId, role: m.role })),
  });
  for (const m of user.memberships) {
    await recordUserAction(sql, user, m.tenantId, { eventType: CONSOLE_EVENT_TYPES.signIn, objectType: 'CONSOLE_USER', objectId: user.email, context: { role: m.role, method: 'password' } }, observed);
  }
  return { user, token, sessionId, expiresAt };
}
