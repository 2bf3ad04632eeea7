/**
 * Restore: an archived month of a tenant loaded back into PostgreSQL (a
 * partition of public.restored_events) for an investigation, searched through
 * the same tenant-scoped queries as hot data, until released. The load is one
 * transaction (partition, rows, check, record): a crash leaves nothing behind.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { EVENT_FIELDS } from '@/supabase/functions/_shared/contract.ts';
import { literal, withDuckDB } from '@/server/archive/duckdb.ts';
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
    const dir = path.join(ctx.workDir, `restore-${id}`);
    await mkdir(dir, { recursive: true });
    try {
      const files = await Promise.all(parts.map((p) => localFile(ctx.env, p, path.join(ctx.workDir, 'cache'))));
      const csv = path.join(dir, 'rows.csv');
      const columns = [...EVENT_FIELDS, 'restore_id'];
      await withDuckDB(async (db) => {
        const select = EVENT_FIELDS.map((f) => (f === 'occurred_at' || f === 'received_at' ? `strftime(${f}, '%Y-%m-%d %H:%M:%S.%f+00') as ${f}` : f)).join(', ');
        await db.run(
          `copy (select ${select}, ${literal(id)} as restore_id from ${archiveRelation(files)} order by seq)
             to ${literal(csv)} (format csv, header false, quote '"', escape '"')`,
        );
      });
      return await ctx.sql.begin(async (tx) => {
        await tx`set local role oms_audit_retention`;
        await tx`select oms_audit.create_restore_partition(${id})`;
        await tx`reset role`;
        const sink = (await tx.unsafe(`copy public.restored_events (${columns.join(', ')}) from stdin (format csv)`).writable()) as Writable;
        await pipeline(createReadStream(csv), sink);
        failpoint('restore:in-load');
        const [loaded] = await tx`select count(*)::bigint as n from public.restored_events where restore_id = ${id}`;
        if (loaded!.n !== expected) throw new Error(`restore of ${label} loaded ${String(loaded!.n)} events, the archive holds ${expected}`);
        const [row] = await tx`
          insert into oms_audit.restores (id, tenant_id, month, row_count, reason, restored_by)
          values (${id}, ${input.tenantId}, ${input.month}::date, ${expected}, ${input.reason?.trim() || null}, ${ctx.actor})
          returning ${tx.unsafe(RESTORE_COLUMNS)}`;
        await recordRetention(tx, { tenantId: input.tenantId, action: 'restore', month: input.month, actor: ctx.actor, detail: { restore_id: id, events: expected, parts: parts.map((p) => p.part), reason: input.reason ?? null } });
        return row as unknown as RestoreInfo;
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  await flushRetentionEvents(ctx.sql, input.tenantId);
  return restore;
}

/** Drops a restored copy; the archive stays. Releasing twice changes nothing. */
export async function releaseRestore(ctx: RetentionContext, input: { tenantId: string; month: string }): Promise<RestoreInfo | null> {
  const released = await withRetentionLock(ctx.sql, { wait: true }, () =>
    ctx.sql.begin(async (tx) => {
      const [active] = await tx`select id from oms_audit.restores where tenant_id = ${input.tenantId} and month = ${input.month}::date and released_at is null for update`;
      if (!active) return null;
      await tx`set local role oms_audit_retention`;
      await tx`select oms_audit.drop_restore_partition(${active.id as string})`;
      await tx`reset role`;
      const [row] = await tx`update oms_audit.restores set released_at = now(), released_by = ${ctx.actor} where id = ${active.id as string} returning ${tx.unsafe(RESTORE_COLUMNS)}`;
      await recordRetention(tx, { tenantId: input.tenantId, action: 'restore_release', month: input.month, actor: ctx.actor, detail: { restore_id: active.id } });
      return row as unknown as RestoreInfo;
    }),
  );
  await flushRetentionEvents(ctx.sql, input.tenantId);
  return released;
}
