/** Request and response schemas of the integrity router. */
import { z } from 'zod';
import { uuid } from '@/supabase/functions/_shared/contract.ts';
import { auditEventOutput } from './events.types.ts';
import { PROBLEM_KINDS } from '@/server/services/integrity/verify.ts';

export const signedCheckpointOutput = z.object({
  version: z.number(),
  tenant_id: z.string(),
  number: z.number(),
  seq_from: z.number(),
  seq_to: z.number(),
  count: z.number(),
  merkle_root: z.string(),
  prev_hash: z.string(),
  sealed_at: z.string(),
  key_id: z.string(),
  hash: z.string(),
  signature: z.string(),
});

export const problemOutput = z.object({
  seq: z.number().nullable(),
  id: z.string().nullable(),
  kind: z.enum(PROBLEM_KINDS),
  detail: z.string(),
  checkpoint: z.number().optional(),
});

const verificationKind = z.enum(['full', 'incremental', 'range']);

/** What a verification covered: the checkpoints and seqs it checked itself, and the signed verification it built on. */
const coveredOutput = z.object({
  seq_from: z.number(),
  seq_to: z.number(),
  checkpoint_from: z.number(),
  checkpoint_to: z.number(),
});
const baseOutput = z.object({ verified_at: z.string(), verified_through: z.number(), full_verified_at: z.string() }).nullable();

export const statusOutput = z.object({
  tenant_id: z.string(),
  events_total: z.number(),
  events_covered: z.number(),
  uncovered_events: z.number(),
  checkpoints: z.number(),
  last_checkpoint: signedCheckpointOutput.nullable(),
  last_verification: z
    .object({
      started_at: z.string(),
      finished_at: z.string(),
      ok: z.boolean(),
      events_checked: z.number(),
      checkpoints_checked: z.number(),
      problem_count: z.number(),
      problems: z.array(problemOutput),
      verified_by: z.string(),
      kind: verificationKind,
      /** Null for verifications recorded before these were kept. */
      scope: coveredOutput.extend({ base: baseOutput.optional() }).partial().nullable(),
    })
    .nullable(),
  key_id: z.string(),
  anchors: z.object({
    configured: z.boolean(),
    location: z.string().nullable(),
    time_stamping: z.boolean(),
    anchored_through: z.number(),
    timestamped_through: z.number().nullable(),
    /** Checkpoints sealed but not yet anchored. */
    pending: z.number(),
    failing_number: z.number().nullable(),
    last_error: z.string().nullable(),
    last_error_at: z.string().nullable(),
  }),
});

export const proofInput = z.object({ id: uuid });

export const proofOutput = z.object({
  status: z.enum(['sealed', 'pending']),
  event: auditEventOutput,
  event_hash: z.string(),
  verified: z.boolean(),
  checkpoint: signedCheckpointOutput.nullable(),
  leaf_index: z.number().nullable(),
  tree_size: z.number().nullable(),
  audit_path: z.array(z.string()),
  chain: z.array(signedCheckpointOutput),
  chain_truncated: z.boolean(),
});

const anchorReportOutput = z.object({
  configured: z.boolean(),
  location: z.string().nullable(),
  anchored_head: z.number().nullable(),
  database_head: z.number(),
  anchors_checked: z.number(),
  pending: z.number(),
  timestamps_checked: z.number(),
  timestamps_unchecked: z.number(),
});

/** full: every checkpoint and event; otherwise only what was sealed since the last signed, intact verification. */
export const verifyInput = z.object({ full: z.boolean().default(false) }).default({ full: false });

export const verifyOutput = z.object({
  ok: z.boolean(),
  kind: verificationKind,
  base: baseOutput,
  scope: coveredOutput,
  events_checked: z.number(),
  archived_events_checked: z.number(),
  expired_events: z.number(),
  expired_events_attested_at_upgrade: z.number(),
  anchors: z.object({ checkpoints: anchorReportOutput, retention_records: anchorReportOutput }),
  checkpoints_checked: z.number(),
  uncovered_events: z.number(),
  problem_count: z.number(),
  problems: z.array(problemOutput),
  duration_ms: z.number(),
});

/** GET /api/v1/audit/checkpoints?from_number=&limit= (REST only). */
export const checkpointsQuery = z.strictObject({
  from_number: z.coerce.number().int().min(1).default(1),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const checkpointPageOutput = z.object({
  checkpoints: z.array(signedCheckpointOutput),
  next_from_number: z.number().int().nullable(),
  /** Number of the tenant's newest checkpoint (0: none yet): what a monitor compares with the one it accepted last. */
  latest_number: z.number().int(),
});
