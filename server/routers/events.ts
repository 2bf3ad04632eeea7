/** events.*: logging (one event or a batch) and reading. Thin: credentials → service call → result. */
import { router, tenantProcedure } from '@/server/trpc.ts';
import { logEvent, logEvents } from '@/server/services/ingest.ts';
import { getEvent, listEvents, objectHistory } from '@/server/services/query.ts';
import { countMatching } from '@/server/services/count.ts';
import { tenantFacets } from '@/server/services/facets.ts';
import { searchShape } from '@/server/services/search-shape.ts';
import { CONSOLE_EVENT_TYPES, recordConsoleAction } from '@/server/services/console-audit.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { filtersOf } from '@/supabase/functions/_shared/filters.ts';
import { seesPersonalData, type Caller } from '@/server/auth/caller.ts';
import { administrationActivity } from '@/server/services/activity.ts';
import {
  activityInput,
  auditEventOutput,
  countInput,
  countOutput,
  eventPageOutput,
  facetsOutput,
  getInput,
  ingestResultOutput,
  listInput,
  logBulkInput,
  logInput,
  objectHistoryInput,
  shapeInput,
  shapeOutput,
} from './events.types.ts';

/** Console viewers see events with personal data masked; auditors, admins and API keys see it opened (docs/personal-data.md). */
const withoutPersonalData = (caller: Caller) => !seesPersonalData(caller);

export const eventsRouter = router({
  logBulk: tenantProcedure
    .meta({ permission: 'events:write', rate: 'write' })
    .input(logBulkInput)
    .output(ingestResultOutput)
    .mutation(({ ctx, input }) => logEvents(ctx.sql, ctx.writer, input.events, ctx.observed, 'trpc')),

  log: tenantProcedure
    .meta({ permission: 'events:write', rate: 'write' })
    .input(logInput)
    .output(ingestResultOutput)
    .mutation(({ ctx, input }) => logEvent(ctx.sql, ctx.writer, input, ctx.observed)),

  list: tenantProcedure
    .meta({ permission: 'events:read', rate: 'read' })
    .input(listInput)
    .output(eventPageOutput)
    .query(async ({ ctx, input: { direction: _direction, ...input } }) => {
      // A console user's search is recorded once (its first page), not for every page scrolled.
      const [page] = await Promise.all([
        ctx.reads().then((sql) => listEvents(sql, ctx.claims, input, 'list', { masked: withoutPersonalData(ctx.caller) })),
        input.cursor
          ? null
          : recordConsoleAction(ctx.sql, ctx.caller, { eventType: CONSOLE_EVENT_TYPES.search, objectType: 'AUDIT_TRAIL', objectId: ctx.claims.tenant_id, context: { filters: filtersOf(input), order: input.order } }, ctx.observed),
      ]);
      return page;
    }),

  get: tenantProcedure
    .meta({ permission: 'events:read', rate: 'read' })
    .input(getInput)
    .output(auditEventOutput)
    .query(async ({ ctx, input }) => {
      const event = await getEvent(await ctx.reads(), ctx.claims, input.id, { masked: withoutPersonalData(ctx.caller) });
      if (!event) throw new AuditError('not_found', `No event ${input.id}`);
      await recordConsoleAction(ctx.sql, ctx.caller, { eventType: CONSOLE_EVENT_TYPES.view, objectType: 'AUDIT_EVENT', objectId: event.id, context: { seq: event.seq } }, ctx.observed);
      return event;
    }),

  objectHistory: tenantProcedure
    .meta({ permission: 'events:read', rate: 'read' })
    .input(objectHistoryInput)
    .output(eventPageOutput)
    .query(async ({ ctx, input }) => objectHistory(await ctx.reads(), ctx.claims, input, { masked: withoutPersonalData(ctx.caller) })),

  /** Administration on the record (Activity view): admins only, newest first. */
  activity: tenantProcedure
    .meta({ permission: 'users:manage', rate: 'read' })
    .input(activityInput)
    .output(eventPageOutput)
    .query(({ ctx, input }) => administrationActivity(ctx.sql, ctx.claims, input)),

  /** How many events match (exact up to a cap, else "more than"). */
  count: tenantProcedure
    .meta({ permission: 'events:read', rate: 'read' })
    .input(countInput)
    .output(countOutput)
    .query(async ({ ctx, input }) => countMatching(await ctx.reads(), ctx.claims, input)),

  /** How the matches spread over time and over event type, object type, actor, source and outcome (exact or labelled estimates). */
  shape: tenantProcedure
    .meta({ permission: 'events:read', rate: 'read' })
    .input(shapeInput)
    .output(shapeOutput)
    .query(({ ctx, input: { exact, ...filters } }) => searchShape(ctx.sql, ctx.claims, filters, { masked: withoutPersonalData(ctx.caller), exact })),

  /** The tenant's event types, object types, actor types and sources, for filter pickers. */
  facets: tenantProcedure
    .meta({ permission: 'events:read', rate: 'read' })
    .output(facetsOutput)
    .query(async ({ ctx }) => tenantFacets(await ctx.reads(), ctx.claims)),
});
