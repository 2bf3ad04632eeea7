/** system.*: the console's System page (tenant admins). */
import { router, tenantProcedure } from '@/server/trpc.ts';
import { processSummary } from '@/server/observability/summary.ts';
import { ingestPerMinute, partitionSizes } from '@/server/services/system.ts';
import { systemOverviewOutput } from './system.types.ts';

export const systemRouter = router({
  overview: tenantProcedure
    .meta({ permission: 'system:view', rate: 'read' })
    .output(systemOverviewOutput)
    .query(async ({ ctx }) => {
      const [ingest, partitions, process] = await Promise.all([ingestPerMinute(ctx.sql, ctx.claims), partitionSizes(ctx.sql), processSummary()]);
      return { ingest, partitions, process };
    }),
});
