/**
 * Archiving a month partition: export → upload → verify → drop. The unit is
 * the partition (all its tenants), because a partition is what leaves
 * PostgreSQL; each tenant's rows go to their own Parquet file and manifest,
 * because retention, holds, restores and Object Lock dates are per tenant.
 *
 * Every step is recorded in oms_audit.archive_parts before the next one
 * starts, and every step can be repeated, so a run killed anywhere is finished
 * by the next run: a part left `writing` is written again under the same key,
 * a `written` part is verified, a `verified` part whose rows still match is
 * kept, and nothing is removed until every tenant's rows are verified.
 * Events that arrive for a month after it was dropped recreate its partition
 * and are archived as the month's next part.
 */
import { createHash } from 'node:crypto';
import { exportMonth, partitionName, type ParquetFile } from '@/server/archive/export.ts';
import type { ArchiveStorage } from '@/server/archive/storage.ts';
import { manifestColumns, MANIFEST_FORMAT, MANIFEST_VERSION, partKeys, SCHEMA_VERSION, type ArchiveManifest } from '@/server/archive/format.ts';
import { checkpointsOverlapping, sealTenant } from '@/server/services/integrity/checkpoints.ts';
import { signer } from '@/server/services/integrity/signing-key.ts';
import { addMonths, archiveStorage, monthStart, nextMonth, type RetentionContext } from './context.ts';
import { failpoint } from './failpoints.ts';
import { flushRetentionEvents, recordRetention } from './log.ts';
import { partsOf, setPartState, type ArchivePart } from './parts.ts';
import { getPolicy } from './policy.ts';
import { ensureArchivedRecord } from './record-issuing.ts';
import { verifyPart } from './verify.ts';
import { anchorPending } from '@/server/services/anchors/anchoring.ts';
import { RETENTION_RECORD_SOURCE } from '@/server/services/anchors/sources.ts';

export interface TenantMonthResult {
  tenant_id: string;
  part: number;
  rows: number;
  state: 'verified' | 'failed';
  problem: string | null;
}

export interface MonthArchiveResult {
  month: string;
  /** absent: no partition (nothing in PostgreSQL); kept: archived and verified, not dropped; dropped; failed: a part did not verify. */
  outcome: 'absent' | 'kept' | 'dropped' | 'failed';
  tenants: TenantMonthResult[];
  rows_dropped: number;
}

interface TenantStats {
  tenant_id: string;
  n: number;
  lo: number;
  hi: number;
  s: string;
}

async function partitionStats(ctx: RetentionContext, month: string): Promise<TenantStats[] | null> {
  const [exists] = await ctx.sql`select to_regclass(${'oms_audit.' + partitionName(month)}) is not null as ok`;
  if (!exists!.ok) return null;
  return (await ctx.sql.unsafe(
    `select tenant_id, count(*)::bigint as n, min(seq) as lo, max(seq) as hi, sum(seq)::text as s
     from oms_audit.${partitionName(month)} group by tenant_id order by tenant_id`,
  )) as unknown as TenantStats[];
}

const matches = (p: ArchivePart, s: TenantStats) => p.row_count === s.n && p.min_seq === s.lo && p.max_seq === s.hi && p.seq_sum === s.s;

