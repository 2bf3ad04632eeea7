/**
 * Expiry: an archived month is deleted from storage once the tenant's total
 * retention has passed since the month's end, unless a legal hold covers it
 * (its time range overlaps the month; for an object hold, the month holds
 * events of that object) or it is restored for an investigation. The part is
 * marked `expiring` before anything is deleted and `expired` after, so a run
 * killed in between finishes the deletion next time. The ledger rows stay.
 */
import { withDuckDB, literal } from '@/server/archive/duckdb.ts';
import { addMonths, monthStart, nextMonth, type RetentionContext } from './context.ts';
import { failpoint } from './failpoints.ts';
import { localFile } from './files.ts';
import { flushRetentionEvents, recordRetention } from './log.ts';
import { partsOf, setPartState, type ArchivePart } from './parts.ts';
import { getPolicy, holdsOverlapping, listHolds, type LegalHold } from './policy.ts';
import { storageAt } from '@/server/archive/storage.ts';
import { withScratchDir } from '@/server/scratch.ts';
import path from 'node:path';
import { anchorPending } from '@/server/services/anchors/anchoring.ts';
import { RETENTION_RECORD_SOURCE } from '@/server/services/anchors/sources.ts';
import { ensureExpiredRecord } from './record-issuing.ts';

export interface ExpiryDecision {
  tenant_id: string;
  month: string;
  part: number;
  rows: number;
  /** When the tenant's retention for this month ended. */
  retention_ended: string;
  action: 'expire' | 'held' | 'restored';
  holds: string[];
}

/** Parts past their tenant's retention, and whether each may go. */
export async function expiryPlan(ctx: RetentionContext, now = new Date()): Promise<ExpiryDecision[]> {
  const candidates = await partsOf(ctx.sql, { states: ['dropped', 'failed', 'expiring'] });
  const decisions: ExpiryDecision[] = [];
  const policies = new Map<string, number>();
  const holds = new Map<string, LegalHold[]>();
  for (const part of candidates) {
    if (!policies.has(part.tenant_id)) {
      policies.set(part.tenant_id, (await getPolicy(ctx.sql, part.tenant_id, ctx.env.RETENTION_MIN_TOTAL_YEARS)).total_years);
      holds.set(part.tenant_id, await listHolds(ctx.sql, part.tenant_id));
    }
    const ended = addMonths(monthStart(nextMonth(part.month)), policies.get(part.tenant_id)! * 12);
    if (ended > now) continue;
    const decision: ExpiryDecision = { tenant_id: part.tenant_id, month: part.month, part: part.part, rows: part.row_count ?? 0, retention_ended: ended.toISOString(), action: 'expire', holds: [] };
    const [restored] = await ctx.sql`select id from oms_audit.restores where tenant_id = ${part.tenant_id} and month = ${part.month}::date and released_at is null`;
    const covering = await coveringHolds(ctx, part, holds.get(part.tenant_id)!);
    if (covering.length) Object.assign(decision, { action: 'held', holds: covering.map((h) => h.id) });
    else if (restored) decision.action = 'restored';
    decisions.push(decision);
  }
  return decisions;
}

async function coveringHolds(ctx: RetentionContext, part: ArchivePart, holds: LegalHold[]): Promise<LegalHold[]> {
  const overlapping = holdsOverlapping(holds, `${part.month}T00:00:00.000000Z`, `${nextMonth(part.month)}T00:00:00.000000Z`);
  const covering: LegalHold[] = [];
  for (const hold of overlapping) {
    if (!hold.object_type || part.state === 'failed') {
      covering.push(hold);
      continue;
    }
    // An object hold covers the month if the archive holds events of that object; when that cannot be read, it covers it.
    try {
      const n = await withScratchDir(ctx.workDir, 'hold-check', async (dir) => {
        const file = await localFile(ctx.env, part, path.join(dir, 'downloads'));
        return withDuckDB(async (db) => {
          const reader = hold.object_id
            ? await db.runAndReadAll(`select count(*) from read_parquet(${literal(file)}) where object_type = ? and object_id = ?`, [hold.object_type, hold.object_id])
            : await db.runAndReadAll(`select count(*) from read_parquet(${literal(file)}) where object_type = ?`, [hold.object_type]);
          return Number(reader.getRows()[0]![0] as bigint);
        });
      });
      if (n > 0) covering.push(hold);
    } catch {
      covering.push(hold);
    }
  }
  return covering;
}

/** Deletes the archives whose retention has passed and that nothing holds. Call under the retention lock. */
export async function expireArchives(ctx: RetentionContext, decisions: ExpiryDecision[]): Promise<ExpiryDecision[]> {
  const done: ExpiryDecision[] = [];
  for (const d of decisions.filter((d) => d.action === 'expire')) {
    const [part] = (await partsOf(ctx.sql, { tenantId: d.tenant_id, month: d.month })).filter((p) => p.part === d.part);
    if (!part || !['dropped', 'failed', 'expiring'].includes(part.state)) continue;
    // Only parts that held the month's only copy (dropped from PostgreSQL) are expiries of events; superseded parts are not.
    const superseded = part.dropped_at === null;
    if (!superseded) {
      // Its signed expiry record first, anchored outside the database; only then may the only copy go.
      const record = await ensureExpiredRecord(ctx, part);
      if (!record) {
        ctx.log(`${d.month.slice(0, 7)}: archive of tenant ${d.tenant_id} part ${d.part} kept: it has no signed archived record, so its expiry cannot be proven`);
        continue;
      }
      const anchoring = await anchorPending(ctx.sql, ctx.env, [RETENTION_RECORD_SOURCE], [part.tenant_id]);
      if (anchoring.failures.length) {
        ctx.log(`${d.month.slice(0, 7)}: archive of tenant ${d.tenant_id} part ${d.part} kept until its expiry record is anchored: ${anchoring.failures[0]!.error}`);
        continue;
      }
    }
    try {
      // The database checks again that the retention has ended and no tenant-wide hold covers the month.
      await setPartState(ctx.sql, part, 'expiring', { problem: part.problem });
    } catch (err) {
      ctx.log(`${d.month.slice(0, 7)}: archive of tenant ${d.tenant_id} part ${d.part} is kept: ${(err as Error).message}`);
      continue;
    }
    try {
      const storage = await storageAt(part.storage_url, ctx.env);
      await storage.delete(part.data_key);
      await storage.delete(part.manifest_key);
    } catch (err) {
      // E.g. an Object Lock date later than the (since shortened) policy: the next run tries again.
      ctx.log(`${d.month.slice(0, 7)}: archive of tenant ${d.tenant_id} part ${d.part} could not be deleted yet: ${(err as Error).message}`);
      continue;
    }
    failpoint('expire:after-delete');
    await ctx.sql.begin(async (tx) => {
      await setPartState(tx, part, 'expired', { problem: part.problem });
      if (!superseded) {
        await recordRetention(tx, {
          tenantId: part.tenant_id,
          action: 'expire',
          month: part.month,
          actor: ctx.actor,
          detail: { part: part.part, events: part.row_count, min_seq: part.min_seq, max_seq: part.max_seq, retention_ended: d.retention_ended, key: part.data_key, sha256: part.data_sha256 },
        });
      }
    });
    done.push(d);
  }
  await flushRetentionEvents(ctx.sql);
  return done;
}
