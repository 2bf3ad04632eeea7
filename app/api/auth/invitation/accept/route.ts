/**
 * POST /api/auth/invitation/accept {token, as, password?} — joins the
 * invitation's tenant:
 *   as "new_account": the invitee's own new password (the email has no account yet);
 *   as "existing_account": the password of the email's existing account;
 *   as "signed_in": the console session of that email (with its CSRF token).
 * The first two also sign the person in (session cookies); all switch the
 * console to the tenant just joined.
 */
import { z } from 'zod';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { checkCsrf, observedClient, resolveCredential } from '@/server/auth/credentials.ts';
import { requireSameOrigin, sessionCookies, tenantCookie } from '@/server/auth/session.ts';
import { db } from '@/server/db/client.ts';
import { json, readJsonBody, route } from '@/server/http/rest.ts';
import { acceptInvitation, type Acceptance } from '@/server/services/invitations.ts';

export const dynamic = 'force-dynamic';

const body = z.object({
  token: z.string().max(200),
  as: z.enum(['new_account', 'existing_account', 'signed_in']),
  password: z.string().max(1024).optional(),
});

export const POST = route(async (req) => {
  requireSameOrigin(req);
  const parsed = body.safeParse(await readJsonBody(req, 16 * 1024));
  if (!parsed.success) throw new AuditError('invalid_request', 'Send the invitation token and how you accept it', [{ field: parsed.error.issues[0]?.path.join('.') || 'body', message: 'required' }]);
  const { token, as, password } = parsed.data;
  let how: Acceptance;
  if (as === 'signed_in') {
    const credential = await resolveCredential(req.headers);
    const caller = credential.caller;
    if (caller.kind !== 'user' || !caller.sessionId) throw new AuditError('unauthorized', 'Sign in first, or accept with a password');
    checkCsrf(req.method, req.headers, credential);
    how = { as, user: { id: caller.userId, email: caller.email } };
  } else {
    if (!password) throw new AuditError('invalid_request', 'Enter a password', [{ field: 'password', message: 'required' }]);
    how = { as, password };
  }
  const accepted = await acceptInvitation(db(), token, how, observedClient(req.headers));
  const headers = new Headers();
  if (accepted.session) for (const c of sessionCookies(req, accepted.session.token, accepted.session.sessionId, accepted.session.expiresAt)) headers.append('set-cookie', c);
  headers.append('set-cookie', tenantCookie(req, accepted.tenantId));
  return json(
    {
      user: { id: accepted.user.id, email: accepted.user.email },
      tenant: { id: accepted.tenantId, name: accepted.tenantName, role: accepted.role },
      signed_in: Boolean(accepted.session),
    },
    { headers },
  );
});
