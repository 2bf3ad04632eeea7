/**
 * Clock evidence (docs/clock.md): what the trail shows of its sources' clocks.
 * Reads the per-minute distribution of received_at − occurred_at that the
 * write path keeps (clock_skew_minutes), the sources' own CLOCK_SYNC reports
 * (events of the trail), and the tenant's tolerance; one code path for the
 * tRPC procedures, the REST route, the System page and the metrics scrape.
 */
import { CLOCK_SYNC_EVENT_TYPE, DEFAULT_CLOCK_TOLERANCE_MS, DEFAULT_MAX_NETWORK_DELAY_MS, DEFAULT_NETWORK_DELAY_MS, SKEW_BUCKET_EDGES_US } from '@/supabase/functions/_shared/clock.ts';
import { measuredNetworkDelay } from './clock-network-delay.ts';
import { readTolerance, type ClockTolerance } from './clock-tolerance.ts';
import type { Sql, TenantClaims, TxSql } from '@/supabase/functions/_shared/db.ts';
import { withTenant } from '@/supabase/functions/_shared/db.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import type { ClockFlagLimits } from '@/lib/export-formats.ts';

export type { ClockTolerance } from './clock-tolerance.ts';

const MINUTE = 60_000;
/** The longest window one report covers: 24 hours of minutes per source. */
export const MAX_CLOCK_WINDOW_MINUTES = 24 * 60;


export interface SkewMinute {
  minute: string;
  events: number;
  ahead_events: number;
  flagged_ahead: number;
  flagged_behind: number;
  /** received_at − occurred_at in milliseconds (µs precision): negative means the source's clock is ahead. */
  min_ms: number;
  max_ms: number;
  mean_ms: number;
  /** Counts per bucket; edges in `bucket_edges_ms` of the report. */
  buckets: number[];
  /** Events whose request reported its client's last network round trip (X-Audit-Round-Trip-Ms), and the smallest and largest reported (ms; null when none): a bound on the delivery delay inside the skew. */
  round_trips: number;
  min_round_trip_ms: number | null;
  max_round_trip_ms: number | null;
}

export interface ClockSyncRecord {
  event_id: string;
  source: string | null;
  written_by: string | null;
  occurred_at: string;
  received_at: string;
  offset_ms: number;
  reference: string;
  max_error_ms: number | null;
}

export interface SourceClock {
  source: string | null;
  written_by: string;
  events: number;
  flagged_ahead: number;
  flagged_behind: number;
  min_ms: number;
  max_ms: number;
  mean_ms: number;
  /** Events whose request reported its client's last network round trip (X-Audit-Round-Trip-Ms), and the smallest and largest reported (ms; null when none): a bound on the delivery delay inside the skew. */
  round_trips: number;
  min_round_trip_ms: number | null;
  max_round_trip_ms: number | null;
  /** Minutes of the window in which the source sent events with their own occurred_at, oldest first. */
  minutes: SkewMinute[];
  /** The source's latest CLOCK_SYNC report received before the end of the window (any credential; dated at most a day after it), if it ever sent one. */
  last_sync: ClockSyncRecord | null;
}

export interface ClockReport {
  from: string;
  to: string;
  tolerance: ClockTolerance;
  bucket_edges_ms: number[];
  sources: SourceClock[];
  /** Every CLOCK_SYNC report received in the window, oldest first: the sync log. */
  syncs: ClockSyncRecord[];
}

