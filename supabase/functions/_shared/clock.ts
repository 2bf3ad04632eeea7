/**
 * Clock evidence on the write path (docs/clock.md). Two things live here so
 * the edge function and the server share them:
 *
 *   - the CLOCK_SYNC event type: a source's report of its clock's offset from
 *     a reference (NTP/PTP/GPS), validated like any field (400 naming the event
 *     and field) and otherwise stored exactly as sent;
 *   - the SQL that adds a batch's received_at − occurred_at to the per-minute
 *     distribution of its source and credential (one upsert per batch and
 *     source, inside the batch's own transaction, so the figures are exactly
 *     those of the committed events).
 */
import { z } from 'zod';
import type { AuditEventInput } from './contract.ts';
import { invalid, type FieldIssue } from './errors.ts';
import { formatJsonPath } from './strict-json.ts';

export const CLOCK_SYNC_EVENT_TYPE = 'CLOCK_SYNC';

/** Default tolerance for a source's clock: FINRA Rule 4590 and the CAT NMS Plan allow 50 ms from NIST. */
export const DEFAULT_CLOCK_TOLERANCE_MS = 50;
export const DEFAULT_NETWORK_DELAY_MS = 0;
/** The most a measured network delay adds to the tolerance for clocks behind, unless the tenant sets another cap (docs/clock.md). */
export const DEFAULT_MAX_NETWORK_DELAY_MS = 50;

/**
 * Edges (µs) of the buckets of received_at − occurred_at. Bucket 0 holds values
 * below the first edge, bucket i values from edge i−1 up to (not including)
 * edge i, the last bucket values from the last edge up; PostgreSQL's
 * width_bucket(value, edges) numbers them the same way. Negative: the source's
 * clock is ahead of ours.
 */
export const SKEW_BUCKET_EDGES_US = [-1_000_000, -200_000, -100_000, -50_000, -10_000, 0, 10_000, 50_000, 100_000, 200_000, 1_000_000, 5_000_000] as const;
export const SKEW_BUCKETS = SKEW_BUCKET_EDGES_US.length + 1;

const reference = z.string().min(1, 'must not be empty').max(200, 'must be at most 200 characters');
const milliseconds = z.number({ error: 'must be a number of milliseconds' }).refine(Number.isFinite, 'must be a finite number');

/**
 * The context of a CLOCK_SYNC event. Further keys (stratum, server, method, …)
 * are the source's own and are kept as sent.
 */
export const clockSyncContext = z.looseObject({
  /** The source's clock minus the reference's, at the sync (positive: the source was ahead). */
  offset_ms: milliseconds,
  /** What the clock was synchronised against: "NIST time.nist.gov", "GPS PPS", "PTP grandmaster 00:1b:…". */
  reference,
  /** The largest error the source claims for the sync (e.g. chrony's root distance), if it knows it. */
  max_error_ms: milliseconds.refine((v) => v >= 0, 'must not be negative').optional(),
});

export type ClockSync = z.infer<typeof clockSyncContext>;

/**
 * The network round trip of the client's previous request to oms-audit, in
 * milliseconds (up to three decimals), as the SDK measures it on its monotonic
 * clock less the server's own time (SERVER_TIMING_HEADER): twice the one-way
 * delivery delay at most, recorded per source and minute beside the skew
 * (docs/clock.md, "Network delay").
 */
export const ROUND_TRIP_HEADER = 'x-audit-round-trip-ms';
export const MAX_ROUND_TRIP_MS = 60_000;

/**
 * Every answer of the ingest endpoints says how long oms-audit worked on the
 * request (W3C Server Timing: `Server-Timing: oms-audit;dur=1.234`, in ms,
 * from the request's headers arriving to the response's), so a client can
 * take it off its measured round trip and report the network's part alone.
 */
export const SERVER_TIMING_HEADER = 'server-timing';
export const SERVER_TIMING_METRIC = 'oms-audit';

/** The Server-Timing value for work that began at `startedMs` (performance.now()). */
export function serverTiming(startedMs: number, nowMs = performance.now()): string {
  return `${SERVER_TIMING_METRIC};dur=${Math.max(0, nowMs - startedMs).toFixed(3)}`;
}

/** The header's round trip in µs; null without one; 400 naming the header when it is not 0–60000 ms. */
export function reportedRoundTripMicros(value: string | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const match = /^(\d{1,5})(?:\.(\d{1,3}))?$/.exec(value.trim());
  const micros = match ? Number(match[1]) * 1000 + Number((match[2] ?? '').padEnd(3, '0')) : NaN;
  if (!(micros <= MAX_ROUND_TRIP_MS * 1000)) {
    throw invalid([{ field: `header ${ROUND_TRIP_HEADER}`, message: `must be a number of milliseconds from 0 to ${MAX_ROUND_TRIP_MS}, with at most 3 decimals` }], 'request');
  }
  return micros;
}

