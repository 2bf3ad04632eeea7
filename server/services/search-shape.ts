/**
 * The shape of a search: how its matching events spread over time (a
 * histogram) and which event types, object types, actors, sources and
 * outcomes they hold (value counts), for the console beside the results.
 *
 * Its time is bounded by construction (SHAPE_BUDGET_MS), counted from the
 * request's start: the look-ups that decide what to count (the sealed-value
 * index, the tenant's related keys, the archived parts, the chart's range,
 * the planner's estimate) run under what is left of it, and a look-up that
 * does not fit makes the shape "unavailable", saying so. The shape then
 * counts exactly when PostgreSQL's planner expects few enough matches
 * (SHAPE_EXACT_ROWS) and the count finishes within half the budget (a
 * statement timeout); otherwise it counts a time sample: short time windows
 * spread over the range (stratified, each at a random offset), read through
 * the tenant's own index ranges — the primary key (tenant_id, occurred_at,
 * seq), or the actor, object or event-type index when the filter pins one — so
 * it reads only the tenant's rows (never another tenant's pages), and scaled
 * up by the share of the time it covered. Each part (the histogram, the value
 * counts) says whether it is exact or an estimate and on what basis, so a
 * sampled or short answer is never labelled exact. "Count exactly"
 * (`exact: true`) runs without the budget, holding an export slot
 * (export-slots.ts) for as long as it counts. Archived months are counted
 * exactly in their archive (archived-shape.ts: Parquet parts, or the restored
 * copy), within what is left of the budget, and added in; a month whose
 * archive cannot be read, or not in time, is listed as not counted, with the
 * reason, and the buckets it touches are marked `short`, so the chart is
 * never silently short (Count exactly reads it whole).
 */
import type { Sql, TenantClaims, TxSql } from '@/supabase/functions/_shared/db.ts';
import { filterExpr, type EventFilters } from '@/supabase/functions/_shared/filters.ts';
import { nextMicrosecond, occurredAtBounds } from '@/supabase/functions/_shared/filter-tree.ts';
import { env } from '@/server/env.ts';
import { archivedParts, type ArchivedPartRef } from './archived-events.ts';
import { archivedTally, archivedTallyByMonth, SHAPE_FIELDS, type ArchivedTally, type BucketGrid } from './archived-shape.ts';
import { exportSlots } from './export-slots.ts';
import { inSearchSnapshot, inTenant, whereClause } from './query.ts';
import { MASKED, revealActorSamples } from './personal/reveal.ts';
import { withRelatedKeys } from './related-keys.ts';

export const MAX_BUCKETS = 60;
export const FACET_VALUES = 8;
/** Statement timeout between the budgeted statements (each sets its own before it runs). */
const OUTSIDE_BUDGET_TIMEOUT_MS = 2000;
/** Strata of the time sample: one window in each, so every bar is sampled over its whole width. */
export const SAMPLE_WINDOWS = 120;

/** Bucket widths people read easily, in seconds. */
const WIDTHS = [1, 5, 15, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 91 * 86400, 365 * 86400];

export const FACET_FIELDS = SHAPE_FIELDS;
export type FacetField = (typeof FACET_FIELDS)[number];

/** What one part of the shape is: counted exactly, or an estimate on the stated basis. */
export interface PartAccuracy {
  label: 'exact' | 'estimate';
  /** How the estimate was made (null when exact). */
  basis: string | null;
}

export interface SearchShape {
  /** Buckets from `from` (inclusive) in steps of `bucket_seconds`; the last ends at `to` (exclusive). */
  from: string | null;
  to: string | null;
  bucket_seconds: number;
  /** `short`: part of the bucket lies in an archived month that could not be counted, so its count is too low. */
  buckets: { start: string; count: number; exact: boolean; short: boolean }[];
  /** The most frequent values of each field among the matches (null: the field is absent); `erased`: a sealed actor whose key was destroyed (its value reads "[erased]"). */
  facets: Record<FacetField, { value: string | null; count: number; erased?: true }[]>;
  /** True when every count is exact; otherwise some are estimates. */
  exact: boolean;
  /** Per part: exact, or an estimate and its basis. */
  accuracy: { histogram: PartAccuracy; facets: PartAccuracy };
  /** Archived months (YYYY-MM) in the range: counted from their archive, or not (then `archive_error` says why). */
  archived_months: { month: string; counted: boolean }[];
  /** Why archived months could not be counted (null when every one was). */
  archive_error: string | null;
  /** Set when the shape could not be computed in time (the reason). */
  unavailable: string | null;
}

