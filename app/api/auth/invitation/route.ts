/**
 * POST /api/auth/invitation {token} — what an invitation link offers (tenant,
 * role, email, expiry), or why it can no longer be used. POST keeps the
 * secret out of URLs and logs.
 */
import { z } from 'zod';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { requireSameOrigin } from '@/server/auth/session.ts';
import { db } from '@/server/db/client.ts';
import { json, readJsonBody, route } from '@/server/http/rest.ts';
import { inspectInvitation } from '@/server/services/invitations.ts';

export const dynamic = 'force-dynamic';

export const POST = route(async (req) => {
  requireSameOrigin(req);
  const parsed = z.object({ token: z.string().max(200) }).safeParse(await readJsonBody(req, 4096));
  if (!parsed.success) throw new AuditError('invalid_request', 'Send the invitation token', [{ field: 'token', message: 'required' }]);
  return json(await inspectInvitation(db(), parsed.data.token));
});
