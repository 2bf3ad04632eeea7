/** What a signed-in person does to their own account: change the password (other sessions end), see and end their sessions. */
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import type { ObservedClient } from '@/supabase/functions/_shared/ingest.ts';
import { revokeUserSessions } from './sessions.ts';
import { limitPasswordAttempts } from './sign-in.ts';
import { changePassword } from './users.ts';

/** Needs the current password (rate-limited like sign-in); every other session of the user ends. */
export async function changeOwnPassword(
  sql: Sql,
  input: { userId: string; email: string; sessionId: string; current: string; next: string },
  observed: ObservedClient,
): Promise<{ ended_sessions: number }> {
  limitPasswordAttempts(input.email, observed);
  await changePassword(sql, { userId: input.userId, current: input.current, next: input.next });
  return { ended_sessions: await revokeUserSessions(sql, { userId: input.userId, except: input.sessionId, reason: 'password changed' }) };
}