export interface ShapeOptions {
  /** Personal data shown as "[personal]". */
  masked?: boolean;
  /** Count exactly, without the time budget (holds an export slot). */
  exact?: boolean;
  /** The time budget in ms (default SHAPE_BUDGET_MS). */
  budgetMs?: number;
  /** Expected matches above which the sample is used at once (default SHAPE_EXACT_ROWS). */
  exactRows?: number;
  /** Matching events the sample aims to see (default SHAPE_SAMPLE_ROWS). */
  sampleRows?: number;
  /** Strata of the time sample (default SAMPLE_WINDOWS). */
  sampleWindows?: number;
  /** Where in its stratum each window lies, in [0, 1) (default Math.random; a test fixes it). */
  random?: () => number;
}

const EXACT: PartAccuracy = { label: 'exact', basis: null };
const emptyFacets = (): SearchShape['facets'] => ({ event_type: [], object_type: [], actor_id: [], source: [], outcome: [] });
const isTimeout = (err: unknown) => (err as { code?: string }).code === '57014';
const pct = (p: number) => `${p >= 10 ? p.toFixed(0) : p >= 1 ? p.toFixed(1) : p.toPrecision(2)} %`;

/** The smallest readable width that cuts [from, to) into at most MAX_BUCKETS buckets. */
export function bucketWidth(fromMs: number, toMs: number): number {
  const span = Math.max(1, (toMs - fromMs) / 1000);
  return WIDTHS.find((w) => span / w <= MAX_BUCKETS) ?? Math.ceil(span / MAX_BUCKETS / 86400) * 86400;
}

/** Thrown at a statement that would begin after the shape's deadline: the work stops there and its transaction rolls back. */
class PastDeadline extends Error {
  constructor() {
    super('The search shape passed its deadline');
  }
}

/** The best answer so far, replaced as the work proceeds; at the deadline it is the answer, as it stands. */
interface Progress {
  answer: SearchShape;
  expired: boolean;
}

const unavailableShape = (reason: string): SearchShape => ({
  from: null,
  to: null,
  bucket_seconds: 0,
  buckets: [],
  facets: emptyFacets(),
  exact: false,
  accuracy: { histogram: EXACT, facets: EXACT },
  archived_months: [],
  archive_error: null,
  unavailable: reason,
});

const lookupsTooLong = (budgetMs: number) =>
  unavailableShape(`Looking up what to chart (the tenant's settings, archived months and the chart's range) took longer than the ${budgetMs} ms budget; the results below are not affected`);

/**
 * A sealed actor (docs/personal-data.md) is counted per subject key (its
 * reference, as stored) and shown opened from one of its events' seals, or
 * "[personal]" for a `masked` reader, "[erased]" once erased.
 *
 * The budget is a deadline on the wall clock, `SHAPE_BUDGET_MS` after the
 * call: the answer comes then at the latest, as far as it got — the counts
 * done, labelled exact or estimate; archived months not read by then named;
 * sealed actors not opened by then shown "[personal]"; nothing counted yet:
 * `unavailable`, saying which step did not finish. Nothing is left running on
 * the database: every statement runs under a statement timeout of what is left
 * until the deadline, and none begins after it (the transaction rolls back).
 */
export async function searchShape(sql: Sql, claims: TenantClaims, requested: EventFilters, options: ShapeOptions = {}): Promise<SearchShape> {
  const started = performance.now();
  const budgetMs = options.budgetMs ?? env().SHAPE_BUDGET_MS;
  // "Count exactly" has no deadline: its statements run under SHAPE_EXACT_TIMEOUT_SECONDS.
  const deadline = options.exact ? null : started + budgetMs;
  const progress: Progress = { answer: lookupsTooLong(budgetMs), expired: false };
  const slot = options.exact ? exportSlots().acquire(claims.tenant_id) : null;
  try {
    const work = chart(sql, claims, requested, options, { started, budgetMs, progress });
    return deadline === null ? await work : await byDeadline(work, deadline, progress);
  } finally {
    slot?.release();
  }
}

