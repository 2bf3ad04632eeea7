/**
 * A data subject's events in archived months, for the erasure's checks
 * (docs/personal-data.md#erasure): a month that left PostgreSQL still holds
 * the subject's sealed values in its Parquet parts (or, while restored, in
 * restored_events), and a legal hold or the retention duty over those records
 * must block the erasure as it does for hot events.
 *
 * Each Parquet part is read on its own, checked against its recorded SHA-256
 * first, with each hold's scope compiled by the shared filter compiler for
 * DuckDB (and for PostgreSQL over restored months and hot events). A part that cannot be read, or whose bytes changed, throws an error
 * naming its month and part: an erasure is never decided on a short check.
 */
import path from 'node:path';
import type { DuckDBValue } from '@duckdb/node-api';
import type { TxSql } from '@/supabase/functions/_shared/db.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { and, type FilterExpr } from '@/supabase/functions/_shared/filter-tree.ts';
import { ENVELOPE_PREFIX } from '@/supabase/functions/_shared/personal-data.ts';
import type { Env } from '@/server/env.ts';
import { dataPath } from '@/server/db/open.ts';
import { withDuckDB } from '@/server/archive/duckdb.ts';
import { archiveRelation } from '@/server/archive/rows.ts';
import type { ArchivedPartRef } from '../archived-events.ts';
import { compileDuck } from '../filters/duckdb.ts';
import { wherePostgres } from '../filters/postgres.ts';
import { checkedLocalFile } from '../retention/files.ts';

/** The scope of a legal hold (null members: unrestricted; times as canonical UTC strings with microseconds). */
export interface HoldScope {
  id: string;
  object_type: string | null;
  object_id: string | null;
  from_at: string | null;
  to_at: string | null;
}

export interface ArchivedSubjectEvents {
  /** The subject's archived events per month (YYYY-MM), only months that hold some. */
  months: Map<string, number>;
  /** The subject's archived events inside each hold's scope, by hold id (only holds covering some). */
  holds: Map<string, number>;
}

/** The filter tree of a hold's scope: the same conditions the hot check applies in SQL. */
export function holdScopeExpr(h: HoldScope): FilterExpr {
  const args: FilterExpr[] = [];
  if (h.object_type) args.push({ op: 'eq', field: 'object_type', value: h.object_type });
  if (h.object_id) args.push({ op: 'eq', field: 'object_id', value: h.object_id });
  if (h.from_at || h.to_at) {
    args.push({ op: 'range', field: 'occurred_at', ...(h.from_at ? { gte: h.from_at } : {}), ...(h.to_at ? { lt: h.to_at } : {}) });
  }
  return and(...args);
}

/** `like` patterns of the subject's references: as the whole actor, and anywhere in `personal` or `context`. */
function patterns(ref: string) {
  return { actor: `${ENVELOPE_PREFIX}${ref}:%`, anywhere: `%${ENVELOPE_PREFIX}${ref}:%` };
}

/** SQL condition (PostgreSQL): an event holds sealed data of the subject (its actor fields, its subject id or a context member). */
export function subjectSql(tx: TxSql, ref: string) {
  const p = patterns(ref);
  return tx`(actor_id like ${p.actor} or personal::text like ${p.anywhere} or context::text like ${p.anywhere})`;
}

/** The subject's events of one Parquet part: per hold in scope, and in all. */
async function partCounts(file: string, tenantId: string, ref: string, holds: HoldScope[]): Promise<{ all: number; holds: Map<string, number> }> {
  const p = patterns(ref);
  const count = (expr: FilterExpr) => {
    const { where, params } = compileDuck(tenantId, expr);
    const n = params.length;
    const subject = `(actor_id like $${n + 1} or coalesce(personal, '') like $${n + 2} or coalesce(context::varchar, '') like $${n + 2})`;
    return { sql: `select count(*) from ${archiveRelation([file])} where ${where} and ${subject}`, params: [...params, p.actor, p.anywhere] as DuckDBValue[] };
  };
  return withDuckDB(async (db) => {
    const run = async (expr: FilterExpr) => {
      const q = count(expr);
      return Number((await db.runAndReadAll(q.sql, q.params)).getRows()[0]![0] as bigint);
    };
    const all = await run(and());
    const byHold = new Map<string, number>();
    if (all > 0) for (const h of holds) byHold.set(h.id, await run(holdScopeExpr(h)));
    return { all, holds: byHold };
  });
}

/**
 * The subject's events in the tenant's archived months (parts listed in `tx`,
 * the caller's tenant transaction, after its own query of audit_events, so a
 * month dropped meanwhile is seen in one place or the other).
 */
export async function archivedSubjectEvents(tx: TxSql, env: Env, tenantId: string, ref: string, holds: HoldScope[]): Promise<ArchivedSubjectEvents> {
  const parts = (await tx`
    select month::text as month, part, storage_url, data_key, data_sha256, row_count, min_seq, max_seq, min_occurred_at, max_occurred_at, restore_id
    from oms_audit.tenant_archived_parts(null::timestamptz, null::timestamptz)`) as unknown as ArchivedPartRef[];
  const result: ArchivedSubjectEvents = { months: new Map(), holds: new Map() };
  const add = (map: Map<string, number>, key: string, n: number) => n > 0 && map.set(key, (map.get(key) ?? 0) + n);
  const restored = new Set<string>();
  for (const part of parts) {
    const month = part.month.slice(0, 7);
    if (part.restore_id) {
      // A restored month is read from restored_events (once per restore), like every other read of it.
      if (restored.has(part.restore_id)) continue;
      restored.add(part.restore_id);
      const restoreId = part.restore_id;
      const count = async (expr: FilterExpr) => {
        const [row] = await tx`
          select count(*)::int as n from public.restored_events
          where restore_id = ${restoreId}::uuid and ${wherePostgres(tx, tenantId, expr)} and ${subjectSql(tx, ref)}`;
        return row!.n as number;
      };
      const all = await count(and());
      add(result.months, month, all);
      if (all > 0) for (const h of holds) add(result.holds, h.id, await count(holdScopeExpr(h)));
      continue;
    }
    let counts: Awaited<ReturnType<typeof partCounts>>;
    try {
      const file = await checkedLocalFile(env, part, path.join(dataPath(env, 'archive-cache')));
      counts = await partCounts(file, tenantId, ref, holds);
    } catch (err) {
      throw new AuditError(
        'unavailable',
        `The archived month ${month} (part ${part.part}, ${part.data_key}) could not be read to check the subject's records against legal holds and the retention policy: ${(err as Error).message}. Nothing was changed; the erasure is refused until the archive can be read.`,
      );
    }
    add(result.months, month, counts.all);
    for (const [id, n] of counts.holds) add(result.holds, id, n);
  }
  return result;
}