/**
 * CLOCK_SYNC events must carry what makes them evidence: 400 naming each such
 * event and field otherwise, and nothing of the batch is stored.
 */
export function checkClockSyncRecords(events: readonly AuditEventInput[]): void {
  const issues: FieldIssue[] = [];
  events.forEach((e, index) => {
    if (e.event_type !== CLOCK_SYNC_EVENT_TYPE) return;
    const parsed = clockSyncContext.safeParse(e.context);
    if (parsed.success) return;
    for (const issue of parsed.error.issues) {
      const path = ['context', ...issue.path.map((p) => (typeof p === 'number' ? p : String(p)))];
      const missing = issue.path.length === 1 && e.context[String(issue.path[0])] === undefined;
      const message = missing ? 'is required for CLOCK_SYNC events' : issue.message;
      issues.push({ index, field: formatJsonPath(path), message });
    }
  });
  if (issues.length) throw invalid(issues.slice(0, 100), 'batch');
}

/**
 * Data-modifying CTEs for APPEND_EVENTS_SQL, reading its `fresh` rows (new
 * events only, so a retried batch adds nothing) and the tenant in $1. Events
 * without their own occurred_at were stamped with received_at and are left out.
 */
export const CLOCK_SKEW_CTES = `
clock_limits as (
  select coalesce(max(tolerance_ms), ${DEFAULT_CLOCK_TOLERANCE_MS})::bigint * 1000 as ahead_us,
         (coalesce(max(tolerance_ms), ${DEFAULT_CLOCK_TOLERANCE_MS}) + coalesce(max(network_delay_ms), ${DEFAULT_NETWORK_DELAY_MS}))::bigint * 1000 as behind_us
  from public.clock_tolerances where tenant_id = $1
),
clock_samples as (
  select d.*, width_bucket(d.skew_us, '{${SKEW_BUCKET_EDGES_US.join(',')}}'::bigint[]) as bucket
  from (
    select f.source, f.written_by, date_trunc('minute', f.received_at, 'UTC') as minute, f.round_trip_us,
           (extract(epoch from f.received_at - f.occurred_at) * 1000000)::bigint as skew_us
    from fresh f
    where f.occurred_at <> f.received_at
  ) as d
),
clock as (
  insert into public.clock_skew_minutes as m (
    tenant_id, minute, source, written_by, events, ahead_events, flagged_ahead, flagged_behind,
    min_skew_us, max_skew_us, sum_skew_us, buckets, ahead_limit_us, behind_limit_us, round_trips, min_round_trip_us, max_round_trip_us)
  select $1, s.minute, s.source, s.written_by, count(*), count(*) filter (where s.skew_us < 0),
    count(*) filter (where s.skew_us < -l.ahead_us), count(*) filter (where s.skew_us > l.behind_us),
    min(s.skew_us), max(s.skew_us), sum(s.skew_us),
    array[${Array.from({ length: SKEW_BUCKETS }, (_, i) => `count(*) filter (where s.bucket = ${i})`).join(', ')}]::integer[],
    l.ahead_us, l.behind_us, count(s.round_trip_us), min(s.round_trip_us), max(s.round_trip_us)
  from clock_samples s cross join clock_limits l
  group by s.minute, s.source, s.written_by, l.ahead_us, l.behind_us
  on conflict (tenant_id, minute, source, written_by) do update set
    events = m.events + excluded.events,
    ahead_events = m.ahead_events + excluded.ahead_events,
    flagged_ahead = m.flagged_ahead + excluded.flagged_ahead,
    flagged_behind = m.flagged_behind + excluded.flagged_behind,
    min_skew_us = least(m.min_skew_us, excluded.min_skew_us),
    max_skew_us = greatest(m.max_skew_us, excluded.max_skew_us),
    sum_skew_us = m.sum_skew_us + excluded.sum_skew_us,
    buckets = (select array_agg(a + b order by i) from unnest(m.buckets, excluded.buckets) with ordinality as u(a, b, i)),
    ahead_limit_us = excluded.ahead_limit_us,
    behind_limit_us = excluded.behind_limit_us,
    round_trips = m.round_trips + excluded.round_trips,
    min_round_trip_us = least(m.min_round_trip_us, excluded.min_round_trip_us),
    max_round_trip_us = greatest(m.max_round_trip_us, excluded.max_round_trip_us)
)`;