/** The work's answer, or at the deadline the best answer so far (the work then stops at its next statement). */
async function byDeadline(work: Promise<SearchShape>, deadline: number, progress: Progress): Promise<SearchShape> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<SearchShape>((resolve) => {
    timer = setTimeout(() => {
      progress.expired = true;
      resolve(progress.answer);
    }, Math.max(0, deadline - performance.now()));
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
    // Past the deadline the work ends on its own (PastDeadline, or a statement timeout): nobody awaits it.
    work.catch(() => undefined);
  }
}

async function chart(
  sql: Sql,
  claims: TenantClaims,
  requested: EventFilters,
  options: ShapeOptions,
  clock: { started: number; budgetMs: number; progress: Progress },
): Promise<SearchShape> {
  const { started, budgetMs, progress } = clock;
  const config = env();
  const exactTimeoutMs = config.SHAPE_EXACT_TIMEOUT_SECONDS * 1000;
  // What is left of a share of the budget, counted from the request's start (look-ups included).
  const left = (share: number) => String(Math.max(1, Math.floor(budgetMs * share - (performance.now() - started))));
  // No statement begins after the deadline.
  const gate = () => {
    if (progress.expired) throw new PastDeadline();
  };
  const settle = (answer: SearchShape) => (progress.answer = answer);
  const samples = new Map<{ value: string | null; count: number; erased?: true }, string>();
  // The sealed-value look-up runs in the search's snapshot, first; its time is spent from the budget like every other.
  const shape = await inSearchSnapshot(sql, claims, requested, async (tx, sealed): Promise<SearchShape> => {
    gate();
    // Between the budgeted statements, and for "Count exactly", the longer timeout.
    const outside = String(options.exact ? exactTimeoutMs : OUTSIDE_BUDGET_TIMEOUT_MS);
    const timeout = (tx: TxSql, ms: string) => {
      gate();
      return tx`select set_config('statement_timeout', ${options.exact ? outside : ms}, true)`;
    };
    // The statements of `run` under a timeout of `ms`: the timeout sent first, in the same round trip (PostgreSQL reads
    // them in order and arms each statement's timer as that statement begins, with the setting of that moment).
    const timed = async <T>(tx: TxSql, ms: string, run: (tx: TxSql) => Promise<T>) => {
      const set = timeout(tx, ms).execute();
      try {
        return await run(tx);
      } finally {
        await set.catch(() => undefined);
      }
    };
    // A statement under a timeout of `ms`, in a savepoint: a timeout rolls it back and leaves the transaction usable.
    const bounded = async <T>(ms: string, run: (tx: TxSql) => Promise<T>) => (await tx.savepoint((tx) => timed(tx, ms, run))) as T;
    // The look-ups, each statement under what was left of the whole budget when they began; the independent ones sent
    // together (one round trip), and the budget checked again when they are done.
    let looked: { filters: EventFilters; parts: ArchivedPartRef[]; plan: ShapePlan | null; planned: number };
    try {
      looked = await tx.savepoint((tx) =>
        timed(tx, left(1), async (tx) => {
          const filters = await withRelatedKeys(tx, sealed);
          gate();
          const [parts, found] = await Promise.all([archivedParts(tx, filters), lookUpRange(tx, claims.tenant_id, filters, !options.exact)]);
          return { filters, parts, plan: gridOf(occurredAtBounds(filterExpr(filters)), found.span, parts), planned: found.planned };
        }),
      );
    } catch (err) {
      if (isTimeout(err)) return settle(lookupsTooLong(budgetMs));
      throw err;
    }
    if (!options.exact && performance.now() - started >= budgetMs) return settle(lookupsTooLong(budgetMs));
    const { filters, parts, plan, planned } = looked;
    const months = [...new Set(parts.map((p) => p.month.slice(0, 7)))].sort();
    const bounds = occurredAtBounds(filterExpr(filters));
    // Nothing matches: no buckets, nothing counted.
    if (!plan) return settle({ ...unavailableShape(''), ...bounds, exact: true, archived_months: months.map((month) => ({ month, counted: true })), unavailable: null });
    const grid = plan;
    const outOfTime = (): SearchShape => ({
      ...unavailableShape(
        options.exact
          ? `Counting this search exactly takes longer than ${exactTimeoutMs / 1000} s; narrow the time range or the filter`
          : `Charting this search takes longer than ${budgetMs} ms, even from a sample; the results below are not affected`,
      ),
      from: grid.from,
      to: grid.to,
      archived_months: months.map((month) => ({ month, counted: true })),
    });
    settle(outOfTime());
    const exactRows = options.exactRows ?? config.SHAPE_EXACT_ROWS;
    const sampleRows = options.sampleRows ?? config.SHAPE_SAMPLE_ROWS;
    const sampleOf = (rows: number, expected: number) => timeSample(grid, sampleFraction(rows, expected), options.sampleWindows ?? SAMPLE_WINDOWS, options.random ?? Math.random);
    // Archived months in range keep a quarter of the budget for their archive.
    const hotShare = parts.length ? 0.75 : 1;
    // One count of the hot rows (exactly, or the sample's), under what is left of `share` of the budget; null when it timed out.
    const count = async (sample: TimeSample | null, share: number): Promise<Counted | null> => {
      try {
        return { rows: await bounded(left(share), (tx) => shapeStatement(tx, claims.tenant_id, filters, grid, sample)), sample };
      } catch (err) {
        if (isTimeout(err)) return null;
        throw err;
      }
    };
    // Months not read yet are named as such until their tally is in.
    const notYetRead = months.map((month) => ({ month, reason: `not read within the ${budgetMs} ms budget (Count exactly counts it)` }));
    const publish = (c: Counted, archived: ArchivedTally | null, failed: { month: string; reason: string }[]) =>
      settle(maskSealed(assemble(c, archived ?? { buckets: new Map(), facets: new Map() }, failed, grid, months, samples), samples));
    let counted: Counted | null;
    if (options.exact) {
      counted = await count(null, 1);
      if (!counted) return outOfTime();
    } else if (planned > exactRows) {
      // More matches expected than are counted within the budget: the time sample.
      counted = await count(sampleOf(sampleRows, planned), hotShare);
    } else {
      // Few enough to count, but more than the sample would see: a quick sample first (a quarter of the sample's
      // events), so an estimate stands if the exact count does not finish; the exact count then gets the rest.
      const quick = planned > sampleRows ? await count(sampleOf(Math.ceil(sampleRows / 4), planned), hotShare) : null;
      if (quick) publish(quick, null, notYetRead);
      // Without a quick sample, a quarter is kept for a sample should the count not finish (more matches than expected).
      counted = (await count(null, quick ? hotShare : hotShare * 0.75)) ?? quick ?? (await count(sampleOf(sampleRows, Math.max(planned, exactRows, sampleRows * 2)), hotShare));
    }
    if (!counted) return settle(outOfTime());
    publish(counted, null, notYetRead);
    // The archived months, counted exactly from their archive within what is left of the budget; a month that cannot
    // be read, or not in time, is named, and its buckets marked short.
    let archived: ArchivedTally = { buckets: new Map(), facets: new Map() };
    let failed: { month: string; reason: string }[] = [];
    if (parts.length) {
      const deadline = options.exact ? undefined : started + budgetMs;
      try {
        archived = await bounded(left(1), (tx) => archivedTally(tx, parts, claims.tenant_id, filters, grid, deadline));
      } catch (err) {
        if (isTimeout(err)) {
          if (options.exact) return outOfTime();
          failed = notYetRead;
        } else {
          // Month by month, to count every month that can be read and name those that cannot.
          try {
            ({ tally: archived, failed } = await tx.savepoint((tx) => timed(tx, left(1), (tx) => archivedTallyByMonth(tx, parts, claims.tenant_id, filters, grid, deadline))));
          } catch (err) {
            if (!isTimeout(err)) throw err;
            if (options.exact) return outOfTime();
            archived = { buckets: new Map(), facets: new Map() };
            failed = notYetRead;
          }
        }
      }
    }
    const answer = assemble(counted, archived, failed, grid, months, samples);
    settle(maskSealed(answer, samples));
    return answer;
  });
  // Sealed actors' names opened (or masked) last; not opened by the deadline, the answer above shows them "[personal]".
  if (samples.size && !shape.unavailable) {
    gate();
    await revealActorSamples(sql, claims.tenant_id, samples, { masked: options.masked });
  }
  return settle(shape);
}

