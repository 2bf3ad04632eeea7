/**
 * Periodic work the running server does besides answering requests. Each job
 * is also reachable without the server (CLI, or SQL for pg_cron on Supabase),
 * so a deployment that runs several servers, or none, stays covered.
 */
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import type { Env } from '@/server/env.ts';
import { sealAll } from '@/server/services/integrity/checkpoints.ts';
import { signer } from '@/server/services/integrity/signing-key.ts';
import { verifyOnSchedule } from '@/server/services/integrity/scheduled.ts';
import { anchorEverything } from '@/server/services/anchors/sources.ts';
import { requireArchiveUrl } from '@/server/archive/storage.ts';
import { retentionContext } from '@/server/services/retention/context.ts';
import { runRetention } from '@/server/services/retention/run.ts';
import { deliverStreamsInBackground } from '@/server/services/streams/worker.ts';
import { purgeClockMinutes } from '@/server/services/clock.ts';
import { calibrateNetworkDelays } from '@/server/services/clock-network-delay.ts';

export interface BackgroundJob {
  name: string;
  /** Milliseconds between runs (0: never); the first run happens at start. */
  everyMs: (env: Env) => number;
  run: (sql: Sql, env: Env) => Promise<void>;
}

export const BACKGROUND_JOBS: BackgroundJob[] = [
  {
    name: 'partitions',
    everyMs: () => 6 * 3600_000,
    run: async (sql) => {
      await sql`select oms_audit.ensure_partitions_ahead(3)`;
      // Last month and this month stay open; an older month is mapped in bulk, one per transaction.
      while ((await sql`select oms_audit.close_oldest_open_month() as closed`)[0]!.closed !== null);
    },
  },
  {
    // Every committed event under a signed checkpoint within one interval (default 20 s), and every
    // checkpoint (and retention record) anchored outside the database; what failed is retried next time.
    name: 'sealer',
    everyMs: (env) => env.INTEGRITY_SEAL_INTERVAL_SECONDS * 1000,
    run: async (sql, env) => {
      const result = await sealAll(sql, signer());
      const anchors = await anchorEverything(sql, env, undefined, result.checkpoints, { timestamps: false });
      const failures = [
        ...result.failures.map((f) => `${f.tenant_id}: ${f.error}`),
        ...anchors.failures.map((f) => `anchoring ${f.kind} ${f.number} of ${f.tenant_id}: ${f.error}`),
      ];
      if (failures.length) throw new Error(failures.join('; '));
    },
  },
  {
    // RFC 3161 tokens for the anchored checkpoints and records, apart from sealing: a slow
    // time-stamp authority never delays the next seal.
    name: 'time stamps',
    everyMs: (env) => (env.ANCHOR_TSA_URL ? env.INTEGRITY_SEAL_INTERVAL_SECONDS * 1000 : 0),
    run: async (sql, env) => {
      const anchors = await anchorEverything(sql, env);
      if (anchors.failures.length) throw new Error(anchors.failures.map((f) => `${f.kind} ${f.number} of ${f.tenant_id}: ${f.error}`).join('; '));
    },
  },
  {
    // Every tenant verified on a schedule: what was sealed since its last verification, and
    // everything again once its last full verification is older than INTEGRITY_FULL_VERIFY_EVERY_HOURS.
    name: 'verification',
    everyMs: (env) => env.INTEGRITY_VERIFY_EVERY_MINUTES * 60_000,
    run: async (sql, env) => {
      const failed = await verifyOnSchedule(sql, env);
      if (failed.length) throw new Error(failed.join('; '));
    },
  },
  {
    // Archive, verify and drop months past their hot window; expire archives past retention (docs/retention.md).
    name: 'retention',
    everyMs: (env) => env.RETENTION_RUN_EVERY_MINUTES * 60_000,
    run: async (sql, env) => {
      requireArchiveUrl(env);
      const result = await runRetention(await retentionContext(sql, env, { actor: 'oms-audit-server' }));
      if (result.problems.length) throw new Error(result.problems.join('; '));
    },
  },
  {
    // Per-minute clock evidence older than CLOCK_EVIDENCE_KEEP_DAYS (derived from the events; docs/clock.md).
    name: 'clock evidence',
    everyMs: () => 3600_000,
    run: async (sql, env) => {
      await purgeClockMinutes(sql, env.CLOCK_EVIDENCE_KEEP_DAYS);
    },
  },
  {
    // The network delay in each tenant's clock tolerance, from the round trips its sources reported (docs/clock.md).
    name: 'clock network delay',
    everyMs: (env) => env.CLOCK_CALIBRATION_EVERY_MINUTES * 60_000,
    run: async (sql) => {
      await calibrateNetworkDelays(sql);
    },
  },
  {
    // Log streams: sealed events to tenants' SIEMs, at least once, in seq order (docs/streams.md).
    name: 'streams',
    everyMs: (env) => env.STREAM_POLL_INTERVAL_MS,
    run: (sql, env) => deliverStreamsInBackground(sql, env, signer()),
  },
];

/** Starts every job; a failing run is logged and retried at the next interval. Returns a stop function. */
export function startBackgroundJobs(sql: Sql, env: Env, log: (line: string) => void): () => Promise<void> {
  const timers: NodeJS.Timeout[] = [];
  const running = new Set<Promise<void>>();
  let stopped = false;
  for (const job of BACKGROUND_JOBS) {
    if (job.everyMs(env) <= 0) continue;
    let busy = false;
    const tick = () => {
      // A run still going (a slow time-stamp authority, a long archive) is not joined by a second one.
      if (stopped || busy) return;
      busy = true;
      const run = job.run(sql, env).catch((err: unknown) => log(`${job.name} failed: ${(err as Error).message}`));
      running.add(run);
      void run.finally(() => {
        busy = false;
        running.delete(run);
      });
    };
    tick();
    const timer = setInterval(tick, job.everyMs(env));
    timer.unref();
    timers.push(timer);
  }
  return async () => {
    stopped = true;
    timers.forEach(clearInterval);
    await Promise.allSettled([...running]);
  };
}
