/**
 * POST /api/v1/audit/event — one event, the same contract as each event of
 * a batch. Concurrent single events are committed together (group commit);
 * the answer comes once the event is committed.
 */
import { LIMITS, parseEvent } from '@/supabase/functions/_shared/contract.ts';
import { writerOf } from '@/server/auth/caller.ts';
import { observedClient } from '@/server/auth/credentials.ts';
import { db } from '@/server/db/client.ts';
import { authorize, chargeRate, json, readJsonBody, route } from '@/server/http/rest.ts';
import { logEvent } from '@/server/services/ingest.ts';

export const dynamic = 'force-dynamic';

export const POST = route(async (req) => {
  const caller = await authorize(req, 'events:write');
  const event = parseEvent(await readJsonBody(req, LIMITS.eventBodyBytes));
  chargeRate(caller, 'write', 1);
  const result = await logEvent(db(), writerOf(caller), event, observedClient(req.headers));
  return json(result, { status: 201 });
});
