/** The integrity state of a tenant, as the console and the API show it. */
import type { SignedCheckpoint } from '@/supabase/functions/_shared/checkpoint.ts';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import type { Env } from '@/server/env.ts';
import { anchorProgress } from '@/server/services/anchors/anchoring.ts';
import { anchorUrl } from '@/server/services/anchors/store.ts';
import { latestCheckpoint } from './checkpoints.ts';
import type { Problem } from './verify.ts';
import { personSql } from '../people.ts';

export interface LastVerification {
  started_at: string;
  finished_at: string;
  ok: boolean;
  events_checked: number;
  checkpoints_checked: number;
  problem_count: number;
  problems: Problem[];
  verified_by: string;
  kind: 'full' | 'incremental' | 'range';
  /** What it covered (checkpoints and seqs it checked, the verification it built on). */
  scope: Record<string, unknown> | null;
}

export interface IntegrityStatus {
  tenant_id: string;
  events_total: number;
  events_covered: number;
  uncovered_events: number;
  checkpoints: number;
  last_checkpoint: SignedCheckpoint | null;
  last_verification: LastVerification | null;
  /** How far the checkpoints are anchored outside the database (the sealer's bookkeeping). */
  anchors: {
    configured: boolean;
    location: string | null;
    time_stamping: boolean;
    anchored_through: number;
    timestamped_through: number | null;
    pending: number;
    failing_number: number | null;
    last_error: string | null;
    last_error_at: string | null;
  };
}

export async function integrityStatus(sql: Sql, tenantId: string, env: Env): Promise<IntegrityStatus> {
  const last = await latestCheckpoint(sql, tenantId);
  const location = anchorUrl(env);
  const stored = await anchorProgress(sql, 'checkpoint', tenantId);
  const progress = stored?.anchor_url === location ? stored : null;
  const [head] = await sql`select last_seq from oms_audit.tenant_sequences where tenant_id = ${tenantId}`;
  const [verification] = await sql`
    select started_at, finished_at, ok, events_checked, checkpoints_checked, problem_count, problems, ${sql.unsafe(personSql('integrity_verifications.verified_by'))} as verified_by, kind, scope
    from oms_audit.integrity_verifications where tenant_id = ${tenantId} order by finished_at desc limit 1`;
  const total = Number(head?.last_seq ?? 0);
  const covered = last?.seq_to ?? 0;
  return {
    tenant_id: tenantId,
    events_total: total,
    events_covered: covered,
    uncovered_events: Math.max(0, total - covered),
    checkpoints: last?.number ?? 0,
    last_checkpoint: last,
    last_verification: (verification as unknown as LastVerification) ?? null,
    anchors: {
      configured: location !== null,
      location,
      time_stamping: Boolean(env.ANCHOR_TSA_URL),
      anchored_through: progress?.anchored_through ?? 0,
      timestamped_through: progress?.timestamped_through ?? null,
      pending: Math.max(0, (last?.number ?? 0) - (progress?.anchored_through ?? 0)),
      failing_number: progress?.failing_number ?? null,
      last_error: progress?.last_error ?? null,
      last_error_at: progress?.last_error_at ?? null,
    },
  };
}
