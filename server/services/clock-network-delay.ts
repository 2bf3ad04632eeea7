/**
 * The network delay in each tenant's clock tolerance, measured
 * (docs/clock.md, "Network delay in the tolerance"). A late delivery looks
 * exactly like a slow clock, so the tolerance for clocks behind allows for the
 * one-way delay from the tenant's sources to oms-audit. The sources' SDKs
 * report the network part of their round trips (X-Audit-Round-Trip-Ms, the
 * server's own time taken off); the one-way delay is taken, NTP-style, as half
 * the smallest round trip any of the tenant's sources reported over the last
 * day, rounded up to a whole millisecond and never more than the tenant's
 * `max_network_delay_ms`.
 *
 * Tenant-wide, not per source or per minute, on purpose: the smallest report
 * of all sources cannot be raised by one source overstating its own round
 * trips (it can only lower it, which tightens every flag), so a lying source
 * loosens nothing unless it is the tenant's only reporting source, and then at
 * most by the cap; and one delay per tenant keeps the tolerance a single pair
 * of numbers that every export states in its signed manifest, so anyone can
 * still recompute every clock_flag (docs/export-format.md, section 2).
 *
 * The server recalibrates every hour; a change is written to the tenant's
 * clock_tolerances row and recorded in the trail as an AUDIT_CLOCK_TOLERANCE
 * event with the basis (which round trip, from which source, credential and
 * minute) before the change commits. A tenant that set its delay by hand
 * keeps it.
 */
import type { Sql, TenantClaims, TxSql } from '@/supabase/functions/_shared/db.ts';
import { withTenant } from '@/supabase/functions/_shared/db.ts';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { CONSOLE_EVENT_TYPES } from './console-audit.ts';
import { logEvents, NO_OBSERVED_CLIENT } from './ingest.ts';
import { readTolerance, type NetworkDelayBasis } from './clock-tolerance.ts';

/** How far back the smallest reported round trip is looked for. */
export const NETWORK_DELAY_WINDOW_HOURS = 24;
export const CALIBRATION_WRITER = 'clock-calibration';


export interface NetworkDelayMeasurement {
  network_delay_ms: number;
  basis: NetworkDelayBasis;
}

/**
 * The tenant's measured one-way delay now: ⌈smallest round trip / 2⌉ ms over
 * the window, at most `maxMs`; null when no source reported a round trip.
 */
export async function measuredNetworkDelay(tx: TxSql, tenantId: string, maxMs: number, now = new Date()): Promise<NetworkDelayMeasurement | null> {
  const since = new Date(now.getTime() - NETWORK_DELAY_WINDOW_HOURS * 3600_000);
  // One probe of the tenant's (tenant_id, minute, …) key; a day holds 1440 minutes per source.
  const [row] = await tx`
    select minute, source, written_by, min_round_trip_us
    from public.clock_skew_minutes
    where tenant_id = ${tenantId} and minute >= ${since.toISOString()}::timestamptz and minute <= ${now.toISOString()}::timestamptz
      and min_round_trip_us is not null
    order by min_round_trip_us, minute, source nulls first, written_by
    limit 1`;
  if (!row) return null;
  const roundTripUs = Number(row.min_round_trip_us);
  const halfMs = Math.ceil(roundTripUs / 2000);
  return {
    network_delay_ms: Math.min(halfMs, maxMs),
    basis: {
      min_round_trip_ms: roundTripUs / 1000,
      source: row.source as string | null,
      written_by: row.written_by as string,
      minute: new Date(row.minute as string).toISOString(),
      window_hours: NETWORK_DELAY_WINDOW_HOURS,
      max_network_delay_ms: maxMs,
      capped: halfMs > maxMs,
    },
  };
}

export interface NetworkDelayChange {
  tenant_id: string;
  before_ms: number;
  after_ms: number;
  basis: NetworkDelayBasis;
}

/**
 * Recalibrates every tenant whose network delay is measured (the default)
 * and whose sources reported round trips over the last day; returns the
 * changes, each recorded in the tenant's trail before it commits.
 */
export async function calibrateNetworkDelays(sql: Sql, options: { now?: Date; tenantIds?: string[] } = {}): Promise<NetworkDelayChange[]> {
  const now = options.now ?? new Date();
  const since = new Date(now.getTime() - NETWORK_DELAY_WINDOW_HOURS * 3600_000);
  // Tenants with at least one reported round trip in the window (a probe of each tenant's key); all, or those named.
  const tenants = await sql<{ id: string }[]>`
    select t.id from oms_audit.tenants t
    left join public.clock_tolerances c on c.tenant_id = t.id
    where coalesce(c.network_delay_measured, true)
      and (${options.tenantIds ?? null}::uuid[] is null or t.id = any(${options.tenantIds ?? null}::uuid[]))
      and exists (select from public.clock_skew_minutes m
                  where m.tenant_id = t.id and m.minute >= ${since.toISOString()}::timestamptz and m.minute <= ${now.toISOString()}::timestamptz
                    and m.min_round_trip_us is not null)
    order by t.id`;
  const changes: NetworkDelayChange[] = [];
  for (const { id } of tenants) {
    const change = await calibrateTenant(sql, id, now);
    if (change) changes.push(change);
  }
  return changes;
}

async function calibrateTenant(sql: Sql, tenantId: string, now: Date): Promise<NetworkDelayChange | null> {
  const claims: TenantClaims = { tenant_id: tenantId, sub: CALIBRATION_WRITER, role: 'authenticated' };
  return withTenant(sql, claims, async (tx) => {
    // The row locked for the rest of the transaction: an admin's change meanwhile waits, and is not overwritten.
    await tx`select 1 from public.clock_tolerances where tenant_id = ${tenantId} for update`;
    const before = await readTolerance(tx);
    if (!before.network_delay_measured) return null;
    const measured = await measuredNetworkDelay(tx, tenantId, before.max_network_delay_ms, now);
    if (!measured || measured.network_delay_ms === before.network_delay_ms) return null;
    await tx`
      insert into public.clock_tolerances (tenant_id, tolerance_ms, network_delay_ms, network_delay_measured, max_network_delay_ms, network_delay_basis, updated_by)
      values (${tenantId}, ${before.tolerance_ms}, ${measured.network_delay_ms}, true, ${before.max_network_delay_ms}, ${tx.json(measured.basis as never)}, ${`operator:${CALIBRATION_WRITER}`})
      on conflict (tenant_id) do update set network_delay_ms = excluded.network_delay_ms, network_delay_basis = excluded.network_delay_basis,
        updated_at = now(), updated_by = excluded.updated_by`;
    // Recorded (committed) before the change commits: the trail never lacks a change that took effect.
    const context = {
      before: { tolerance_ms: before.tolerance_ms, network_delay_ms: before.network_delay_ms },
      after: { tolerance_ms: before.tolerance_ms, network_delay_ms: measured.network_delay_ms },
      network_delay_basis: measured.basis,
    };
    const events = parseBatch(
      {
        events: [
          {
            actor_type: 'SYSTEM',
            actor_id: 'oms-audit-server',
            object_type: 'AUDIT_CLOCK_TOLERANCE',
            object_id: tenantId,
            event_type: CONSOLE_EVENT_TYPES.clockTolerance,
            source: 'oms-audit-server',
            context,
          },
        ],
      },
      1,
    );
    await logEvents(sql, { tenantId, writer: { kind: 'operator', name: CALIBRATION_WRITER } }, events, NO_OBSERVED_CLIENT, 'cli');
    return { tenant_id: tenantId, before_ms: before.network_delay_ms, after_ms: measured.network_delay_ms, basis: measured.basis };
  });
}
