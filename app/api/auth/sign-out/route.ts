/**
 * POST /api/auth/sign-out — ends the session server-side (its token, cookie or
 * bearer, is refused from now on) and clears the cookies. With
 * `{"everywhere": true}` it ends every session of the user (CSRF token required).
 * A session that has ended already is simply cleared.
 */
import { z } from 'zod';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { checkCsrf, resolveCredential, type ResolvedCredential } from '@/server/auth/credentials.ts';
import { clearedSessionCookies, requireSameOrigin } from '@/server/auth/session.ts';
import { db } from '@/server/db/client.ts';
import { json, readJsonBody, route } from '@/server/http/rest.ts';
import { revokeSession, revokeUserSessions } from '@/server/services/sessions.ts';

export const dynamic = 'force-dynamic';

const body = z.object({ everywhere: z.boolean().optional() }).optional();

export const POST = route(async (req) => {
  requireSameOrigin(req);
  const parsed = body.safeParse(req.headers.get('content-type')?.includes('json') ? await readJsonBody(req, 1024) : undefined);
  const everywhere = parsed.success && parsed.data?.everywhere === true;
  let credential: ResolvedCredential | null = null;
  try {
    credential = await resolveCredential(req.headers);
  } catch (err) {
    // An ended or expired session: nothing left to revoke. "Everywhere" needs a live one.
    if (!(err instanceof AuditError) || everywhere) throw err;
  }
  let ended = 0;
  const caller = credential?.caller;
  if (credential && caller?.kind === 'user' && caller.sessionId) {
    if (everywhere) {
      checkCsrf(req.method, req.headers, credential);
      ended = await revokeUserSessions(db(), { userId: caller.userId, reason: 'signed out everywhere' });
    } else if (await revokeSession(db(), { userId: caller.userId, sessionId: caller.sessionId, reason: 'signed out' })) ended = 1;
  } else if (everywhere) throw new AuditError('unauthorized', 'Sign in first');
  const headers = new Headers();
  for (const c of clearedSessionCookies(req)) headers.append('set-cookie', c);
  return json({ signed_out: true, ended_sessions: ended }, { headers });
});
