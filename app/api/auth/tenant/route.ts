/** POST /api/auth/tenant {tenant_id} — switches the console's active tenant (one of the user's). */
import { z } from 'zod';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { checkCsrf, resolveCredential } from '@/server/auth/credentials.ts';
import { tenantCookie } from '@/server/auth/session.ts';
import { json, readJsonBody, route } from '@/server/http/rest.ts';

export const dynamic = 'force-dynamic';

export const POST = route(async (req) => {
  const credential = await resolveCredential(req.headers);
  if (credential.caller.kind !== 'user') throw new AuditError('unauthorized', 'Sign in first');
  checkCsrf(req.method, req.headers, credential);
  const parsed = z.object({ tenant_id: z.string() }).safeParse(await readJsonBody(req, 4096));
  const tenantId = parsed.success ? parsed.data.tenant_id.toLowerCase() : '';
  const membership = credential.caller.memberships.find((m) => m.tenantId === tenantId);
  if (!membership) throw new AuditError('forbidden', 'You are not a member of that tenant');
  return json({ tenant: { id: membership.tenantId, name: membership.tenantName, role: membership.role } }, { headers: { 'set-cookie': tenantCookie(req, tenantId) } });
});