/** Archives (and, with `drop`, removes from PostgreSQL) one month partition. Call under the retention lock. */
export async function archiveMonth(ctx: RetentionContext, month: string, options: { drop: boolean }): Promise<MonthArchiveResult> {
  const label = month.slice(0, 7);
  const storage = archiveStorage(ctx);
  const stats = await partitionStats(ctx, month);
  const parts = await partsOf(ctx.sql, { month });
  if (!stats) {
    // Nothing in PostgreSQL: leftovers of an interrupted run describe rows that are not there.
    for (const p of parts.filter((p) => ['writing', 'written', 'verified'].includes(p.state))) await setPartState(ctx.sql, p, 'failed', { problem: 'superseded: the month has no partition' });
    return { month, outcome: 'absent', tenants: [], rows_dropped: 0 };
  }

  const results: TenantMonthResult[] = [];
  const toWrite: { stats: TenantStats; part: number }[] = [];
  for (const s of stats) {
    const mine = parts.filter((p) => p.tenant_id === s.tenant_id);
    const open = mine.filter((p) => ['writing', 'written', 'verified'].includes(p.state)).at(-1);
    const nextPart = Math.max(0, ...mine.map((p) => p.part)) + 1;
    if (open && open.state !== 'writing' && matches(open, s)) {
      // Written or verified by an earlier run: read it back again, since the storage may have changed since.
      const seqs: number[] = [];
      const problem = await verifyPart(ctx, open, 'exact', (seq) => seqs.push(seq));
      await markVerified(ctx, open, problem, seqs);
      results.push({ tenant_id: s.tenant_id, part: open.part, rows: s.n, state: problem ? 'failed' : 'verified', problem });
      continue;
    }
    if (open && open.state !== 'writing') {
      // Events arrived since this part was written: it no longer covers the month; write a new one.
      await setPartState(ctx.sql, open, 'failed', { problem: 'superseded: events arrived after it was written' });
    }
    toWrite.push({ stats: s, part: open?.state === 'writing' ? open.part : nextPart });
  }

  if (toWrite.length) {
    const byTenant = new Map(toWrite.map((w) => [w.stats.tenant_id, w]));
    for (const w of toWrite) await beginPart(ctx, storage.url, month, w.stats.tenant_id, w.part);
    await exportMonth(ctx.sql, month, toWrite.length === stats.length ? null : [...byTenant.keys()], ctx.workDir, async (file) => {
      const w = byTenant.get(file.tenant_id)!;
      failpoint('archive:after-export');
      const part = await uploadPart(ctx, storage, month, w.part, file);
      failpoint('archive:before-verify');
      const seqs: number[] = [];
      const problem = await verifyPart(ctx, part, 'exact', (seq) => seqs.push(seq));
      await markVerified(ctx, part, problem, seqs);
      results.push({ tenant_id: file.tenant_id, part: w.part, rows: file.row_count, state: problem ? 'failed' : 'verified', problem });
    });
  }
  results.sort((a, b) => a.tenant_id.localeCompare(b.tenant_id));
  await flushRetentionEvents(ctx.sql);

  const failed = results.filter((r) => r.state === 'failed');
  for (const f of failed) ctx.log(`${label}: archive of tenant ${f.tenant_id} part ${f.part} did not verify: ${f.problem}`);
  if (failed.length || results.length !== stats.length) return { month, outcome: 'failed', tenants: results, rows_dropped: 0 };
  if (!options.drop) return { month, outcome: 'kept', tenants: results, rows_dropped: 0 };

  // Events leave PostgreSQL only once the signed records saying where they went are anchored outside it.
  const anchoring = await anchorPending(ctx.sql, ctx.env, [RETENTION_RECORD_SOURCE], results.map((r) => r.tenant_id));
  if (anchoring.failures.length) {
    for (const f of anchoring.failures) {
      const r = results.find((t) => t.tenant_id === f.tenant_id);
      if (r) Object.assign(r, { problem: `its retention record is not anchored yet, so the month is kept: ${f.error}` });
      ctx.log(`${label}: retention record ${f.number} of tenant ${f.tenant_id} not anchored; not dropping the month: ${f.error}`);
    }
    return { month, outcome: 'failed', tenants: results, rows_dropped: 0 };
  }

  const removed = await dropMonth(ctx, month);
  return { month, outcome: 'dropped', tenants: results, rows_dropped: removed };
}

async function beginPart(ctx: RetentionContext, storageUrl: string, month: string, tenantId: string, part: number): Promise<void> {
  const keys = partKeys(tenantId, month, part);
  await ctx.sql`select oms_audit.begin_archive_part(${tenantId}, ${month}::date, ${part}, ${storageUrl}, ${keys.data}, ${keys.manifest})`;
}

/** Uploads a tenant's Parquet file and its manifest, then records the part as written. */
async function uploadPart(ctx: RetentionContext, storage: ArchiveStorage, month: string, part: number, file: ParquetFile): Promise<ArchivePart> {
  const keys = partKeys(file.tenant_id, month, part);
  const policy = await getPolicy(ctx.sql, file.tenant_id, ctx.env.RETENTION_MIN_TOTAL_YEARS);
  const retainUntil = addMonths(monthStart(nextMonth(month)), policy.total_years * 12);
  const objectLock = await storage.objectLock();
  await storage.putFile(keys.data, file.file, { sha256: file.sha256, contentType: 'application/vnd.apache.parquet', retainUntil });
  const manifest: ArchiveManifest = {
    format: MANIFEST_FORMAT,
    manifest_version: MANIFEST_VERSION,
    tenant_id: file.tenant_id,
    month: month.slice(0, 7),
    part,
    schema_version: SCHEMA_VERSION,
    columns: manifestColumns(),
    row_count: file.row_count,
    min_seq: file.min_seq,
    max_seq: file.max_seq,
    seq_sum: file.seq_sum,
    min_occurred_at: file.min_occurred_at,
    max_occurred_at: file.max_occurred_at,
    files: [{ key: keys.data, format: 'parquet', compression: 'zstd', bytes: file.bytes, sha256: file.sha256, row_count: file.row_count }],
    created_at: new Date().toISOString(),
    retain_until: retainUntil.toISOString(),
    object_lock: objectLock,
    checkpoints: await sealedCheckpoints(ctx, file.tenant_id, file.min_seq, file.max_seq),
  };
  const bytes = Buffer.from(JSON.stringify(manifest, null, 2) + '\n');
  const manifestSha = createHash('sha256').update(bytes).digest('hex');
  await storage.putBytes(keys.manifest, bytes, { sha256: manifestSha, contentType: 'application/json', retainUntil });
  failpoint('archive:after-upload');
  await ctx.sql`
    select oms_audit.record_archive_part_written(${file.tenant_id}, ${month}::date, ${part},
      ${file.row_count}, ${file.min_seq}, ${file.max_seq}, ${file.seq_sum}::numeric,
      ${file.min_occurred_at}::timestamptz, ${file.max_occurred_at}::timestamptz,
      ${file.bytes}, ${file.sha256}, ${manifestSha}, ${retainUntil.toISOString()}::timestamptz, ${objectLock})`;
  return (await partsOf(ctx.sql, { tenantId: file.tenant_id, month })).find((p) => p.part === part)!;
}

