/**
 * Figures of this process's metrics for the console: batch counts by outcome
 * and latency percentiles estimated from histogram buckets (as PromQL's
 * histogram_quantile does: linear within the bucket that holds the rank).
 */
import type { Histogram } from 'prom-client';
import { metrics } from './metrics.ts';

export interface Percentiles {
  count: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/** Cumulative bucket counts (upper bound → count), summed over all label sets. */
async function buckets(histogram: Histogram<string>): Promise<{ le: number; count: number }[]> {
  const byLe = new Map<number, number>();
  for (const v of (await histogram.get()).values) {
    if (!v.metricName?.endsWith('_bucket')) continue;
    const le = v.labels.le === '+Inf' ? Infinity : Number(v.labels.le);
    byLe.set(le, (byLe.get(le) ?? 0) + v.value);
  }
  return [...byLe].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

export function quantile(q: number, cumulative: { le: number; count: number }[]): number | null {
  const total = cumulative.at(-1)?.count ?? 0;
  if (!total) return null;
  const rank = q * total;
  let lowerLe = 0;
  let lowerCount = 0;
  for (const { le, count } of cumulative) {
    if (count >= rank) {
      // Past the last finite bound there is no upper edge: report that bound.
      if (le === Infinity) return lowerLe;
      return lowerLe + (le - lowerLe) * ((rank - lowerCount) / (count - lowerCount || 1));
    }
    lowerLe = le;
    lowerCount = count;
  }
  return lowerLe;
}

export async function percentilesOf(histogram: Histogram<string>): Promise<Percentiles> {
  const b = await buckets(histogram);
  return { count: b.at(-1)?.count ?? 0, p50: quantile(0.5, b), p95: quantile(0.95, b), p99: quantile(0.99, b) };
}

export async function processSummary() {
  const m = metrics();
  const batches: Record<string, number> = {};
  for (const v of (await m.ingestBatches.get()).values) {
    const outcome = String(v.labels.outcome);
    batches[outcome] = (batches[outcome] ?? 0) + v.value;
  }
  const total = Object.values(batches).reduce((a, b) => a + b, 0);
  return {
    started_at: new Date(Date.now() - process.uptime() * 1000).toISOString(),
    batches,
    error_rate: total ? (total - (batches.ok ?? 0)) / total : null,
    ingest_latency_seconds: await percentilesOf(m.ingestBatchSeconds as unknown as Histogram<string>),
    query_latency_seconds: await percentilesOf(m.queryDurationSeconds as unknown as Histogram<string>),
  };
}
