/**
 * The search shape's archived months: how many matching events of each
 * histogram bucket, and of each value of the value-count fields, lie in
 * months that left PostgreSQL — counted exactly, in the months' Parquet parts
 * (DuckDB, the filter tree compiled for it) or, while a month is restored, in
 * restored_events. search-shape.ts adds them to the hot counts, so the chart
 * covers the whole range; a month that cannot be read is reported by the
 * caller as not counted, never left out silently.
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { TxSql } from '@/supabase/functions/_shared/db.ts';
import { filterExpr, type EventFilters } from '@/supabase/functions/_shared/filters.ts';
import { env } from '@/server/env.ts';
import { withDuckDB } from '@/server/archive/duckdb.ts';
import { archiveRelation } from '@/server/archive/rows.ts';
import { cacheDir, type ArchivedPartRef } from './archived-events.ts';
import { compileDuck } from './filters/duckdb.ts';
import { localFile } from './retention/files.ts';
import { restoredWhereClause } from './query.ts';

export const SHAPE_FIELDS = ['event_type', 'object_type', 'actor_id', 'source', 'outcome'] as const;
/** Values per field taken from the archive (the chart shows fewer; more keep the merge with hot counts close). */
const ARCHIVED_FACET_VALUES = 50;

/** [from, to) cut into `count` buckets of `width` seconds from `first` (epoch seconds). */
export interface BucketGrid {
  from: string;
  to: string;
  first: number;
  width: number;
  count: number;
}

export interface ArchivedTally {
  /** Matching events per bucket index. */
  buckets: Map<number, number>;
  /** Matching events per field and value (null: the field is absent). */
  facets: Map<string, Map<string | null, number>>;
}

type Row = { kind: string; field: string; value: string | null; n: number | bigint };

function merge(into: ArchivedTally, from: ArchivedTally) {
  for (const [i, n] of from.buckets) into.buckets.set(i, (into.buckets.get(i) ?? 0) + n);
  for (const [field, values] of from.facets) {
    const target = into.facets.get(field) ?? new Map<string | null, number>();
    for (const [value, n] of values) target.set(value, (target.get(value) ?? 0) + n);
    into.facets.set(field, target);
  }
}

function add(tally: ArchivedTally, rows: Row[]) {
  for (const r of rows) {
    const n = Number(r.n);
    if (r.kind === 'bucket') {
      const i = Number(r.field);
      tally.buckets.set(i, (tally.buckets.get(i) ?? 0) + n);
    } else {
      const values = tally.facets.get(r.field) ?? new Map<string | null, number>();
      values.set(r.value, (values.get(r.value) ?? 0) + n);
      tally.facets.set(r.field, values);
    }
  }
}

/** Thrown when the archive is not read by the deadline; the code of PostgreSQL's statement timeout, as a timed-out restored month throws. */
export function outOfBudget(): Error {
  return Object.assign(new Error('The archive was not read within the time budget'), { code: '57014' });
}

/**
 * The archived parts' matching events within the grid, per bucket and per value. Throws when a part cannot be
 * read. `deadline` (performance.now() ms): a Parquet read still running then is interrupted (code 57014; the
 * caller sets the statement timeout for restored months).
 */
export async function archivedTally(tx: TxSql, parts: ArchivedPartRef[], tenantId: string, filters: EventFilters, grid: BucketGrid, deadline?: number): Promise<ArchivedTally> {
  const tally: ArchivedTally = { buckets: new Map(), facets: new Map() };
  const inGrid = parts.filter((p) => p.max_occurred_at >= grid.from && p.min_occurred_at < grid.to);
  const restores = [...new Set(inGrid.map((p) => p.restore_id).filter((r): r is string => r !== null))];
  const files = inGrid.filter((p) => !p.restore_id);
  if (restores.length) add(tally, await restoredTally(tx, restores, tenantId, filters, grid));
  if (files.length) add(tally, await parquetTally(files, tenantId, filters, grid, deadline));
  return tally;
}

/**
 * archivedTally month by month, for when the months together cannot be read:
 * every readable month is counted and each unreadable one named with its
 * reason, so one bad archive leaves only its own month uncounted.
 */
