/**
 * Gauges read when metrics are scraped (not kept up to date between scrapes):
 * pool connections, write admission's bytes and requests in flight, sealer lag,
 * archive states, group-commit queue, log streams (failing, pending events),
 * the sources' clocks (docs/clock.md).
 */
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { appenderFor } from '@/supabase/functions/_shared/ingest.ts';
import { env } from '@/server/env.ts';
import { writeBudgetGauges } from '@/server/http/admission.ts';
import { sealLagSeconds } from '@/server/services/integrity/checkpoints.ts';
import { streamGauges } from '@/server/services/streams/gauges.ts';
import { clockGauges } from '@/server/services/clock.ts';
import { log } from './log.ts';
import { metrics } from './metrics.ts';

const ARCHIVE_STATES = ['writing', 'written', 'verified', 'dropped', 'failed', 'expiring', 'expired'] as const;
const CONNECTION_STATES = ['active', 'idle', 'idle in transaction', 'idle in transaction (aborted)'] as const;

export async function refreshScrapeMetrics(sql: Sql): Promise<void> {
  const m = metrics();
  m.groupCommitQueued.set(appenderFor(sql).queuedEvents());
  writeBudgetGauges();
  m.dbPoolMax.set(env().DB_POOL_MAX);
  const results = await Promise.allSettled([
    sql`select state, count(*)::int as n from pg_stat_activity
        where application_name = 'oms-audit-server' and datname = current_database() group by state`.then((rows) => {
      const byState = new Map(rows.map((r) => [r.state as string, r.n as number]));
      for (const state of CONNECTION_STATES) m.dbPoolConnections.set({ state }, byState.get(state) ?? 0);
    }),
    sql`select state, count(*)::int as n from oms_audit.archive_parts group by state`.then((rows) => {
      const byState = new Map(rows.map((r) => [r.state as string, r.n as number]));
      for (const state of ARCHIVE_STATES) m.archiveParts.set({ state }, byState.get(state) ?? 0);
    }),
    sealLagSeconds(sql).then((lag) => m.sealerLagSeconds.set(lag)),
    streamGauges(sql).then((streams) => {
      // Removed streams leave the gauges: they are rebuilt from the table on every scrape.
      for (const gauge of [m.streamFailing, m.streamPendingEvents, m.streamFailingSeconds]) gauge.reset();
      const threshold = env().STREAM_FAILING_AFTER_SECONDS;
      for (const s of streams) {
        const labels = { stream: s.id, tenant: s.tenant_id, format: s.format };
        m.streamFailing.set(labels, s.state === 'active' && s.failing_for_seconds !== null && s.failing_for_seconds >= threshold ? 1 : 0);
        m.streamFailingSeconds.set(labels, s.failing_for_seconds ?? 0);
        m.streamPendingEvents.set(labels, s.pending_events);
      }
    }),
    clockGauges(sql).then(({ skew, syncs, tolerances }) => {
      // Sources that fell silent leave the gauges: rebuilt from the table on every scrape.
      for (const gauge of [m.clockSkewSeconds, m.clockSkewEvents, m.clockSkewFlagged, m.clockRoundTripSeconds, m.clockSyncOffsetSeconds, m.clockSyncAgeSeconds, m.clockToleranceSeconds]) gauge.reset();
      for (const t of tolerances) {
        const labels = { tenant: t.tenant_id, measured: t.network_delay_measured ? '1' : '0' };
        m.clockToleranceSeconds.set({ ...labels, part: 'tolerance' }, t.tolerance_ms / 1000);
        m.clockToleranceSeconds.set({ ...labels, part: 'network_delay' }, t.network_delay_ms / 1000);
        m.clockToleranceSeconds.set({ ...labels, part: 'max_network_delay' }, t.max_network_delay_ms / 1000);
      }
      for (const s of skew) {
        const labels = { tenant: s.tenant_id, source: s.source ?? '', written_by: s.written_by };
        m.clockSkewSeconds.set({ ...labels, stat: 'min' }, s.min_ms / 1000);
        m.clockSkewSeconds.set({ ...labels, stat: 'mean' }, s.mean_ms / 1000);
        m.clockSkewSeconds.set({ ...labels, stat: 'max' }, s.max_ms / 1000);
        m.clockSkewEvents.set(labels, s.events);
        m.clockSkewFlagged.set({ ...labels, direction: 'ahead' }, s.flagged_ahead);
        m.clockSkewFlagged.set({ ...labels, direction: 'behind' }, s.flagged_behind);
        if (s.min_round_trip_ms !== null) m.clockRoundTripSeconds.set({ ...labels, stat: 'min' }, s.min_round_trip_ms / 1000);
        if (s.max_round_trip_ms !== null) m.clockRoundTripSeconds.set({ ...labels, stat: 'max' }, s.max_round_trip_ms / 1000);
      }
      for (const s of syncs) {
        m.clockSyncOffsetSeconds.set({ tenant: s.tenant_id, source: s.source ?? '' }, s.offset_ms / 1000);
        m.clockSyncAgeSeconds.set({ tenant: s.tenant_id, source: s.source ?? '' }, s.age_seconds);
      }
    }),
  ]);
  // A database hiccup must not take the process's own metrics down with it: serve what we have.
  for (const r of results) if (r.status === 'rejected') log().warn({ err: (r.reason as Error).message }, 'metrics: a database gauge could not be read');
}
