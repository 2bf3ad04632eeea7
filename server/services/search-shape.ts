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
 * console labels it. Archived months are counted exactly in their archive
 * (archived-shape.ts: Parquet parts, or the restored copy) and added in; a
 * month whose archive cannot be read is listed as not counted, with the
 * reason, and the buckets it touches are marked `short`, so the chart is never
 * silently short. A filter that would make the reading slow (no index helps it and matches are
 * rare) stops at a statement timeout and the answer says so.
 */
import type { Sql, TenantClaims, TxSql } from '@/supabase/functions/_shared/db.ts';
import { filterExpr, type EventFilters } from '@/supabase/functions/_shared/filters.ts';
import { nextMicrosecond, occurredAtBounds } from '@/supabase/functions/_shared/filter-tree.ts';
import { archivedParts, type ArchivedPartRef } from './archived-events.ts';
import { archivedTally, archivedTallyByMonth, SHAPE_FIELDS, type ArchivedTally, type BucketGrid } from './archived-shape.ts';
import { inTenant, whereClause } from './query.ts';
import { withBlindIndex } from './personal/search.ts';
import { revealActorSamples } from './personal/reveal.ts';
import { withRelatedKeys } from './related-keys.ts';

export const MAX_BUCKETS = 60;
export const PER_BUCKET = 200;
export const FACET_VALUES = 8;
const TIMEOUT_MS = 2000;

/** Bucket widths people read easily, in seconds. */
const WIDTHS = [1, 5, 15, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 91 * 86400, 365 * 86400];

export const FACET_FIELDS = SHAPE_FIELDS;
export type FacetField = (typeof FACET_FIELDS)[number];

export interface SearchShape {
  /** Buckets from `from` (inclusive) in steps of `bucket_seconds`; the last ends at `to` (exclusive). */
  from: string | null;
  to: string | null;
  bucket_seconds: number;
  /** `short`: part of the bucket lies in an archived month that could not be counted, so its count is too low. */
  buckets: { start: string; count: number; exact: boolean; short: boolean }[];
  /** The most frequent values of each field among the matches (null: the field is absent). */
  facets: Record<FacetField, { value: string | null; count: number }[]>;
  /** True when every count is exact; otherwise some are estimates. */
  exact: boolean;
  /** Archived months (YYYY-MM) in the range: counted from their archive, or not (then `archive_error` says why). */
  archived_months: { month: string; counted: boolean }[];
  /** Why archived months could not be counted (null when every one was). */
  archive_error: string | null;
  /** Set when the shape could not be computed in time (the reason). */
  unavailable: string | null;
}

const emptyFacets = (): SearchShape['facets'] => ({ event_type: [], object_type: [], actor_id: [], source: [], outcome: [] });

/** The smallest readable width that cuts [from, to) into at most MAX_BUCKETS buckets. */
export function bucketWidth(fromMs: number, toMs: number): number {
  const span = Math.max(1, (toMs - fromMs) / 1000);
  return WIDTHS.find((w) => span / w <= MAX_BUCKETS) ?? Math.ceil(span / MAX_BUCKETS / 86400) * 86400;
}

/**
 * A sealed actor (docs/personal-data.md) is counted per subject key (its
 * reference, as stored) and shown opened from one of its events' seals, or
 * "[personal]" for a `masked` reader, "[erased]" once erased.
 */
