/**
 * GET /api/v1/audit/clock?from=&to=&minutes= — the caller's tenant's clock
 * evidence (docs/clock.md): per source and credential, received_at − occurred_at
 * by minute with the events flagged beyond the tolerance, the sources' latest
 * CLOCK_SYNC reports, and every CLOCK_SYNC report of the window (the sync log).
 */
import { claimsOf } from '@/server/auth/caller.ts';
import { db } from '@/server/db/client.ts';
import { checkTenantParam } from '@/server/http/tenant-param.ts';
import { authorize, chargeRate, json, route } from '@/server/http/rest.ts';
import { clockReport, clockWindow } from '@/server/services/clock.ts';
import { clockWindowQuery } from '@/server/routers/clock.types.ts';
import { issuesFromZod, invalid } from '@/supabase/functions/_shared/errors.ts';

export const dynamic = 'force-dynamic';

export const GET = route(async (req) => {
  const caller = await authorize(req, 'events:read');
  chargeRate(caller, 'read');
  const params = new URL(req.url).searchParams;
  checkTenantParam(params, caller);
  const minutes = params.get('minutes');
  const parsed = clockWindowQuery.safeParse({
    from: params.get('from') ?? undefined,
    to: params.get('to') ?? undefined,
    minutes: minutes === null ? undefined : /^\d+$/.test(minutes) ? Number(minutes) : minutes,
  });
  if (!parsed.success) throw invalid(issuesFromZod(parsed.error, { batch: false }), 'request');
  return json(await clockReport(db(), claimsOf(caller), clockWindow(parsed.data)));
});
