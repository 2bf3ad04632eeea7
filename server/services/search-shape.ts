/**
 * The shape of a search: how its matching events spread over time (a
 * histogram) and which event types, object types, actors, sources and
 * outcomes they hold (value counts), for the console beside the results.
 *
 * Cost is bounded whatever the trail's size: the time span is cut into at
 * most MAX_BUCKETS buckets, and each bucket reads at most PER_BUCKET matching
 * rows through the (tenant_id, occurred_at, seq) key (or the index the
 * filter picks), in time order. A bucket with no more rows than that is
 * counted exactly; a fuller one is estimated from how much of the bucket's
 * time its first PER_BUCKET rows covered, and its rows stand for the rest in
 * the value counts. Every estimate is marked as one (`exact: false`), so the
 * console labels it. Archived months (read from Parquet by pages and exports)
 * are not charted: the answer names them instead of leaving them out silently.
 * A filter that would make the reading slow (no index helps it and matches are
 * rare) stops at a statement timeout and the answer says so.
 */
import type { Sql, TenantClaims, TxSql } from '@/supabase/functions/_shared/db.ts';
import { filterExpr, type EventFilters } from '@/supabase/functions/_shared/filters.ts';
import { nextMicrosecond, occurredAtBounds } from '@/supabase/functions/_shared/filter-tree.ts';
import { archivedParts } from './archived-events.ts';
import { inTenant, whereClause } from './query.ts';
import { withRelatedKeys } from './related-keys.ts';

export const MAX_BUCKETS = 60;
export const PER_BUCKET = 200;
export const FACET_VALUES = 8;
const TIMEOUT_MS = 2000;

/** Bucket widths people read easily, in seconds. */
const WIDTHS = [1, 5, 15, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 91 * 86400, 365 * 86400];

export const FACET_FIELDS = ['event_type', 'object_type', 'actor_id', 'source', 'outcome'] as const;
export type FacetField = (typeof FACET_FIELDS)[number];

export interface SearchShape {
  /** Buckets from `from` (inclusive) in steps of `bucket_seconds`; the last ends at `to` (exclusive). */
  from: string | null;
  to: string | null;
  bucket_seconds: number;
  buckets: { start: string; count: number; exact: boolean }[];
  /** The most frequent values of each field among the matches (null: the field is absent). */
  facets: Record<FacetField, { value: string | null; count: number }[]>;
  /** True when every count is exact; otherwise some are estimates. */
  exact: boolean;
  /** Archived months (YYYY-MM) in the range that the chart does not include. */
  archived_months: string[];
  /** Set when the shape could not be computed in time (the reason). */
  unavailable: string | null;
}

const emptyFacets = (): SearchShape['facets'] => ({ event_type: [], object_type: [], actor_id: [], source: [], outcome: [] });

/** The smallest readable width that cuts [from, to) into at most MAX_BUCKETS buckets. */
export function bucketWidth(fromMs: number, toMs: number): number {
  const span = Math.max(1, (toMs - fromMs) / 1000);
  return WIDTHS.find((w) => span / w <= MAX_BUCKETS) ?? Math.ceil(span / MAX_BUCKETS / 86400) * 86400;
}

export async function searchShape(sql: Sql, claims: TenantClaims, requested: EventFilters): Promise<SearchShape> {
  return inTenant(sql, claims, async (tx) => {
    const filters = await withRelatedKeys(tx, requested);
    await tx`select set_config('statement_timeout', ${String(TIMEOUT_MS)}, true)`;
    const bounds = occurredAtBounds(filterExpr(filters));
    const archived = [...new Set((await archivedParts(tx, filters)).filter((p) => !p.restore_id).map((p) => p.month.slice(0, 7)))].sort();
    const empty: SearchShape = { from: bounds.from, to: bounds.to, bucket_seconds: 0, buckets: [], facets: emptyFacets(), exact: true, archived_months: archived, unavailable: null };
    try {
      return await tx.savepoint(async (tx) => {
        const plan = await planShape(tx, claims.tenant_id, filters);
        if (!plan) return empty;
        const rows = await shapeStatement(tx, claims.tenant_id, filters, plan);
        const byIndex = new Map<number, { n: number; exact: boolean }>();
        const facets = emptyFacets();
        for (const r of rows) {
          if (r.kind === 'bucket') byIndex.set(Number(r.field), { n: Number(r.n), exact: r.exact as boolean });
          else facets[r.field as FacetField].push({ value: r.value as string | null, count: Number(r.n) });
        }
        for (const list of Object.values(facets)) list.sort((a, b) => b.count - a.count || String(a.value).localeCompare(String(b.value)));
        const buckets = Array.from({ length: plan.count }, (_, i) => {
          const b = byIndex.get(i);
          return { start: new Date((plan.first + i * plan.width) * 1000).toISOString(), count: b?.n ?? 0, exact: b?.exact ?? true };
        });
        return { from: plan.from, to: plan.to, bucket_seconds: plan.width, buckets, facets, exact: buckets.every((b) => b.exact), archived_months: archived, unavailable: null };
      });
    } catch (err) {
      if ((err as { code?: string }).code === '57014') {
        return { ...empty, exact: false, unavailable: `Charting this search takes longer than ${TIMEOUT_MS / 1000} s (no index narrows it down); the results below are not affected` };
      }
      throw err;
    }
  });
}

