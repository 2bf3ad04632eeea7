/**
 * Gauges read from the database when metrics are scraped (not kept up to date
 * between scrapes): pool connections, sealer lag, archive states, group-commit queue.
 */
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { appenderFor } from '@/supabase/functions/_shared/ingest.ts';
import { env } from '@/server/env.ts';
import { sealLagSeconds } from '@/server/services/integrity/checkpoints.ts';
import { log } from './log.ts';
import { metrics } from './metrics.ts';

const ARCHIVE_STATES = ['writing', 'written', 'verified', 'dropped', 'failed', 'expiring', 'expired'] as const;
const CONNECTION_STATES = ['active', 'idle', 'idle in transaction', 'idle in transaction (aborted)'] as const;

export async function refreshScrapeMetrics(sql: Sql): Promise<void> {
  const m = metrics();
  m.groupCommitQueued.set(appenderFor(sql).queuedEvents());
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
  ]);
  // A database hiccup must not take the process's own metrics down with it: serve what we have.
  for (const r of results) if (r.status === 'rejected') log().warn({ err: (r.reason as Error).message }, 'metrics: a database gauge could not be read');
}
