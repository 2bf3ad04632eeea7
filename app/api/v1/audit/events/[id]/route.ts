/** GET /api/v1/audit/events/:id — one event of the caller's tenant. */
import { uuid } from '@/supabase/functions/_shared/contract.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { claimsOf } from '@/server/auth/caller.ts';
import { readDb } from '@/server/db/client.ts';
import { authorize, chargeRate, json, route } from '@/server/http/rest.ts';
import { getEvent } from '@/server/services/query.ts';

export const dynamic = 'force-dynamic';

export const GET = route(async (req, { params }: { params: Promise<{ id: string }> }) => {
  const caller = await authorize(req, 'events:read');
  chargeRate(caller, 'read');
  const { id } = await params;
  const parsed = uuid.safeParse(id);
  if (!parsed.success) throw new AuditError('invalid_request', 'The event id must be a UUID', [{ field: 'id', message: 'must be a UUID' }]);
  const event = await getEvent(await readDb(), claimsOf(caller), parsed.data);
  if (!event) throw new AuditError('not_found', `No event ${parsed.data}`);
  return json(event);
});
