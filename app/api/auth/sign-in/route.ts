/** POST /api/auth/sign-in {email, password} — sets the session cookies. */
import { z } from 'zod';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { observedClient } from '@/server/auth/credentials.ts';
import { requireSameOrigin, sessionCookies } from '@/server/auth/session.ts';
import { db } from '@/server/db/client.ts';
import { json, readJsonBody, route } from '@/server/http/rest.ts';
import { signIn } from '@/server/services/sign-in.ts';

export const dynamic = 'force-dynamic';

const body = z.object({ email: z.string().min(1).max(320), password: z.string().min(1).max(1024) });

export const POST = route(async (req) => {
  requireSameOrigin(req);
  const parsed = body.safeParse(await readJsonBody(req, 16 * 1024));
  if (!parsed.success) throw new AuditError('invalid_request', 'Enter your email and password', [{ field: 'email', message: 'required' }]);
  const session = await signIn(db(), parsed.data, observedClient(req.headers));
  const headers = new Headers();
  for (const c of sessionCookies(req, session.token, session.sessionId, session.expiresAt)) headers.append('set-cookie', c);
  return json(
    {
      user: { id: session.user.id, email: session.user.email },
      tenants: session.user.memberships.map((m) => ({ id: m.tenantId, name: m.tenantName, role: m.role })),
      expires_at: session.expiresAt.toISOString(),
      // For API clients; the console keeps it in an httpOnly cookie.
      access_token: session.token,
      token_type: 'bearer',
    },
    { headers },
  );
});
