/** POST /api/auth/sign-out — clears the session cookies. */
import { clearedSessionCookies, requireSameOrigin } from '@/server/auth/session.ts';
import { json, route } from '@/server/http/rest.ts';

export const dynamic = 'force-dynamic';

export const POST = route(async (req) => {
  requireSameOrigin(req);
  const headers = new Headers();
  for (const c of clearedSessionCookies(req)) headers.append('set-cookie', c);
  return json({ signed_out: true }, { headers });
});