export async function searchShape(sql: Sql, claims: TenantClaims, requested: EventFilters, reveal: { masked?: boolean } = {}): Promise<SearchShape> {
  const sealed = await withBlindIndex(sql, claims.tenant_id, requested);
  const samples = new Map<{ value: string | null; count: number }, string>();
  const shape = await inTenant(sql, claims, async (tx): Promise<SearchShape> => {
    const filters = await withRelatedKeys(tx, sealed);
    await tx`select set_config('statement_timeout', ${String(TIMEOUT_MS)}, true)`;
    const bounds = occurredAtBounds(filterExpr(filters));
    const parts = await archivedParts(tx, filters);
    const months = [...new Set(parts.map((p) => p.month.slice(0, 7)))].sort();
    const empty: SearchShape = {
      from: bounds.from,
      to: bounds.to,
      bucket_seconds: 0,
      buckets: [],
      facets: emptyFacets(),
      exact: true,
      archived_months: months.map((month) => ({ month, counted: true })),
      archive_error: null,
      unavailable: null,
    };
    try {
      return await tx.savepoint(async (tx) => {
        const plan = await planShape(tx, claims.tenant_id, filters, parts);
        if (!plan) return empty;
        const rows = await shapeStatement(tx, claims.tenant_id, filters, plan);
        // The archived months, counted exactly; a month that cannot be read is named, and its buckets marked short.
        let archived: ArchivedTally = { buckets: new Map(), facets: new Map() };
        let failed: { month: string; reason: string }[] = [];
        try {
          archived = await tx.savepoint((tx) => archivedTally(tx, parts, claims.tenant_id, filters, plan));
        } catch (err) {
          if ((err as { code?: string }).code === '57014') throw err;
          // Month by month, to count every month that can be read and name those that cannot.
          ({ tally: archived, failed } = await archivedTallyByMonth(tx, parts, claims.tenant_id, filters, plan));
        }
        const archiveError = failed.length
          ? `The archived months ${failed.map((f) => f.month).join(', ')} could not be read, so their events are not counted: ${failed.map((f) => `${f.month}: ${f.reason}`).join('; ')}`
          : null;
        const byIndex = new Map<number, { n: number; exact: boolean }>();
        const hotFacets = emptyFacets();
        // One stored event per sealed value, to open it from (keyed by field and value, as merging makes new entries).
        const hotSamples = new Map<string, string>();
        for (const r of rows) {
          if (r.kind === 'bucket') byIndex.set(Number(r.field), { n: Number(r.n), exact: r.exact as boolean });
          else {
            hotFacets[r.field as FacetField].push({ value: r.value as string | null, count: Number(r.n) });
            if (r.sample) hotSamples.set(`${r.field}\u0000${r.value}`, r.sample as string);
          }
        }
        const facets = mergeFacets(hotFacets, archived);
        for (const field of FACET_FIELDS) {
          for (const entry of facets.facets[field]) {
            const sample = hotSamples.get(`${field}\u0000${entry.value}`);
            if (sample) samples.set(entry, sample);
          }
        }
        const uncounted = failed.map((f) => [Date.parse(`${f.month}-01T00:00:00Z`), monthEnd(f.month)] as const);
        const buckets = Array.from({ length: plan.count }, (_, i) => {
          const b = byIndex.get(i);
          const startS = plan.first + i * plan.width;
          const short = uncounted.some(([lo, hi]) => startS * 1000 < hi && (startS + plan.width) * 1000 > lo);
          return { start: new Date(startS * 1000).toISOString(), count: (b?.n ?? 0) + (archived.buckets.get(i) ?? 0), exact: b?.exact ?? true, short };
        });
        return {
          from: plan.from,
          to: plan.to,
          bucket_seconds: plan.width,
          buckets,
          facets: facets.facets,
          exact: buckets.every((b) => b.exact) && facets.exact && !archiveError,
          archived_months: months.map((month) => ({ month, counted: !failed.some((f) => f.month === month) })),
          archive_error: archiveError,
          unavailable: null,
        };
      });
    } catch (err) {
      if ((err as { code?: string }).code === '57014') {
        return { ...empty, exact: false, unavailable: `Charting this search takes longer than ${TIMEOUT_MS / 1000} s (no index narrows it down); the results below are not affected` };
      }
      throw err;
    }
  });
  if (samples.size) await revealActorSamples(sql, claims.tenant_id, samples, reveal);
  return shape;
}

/** The first instant after a month (YYYY-MM), UTC ms. */
function monthEnd(month: string): number {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return Date.UTC(y, m, 1);
}

/**
 * Hot value counts (the top FACET_VALUES per field) plus archived ones (exact,
 * a longer list): the top FACET_VALUES of the sums. Exact when no value could
 * be missing from a full hot list, i.e. a value outside it may have hot events
 * that are not counted.
 */
function mergeFacets(hot: SearchShape['facets'], archived: ArchivedTally): { facets: SearchShape['facets']; exact: boolean } {
  const facets = emptyFacets();
  let exact = true;
  for (const field of FACET_FIELDS) {
    const sums = new Map<string | null, number>(hot[field].map((v) => [v.value, v.count]));
    const fromArchive = archived.facets.get(field) ?? new Map<string | null, number>();
    for (const [value, n] of fromArchive) {
      if (!sums.has(value) && hot[field].length >= FACET_VALUES) exact = false;
      sums.set(value, (sums.get(value) ?? 0) + n);
    }
    facets[field] = [...sums]
      .map(([value, count]) => ({ value, count }))
      .sort((a, b) => b.count - a.count || String(a.value).localeCompare(String(b.value)))
      .slice(0, FACET_VALUES);
  }
  return { facets, exact };
}

