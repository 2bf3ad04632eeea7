/** clock.*: the sources' clocks as the trail shows them (docs/clock.md), and the tenant's tolerance. */
import { router, tenantProcedure } from '@/server/trpc.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { CONSOLE_EVENT_TYPES, recordConsoleAction } from '@/server/services/console-audit.ts';
import { clockReport, clockTolerance, clockWindow, eventClock, setClockTolerance, type ClockTolerance } from '@/server/services/clock.ts';
import { principalOf } from '@/server/auth/caller.ts';
import { clockReportInput, clockReportOutput, clockToleranceOutput, eventClockInput, eventClockOutput, setClockToleranceInput } from './clock.types.ts';

const read = tenantProcedure.meta({ permission: 'events:read', rate: 'read' });

/** A tolerance as the AUDIT_CLOCK_TOLERANCE event records it. */
const toleranceRecord = (t: ClockTolerance) => ({
  tolerance_ms: t.tolerance_ms,
  network_delay_ms: t.network_delay_ms,
  network_delay_measured: t.network_delay_measured,
  max_network_delay_ms: t.max_network_delay_ms,
});

export const clockRouter = router({
  report: read
    .input(clockReportInput)
    .output(clockReportOutput)
    .query(({ ctx, input }) => clockReport(ctx.sql, ctx.claims, clockWindow(input))),

  event: read
    .input(eventClockInput)
    .output(eventClockOutput)
    .query(async ({ ctx, input }) => {
      const clock = await eventClock(ctx.sql, ctx.claims, input.id);
      if (!clock) throw new AuditError('not_found', `No event ${input.id}`);
      return clock;
    }),

  tolerance: read.output(clockToleranceOutput).query(({ ctx }) => clockTolerance(ctx.sql, ctx.claims)),

  setTolerance: tenantProcedure
    .meta({ permission: 'clock:manage' })
    .input(setClockToleranceInput)
    .output(clockToleranceOutput)
    .mutation(async ({ ctx, input }) => {
      const { before, after } = await setClockTolerance(ctx.sql, ctx.claims, input, principalOf(ctx.caller));
      await recordConsoleAction(
        ctx.sql,
        ctx.caller,
        { eventType: CONSOLE_EVENT_TYPES.clockTolerance, objectType: 'AUDIT_CLOCK_TOLERANCE', objectId: ctx.claims.tenant_id, context: { before: toleranceRecord(before), after: toleranceRecord(after) } },
        ctx.observed,
      );
      return after;
    }),
});
