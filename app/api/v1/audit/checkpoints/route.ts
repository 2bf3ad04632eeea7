/** GET /api/v1/audit/checkpoints?from_number=&limit= — the tenant's signed checkpoints, oldest first. */
import { invalid, issuesFromZod } from '@/supabase/functions/_shared/errors.ts';
import { tenantIdOf } from '@/server/auth/caller.ts';
import { db } from '@/server/db/client.ts';
import { authorize, chargeRate, json, route } from '@/server/http/rest.ts';
import { listCheckpoints } from '@/server/services/integrity/checkpoints.ts';
import { checkpointsQuery as query } from '@/server/routers/integrity.types.ts';

export const dynamic = 'force-dynamic';

export const GET = route(async (req) => {
  const caller = await authorize(req, 'events:read');
  chargeRate(caller, 'read');
  const parsed = query.safeParse(Object.fromEntries(new URL(req.url).searchParams));
  if (!parsed.success) throw invalid(issuesFromZod(parsed.error, { batch: false }), 'query');
  const { from_number, limit } = parsed.data;
  const checkpoints = await listCheckpoints(db(), tenantIdOf(caller)!, { fromNumber: from_number, toNumber: from_number + limit - 1 });
  return json({ checkpoints, next_from_number: checkpoints.length === limit ? from_number + limit : null });
});
