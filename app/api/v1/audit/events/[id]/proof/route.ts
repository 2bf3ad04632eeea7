/** GET /api/v1/audit/events/:id/proof — the event's inclusion proof in the tenant's signed trail. */
import { uuid } from '@/supabase/functions/_shared/contract.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { claimsOf } from '@/server/auth/caller.ts';
import { db } from '@/server/db/client.ts';
import { authorize, chargeRate, json, route } from '@/server/http/rest.ts';
import { eventProof } from '@/server/services/integrity/proofs.ts';
import { trustedKeys } from '@/server/services/integrity/signing-key.ts';

export const dynamic = 'force-dynamic';

export const GET = route(async (req, { params }: { params: Promise<{ id: string }> }) => {
  const caller = await authorize(req, 'events:read');
  chargeRate(caller, 'read');
  const parsed = uuid.safeParse((await params).id);
  if (!parsed.success) throw new AuditError('invalid_request', 'The event id must be a UUID', [{ field: 'id', message: 'must be a UUID' }]);
  const proof = await eventProof(db(), claimsOf(caller), parsed.data, trustedKeys());
  if (!proof) throw new AuditError('not_found', `No event ${parsed.data}`);
  return json(proof);
});
