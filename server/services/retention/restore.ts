/**
 * Restore: an archived month of a tenant loaded back into PostgreSQL (a
 * partition of public.restored_events) for an investigation, searched through
 * the same tenant-scoped queries as hot data, until released. The load is one
 * transaction (partition, rows, check, record): a crash leaves nothing behind.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { EVENT_FIELDS } from '@/supabase/functions/_shared/contract.ts';
import { literal, withDuckDB } from '@/server/archive/duckdb.ts';
import { withScratchDir } from '@/server/scratch.ts';
import { archiveRelation } from '@/server/archive/rows.ts';
import type { RetentionContext } from './context.ts';
import { failpoint } from './failpoints.ts';
import { localFile } from './files.ts';
import { flushRetentionEvents, recordRetention } from './log.ts';
import { partsOf, withRetentionLock } from './parts.ts';

export interface RestoreInfo {
  id: string;
  tenant_id: string;
  month: string;
  row_count: number;
  reason: string | null;
  restored_at: string;
  restored_by: string;
  released_at: string | null;
  released_by: string | null;
}

const RESTORE_COLUMNS = 'id, tenant_id, month::text as month, row_count, reason, restored_at, restored_by, released_at, released_by';

export async function listRestores(ctx: Pick<RetentionContext, 'sql'>, tenantId: string, options: { includeReleased?: boolean } = {}): Promise<RestoreInfo[]> {
  return (await ctx.sql`
    select ${ctx.sql.unsafe(RESTORE_COLUMNS)} from oms_audit.restores
    where tenant_id = ${tenantId} ${options.includeReleased ? ctx.sql`` : ctx.sql`and released_at is null`}
    order by restored_at desc`) as unknown as RestoreInfo[];
}

/** Loads an archived month back; restoring a month that is already restored returns that restore. */
export async function restoreMonth(ctx: RetentionContext, input: { tenantId: string; month: string; reason?: string }): Promise<RestoreInfo> {
  const label = input.month.slice(0, 7);
  const restore = await withRetentionLock(ctx.sql, { wait: true }, async () => {
    const [active] = await ctx.sql`select ${ctx.sql.unsafe(RESTORE_COLUMNS)} from oms_audit.restores where tenant_id = ${input.tenantId} and month = ${input.month}::date and released_at is null`;
    if (active) return active as unknown as RestoreInfo;
    const parts = await partsOf(ctx.sql, { tenantId: input.tenantId, month: input.month, states: ['dropped'] });
    if (!parts.length) throw new AuditError('not_found', `Month ${label} of tenant ${input.tenantId} has no archive to restore (it is in PostgreSQL, was never archived, or has expired)`);
    const expected = parts.reduce((n, p) => n + (p.row_count ?? 0), 0);
    const id = randomUUID();
    return withScratchDir(ctx.workDir, 'restore', async (dir) => {
      const files = await Promise.all(parts.map((p) => localFile(ctx.env, p, path.join(dir, 'downloads'))));
      const csv = path.join(dir, 'rows.csv');
      const columns = [...EVENT_FIELDS, 'restore_id'];
      await withDuckDB(async (db) => {
        const select = EVENT_FIELDS.map((f) => (f === 'occurred_at' || f === 'received_at' ? `strftime(${f}, '%Y-%m-%d %H:%M:%S.%f+00') as ${f}` : f)).join(', ');
        await db.run(
          `copy (select ${select}, ${literal(id)} as restore_id from ${archiveRelation(files)} order by seq)
             to ${literal(csv)} (format csv, header false, quote '"', escape '"')`,
        );
      });
      // One transaction: a partition of its own, which only this load may fill (COPY into it
      // directly), then oms_audit.finish_restore checks the rows against the archive catalog
      // and closes the partition before the restore is recorded.
      return await ctx.sql.begin(async (tx) => {
        const [created] = await tx`select oms_audit.create_restore_partition(${id}) as partition`;
        const sink = (await tx.unsafe(`copy ${created!.partition as string} (${columns.join(', ')}) from stdin (format csv)`).writable()) as Writable;
        await pipeline(createReadStream(csv), sink);
        failpoint('restore:in-load');
        const [loaded] = await tx`select count(*)::bigint as n from public.restored_events where restore_id = ${id}`;
        if (loaded!.n !== expected) throw new Error(`restore of ${label} loaded ${String(loaded!.n)} events, the archive holds ${expected}`);
        await tx`select oms_audit.finish_restore(${id}, ${input.tenantId}, ${input.month}::date, ${input.reason ?? null}, ${ctx.actor})`;
        const [row] = await tx`select ${tx.unsafe(RESTORE_COLUMNS)} from oms_audit.restores where id = ${id}`;
        await recordRetention(tx, { tenantId: input.tenantId, action: 'restore', month: input.month, actor: ctx.actor, detail: { restore_id: id, events: expected, parts: parts.map((p) => p.part), reason: input.reason ?? null } });
        return row as unknown as RestoreInfo;
      });
    });
  });
  await flushRetentionEvents(ctx.sql, input.tenantId);
  return restore;
}

/** Drops a restored copy; the archive stays. Releasing twice changes nothing. */
export async function releaseRestore(ctx: RetentionContext, input: { tenantId: string; month: string }): Promise<RestoreInfo | null> {
  const released = await withRetentionLock(ctx.sql, { wait: true }, () =>
    ctx.sql.begin(async (tx) => {
      const [active] = await tx`select id from oms_audit.restores where tenant_id = ${input.tenantId} and month = ${input.month}::date and released_at is null`;
      if (!active) return null;
      // Drops the copy and records the release, in this transaction.
      const [released] = await tx`select oms_audit.release_restore(${active.id as string}, ${ctx.actor}) as ok`;
      if (!released!.ok) return null;
      const [row] = await tx`select ${tx.unsafe(RESTORE_COLUMNS)} from oms_audit.restores where id = ${active.id as string}`;
      await recordRetention(tx, { tenantId: input.tenantId, action: 'restore_release', month: input.month, actor: ctx.actor, detail: { restore_id: active.id } });
      return row as unknown as RestoreInfo;
    }),
  );
  await flushRetentionEvents(ctx.sql, input.tenantId);
  return released;
}