/** A window of whole minutes ending with the current one, or the one asked for. */
export function clockWindow(input: { from?: string; to?: string; minutes?: number }, now = new Date()): { from: Date; to: Date } {
  const to = input.to ? new Date(input.to) : new Date(Math.floor(now.getTime() / MINUTE) * MINUTE + MINUTE);
  const from = input.from ? new Date(input.from) : new Date(to.getTime() - (input.minutes ?? 60) * MINUTE);
  if (Number.isNaN(from.getTime())) throw new AuditError('invalid_request', 'from must be a timestamp', [{ field: 'from', message: 'must be an ISO 8601 timestamp' }]);
  if (Number.isNaN(to.getTime())) throw new AuditError('invalid_request', 'to must be a timestamp', [{ field: 'to', message: 'must be an ISO 8601 timestamp' }]);
  if (from >= to) throw new AuditError('invalid_request', 'from must be before to', [{ field: 'from', message: 'must be before to' }]);
  if (to.getTime() - from.getTime() > MAX_CLOCK_WINDOW_MINUTES * MINUTE) {
    throw new AuditError('invalid_request', `A clock report covers at most ${MAX_CLOCK_WINDOW_MINUTES / 60} hours`, [{ field: 'from', message: `must be at most ${MAX_CLOCK_WINDOW_MINUTES / 60} hours before to` }]);
  }
  return { from, to };
}

/** An export manifest's `clock`: the limits its clock_flag column applies, and whether the network delay was measured (at most what). */
export type ManifestClock = ClockFlagLimits & { network_delay_measured: boolean; max_network_delay_ms: number };

/** The tenant's tolerance as an export's clock_flag column applies it (the claims' tenant, in the caller's transaction). */
export async function clockFlagLimits(tx: TxSql): Promise<ManifestClock> {
  const { tolerance_ms, network_delay_ms, network_delay_measured, max_network_delay_ms } = await readTolerance(tx);
  return { tolerance_ms, network_delay_ms, network_delay_measured, max_network_delay_ms };
}


const SYNC_COLUMNS = `id as event_id, source, written_by, occurred_at, received_at, context`;

function syncRecord(row: Record<string, unknown>): ClockSyncRecord {
  const context = row.context as Record<string, unknown>;
  return {
    event_id: row.event_id as string,
    source: row.source as string | null,
    written_by: row.written_by as string | null,
    occurred_at: row.occurred_at as string,
    received_at: row.received_at as string,
    offset_ms: Number(context.offset_ms),
    reference: String(context.reference),
    max_error_ms: typeof context.max_error_ms === 'number' ? context.max_error_ms : null,
  };
}

const us = (v: unknown) => Number(v) / 1000;
/** Combines two optional figures (null: none). */
const combined = (a: number | null, b: number | null, pick: (x: number, y: number) => number) => (a === null ? b : b === null ? a : pick(a, b));