export async function archivedTallyByMonth(tx: TxSql, parts: ArchivedPartRef[], tenantId: string, filters: EventFilters, grid: BucketGrid, deadline?: number): Promise<{ tally: ArchivedTally; failed: { month: string; reason: string }[] }> {
  const tally: ArchivedTally = { buckets: new Map(), facets: new Map() };
  const failed: { month: string; reason: string }[] = [];
  for (const month of [...new Set(parts.map((p) => p.month.slice(0, 7)))].sort()) {
    try {
      merge(tally, await tx.savepoint((tx) => archivedTally(tx, parts.filter((p) => p.month.slice(0, 7) === month), tenantId, filters, grid, deadline)));
    } catch (err) {
      // Out of time is the whole chart's answer (search-shape.ts), not one month's.
      if ((err as { code?: string }).code === '57014') throw err;
      failed.push({ month, reason: (err as Error).message });
    }
  }
  return { tally, failed };
}

async function restoredTally(tx: TxSql, restores: string[], tenantId: string, filters: EventFilters, grid: BucketGrid): Promise<Row[]> {
  const fields = SHAPE_FIELDS.map((f) => `('${f}', ${f})`).join(', ');
  return (await tx`
    with m as (
      select occurred_at, event_type, object_type, actor_id, source, outcome from public.restored_events
      where restore_id = any(${restores}::uuid[]) and ${restoredWhereClause(tx, tenantId, filters)}
        and occurred_at >= ${grid.from}::timestamptz and occurred_at < ${grid.to}::timestamptz
    ),
    facets as (
      select field, value, count(*) as n, row_number() over (partition by field order by count(*) desc, value) as rank
      from m, lateral (values ${tx.unsafe(fields)}) as v(field, value) group by field, value
    )
    select 'bucket' as kind, floor((extract(epoch from occurred_at) - ${grid.first}::float8) / ${grid.width}::float8)::int::text as field, null::text as value, count(*)::float8 as n from m group by 2
    union all
    select 'facet', field, value, n::float8 from facets where rank <= ${ARCHIVED_FACET_VALUES}`) as unknown as Row[];
}

async function parquetTally(parts: ArchivedPartRef[], tenantId: string, filters: EventFilters, grid: BucketGrid, deadline?: number): Promise<Row[]> {
  let reading: DuckDBConnection | null = null;
  const work = (async () => {
    const paths = await Promise.all(parts.map((p) => localFile(env(), p, cacheDir())));
    // A download that took the time left is not read now (it stays cached for the next search).
    if (deadline !== undefined && performance.now() >= deadline) throw outOfBudget();
    const { where, params } = compileDuck(tenantId, filterExpr(filters));
    const p = (value: DuckDBValue) => `$${params.push(value)}`;
    const [from, to, first, width] = [p(grid.from), p(grid.to), p(grid.first), p(grid.width)];
    const facets = SHAPE_FIELDS.map((f) => `select '${f}' as field, ${f}::VARCHAR as value, count(*) as n from m group by ${f}`).join(' union all ');
    const text = `
      with m as (
        select occurred_at, event_type, object_type, actor_id, source, outcome from ${archiveRelation(paths)}
        where ${where} and occurred_at >= ${from}::TIMESTAMPTZ and occurred_at < ${to}::TIMESTAMPTZ
      )
      select 'bucket' as kind, cast(cast(floor((epoch(occurred_at) - ${first}::DOUBLE) / ${width}::DOUBLE) as INTEGER) as VARCHAR) as field, null::VARCHAR as value, count(*) as n from m group by 2
      union all
      select 'facet', field, value, n from (${facets}) qualify row_number() over (partition by field order by n desc, value) <= ${ARCHIVED_FACET_VALUES}`;
    return withDuckDB(async (db) => {
      reading = db;
      const reader = await db.runAndReadAll(text, params);
      return reader.getRowObjects() as unknown as Row[];
    });
  })();
  if (deadline === undefined) return work;
  // At the deadline the read is interrupted; one that cannot be (a file that does not answer) is left to finish on
  // its own, and the shape answers without it.
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reading?.interrupt();
      reject(outOfBudget());
    }, Math.max(0, deadline - performance.now()));
  });
  try {
    return await Promise.race([work, expired]);
  } catch (err) {
    if (performance.now() >= deadline) throw outOfBudget();
    throw err;
  } finally {
    clearTimeout(timer);
    work.catch(() => undefined);
  }
}