type Counted = { rows: ShapeRow[]; sample: TimeSample | null };

/** The shape from the hot rows counted and the archived tally (`failed`: months not counted, with why); `samples` collects the sealed actors' seals to open. */
function assemble(
  counted: Counted,
  archived: ArchivedTally,
  failed: { month: string; reason: string }[],
  grid: ShapePlan,
  months: string[],
  samples: Map<{ value: string | null; count: number; erased?: true }, string>,
): SearchShape {
  const { rows, sample } = counted;
  const archiveError = failed.length
    ? `The archived months ${failed.map((f) => f.month).join(', ')} were not read, so their events are not counted: ${failed.map((f) => `${f.month}: ${f.reason}`).join('; ')}`
    : null;
  const byIndex = new Map<number, number>();
  const hotFacets = emptyFacets();
  // One stored event per sealed value, to open it from (keyed by field and value, as merging makes new entries).
  const hotSamples = new Map<string, string>();
  for (const r of rows) {
    // A sample's counts stand for 1 / fraction events each.
    const count = sample ? Math.round(Number(r.n) / sample.fraction) : Number(r.n);
    if (r.field === 'bucket') byIndex.set(Number(r.value), count);
    else {
      hotFacets[r.field as FacetField].push({ value: r.value, count });
      if (r.sample) hotSamples.set(`${r.field}\u0000${r.value}`, r.sample);
    }
  }
  const facets = mergeFacets(hotFacets, archived);
  samples.clear();
  for (const field of FACET_FIELDS) {
    for (const entry of facets.facets[field]) {
      const seal = hotSamples.get(`${field}\u0000${entry.value}`);
      if (seal) samples.set(entry, seal);
    }
  }
  const uncounted = failed.map((f) => [Date.parse(`${f.month}-01T00:00:00Z`), monthEnd(f.month)] as const);
  const buckets = Array.from({ length: grid.count }, (_, i) => {
    const startS = grid.first + i * grid.width;
    const short = uncounted.some(([lo, hi]) => startS * 1000 < hi && (startS + grid.width) * 1000 > lo);
    return { start: new Date(startS * 1000).toISOString(), count: (byIndex.get(i) ?? 0) + (archived.buckets.get(i) ?? 0), exact: !sample, short };
  });
  const sampled = sample ? sampleBasis(sample, rows, months.length > 0) : null;
  const merged = facets.exact ? null : `the most frequent values in PostgreSQL and in the archived months were merged: a value outside PostgreSQL's top ${FACET_VALUES} may be counted short`;
  const histogram: PartAccuracy = sampled ? { label: 'estimate', basis: sampled } : EXACT;
  const facetBasis = [sampled, merged].filter(Boolean).join('; ');
  return {
    from: grid.from,
    to: grid.to,
    bucket_seconds: grid.width,
    buckets,
    facets: facets.facets,
    exact: !sample && facets.exact && !archiveError,
    accuracy: { histogram, facets: facetBasis ? { label: 'estimate', basis: facetBasis } : EXACT },
    archived_months: months.map((month) => ({ month, counted: !failed.some((f) => f.month === month) })),
    archive_error: archiveError,
    unavailable: null,
  };
}