/** The tenant's clock evidence over a window (row-level security keeps it to the claims' tenant). */
export async function clockReport(sql: Sql, claims: TenantClaims, window: { from: Date; to: Date }): Promise<ClockReport> {
  const from = window.from.toISOString();
  const to = window.to.toISOString();
  return withTenant(sql, claims, async (tx) => {
    const [tolerance, minutes, syncs, lastSyncs] = await Promise.all([
      readTolerance(tx),
      tx`
        select minute, source, written_by, events, ahead_events, flagged_ahead, flagged_behind, min_skew_us, max_skew_us, sum_skew_us, buckets,
          round_trips, min_round_trip_us, max_round_trip_us
        from public.clock_skew_minutes
        where tenant_id = ${claims.tenant_id} and minute >= ${from}::timestamptz and minute < ${to}::timestamptz
        order by source nulls first, written_by, minute`,
      // The tenant's (tenant_id, event_type, occurred_at, seq) index.
      tx.unsafe(
        `select ${SYNC_COLUMNS} from public.audit_events
         where tenant_id = $1 and event_type = '${CLOCK_SYNC_EVENT_TYPE}' and occurred_at >= $2::timestamptz and occurred_at < $3::timestamptz
         order by occurred_at, seq`,
        [claims.tenant_id, from, to],
      ),
      // Per source, the latest report received before the end of the window: one index probe per source. A source
      // whose clock runs ahead dates its report after it reached us, so reports dated up to a day past the window's
      // end count when they were received within it (a window ending now still shows the report just received).
      tx.unsafe(
        `select s.* from (select distinct source from public.clock_skew_minutes
                          where tenant_id = $1 and minute >= $2::timestamptz and minute < $3::timestamptz) as src
         cross join lateral (
           select ${SYNC_COLUMNS} from public.audit_events e
           where e.tenant_id = $1 and e.event_type = '${CLOCK_SYNC_EVENT_TYPE}'
             and e.occurred_at < $3::timestamptz + interval '1 day' and e.received_at < $3::timestamptz
             and e.source is not distinct from src.source
           order by e.occurred_at desc, e.seq desc limit 1) as s`,
        [claims.tenant_id, from, to],
      ),
    ]);
    const lastBySource = new Map(lastSyncs.map((r) => [r.source as string | null, syncRecord(r)]));
    const sources = new Map<string, SourceClock>();
    for (const r of minutes) {
      const key = JSON.stringify([r.source, r.written_by]);
      let s = sources.get(key);
      if (!s) {
        s = { source: r.source as string | null, written_by: r.written_by as string, events: 0, flagged_ahead: 0, flagged_behind: 0, min_ms: Infinity, max_ms: -Infinity, mean_ms: 0, round_trips: 0, min_round_trip_ms: null, max_round_trip_ms: null, minutes: [], last_sync: lastBySource.get(r.source as string | null) ?? null };
        sources.set(key, s);
      }
      const events = r.events as number;
      const minute: SkewMinute = {
        minute: r.minute as string,
        events,
        ahead_events: r.ahead_events as number,
        flagged_ahead: r.flagged_ahead as number,
        flagged_behind: r.flagged_behind as number,
        min_ms: us(r.min_skew_us),
        max_ms: us(r.max_skew_us),
        mean_ms: us(r.sum_skew_us) / events,
        buckets: (r.buckets as number[]).map(Number),
        round_trips: r.round_trips as number,
        min_round_trip_ms: r.min_round_trip_us === null ? null : us(r.min_round_trip_us),
        max_round_trip_ms: r.max_round_trip_us === null ? null : us(r.max_round_trip_us),
      };
      s.minutes.push(minute);
      s.mean_ms = (s.mean_ms * s.events + minute.mean_ms * events) / (s.events + events);
      s.events += events;
      s.flagged_ahead += minute.flagged_ahead;
      s.flagged_behind += minute.flagged_behind;
      s.min_ms = Math.min(s.min_ms, minute.min_ms);
      s.max_ms = Math.max(s.max_ms, minute.max_ms);
      s.round_trips += minute.round_trips;
      s.min_round_trip_ms = combined(s.min_round_trip_ms, minute.min_round_trip_ms, Math.min);
      s.max_round_trip_ms = combined(s.max_round_trip_ms, minute.max_round_trip_ms, Math.max);
    }
    return {
      from,
      to,
      tolerance,
      bucket_edges_ms: SKEW_BUCKET_EDGES_US.map((e) => e / 1000),
      sources: [...sources.values()],
      syncs: syncs.map(syncRecord),
    };
  });
}

export type SkewFlag = 'ahead' | 'behind' | null;

/** How an event's skew compares with a tolerance: the rule the write path counts by (docs/clock.md). */
export function skewFlag(skewMs: number, tolerance: Pick<ClockTolerance, 'tolerance_ms' | 'network_delay_ms'>): SkewFlag {
  if (skewMs < -tolerance.tolerance_ms) return 'ahead';
  if (skewMs > tolerance.tolerance_ms + tolerance.network_delay_ms) return 'behind';
  return null;
}

export interface EventClock {
  /** received_at − occurred_at in ms; null when the event brought no occurred_at of its own (it was stamped with received_at). */
  skew_ms: number | null;
  flag: SkewFlag;
  tolerance: ClockTolerance;
}

