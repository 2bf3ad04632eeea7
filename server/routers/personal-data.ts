/**
 * personalData.*: a tenant's declaration of its personal data, and erasure of
 * a data subject by a tenant admin signed in to the console (docs/personal-data.md).
 * The admin types the subject id again to confirm; the erasure is recorded as
 * an audit event with the admin as its actor. API keys cannot erase.
 */
import { TRPCError } from '@trpc/server';
import { router, tenantProcedure } from '@/server/trpc.ts';
import { env } from '@/server/env.ts';
import { eraseSubject } from '@/server/services/personal/erase.ts';
import { personalSettings } from '@/server/services/personal/settings.ts';
import { erasurePreview } from '@/server/services/personal/erasure-preview.ts';
import { eraseInput, eraseOutput, previewInput, previewOutput, settingsOutput } from './personal-data.types.ts';

const manage = tenantProcedure.meta({ permission: 'retention:manage', rate: 'read' });

export const personalDataRouter = router({
  settings: manage.output(settingsOutput).query(async ({ ctx }) => {
    const s = await personalSettings(ctx.sql, ctx.claims.tenant_id, true);
    return s && { humanActorTypes: [...s.humanActorTypes], contextPaths: [...s.contextPaths], outsideRetention: s.outsideRetention };
  }),

  /** What erasing the subject would do, and what refuses it now (changes nothing). */
  preview: manage
    .input(previewInput)
    .output(previewOutput)
    .query(({ ctx, input }) =>
      erasurePreview(ctx.sql, { tenantId: ctx.claims.tenant_id, subjectId: input.subject_id, minTotalYears: env().RETENTION_MIN_TOTAL_YEARS, env: env() }),
    ),

  erase: manage
    .input(eraseInput)
    .output(eraseOutput)
    .mutation(({ ctx, input }) => {
      if (ctx.caller.kind !== 'user') throw new TRPCError({ code: 'FORBIDDEN', message: 'An erasure is made by a person signed in to the console' });
      if (input.confirm !== input.subject_id) {
        throw new TRPCError({ code: 'BAD_REQUEST', message: 'Type the subject id again to confirm the erasure; nothing was changed' });
      }
      return eraseSubject(ctx.sql, {
        tenantId: ctx.claims.tenant_id,
        subjectId: input.subject_id,
        reason: input.reason,
        actor: { kind: 'console', userId: ctx.caller.userId, email: ctx.caller.email },
        minTotalYears: env().RETENTION_MIN_TOTAL_YEARS,
      });
    }),
});
