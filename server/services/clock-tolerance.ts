/**
 * A tenant's clock tolerance as stored (clock_tolerances, or the defaults):
 * read by the clock report (clock.ts) and by the hourly network-delay
 * calibration (clock-network-delay.ts), kept apart so neither imports the other.
 */
import { DEFAULT_CLOCK_TOLERANCE_MS, DEFAULT_MAX_NETWORK_DELAY_MS, DEFAULT_NETWORK_DELAY_MS } from '@/supabase/functions/_shared/clock.ts';
import type { TxSql } from '@/supabase/functions/_shared/db.ts';

/** What a measured network delay was taken from. */
export interface NetworkDelayBasis {
  /** The smallest network round trip reported in the window (ms, µs precision). */
  min_round_trip_ms: number;
  /** Where it was reported: the events' source (null: none), credential and minute of arrival. */
  source: string | null;
  written_by: string;
  minute: string;
  window_hours: number;
  /** The cap in force, and whether half the round trip was above it. */
  max_network_delay_ms: number;
  capped: boolean;
}

export interface ClockTolerance {
  tolerance_ms: number;
  network_delay_ms: number;
  /** true: network_delay_ms is measured (half the smallest network round trip reported over the last day, capped); false: set by hand. */
  network_delay_measured: boolean;
  /** The most a measured network delay may be (ms): all a source that overstates its round trips can gain. */
  max_network_delay_ms: number;
  /** What the measured delay was taken from; null until first measured (or when set by hand). */
  network_delay_basis: NetworkDelayBasis | null;
  /** Null while the tenant keeps the defaults. */
  updated_at: string | null;
  updated_by: string | null;
}

/** The tenant's tolerance (the claims' tenant, in the caller's transaction); the defaults while it has none of its own. */
export async function readTolerance(tx: TxSql): Promise<ClockTolerance> {
  const [row] = await tx`
    select tolerance_ms, network_delay_ms, network_delay_measured, max_network_delay_ms, network_delay_basis, updated_at, updated_by
    from public.clock_tolerances`;
  if (!row) {
    return {
      tolerance_ms: DEFAULT_CLOCK_TOLERANCE_MS,
      network_delay_ms: DEFAULT_NETWORK_DELAY_MS,
      network_delay_measured: true,
      max_network_delay_ms: DEFAULT_MAX_NETWORK_DELAY_MS,
      network_delay_basis: null,
      updated_at: null,
      updated_by: null,
    };
  }
  return {
    tolerance_ms: row.tolerance_ms as number,
    network_delay_ms: row.network_delay_ms as number,
    network_delay_measured: row.network_delay_measured as boolean,
    max_network_delay_ms: row.max_network_delay_ms as number,
    network_delay_basis: row.network_delay_basis as NetworkDelayBasis | null,
    updated_at: row.updated_at as string,
    updated_by: row.updated_by as string,
  };
}
