/** Request and response schemas of the clock router (docs/clock.md). */
import { z } from 'zod';
import { uuid } from '@/supabase/functions/_shared/contract.ts';
import { MAX_CLOCK_WINDOW_MINUTES } from '@/server/services/clock.ts';

export const clockWindowQuery = z.strictObject({
  /** Start of the window (ISO 8601); default: `minutes` before `to`. */
  from: z.iso.datetime({ offset: true }).optional(),
  /** End of the window, exclusive (ISO 8601); default: the end of the current minute. */
  to: z.iso.datetime({ offset: true }).optional(),
  /** Length of the window when `from` is not given. */
  minutes: z.number().int().min(1).max(MAX_CLOCK_WINDOW_MINUTES).optional(),
});

export const clockReportInput = clockWindowQuery.default({});

export const clockToleranceOutput = z.object({
  tolerance_ms: z.number().int(),
  network_delay_ms: z.number().int(),
  /** true: network_delay_ms is measured from the sources' reported round trips (docs/clock.md), at most max_network_delay_ms. */
  network_delay_measured: z.boolean(),
  max_network_delay_ms: z.number().int(),
  network_delay_basis: z
    .object({
      min_round_trip_ms: z.number(),
      source: z.string().nullable(),
      written_by: z.string(),
      minute: z.string(),
      window_hours: z.number().int(),
      max_network_delay_ms: z.number().int(),
      capped: z.boolean(),
    })
    .nullable(),
  updated_at: z.string().nullable(),
  updated_by: z.string().nullable(),
});

export const setClockToleranceInput = z.strictObject({
  tolerance_ms: z.number().int().min(0).max(60_000),
  /** Set by hand (ignored when network_delay_measured is true). */
  network_delay_ms: z.number().int().min(0).max(60_000),
  /** Measure the network delay instead (default false: the value above is kept). */
  network_delay_measured: z.boolean().optional(),
  /** The most a measured network delay may be (default: unchanged, 50 ms at first). */
  max_network_delay_ms: z.number().int().min(0).max(60_000).optional(),
});

const clockSyncOutput = z.object({
  event_id: z.string(),
  source: z.string().nullable(),
  written_by: z.string().nullable(),
  occurred_at: z.string(),
  received_at: z.string(),
  offset_ms: z.number(),
  reference: z.string(),
  max_error_ms: z.number().nullable(),
});

const skewMinuteOutput = z.object({
  minute: z.string(),
  events: z.number().int(),
  ahead_events: z.number().int(),
  flagged_ahead: z.number().int(),
  flagged_behind: z.number().int(),
  min_ms: z.number(),
  max_ms: z.number(),
  mean_ms: z.number(),
  buckets: z.array(z.number().int()),
  round_trips: z.number().int(),
  min_round_trip_ms: z.number().nullable(),
  max_round_trip_ms: z.number().nullable(),
});

export const clockReportOutput = z.object({
  from: z.string(),
  to: z.string(),
  tolerance: clockToleranceOutput,
  /** Edges of the buckets of received_at − occurred_at, in ms. */
  bucket_edges_ms: z.array(z.number()),
  sources: z.array(
    z.object({
      source: z.string().nullable(),
      written_by: z.string(),
      events: z.number().int(),
      flagged_ahead: z.number().int(),
      flagged_behind: z.number().int(),
      min_ms: z.number(),
      max_ms: z.number(),
      mean_ms: z.number(),
      round_trips: z.number().int(),
      min_round_trip_ms: z.number().nullable(),
      max_round_trip_ms: z.number().nullable(),
      minutes: z.array(skewMinuteOutput),
      last_sync: clockSyncOutput.nullable(),
    }),
  ),
  syncs: z.array(clockSyncOutput),
});

export const eventClockInput = z.strictObject({ id: uuid });

export const eventClockOutput = z.object({
  skew_ms: z.number().nullable(),
  flag: z.enum(['ahead', 'behind']).nullable(),
  tolerance: clockToleranceOutput,
});

export type ClockReportOutput = z.infer<typeof clockReportOutput>;
export type EventClockOutput = z.infer<typeof eventClockOutput>;