/** The shape as shown before its sealed actors are opened: a copy with each of them "[personal]". */
function maskSealed(shape: SearchShape, samples: Map<{ value: string | null; count: number; erased?: true }, string>): SearchShape {
  if (!samples.size) return shape;
  return { ...shape, facets: { ...shape.facets, actor_id: shape.facets.actor_id.map((e) => (samples.has(e) ? { value: MASKED, count: e.count } : e)) } };
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

/**
 * What the chart's range and size need from PostgreSQL, sent together: for an open range, where the matches begin
 * and end (the time key's first and last match); when `estimate`, how many events the planner expects to match
 * (EXPLAIN, nothing read; the filter holds the range already, an open range is every match).
 */
async function lookUpRange(tx: TxSql, tenantId: string, filters: EventFilters, estimate: boolean): Promise<{ span: Span | null; planned: number }> {
  const { from, to } = occurredAtBounds(filterExpr(filters));
  const [span, planned] = await Promise.all([
    from === null || to === null
      ? tx`select min(occurred_at) as first, max(occurred_at) as last from public.audit_events where ${whereClause(tx, tenantId, filters)}`.then(([r]) => ({ first: r?.first as string | null, last: r?.last as string | null }))
      : null,
    estimate ? plannedMatches(tx, tenantId, filters) : 0,
  ]);
  return { span, planned };
}

type Span = { first: string | null; last: string | null };

/** The chart's buckets over the filter's range; an open end is where the matches begin or end, archived months included. */
function gridOf(bounds: { from: string | null; to: string | null }, span: Span | null, parts: ArchivedPartRef[]): ShapePlan | null {
  let { from, to } = bounds;
  if (from === null || to === null) {
    const firsts = [span?.first ?? null, ...parts.map((p) => p.min_occurred_at)].filter((v): v is string => !!v).sort();
    const lasts = [span?.last ?? null, ...parts.map((p) => p.max_occurred_at)].filter((v): v is string => !!v).sort();
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

type ShapeRow = { field: 'bucket' | FacetField; value: string | null; n: number; sample: string | null };

/**
 * A time sample: [from, to) cut into `strata` equal strata, and in each one
 * window covering `fraction` of it at a random offset (wrapping around inside
 * its stratum, so every instant of the range is equally likely to be covered:
 * the chance is exactly `fraction`). Windows are epoch seconds, [lo, hi).
 */
export interface TimeSample {
  fraction: number;
  strata: number;
  lo: number[];
  hi: number[];
}

export function timeSample(grid: { from: string; to: string }, fraction: number, strata: number, random: () => number): TimeSample {
  const fromS = epochSeconds(grid.from);
  const span = epochSeconds(grid.to) - fromS;
  // At least a microsecond per window: the shortest span a timestamp tells apart.
  const n = Math.max(1, Math.min(strata, Math.floor((span * fraction) / 1e-6)));
  const length = span / n;
  const covered = length * fraction;
  const lo: number[] = [];
  const hi: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = fromS + i * length;
    const offset = random() * length;
    const end = offset + covered;
    lo.push(start + offset);
    hi.push(start + Math.min(end, length));
    // The part past the stratum's end wraps to its start.
    if (end > length) {
      lo.push(start);
      hi.push(start + (end - length));
    }
  }
  return { fraction, strata: n, lo, hi };
}

/** The share of the time range to sample to see about `rows` of `expected` matches: at most half, and never nothing (an unknown estimate). */
function sampleFraction(rows: number, expected: number): number {
  return Math.min(0.5, Math.max(1e-6, rows / (Number.isFinite(expected) ? Math.max(1, expected) : 1e9)));
}

/** The sample's basis, in words: what it read and how far each event seen is scaled. */
function sampleBasis(sample: TimeSample, rows: ShapeRow[], archived: boolean): string {
  const seen = rows.filter((r) => r.field === 'bucket').reduce((a, r) => a + Number(r.n), 0);
  return `sampled ${pct(sample.fraction * 100)} of the time range${archived ? ' in PostgreSQL' : ''} (${sample.strata.toLocaleString('en-US')} windows spread over it, read through this tenant's index only), ${seen.toLocaleString('en-US')} matching events seen, each counted ${(1 / sample.fraction).toFixed(1)} times`;
}

/**
 * How many events PostgreSQL's planner expects the shape to read (EXPLAIN, nothing read): its estimate of the matches,
 * or more where a bitmap scan's index conditions select more rows than the filter is expected to keep. An indexed
 * context member's filter (`symbol = AAPL`) is the indexed column plus the JSON value it was derived from; the planner
 * has no statistics for the JSON expression and takes it for a strong filter (a fraction of a percent), so its match
 * estimate can be a hundredth of the rows the index selects, and those rows are what the count reads.
 */
async function plannedMatches(tx: TxSql, tenantId: string, filters: EventFilters): Promise<number> {
  const [row] = await tx`explain (format json) select 1 from public.audit_events where ${whereClause(tx, tenantId, filters)}`;
  const doc = row?.['QUERY PLAN'] as unknown;
  const parsed = (typeof doc === 'string' ? JSON.parse(doc) : doc) as { Plan: PlanNode }[];
  const plan = parsed[0]?.Plan;
  return plan ? Math.max(plan['Plan Rows'], rowsRead(plan)) : Number.POSITIVE_INFINITY;
}

type PlanNode = { 'Node Type': string; 'Plan Rows': number; 'Parent Relationship'?: string; Plans?: PlanNode[] };

/** The rows a plan's scans read, as estimated: a bitmap heap scan's rows are those its bitmap (the index conditions) selects. */
function rowsRead(node: PlanNode): number {
  // The scans beneath (not the tenant check's InitPlan).
  const children = (node.Plans ?? []).filter((c) => c['Parent Relationship'] !== 'InitPlan' && c['Parent Relationship'] !== 'SubPlan');
  if (node['Node Type'] === 'Bitmap Heap Scan') return Math.max(node['Plan Rows'], ...children.map((c) => c['Plan Rows']));
  if (node['Node Type'] === 'Append' || node['Node Type'] === 'Merge Append') return children.reduce((a, c) => a + rowsRead(c), 0);
  // A wrapper of one scan (the tenant check's Result): what it wraps.
  if (children.length === 1 && node['Node Type'] === 'Result') return Math.max(node['Plan Rows'], rowsRead(children[0]!));
  return node['Plan Rows'];
}

/**
 * The one statement: every matching event in range (or, with a time sample,
 * those within its windows: each window one range scan of the tenant's own
 * index, the month partition chosen at run time), counted in one pass per
 * bucket and per value of each field (grouping sets), the top FACET_VALUES
 * values per field kept. Counts are as seen: the caller scales a sample's.
 */
function shapeStatement(tx: TxSql, tenantId: string, filters: EventFilters, plan: ShapePlan, sample: TimeSample | null, prefix = '') {
  const { from, to, first, width } = plan;
  const matching = (extra: ReturnType<TxSql>) => tx`
    select floor((extract(epoch from occurred_at) - ${first}::float8) / ${width}::float8)::int as i,
           event_type, object_type, actor_id, source, outcome,
           case when schema_version = 3 and actor_id like 'pd2:%' then id::text || ' ' || (personal -> 'sealed' ->> substr(actor_id, 70)) end as sample
    from public.audit_events
    where ${whereClause(tx, tenantId, filters)}
      and occurred_at >= ${from}::timestamptz and occurred_at < ${to}::timestamptz ${extra}`;
  // A sample probes the index once per window: OFFSET 0 keeps the lateral subquery whole, so the windows' bounds
  // are its index condition (and prune the month partitions at run time) instead of a filter on every matching row.
  const source = sample
    ? tx`(select m.* from unnest(${sample.lo}::float8[], ${sample.hi}::float8[]) as w(lo, hi)
          cross join lateral (${matching(tx`and occurred_at >= to_timestamp(w.lo) and occurred_at < to_timestamp(w.hi) offset 0`)}) as m)`
    : tx`(${matching(tx``)})`;
  return tx`${tx.unsafe(prefix)}
    with counted as (
      select case when grouping(i) = 0 then 'bucket' when grouping(event_type) = 0 then 'event_type' when grouping(object_type) = 0 then 'object_type'
                  when grouping(actor_id) = 0 then 'actor_id' when grouping(source) = 0 then 'source' else 'outcome' end as field,
             coalesce(i::text, event_type, object_type, actor_id, source, outcome) as value,
             count(*) as n,
             -- A sealed actor is its reference (one per subject key), with one event's seal of that key to open.
             case when grouping(actor_id) = 0 then min(sample) end as sample
      from ${source} as m
      group by grouping sets ((i), (event_type), (object_type), (actor_id), (source), (outcome))
    )
    select field, value, n::float8 as n, sample
    from (select *, row_number() over (partition by field order by n desc, value) as rank from counted) as ranked
    where field = 'bucket' or rank <= ${FACET_VALUES}` as unknown as Promise<ShapeRow[]>;
}

/** EXPLAIN (ANALYZE, BUFFERS) of the shape's statements as the console runs them: the exact count and the time sample (for the benchmarks). */
export async function explainShape(sql: Sql, claims: TenantClaims, filters: EventFilters): Promise<string> {
  return inTenant(sql, claims, async (tx) => {
    const found = await lookUpRange(tx, claims.tenant_id, filters, true);
    const plan = gridOf(occurredAtBounds(filterExpr(filters)), found.span, await archivedParts(tx, filters));
    if (!plan) return '(no matching events)';
    const planned = found.planned;
    const exact = await shapeStatement(tx, claims.tenant_id, filters, plan, null, 'explain (analyze, buffers)');
    const sample = timeSample(plan, sampleFraction(env().SHAPE_SAMPLE_ROWS, planned), SAMPLE_WINDOWS, Math.random);
    const sampled = await shapeStatement(tx, claims.tenant_id, filters, plan, sample, 'explain (analyze, buffers)');
    const text = (rows: unknown[]) => rows.map((r) => (r as Record<string, string>)['QUERY PLAN']).join('\n');
    return `planner expects ${planned} matches (exact count up to ${env().SHAPE_EXACT_ROWS})\n-- exact count:\n${text(exact)}\n-- time sample (${pct(sample.fraction * 100)} of the range in ${sample.strata} windows):\n${text(sampled)}`;
  });
}
