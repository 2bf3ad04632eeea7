/**
 * GET /api/v1/audit/checkpoints?from_number=&limit= — the tenant's signed
 * checkpoints, oldest first, and the number of the newest: what a monitor
 * (oms-audit monitor, the SDK's monitorCheckpoints) needs to check that the
 * trail only grows from the checkpoint it accepted last.
 */
import { invalid, issuesFromZod } from '@/supabase/functions/_shared/errors.ts';
import { tenantIdOf } from '@/server/auth/caller.ts';
import { db } from '@/server/db/client.ts';
import { authorize, chargeRate, json, route } from '@/server/http/rest.ts';
import { latestCheckpoint, listCheckpoints } from '@/server/services/integrity/checkpoints.ts';
import { checkpointsQuery as query } from '@/server/routers/integrity.types.ts';

export const dynamic = 'force-dynamic';

export const GET = route(async (req) => {
  const caller = await authorize(req, 'events:read');
  chargeRate(caller, 'read');
  const parsed = query.safeParse(Object.fromEntries(new URL(req.url).searchParams));
  if (!parsed.success) throw invalid(issuesFromZod(parsed.error, { batch: false }), 'query');
  const { from_number, limit } = parsed.data;
  const tenantId = tenantIdOf(caller)!;
  const checkpoints = await listCheckpoints(db(), tenantId, { fromNumber: from_number, toNumber: from_number + limit - 1 });
  const latest = await latestCheckpoint(db(), tenantId);
  return json({ checkpoints, next_from_number: checkpoints.length === limit ? from_number + limit : null, latest_number: latest?.number ?? 0 });
});
