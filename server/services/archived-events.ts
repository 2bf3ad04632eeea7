/**
 * Reading archived months for the query API. A month whose partition was
 * dropped lives in Parquet parts (or, while restored, in restored_events);
 * queries whose time range reaches such a month read those parts with the
 * same filters (the filter tree compiled for DuckDB), keyset and order, and the results are merged with the hot rows
 * by (occurred_at, seq), so pages and cursors run on across hot and archived
 * data. Archived events carry `archived: true`.
 *
 * Consistency: the caller lists the archived parts in the same transaction as
 * its query of audit_events, after that query. Dropping a partition needs an
 * exclusive lock on audit_events, which that query holds off until commit, so
 * every event is seen exactly once: in PostgreSQL or in its archive.
 */
import type { AuditEvent } from '@/supabase/functions/_shared/contract.ts';
import { EVENT_FIELDS } from '@/supabase/functions/_shared/contract.ts';
import type { TxSql } from '@/supabase/functions/_shared/db.ts';
import { filterExpr, type EventFilters, type SortOrder } from '@/supabase/functions/_shared/filters.ts';
import { occurredAtBounds } from '@/supabase/functions/_shared/filter-tree.ts';
import { env } from '@/server/env.ts';
import { dataPath } from '@/server/db/open.ts';
import { withDuckDB } from '@/server/archive/duckdb.ts';
import { ARCHIVE_JSON, archivedEventFromJson, archiveRelation, type ArchivedEvent } from '@/server/archive/rows.ts';
import { localFile } from './retention/files.ts';
import { restoredWhereClause } from './query.ts';
import { compileDuck } from './filters/duckdb.ts';
import type { Position } from './cursor.ts';

export type { ArchivedEvent };

export interface ArchivedPartRef {
  month: string;
  part: number;
  storage_url: string;
  data_key: string;
  data_sha256: string | null;
  row_count: number;
  min_seq: number;
  max_seq: number;
  min_occurred_at: string;
  max_occurred_at: string;
  /** Set while the month is restored: its rows are then read from restored_events. */
  restore_id: string | null;
}

/** The caller's tenant's archived parts overlapping the filters' time range (row-level: the tenant comes from the claims). */
export async function archivedParts(tx: TxSql, filters: EventFilters): Promise<ArchivedPartRef[]> {
  // The interval every match lies in, from the whole filter tree (from/to and the query's time ranges alike).
  const { from, to } = occurredAtBounds(filterExpr(filters));
  return (await tx`
    select month::text as month, part, storage_url, data_key, data_sha256, row_count, min_seq, max_seq, min_occurred_at, max_occurred_at, restore_id
    from oms_audit.tenant_archived_parts(${from}::timestamptz, ${to}::timestamptz)`) as unknown as ArchivedPartRef[];
}

export interface ArchivedQuery {
  tenantId: string;
  filters: EventFilters;
  order: SortOrder;
  /** Keyset: rows strictly after this position in `order`. */
  after: Position | null;
  limit: number;
}

const before = (a: Position, b: Position) => a.occurred_at < b.occurred_at || (a.occurred_at === b.occurred_at && a.seq < b.seq);

/** Merges two pages sorted in `order` into one, keeping at most `limit` rows. */
export function mergePages<T extends Position>(a: T[], b: T[], order: SortOrder, limit: number): T[] {
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (out.length < limit && (i < a.length || j < b.length)) {
    const takeA = j >= b.length || (i < a.length && (order === 'asc' ? before(a[i]!, b[j]!) : before(b[j]!, a[i]!)));
    out.push(takeA ? a[i++]! : b[j++]!);
  }
  return out;
}

/**
 * Parts that can hold rows of the page: inside the keyset, and, when the hot
 * rows already fill the page, not beyond its last row.
 */
export function partsForPage(parts: ArchivedPartRef[], q: ArchivedQuery, hotRows: Position[]): ArchivedPartRef[] {
  const desc = q.order === 'desc';
  const boundary = hotRows.length >= q.limit ? hotRows[q.limit - 1]! : null;
  return parts.filter((p) => {
    if (q.after && (desc ? p.min_occurred_at > q.after.occurred_at : p.max_occurred_at < q.after.occurred_at)) return false;
    if (boundary && (desc ? p.max_occurred_at < boundary.occurred_at : p.min_occurred_at > boundary.occurred_at)) return false;
    return true;
  });
}

/** A page of archived events (at most q.limit, in q.order) from the given parts. */
export async function archivedPage(tx: TxSql, parts: ArchivedPartRef[], q: ArchivedQuery): Promise<ArchivedEvent[]> {
  if (!parts.length) return [];
  const restores = [...new Set(parts.map((p) => p.restore_id).filter((r): r is string => r !== null))];
  const files = parts.filter((p) => !p.restore_id);
  const [restored, archived] = await Promise.all([restores.length ? restoredPage(tx, restores, q) : [], files.length ? parquetPage(files, q) : []]);
  return mergePages(restored, archived, q.order, q.limit);
}

