/**
 * Local sign-in: email + password → a recorded session and its
 * Supabase-compatible JWT for the session cookie. Every attempt on a known
 * email is recorded as AUDIT_SIGN_IN in each of that user's tenants (success
 * or failure); attempts are limited per email and per client address.
 *
 * A refusal answers the same, after the same password work, for an unknown
 * email, a wrong password and a disabled user; the failure is recorded after
 * the answer is decided and without delaying it, so timing does not tell
 * known emails from unknown ones either.
 */
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import type { ObservedClient } from '@/supabase/functions/_shared/ingest.ts';
import { RateLimiter } from '@/server/auth/rate-limit.ts';
import { log } from '@/server/observability/log.ts';
import { CONSOLE_EVENT_TYPES, recordUserAction } from './console-audit.ts';
import { startSession, type StartedSession } from './sessions.ts';
import { authenticate, findUserByEmail, type ConsoleUser } from './users.ts';

const holder = globalThis as typeof globalThis & { __omsAuditSignInLimiter?: RateLimiter; __omsAuditSignInAddressLimiter?: RateLimiter };
/** Per email: 10 attempts at once, then one every 6 seconds (guessing one account's password). */
export const EMAIL_ATTEMPTS = { burst: 10, perSec: 1 / 6 };
/**
 * Per client address: 100 at once, then one every 2 seconds (spraying many accounts
 * from one address), looser than per email because one office behind one NAT address
 * signs many people in every morning.
 */
export const ADDRESS_ATTEMPTS = { burst: 100, perSec: 1 / 2 };
const emailLimiter = () => (holder.__omsAuditSignInLimiter ??= new RateLimiter(EMAIL_ATTEMPTS.perSec, EMAIL_ATTEMPTS.burst));
const addressLimiter = () => (holder.__omsAuditSignInAddressLimiter ??= new RateLimiter(ADDRESS_ATTEMPTS.perSec, ADDRESS_ATTEMPTS.burst));

export const WRONG_CREDENTIALS = 'Wrong email or password';

/** Charges one password attempt to the email (or account) and to the client address. */
export function limitPasswordAttempts(subject: string, observed: ObservedClient): void {
  emailLimiter().take(`email:${subject.trim().toLowerCase()}`);
  if (observed.ip) addressLimiter().take(`ip:${observed.ip}`);
}

/** Records a refused password in each tenant of the email's user, if there is one, after the caller has its answer. */
export function recordFailedPassword(sql: Sql, email: string, observed: ObservedClient, method: string): void {
  setImmediate(() => {
    void (async () => {
      const known = await findUserByEmail(sql, email);
      if (!known) return;
      for (const m of known.memberships) {
        await recordUserAction(sql, known, m.tenantId, { eventType: CONSOLE_EVENT_TYPES.signIn, objectType: 'CONSOLE_USER', objectId: known.email, outcome: 'failure', context: { reason: known.disabled ? 'user disabled' : 'wrong password', method } }, observed);
      }
    })().catch((err: unknown) => log().error({ err: (err as Error)?.message }, 'recording a failed sign-in failed'));
  });
}

export async function recordSignIn(sql: Sql, user: ConsoleUser, observed: ObservedClient, method: string): Promise<void> {
  for (const m of user.memberships) {
    await recordUserAction(sql, user, m.tenantId, { eventType: CONSOLE_EVENT_TYPES.signIn, objectType: 'CONSOLE_USER', objectId: user.email, context: { role: m.role, method } }, observed);
  }
}

export async function signIn(sql: Sql, input: { email: string; password: string }, observed: ObservedClient): Promise<StartedSession> {
  const email = input.email.trim().toLowerCase();
  limitPasswordAttempts(email, observed);
  const user = await authenticate(sql, email, input.password);
  if (!user) {
    recordFailedPassword(sql, email, observed, 'password');
    throw new AuditError('unauthorized', WRONG_CREDENTIALS);
  }
  if (!user.memberships.length) throw new AuditError('forbidden', 'This user has no role in any tenant yet; ask an admin to invite you');
  const session = await startSession(sql, user, observed, 'password');
  await recordSignIn(sql, user, observed, 'password');
  return session;
}