/** One event's skew, flagged under the tenant's current tolerance. Null if the tenant has no such event. */
export async function eventClock(sql: Sql, claims: TenantClaims, id: string): Promise<EventClock | null> {
  return withTenant(sql, claims, async (tx) => {
    const [tolerance, [row]] = await Promise.all([
      readTolerance(tx),
      tx`select (extract(epoch from received_at - occurred_at) * 1000000)::bigint as skew_us, occurred_at = received_at as stamped
         from public.audit_events where tenant_id = ${claims.tenant_id} and id = ${id}`,
    ]);
    if (!row) return null;
    if (row.stamped) return { skew_ms: null, flag: null, tolerance };
    const skew = us(row.skew_us);
    return { skew_ms: skew, flag: skewFlag(skew, tolerance), tolerance };
  });
}

export async function clockTolerance(sql: Sql, claims: TenantClaims): Promise<ClockTolerance> {
  return withTenant(sql, claims, readTolerance);
}

/**
 * Sets the tenant's tolerance; returns it before and after (the change is
 * recorded by the caller). `network_delay_measured` (default false: the
 * network delay given is set by hand) has the delay measured instead, at once
 * from the last day's reports when there are any, then by the server's
 * recalibration (clock-network-delay.ts).
 */
export async function setClockTolerance(
  sql: Sql,
  claims: TenantClaims,
  input: { tolerance_ms: number; network_delay_ms: number; network_delay_measured?: boolean; max_network_delay_ms?: number },
  updatedBy: string,
): Promise<{ before: ClockTolerance; after: ClockTolerance }> {
  return withTenant(sql, claims, async (tx) => {
    const before = await readTolerance(tx);
    const measured = input.network_delay_measured ?? false;
    const max = input.max_network_delay_ms ?? before.max_network_delay_ms;
    const measurement = measured ? await measuredNetworkDelay(tx, claims.tenant_id, max) : null;
    const delay = measured ? (measurement?.network_delay_ms ?? Math.min(before.network_delay_ms, max)) : input.network_delay_ms;
    await tx`
      insert into public.clock_tolerances (tenant_id, tolerance_ms, network_delay_ms, network_delay_measured, max_network_delay_ms, network_delay_basis, updated_by)
      values (${claims.tenant_id}, ${input.tolerance_ms}, ${delay}, ${measured}, ${max}, ${measurement ? tx.json(measurement.basis as never) : null}, ${updatedBy})
      on conflict (tenant_id) do update set tolerance_ms = excluded.tolerance_ms, network_delay_ms = excluded.network_delay_ms,
        network_delay_measured = excluded.network_delay_measured, max_network_delay_ms = excluded.max_network_delay_ms,
        network_delay_basis = excluded.network_delay_basis, updated_at = now(), updated_by = excluded.updated_by`;
    return { before, after: await readTolerance(tx) };
  });
}

/** Rows one purge statement deletes at most: a short transaction beside the write path's upserts. */
export const CLOCK_PURGE_BATCH = 10_000;

/**
 * Deletes the per-minute clock figures older than `keepDays` (at least 2),
 * batch by batch, through the definer function (the runtime role cannot delete
 * them itself); returns how many rows went.
 */
export async function purgeClockMinutes(sql: Sql, keepDays: number, batch = CLOCK_PURGE_BATCH): Promise<number> {
  let total = 0;
  for (;;) {
    const [row] = await sql`select oms_audit.purge_clock_skew_minutes(${keepDays}, ${batch}) as deleted`;
    const deleted = Number(row!.deleted);
    total += deleted;
    if (deleted < batch) return total;
  }
}

/** A source's figures over the scrape window, for every tenant. */
export type ClockGauge = Omit<SourceClock, 'minutes' | 'last_sync'> & { tenant_id: string };

export interface SyncGauge {
  tenant_id: string;
  source: string | null;
  offset_ms: number;
  age_seconds: number;
}

export interface ToleranceGauge {
  tenant_id: string;
  tolerance_ms: number;
  network_delay_ms: number;
  network_delay_measured: boolean;
  max_network_delay_ms: number;
}

