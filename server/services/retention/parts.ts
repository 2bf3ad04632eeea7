/** The archive catalog (oms_audit.archive_parts) and the lock that keeps retention steps one at a time. */
import { releaseReserved, type AnySql, type Sql } from '@/supabase/functions/_shared/db.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';

export type PartState = 'writing' | 'written' | 'verified' | 'dropped' | 'failed' | 'expiring' | 'expired';

export interface ArchivePart {
  tenant_id: string;
  /** YYYY-MM-01 */
  month: string;
  part: number;
  state: PartState;
  storage_url: string;
  data_key: string;
  manifest_key: string;
  row_count: number | null;
  min_seq: number | null;
  max_seq: number | null;
  seq_sum: string | null;
  min_occurred_at: string | null;
  max_occurred_at: string | null;
  data_bytes: number | null;
  data_sha256: string | null;
  manifest_sha256: string | null;
  retain_until: string | null;
  object_lock: boolean;
  created_at: string;
  written_at: string | null;
  verified_at: string | null;
  dropped_at: string | null;
  expired_at: string | null;
  problem: string | null;
}

const COLUMNS = `tenant_id, month::text as month, part, state, storage_url, data_key, manifest_key, row_count, min_seq, max_seq,
  seq_sum::text as seq_sum, min_occurred_at, max_occurred_at, data_bytes, data_sha256, manifest_sha256, retain_until, object_lock,
  created_at, written_at, verified_at, dropped_at, expired_at, problem`;

export async function partsOf(sql: AnySql, where: { tenantId?: string; month?: string; states?: PartState[] }): Promise<ArchivePart[]> {
  return (await sql`
    select ${sql.unsafe(COLUMNS)} from oms_audit.archive_parts
    where true
      ${where.tenantId ? sql`and tenant_id = ${where.tenantId}` : sql``}
      ${where.month ? sql`and month = ${where.month}::date` : sql``}
      ${where.states ? sql`and state = any(${where.states}::text[])` : sql``}
    order by month, tenant_id, part`) as unknown as ArchivePart[];
}

/**
 * One step of a part's lifecycle, through oms_audit.set_archive_part_state,
 * which refuses steps the lifecycle does not have (and an expiry before the
 * tenant's retention ends or under a tenant-wide legal hold). `dropped` on a
 * dropped part records a re-verification (its problem, or when it verified).
 */
export async function setPartState(sql: AnySql, part: Pick<ArchivePart, 'tenant_id' | 'month' | 'part'>, state: PartState, extra: { problem?: string | null } = {}): Promise<void> {
  await sql`select oms_audit.set_archive_part_state(${part.tenant_id}, ${part.month}::date, ${part.part}, ${state}, ${extra.problem ?? null})`;
}

/**
 * Runs `fn` while holding the retention lock: a transaction-scoped advisory
 * lock in a transaction left open on a reserved connection for the run (the
 * run's own work uses other connections). A transaction keeps its server
 * connection behind a transaction pooler (pgbouncer, Supabase's port 6543),
 * where a session lock could be taken on one server connection and released
 * on another; and PostgreSQL frees it if this process dies. `wait: false`
 * gives up at once when another process holds it.
 */
export async function withRetentionLock<T>(sql: Sql, options: { wait: boolean }, fn: () => Promise<T>): Promise<T> {
  const conn = await sql.reserve();
  let failure: unknown;
  try {
    await conn`begin`;
    try {
      if (options.wait) {
        await conn`select pg_advisory_xact_lock(hashtext('oms_audit.retention'))`;
      } else {
        const [row] = await conn`select pg_try_advisory_xact_lock(hashtext('oms_audit.retention')) as ok`;
        if (!row!.ok) throw new AuditError('unavailable', 'Another retention run is in progress; try again when it ends', [], 60);
      }
      return await fn();
    } finally {
      await conn`rollback`;
    }
  } catch (err) {
    failure = err;
    throw err;
  } finally {
    releaseReserved(conn, failure);
  }
}