/** The chart's range and buckets: [from, to) and `count` buckets of `width` seconds from `first` (epoch seconds). */
interface ShapePlan {
  from: string;
  to: string;
  first: number;
  width: number;
  count: number;
}

async function planShape(tx: TxSql, tenantId: string, filters: EventFilters): Promise<ShapePlan | null> {
  let { from, to } = occurredAtBounds(filterExpr(filters));
  if (from === null || to === null) {
    // An open end: where the matches begin or end (the time key's first and last match).
    const [span] = await tx`select min(occurred_at) as first, max(occurred_at) as last from public.audit_events where ${whereClause(tx, tenantId, filters)}`;
    if (!span?.first) return null;
    from ??= span.first as string;
    to ??= nextMicrosecond(span.last as string);
  }
  const fromMs = Date.parse(from);
  const toMs = Date.parse(to);
  if (!(toMs > fromMs)) return null;
  const width = bucketWidth(fromMs, toMs);
  // Buckets start at multiples of the width (UTC), so a zoomed chart lines up with the wider one.
  const first = Math.floor(fromMs / 1000 / width) * width;
  return { from, to, first, width, count: Math.ceil((toMs / 1000 - first) / width) };
}

/** The one statement: a capped, time-ordered read per bucket, then bucket counts (exact or estimated) and weighted value counts. */
function shapeStatement(tx: TxSql, tenantId: string, filters: EventFilters, plan: ShapePlan, prefix = '') {
  const { from, to, first, width, count } = plan;
  return tx`${tx.unsafe(prefix)}
    with sample as materialized (
      select b.i, s.event_type, s.object_type, s.actor_id, s.source, s.outcome, s.occurred_at,
             row_number() over (partition by b.i order by s.occurred_at, s.seq) as rn,
             greatest(to_timestamp(${first}::float8 + b.i * ${width}::float8), ${from}::timestamptz) as lo,
             least(to_timestamp(${first}::float8 + (b.i + 1) * ${width}::float8), ${to}::timestamptz) as hi
      from generate_series(0, ${count - 1}::int) as b(i)
      cross join lateral (
        select occurred_at, seq, event_type, object_type, actor_id, source, outcome
        from public.audit_events
        where ${whereClause(tx, tenantId, filters)}
          and occurred_at >= greatest(to_timestamp(${first}::float8 + b.i * ${width}::float8), ${from}::timestamptz)
          and occurred_at < least(to_timestamp(${first}::float8 + (b.i + 1) * ${width}::float8), ${to}::timestamptz)
        order by occurred_at, seq
        limit ${PER_BUCKET + 1}
      ) as s
    ),
    buckets as (
      -- A full bucket: its first PER_BUCKET rows covered [lo, cut); the bucket is estimated at that density.
      select i, count(*) filter (where rn <= ${PER_BUCKET}) as n, bool_or(rn > ${PER_BUCKET}) as more,
             extract(epoch from max(hi) - max(lo)) / greatest(extract(epoch from max(occurred_at) filter (where rn = ${PER_BUCKET + 1}) - max(lo)), 0.000001) as stretch
      from sample group by i
    ),
    weighted as (
      select s.*, case when b.more then b.stretch else 1 end as w
      from sample s join buckets b using (i) where s.rn <= ${PER_BUCKET}
    ),
    facets as (
      select field, value, sum(w) as n, row_number() over (partition by field order by sum(w) desc, value) as rank
      from weighted, lateral (values ('event_type', event_type), ('object_type', object_type), ('actor_id', actor_id), ('source', source), ('outcome', outcome)) as v(field, value)
      group by field, value
    )
    select 'bucket' as kind, i::text as field, null as value, round(n * case when more then stretch else 1 end)::float8 as n, not more as exact from buckets
    union all
    select 'facet', field, value, round(n)::float8, null from facets where rank <= ${FACET_VALUES}`;
}

/** EXPLAIN (ANALYZE, BUFFERS) of the shape's statements as the console runs them (for the query benchmark). */
export async function explainShape(sql: Sql, claims: TenantClaims, filters: EventFilters): Promise<string> {
  return inTenant(sql, claims, async (tx) => {
    const plan = await planShape(tx, claims.tenant_id, filters);
    if (!plan) return '(no matching events)';
    const rows = await shapeStatement(tx, claims.tenant_id, filters, plan, 'explain (analyze, buffers)');
    return rows.map((r) => r['QUERY PLAN'] as string).join('\n');
  });
}