/** The chart's range and buckets: [from, to) and `count` buckets of `width` seconds from `first` (epoch seconds). */
type ShapePlan = BucketGrid;

async function planShape(tx: TxSql, tenantId: string, filters: EventFilters, parts: ArchivedPartRef[]): Promise<ShapePlan | null> {
  let { from, to } = occurredAtBounds(filterExpr(filters));
  if (from === null || to === null) {
    // An open end: where the matches begin or end (the time key's first and last match), archived months included.
    const [span] = await tx`select min(occurred_at) as first, max(occurred_at) as last from public.audit_events where ${whereClause(tx, tenantId, filters)}`;
    const firsts = [span?.first as string | null, ...parts.map((p) => p.min_occurred_at)].filter((v): v is string => !!v).sort();
    const lasts = [span?.last as string | null, ...parts.map((p) => p.max_occurred_at)].filter((v): v is string => !!v).sort();
    if (!firsts.length) return null;
    from ??= firsts[0]!;
    to ??= nextMicrosecond(lasts[lasts.length - 1]!);
  }
  const fromMs = Date.parse(from);
  const toS = epochSeconds(to);
  if (!(toS * 1000 > fromMs)) return null;
  const width = bucketWidth(fromMs, toS * 1000);
  // Buckets start at multiples of the width (UTC), so a zoomed chart lines up with the wider one.
  const first = Math.floor(fromMs / 1000 / width) * width;
  // Up to the exclusive end to the microsecond: an event in the last microsecond before `to` has its bucket.
  return { from, to, first, width, count: Math.ceil((toS - first) / width) };
}

/** A canonical timestamp as epoch seconds, microseconds included (Date.parse stops at milliseconds). */
function epochSeconds(iso: string): number {
  const micros = /\.\d{3}(\d{1,3})/.exec(iso)?.[1];
  return Date.parse(iso) / 1000 + (micros ? Number(micros.padEnd(3, '0')) / 1e6 : 0);
}

/** The one statement: a capped, time-ordered read per bucket, then bucket counts (exact or estimated) and weighted value counts. */
function shapeStatement(tx: TxSql, tenantId: string, filters: EventFilters, plan: ShapePlan, prefix = '') {
  const { from, to, first, width, count } = plan;
  return tx`${tx.unsafe(prefix)}
    with sample as materialized (
      select b.i, s.id, s.schema_version, s.personal, s.event_type, s.object_type, s.actor_id, s.source, s.outcome, s.occurred_at,
             row_number() over (partition by b.i order by s.occurred_at, s.seq) as rn,
             greatest(to_timestamp(${first}::float8 + b.i * ${width}::float8), ${from}::timestamptz) as lo,
             least(to_timestamp(${first}::float8 + (b.i + 1) * ${width}::float8), ${to}::timestamptz) as hi
      from generate_series(0, ${count - 1}::int) as b(i)
      cross join lateral (
        select occurred_at, seq, id, schema_version, personal, event_type, object_type, actor_id, source, outcome
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
      -- A sealed actor is its reference (one per subject key), with one event's seal of that key to open.
      select field, value, sum(w) as n, row_number() over (partition by field order by sum(w) desc, value) as rank, min(sample) as sample
      from weighted, lateral (values ('event_type', event_type, null), ('object_type', object_type, null),
                                     ('actor_id', actor_id,
                                      case when schema_version = 3 and actor_id like 'pd2:%' then id::text || ' ' || (personal -> 'sealed' ->> substr(actor_id, 70)) end),
                                     ('source', source, null), ('outcome', outcome, null)) as v(field, value, sample)
      group by field, value
    )
    select 'bucket' as kind, i::text as field, null as value, round(n * case when more then stretch else 1 end)::float8 as n, not more as exact, null as sample from buckets
    union all
    select 'facet', field, value, round(n)::float8, null, sample from facets where rank <= ${FACET_VALUES}`;
}

/** EXPLAIN (ANALYZE, BUFFERS) of the shape's statements as the console runs them (for the query benchmark). */
export async function explainShape(sql: Sql, claims: TenantClaims, filters: EventFilters): Promise<string> {
  return inTenant(sql, claims, async (tx) => {
    const plan = await planShape(tx, claims.tenant_id, filters, await archivedParts(tx, filters));
    if (!plan) return '(no matching events)';
    const rows = await shapeStatement(tx, claims.tenant_id, filters, plan, 'explain (analyze, buffers)');
    return rows.map((r) => r['QUERY PLAN'] as string).join('\n');
  });
}
