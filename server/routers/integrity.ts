/** integrity.*: the signed trail's status, an event's proof, and on-demand verification. */
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { router, tenantProcedure } from '@/server/trpc.ts';
import { env } from '@/server/env.ts';
import { principalOf } from '@/server/auth/caller.ts';
import { eventProof } from '@/server/services/integrity/proofs.ts';
import { signer, trustedKeys } from '@/server/services/integrity/signing-key.ts';
import { integrityStatus } from '@/server/services/integrity/status.ts';
import { verifyTenantBounded } from '@/server/services/integrity/verify-runs.ts';
import { CONSOLE_EVENT_TYPES, recordConsoleAction } from '@/server/services/console-audit.ts';
import { proofInput, proofOutput, statusOutput, verifyInput, verifyOutput } from './integrity.types.ts';

const recordedRuns = new WeakSet<object>();

export const integrityRouter = router({
  status: tenantProcedure
    .meta({ permission: 'events:read', rate: 'read' })
    .output(statusOutput)
    .query(async ({ ctx }) => ({ ...(await integrityStatus(ctx.sql, ctx.claims.tenant_id, env())), key_id: signer().keyId })),

  proof: tenantProcedure
    .meta({ permission: 'events:read', rate: 'read' })
    .input(proofInput)
    .output(proofOutput)
    .query(async ({ ctx, input }) => {
      const proof = await eventProof(ctx.sql, ctx.claims, input.id, trustedKeys());
      if (!proof) throw new AuditError('not_found', `No event ${input.id}`);
      return proof;
    }),

  verify: tenantProcedure
    .meta({ permission: 'integrity:verify', rate: 'read' })
    .input(verifyInput)
    .output(verifyOutput)
    .mutation(async ({ ctx, input }) => {
      // One run per tenant at a time (callers meanwhile share it), and a cap per process.
      const mode = input.full ? 'full' : 'incremental';
      const report = await verifyTenantBounded(ctx.sql, ctx.claims.tenant_id, { keys: trustedKeys(), mode, verifiedBy: principalOf(ctx.caller), env: env() });
      // Who verified, and what they were told, is itself on the record: once per run (callers who joined a running
      // verification share its report object), so a batch of hundreds of calls is one event, not hundreds.
      if (!recordedRuns.has(report)) {
        recordedRuns.add(report);
        await recordConsoleAction(
        ctx.sql,
        ctx.caller,
        {
          eventType: CONSOLE_EVENT_TYPES.verification,
          objectType: 'AUDIT_TRAIL',
          objectId: ctx.claims.tenant_id,
          outcome: report.ok ? 'success' : 'failure',
          context: { ok: report.ok, events_checked: report.events_checked, checkpoints_checked: report.checkpoints_checked, problem_count: report.problem_count, started_at: report.started_at, kind: mode },
        },
          ctx.observed,
        );
      }
      // The output schema keeps the fields the console shows (scope and timing details stay in the recorded verification).
      return report;
    }),
});
