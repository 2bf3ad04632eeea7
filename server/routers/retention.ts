/**
 * retention.*: a tenant's retention policy, legal holds, the calendar of its
 * months (hot, archived, verified, restored, expired), the compliance report,
 * and restores. Viewing needs retention:view (auditors, admins); changing needs
 * retention:manage (admins). Every change is an audit event of the tenant.
 */
import { z } from 'zod';
import { router, tenantProcedure } from '@/server/trpc.ts';
import { env } from '@/server/env.ts';
import { principalOf } from '@/server/auth/caller.ts';
import { retentionContext } from '@/server/services/retention/context.ts';
import { getPolicy, listHolds, placeHold, releaseHold, setPolicy } from '@/server/services/retention/policy.ts';
import { tenantCompliance, tenantMonths } from '@/server/services/retention/report.ts';
import { listRestores, releaseRestore, restoreMonth } from '@/server/services/retention/restore.ts';
import {
  addHoldInput,
  holdOutput,
  listHoldsInput,
  monthInput,
  monthOutput,
  policyOutput,
  releaseHoldInput,
  reportOutput,
  restoreOutput,
  setPolicyInput,
} from './retention.types.ts';

const view = tenantProcedure.meta({ permission: 'retention:view', rate: 'read' });
const manage = tenantProcedure.meta({ permission: 'retention:manage', rate: 'read' });
const floor = () => env().RETENTION_MIN_TOTAL_YEARS;

export const retentionRouter = router({
  policy: view.output(policyOutput).query(({ ctx }) => getPolicy(ctx.sql, ctx.claims.tenant_id, floor())),

  setPolicy: manage
    .input(setPolicyInput)
    .output(policyOutput)
    .mutation(({ ctx, input }) => setPolicy(ctx.sql, { tenantId: ctx.claims.tenant_id, change: input, actor: principalOf(ctx.caller), minTotalYears: floor() })),

  holds: view
    .input(listHoldsInput)
    .output(z.array(holdOutput))
    .query(({ ctx, input }) => listHolds(ctx.sql, ctx.claims.tenant_id, { includeReleased: input.include_released })),

  addHold: manage
    .input(addHoldInput)
    .output(holdOutput)
    .mutation(({ ctx, input }) =>
      placeHold(ctx.sql, { tenantId: ctx.claims.tenant_id, reason: input.reason, objectType: input.object_type, objectId: input.object_id, from: input.from, to: input.to, actor: principalOf(ctx.caller) }),
    ),

  releaseHold: manage
    .input(releaseHoldInput)
    .output(holdOutput)
    .mutation(({ ctx, input }) => releaseHold(ctx.sql, { tenantId: ctx.claims.tenant_id, id: input.id, reason: input.reason, actor: principalOf(ctx.caller) })),

  months: view.output(z.array(monthOutput)).query(async ({ ctx }) => tenantMonths(ctx.sql, ctx.claims.tenant_id, await listHolds(ctx.sql, ctx.claims.tenant_id))),

  report: view.output(reportOutput).query(({ ctx }) => tenantCompliance(ctx.sql, ctx.claims.tenant_id, floor())),

  restores: view.output(z.array(restoreOutput)).query(({ ctx }) => listRestores(ctx, ctx.claims.tenant_id)),

  restore: manage
    .input(monthInput)
    .output(restoreOutput)
    .mutation(async ({ ctx, input }) => {
      const retention = await retentionContext(ctx.sql, env(), { actor: principalOf(ctx.caller) });
      return restoreMonth(retention, { tenantId: ctx.claims.tenant_id, month: `${input.month}-01`, reason: input.reason });
    }),

  releaseRestore: manage
    .input(monthInput)
    .output(restoreOutput.nullable())
    .mutation(async ({ ctx, input }) => {
      const retention = await retentionContext(ctx.sql, env(), { actor: principalOf(ctx.caller) });
      return releaseRestore(retention, { tenantId: ctx.claims.tenant_id, month: `${input.month}-01` });
    }),
});
