/**
 * The seed's REST contract for existing clients:
 *   POST /api/v1/audit/events   {"events":[…]} (at most 500)
 *   GET  /api/v1/audit/events?object_type=&object_id=&actor_id=&event_type=&from=&to=&cursor=&limit=
 */
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { filtersFromSearchParams } from '@/supabase/functions/_shared/filters.ts';
import { LIMITS } from '@/supabase/functions/_shared/limits.ts';
import { claimsOf, writerOf } from '@/server/auth/caller.ts';
import { checkTenantParam } from '@/server/http/tenant-param.ts';
import { observedClient } from '@/server/auth/credentials.ts';
import { db, readDb } from '@/server/db/client.ts';
import { authorize, chargeRate, json, readJsonBody, route } from '@/server/http/rest.ts';
import { logEvents } from '@/server/services/ingest.ts';
import { recordIngestFailure } from '@/server/observability/ingest-metrics.ts';
import { listEvents } from '@/server/services/query.ts';

export const dynamic = 'force-dynamic';

export const POST = route(async (req) => {
  try {
    const caller = await authorize(req, 'events:write');
    const events = parseBatch(await readJsonBody(req, LIMITS.apiBodyBytes), LIMITS.apiBatch);
    chargeRate(caller, 'write', events.length);
    const result = await logEvents(db(), writerOf(caller), events, observedClient(req.headers), 'rest');
    return json(result, { status: 201 });
  } catch (err) {
    recordIngestFailure('rest', err);
    throw err;
  }
});

export const GET = route(async (req) => {
  const caller = await authorize(req, 'events:read');
  chargeRate(caller, 'read');
  const params = new URL(req.url).searchParams;
  checkTenantParam(params, caller);
  const input = filtersFromSearchParams(params, { allow: ['tenant_id'] });
  return json(await listEvents(await readDb(), claimsOf(caller), input));
});
