/** Response schema of the system router. */
import { z } from 'zod';

const percentiles = z.object({ count: z.number(), p50: z.number().nullable(), p95: z.number().nullable(), p99: z.number().nullable() });

export const systemOverviewOutput = z.object({
  /** This tenant's events by minute of received_at, oldest first, every minute of the window present. */
  ingest: z.object({
    from: z.string(),
    to: z.string(),
    minutes: z.array(z.object({ minute: z.string(), events: z.number() })),
    total: z.number(),
  }),
  /** Counters of the server process that answered: all tenants, since it started. */
  process: z.object({
    started_at: z.string(),
    batches: z.record(z.string(), z.number()),
    error_rate: z.number().nullable(),
    ingest_latency_seconds: percentiles,
    query_latency_seconds: percentiles,
  }),
  /** Month partitions of audit_events: sizes cover every tenant. */
  partitions: z.array(z.object({ name: z.string(), month: z.string(), bytes: z.number() })),
});

export type SystemOverview = z.infer<typeof systemOverviewOutput>;