/** Records the outcome of a read-back; a verified part gets its signed archived record (with the seqs verified) the first time. */
async function markVerified(ctx: RetentionContext, part: ArchivePart, problem: string | null, verifiedSeqs: number[]): Promise<void> {
  await ctx.sql.begin(async (tx) => {
    if (problem) {
      await setPartState(tx, part, 'failed', { problem });
      await recordRetention(tx, { tenantId: part.tenant_id, action: 'verify_failed', month: part.month, actor: ctx.actor, detail: { part: part.part, key: part.data_key, problem } });
    } else {
      await setPartState(tx, part, 'verified');
      await ensureArchivedRecord(tx, part, verifiedSeqs);
      if (part.state === 'verified') return; // verified again before the drop: recorded the first time
      await recordRetention(tx, {
        tenantId: part.tenant_id,
        action: 'archive',
        month: part.month,
        actor: ctx.actor,
        detail: { part: part.part, events: part.row_count, min_seq: part.min_seq, max_seq: part.max_seq, storage: part.storage_url, key: part.data_key, sha256: part.data_sha256, retain_until: part.retain_until },
      });
    }
  });
}

/**
 * Removes the month's partition through oms_audit.drop_archived_month, the
 * only path that removes events: the function checks again, under a lock that
 * stops writes to the month, that the month is past its tenants' hot windows
 * and that its rows are exactly the verified parts.
 */
export async function dropMonth(ctx: RetentionContext, month: string): Promise<number> {
  const removed = await ctx.sql.begin(async (tx) => {
    const [row] = await tx`select oms_audit.drop_archived_month(${month}::date, ${ctx.actor}) as removed`;
    failpoint('archive:in-drop');
    return (row!.removed ?? {}) as Record<string, number>;
  });
  failpoint('archive:after-drop');
  await flushRetentionEvents(ctx.sql);
  const total = Object.values(removed).reduce((a, b) => a + Number(b), 0);
  ctx.log(`${month.slice(0, 7)}: partition dropped (${total} events, now only in the archive)`);
  return total;
}

export interface ReverifyResult {
  tenant_id: string;
  month: string;
  part: number;
  ok: boolean;
  problem: string | null;
}

/**
 * Re-reads archived months (dropped from PostgreSQL) from their storage and
 * checks them against the ledger: file hashes, then every event's hash.
 * Records when each part was last verified, or what is wrong with it.
 */
export async function reverifyArchives(ctx: RetentionContext, where: { tenantId?: string; month?: string } = {}): Promise<ReverifyResult[]> {
  const results: ReverifyResult[] = [];
  for (const part of await partsOf(ctx.sql, { ...where, states: ['dropped'] })) {
    const problem = await verifyPart(ctx, part, 'ledger');
    await setPartState(ctx.sql, part, 'dropped', { problem });
    if (problem) ctx.log(`${part.month.slice(0, 7)}: archive of tenant ${part.tenant_id} part ${part.part} does not verify: ${problem}`);
    results.push({ tenant_id: part.tenant_id, month: part.month.slice(0, 7), part: part.part, ok: !problem, problem });
  }
  return results;
}

/** The checkpoints covering min..max seq, sealing first so that a recent back-fill is covered too. */
async function sealedCheckpoints(ctx: RetentionContext, tenantId: string, minSeq: number, maxSeq: number) {
  await sealTenant(ctx.sql, tenantId, signer());
  return checkpointsOverlapping(ctx.sql, tenantId, minSeq, maxSeq);
}
