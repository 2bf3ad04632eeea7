/** events.*: logging (one event or a batch) and reading. Thin: credentials → service call → result. */
import { router, tenantProcedure } from '@/server/trpc.ts';
import { logEvent, logEvents } from '@/server/services/ingest.ts';
import { getEvent, listEvents, objectHistory } from '@/server/services/query.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { auditEventOutput, eventPageOutput, getInput, ingestResultOutput, listInput, logBulkInput, logInput, objectHistoryInput } from './events.types.ts';

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
    .query(({ ctx, input }) => listEvents(ctx.sql, ctx.claims, input)),

  get: tenantProcedure
    .meta({ permission: 'events:read', rate: 'read' })
    .input(getInput)
    .output(auditEventOutput)
    .query(async ({ ctx, input }) => {
      const event = await getEvent(ctx.sql, ctx.claims, input.id);
      if (!event) throw new AuditError('not_found', `No event ${input.id}`);
      return event;
    }),

  objectHistory: tenantProcedure
    .meta({ permission: 'events:read', rate: 'read' })
    .input(objectHistoryInput)
    .output(eventPageOutput)
    .query(({ ctx, input }) => objectHistory(ctx.sql, ctx.claims, input)),
});