/**
 * For the metrics scrape, every tenant: each source's skew over the last
 * `minutes` complete minutes, its latest CLOCK_SYNC report (within 2 days),
 * and the tolerance in force (the defaults where the tenant set none).
 */
export async function clockGauges(sql: Sql, minutes = 5, now = new Date()): Promise<{ skew: ClockGauge[]; syncs: SyncGauge[]; tolerances: ToleranceGauge[] }> {
  const to = new Date(Math.floor(now.getTime() / MINUTE) * MINUTE);
  const from = new Date(to.getTime() - minutes * MINUTE);
  // One probe of each tenant's (tenant_id, minute, …) key and (tenant_id, event_type, occurred_at) index.
  const [skew, syncs, tolerances] = await Promise.all([
    sql`
      select t.id as tenant_id, m.source, m.written_by, sum(m.events)::int as events, sum(m.flagged_ahead)::int as flagged_ahead,
        sum(m.flagged_behind)::int as flagged_behind, min(m.min_skew_us) as min_us, max(m.max_skew_us) as max_us, sum(m.sum_skew_us) as sum_us,
        sum(m.round_trips)::int as round_trips, min(m.min_round_trip_us) as min_rt_us, max(m.max_round_trip_us) as max_rt_us
      from oms_audit.tenants t
      join public.clock_skew_minutes m on m.tenant_id = t.id
        and m.minute >= ${from.toISOString()}::timestamptz and m.minute < ${to.toISOString()}::timestamptz
      group by t.id, m.source, m.written_by`,
    sql.unsafe(
      `select t.id as tenant_id, s.source, s.offset_ms, extract(epoch from $1::timestamptz - s.occurred_at)::float8 as age_seconds
       from oms_audit.tenants t
       cross join lateral (
         select distinct on (e.source) e.source, (e.context ->> 'offset_ms')::float8 as offset_ms, e.occurred_at
         from public.audit_events e
         where e.tenant_id = t.id and e.event_type = '${CLOCK_SYNC_EVENT_TYPE}' and e.occurred_at >= $1::timestamptz - interval '2 days'
         order by e.source, e.occurred_at desc, e.seq desc) as s`,
      [now.toISOString()],
    ),
    sql`
      select t.id as tenant_id, coalesce(c.tolerance_ms, ${DEFAULT_CLOCK_TOLERANCE_MS}) as tolerance_ms,
        coalesce(c.network_delay_ms, ${DEFAULT_NETWORK_DELAY_MS}) as network_delay_ms,
        coalesce(c.network_delay_measured, true) as network_delay_measured,
        coalesce(c.max_network_delay_ms, ${DEFAULT_MAX_NETWORK_DELAY_MS}) as max_network_delay_ms
      from oms_audit.tenants t left join public.clock_tolerances c on c.tenant_id = t.id`,
  ]);
  return {
    skew: skew.map((r) => ({
      tenant_id: r.tenant_id as string,
      source: r.source as string | null,
      written_by: r.written_by as string,
      events: r.events as number,
      flagged_ahead: r.flagged_ahead as number,
      flagged_behind: r.flagged_behind as number,
      min_ms: us(r.min_us),
      max_ms: us(r.max_us),
      mean_ms: us(r.sum_us) / (r.events as number),
      round_trips: r.round_trips as number,
      min_round_trip_ms: r.min_rt_us === null ? null : us(r.min_rt_us),
      max_round_trip_ms: r.max_rt_us === null ? null : us(r.max_rt_us),
    })),
    syncs: syncs.map((r) => ({ tenant_id: r.tenant_id as string, source: r.source as string | null, offset_ms: Number(r.offset_ms), age_seconds: Number(r.age_seconds) })),
    tolerances: tolerances.map((r) => ({
      tenant_id: r.tenant_id as string,
      tolerance_ms: Number(r.tolerance_ms),
      network_delay_ms: Number(r.network_delay_ms),
      network_delay_measured: r.network_delay_measured as boolean,
      max_network_delay_ms: Number(r.max_network_delay_ms),
    })),
  };
}
