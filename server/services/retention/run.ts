/**
 * A retention run: write any pending retention events, archive (export,
 * upload, verify) and drop every month past its tenants' hot windows, then
 * expire what is past retention and not held. `dryRun` computes the same plan
 * and changes nothing. One run at a time (the retention lock); the server runs
 * it periodically, `oms-audit retention run` on demand.
 */
import { partitionName } from '@/server/archive/export.ts';
import { archiveMonth, type MonthArchiveResult } from './archive.ts';
import type { RetentionContext } from './context.ts';
import { expireArchives, expiryPlan, type ExpiryDecision } from './expire.ts';
import { flushRetentionEvents } from './log.ts';
import { withRetentionLock } from './parts.ts';
import { issueMissingRecords } from './record-issuing.ts';

export interface PlannedMonth {
  month: string;
  partition: string;
  /** Events per tenant now in the partition. */
  tenants: { tenant_id: string; events: number }[];
}

export interface RetentionPlan {
  generated_at: string;
  archive: PlannedMonth[];
  expire: ExpiryDecision[];
}

export interface RetentionRunResult {
  plan: RetentionPlan;
  dry_run: boolean;
  archived: MonthArchiveResult[];
  expired: ExpiryDecision[];
  problems: string[];
}

export async function planRetention(ctx: RetentionContext, now = new Date()): Promise<RetentionPlan> {
  const months = (await ctx.sql`select m::text as month from oms_audit.archivable_months(${now.toISOString()}) as m`).map((r) => r.month as string);
  const archive: PlannedMonth[] = [];
  for (const month of months) {
    const rows = await ctx.sql.unsafe(`select tenant_id, count(*)::bigint as events from oms_audit.${partitionName(month)} group by tenant_id order by tenant_id`);
    archive.push({ month, partition: partitionName(month), tenants: rows.map((r) => ({ tenant_id: r.tenant_id as string, events: r.events as number })) });
  }
  return { generated_at: now.toISOString(), archive, expire: await expiryPlan(ctx, now) };
}

export async function runRetention(ctx: RetentionContext, options: { dryRun?: boolean } = {}): Promise<RetentionRunResult> {
  if (options.dryRun) {
    const plan = await planRetention(ctx);
    return { plan, dry_run: true, archived: [], expired: [], problems: [] };
  }
  return withRetentionLock(ctx.sql, { wait: false }, async () => {
    await flushRetentionEvents(ctx.sql);
    // Archives without a signed record (older ones, or dropped by pg_cron) get one before anything else happens.
    const { problems } = await issueMissingRecords(ctx);
    const plan = await planRetention(ctx);
    const archived: MonthArchiveResult[] = [];
    for (const month of plan.archive) {
      try {
        const result = await archiveMonth(ctx, month.month, { drop: true });
        archived.push(result);
        for (const t of result.tenants.filter((t) => t.problem)) problems.push(`${month.month.slice(0, 7)} tenant ${t.tenant_id}: ${t.problem}`);
      } catch (err) {
        problems.push(`${month.month.slice(0, 7)}: ${(err as Error).message}`);
        ctx.log(`${month.month.slice(0, 7)}: ${(err as Error).message}`);
      }
    }
    // Expiry is decided after archiving, on the catalog as it is now.
    const expiries = await expiryPlan(ctx);
    const expired = await expireArchives(ctx, expiries);
    await flushRetentionEvents(ctx.sql);
    return { plan: { ...plan, expire: expiries }, dry_run: false, archived, expired, problems };
  });
}