/** One archived event of the tenant by its ledger position, or null. */
export async function findArchivedEvent(tx: TxSql, tenantId: string, position: Position): Promise<ArchivedEvent | null> {
  const month = position.occurred_at.slice(0, 7);
  const parts = (await archivedParts(tx, { from: position.occurred_at, to: undefined })).filter(
    (p) => p.month.startsWith(month) && p.min_seq <= position.seq && p.max_seq >= position.seq,
  );
  for (const p of parts) {
    const [row] = p.restore_id
      ? await restoredRows(tx, [p.restore_id], tx`tenant_id = ${tenantId} and seq = ${position.seq}`, 'asc', 1)
      : await withDuckDB(async (db) => {
          const file = await localFile(env(), p, cacheDir());
          const reader = await db.runAndReadAll(`select ${ARCHIVE_JSON} from ${archiveRelation([file])} where seq = ?::BIGINT`, [position.seq]);
          return reader.getColumns()[0]!.map((text) => archivedEventFromJson(text as string));
        });
    if (row) return row;
  }
  return null;
}

/** Where downloaded archive files are kept. */
export function cacheDir(): string {
  return dataPath(env(), 'archive-cache');
}

async function restoredRows(tx: TxSql, restores: string[], where: ReturnType<typeof restoredWhereClause>, order: SortOrder, limit: number): Promise<ArchivedEvent[]> {
  const rows = (await tx`
    select ${tx.unsafe(EVENT_FIELDS.join(', '))} from public.restored_events
    where restore_id = any(${restores}::uuid[]) and ${where}
    order by ${order === 'desc' ? tx`occurred_at desc, seq desc` : tx`occurred_at asc, seq asc`}
    limit ${limit}`) as unknown as AuditEvent[];
  return rows.map((r) => ({ ...r, archived: true as const }));
}

async function restoredPage(tx: TxSql, restores: string[], q: ArchivedQuery): Promise<ArchivedEvent[]> {
  const keyset = q.after
    ? q.order === 'desc'
      ? tx`(occurred_at, seq) < (${q.after.occurred_at}::timestamptz, ${q.after.seq}::bigint)`
      : tx`(occurred_at, seq) > (${q.after.occurred_at}::timestamptz, ${q.after.seq}::bigint)`
    : tx`true`;
  return restoredRows(tx, restores, tx`${restoredWhereClause(tx, q.tenantId, q.filters)} and ${keyset}`, q.order, q.limit);
}

async function parquetPage(parts: ArchivedPartRef[], q: ArchivedQuery): Promise<ArchivedEvent[]> {
  const files = await Promise.all(parts.map((p) => localFile(env(), p, cacheDir())));
  const { where, params } = compileDuck(q.tenantId, filterExpr(q.filters));
  let keyset = '';
  if (q.after) {
    const op = q.order === 'desc' ? '<' : '>';
    const [at, seq] = [`$${params.length + 1}::TIMESTAMPTZ`, `$${params.length + 2}::BIGINT`];
    keyset = ` and (occurred_at ${op} ${at} or (occurred_at = ${at} and seq ${op} ${seq}))`;
    params.push(q.after.occurred_at, q.after.seq);
  }
  const order = q.order === 'desc' ? 'occurred_at desc, seq desc' : 'occurred_at asc, seq asc';
  return withDuckDB(async (db) => {
    const reader = await db.runAndReadAll(`select ${ARCHIVE_JSON} from ${archiveRelation(files)} where ${where}${keyset} order by ${order} limit ${q.limit}`, params);
    return (reader.getColumns()[0] ?? []).map((text) => archivedEventFromJson(text as string));
  });
}

/** How many archived events of the given parts match (restored months counted in PostgreSQL), up to `cap`. */
export async function archivedCount(tx: TxSql, parts: ArchivedPartRef[], tenantId: string, filters: EventFilters, cap: number): Promise<number> {
  if (!parts.length) return 0;
  const restores = [...new Set(parts.map((p) => p.restore_id).filter((r): r is string => r !== null))];
  const files = parts.filter((p) => !p.restore_id);
  let n = 0;
  if (restores.length) {
    const [row] = await tx`
      select count(*)::int as n from (
        select 1 from public.restored_events where restore_id = any(${restores}::uuid[]) and ${restoredWhereClause(tx, tenantId, filters)} limit ${cap + 1}
      ) as capped`;
    n += row!.n as number;
  }
  if (files.length && n <= cap) {
    const paths = await Promise.all(files.map((p) => localFile(env(), p, cacheDir())));
    const { where, params } = compileDuck(tenantId, filterExpr(filters));
    n += await withDuckDB(async (db) => Number((await db.runAndReadAll(`select count(*) from ${archiveRelation(paths)} where ${where}`, params)).getRows()[0]![0] as bigint));
  }
  return n;
}
