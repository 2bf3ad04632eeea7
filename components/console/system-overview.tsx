'use client';
import { useQuery } from '@tanstack/react-query';
import { errorMessage, useTRPC } from '@/lib/trpc.tsx';
import type { SystemOverview as Overview } from '@/server/routers/system.types.ts';

const nf = new Intl.NumberFormat('en-US');

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

function formatSeconds(s: number | null): string {
  if (s === null) return '—';
  return s < 1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(2)} s`;
}

/** Events per minute as bars; the table beside it carries the same figures for screen readers. */
function IngestChart({ minutes }: { minutes: Overview['ingest']['minutes'] }) {
  const width = 600;
  const height = 120;
  const max = Math.max(1, ...minutes.map((m) => m.events));
  const bar = width / minutes.length;
  const hhmm = (iso: string) => iso.slice(11, 16);
  return (
    <svg role="img" aria-labelledby="ingest-chart-title" viewBox={`0 0 ${width} ${height + 16}`} className="w-full max-w-3xl text-sky-600 dark:text-sky-400" data-testid="ingest-chart">
      <title id="ingest-chart-title">{`Events received per minute, ${hhmm(minutes[0]!.minute)}–${hhmm(minutes.at(-1)!.minute)} UTC; at most ${nf.format(max)} in a minute`}</title>
      <line x1={0} y1={height} x2={width} y2={height} className="stroke-slate-400" strokeWidth={1} />
      {minutes.map((m, i) => {
        const h = (m.events / max) * (height - 4);
        return (
          <rect key={m.minute} x={i * bar + 1} y={height - h} width={Math.max(1, bar - 2)} height={h} fill="currentColor" data-events={m.events}>
            <title>{`${hhmm(m.minute)} UTC: ${nf.format(m.events)} events`}</title>
          </rect>
        );
      })}
      <text x={0} y={height + 13} fontSize={11} className="fill-slate-600 dark:fill-slate-400">
        {hhmm(minutes[0]!.minute)} UTC
      </text>
      <text x={width} y={height + 13} fontSize={11} textAnchor="end" className="fill-slate-600 dark:fill-slate-400">
        {hhmm(minutes.at(-1)!.minute)} UTC
      </text>
    </svg>
  );
}

export function SystemOverview() {
  const trpc = useTRPC();
  const overview = useQuery({ ...trpc.system.overview.queryOptions(), refetchInterval: 30_000 });
  if (overview.isPending) return <div className="skeleton h-64" aria-busy="true" aria-label="Loading the system overview" />;
  if (overview.isError) return <p role="alert">{errorMessage(overview.error)}</p>;
  const { ingest, process, partitions } = overview.data;
  const failed = Object.entries(process.batches).filter(([outcome]) => outcome !== 'ok');
  return (
    <div className="space-y-4">
      <section className="card space-y-2 p-3" aria-labelledby="ingest-rate">
        <h2 id="ingest-rate" className="font-semibold">
          Ingest rate, last hour
        </h2>
        <p className="text-sm" data-testid="ingest-total">
          {nf.format(ingest.total)} events received by this tenant in the last hour (by minute of arrival).
        </p>
        <IngestChart minutes={ingest.minutes} />
      </section>

      <section className="card space-y-2 p-3" aria-labelledby="process-health">
        <h2 id="process-health" className="font-semibold">
          This server process
        </h2>
        <p className="text-xs text-slate-600 dark:text-slate-400">All tenants, since the process started at {process.started_at.replace('T', ' ').slice(0, 19)} UTC; other servers keep their own counts.</p>
        <dl className="grid grid-cols-1 gap-3 text-sm sm:grid-cols-3">
          <div>
            <dt className="font-medium">Write error rate</dt>
            <dd data-testid="error-rate">
              {process.error_rate === null ? 'no writes yet' : `${(process.error_rate * 100).toFixed(2)} %`}
              {failed.length ? <span className="block text-xs text-slate-600 dark:text-slate-400">{failed.map(([o, n]) => `${o}: ${nf.format(n)}`).join(', ')}</span> : null}
            </dd>
          </div>
          <div>
            <dt className="font-medium">Write latency (p50 / p95 / p99)</dt>
            <dd>
              {formatSeconds(process.ingest_latency_seconds.p50)} / {formatSeconds(process.ingest_latency_seconds.p95)} / {formatSeconds(process.ingest_latency_seconds.p99)}
            </dd>
          </div>
          <div>
            <dt className="font-medium">Read latency (p50 / p95 / p99)</dt>
            <dd>
              {formatSeconds(process.query_latency_seconds.p50)} / {formatSeconds(process.query_latency_seconds.p95)} / {formatSeconds(process.query_latency_seconds.p99)}
            </dd>
          </div>
        </dl>
      </section>

      <section className="card p-3" aria-labelledby="partitions">
        <h2 id="partitions" className="font-semibold">
          Event store by month
        </h2>
        <p className="mb-2 text-xs text-slate-600 dark:text-slate-400">Size on disk of each month partition (rows, indexes) for all tenants of this installation together.</p>
        <table className="w-full text-sm">
          <caption className="sr-only">Month partitions and their size</caption>
          <thead className="bg-slate-100 text-left dark:bg-slate-800">
            <tr>
              <th scope="col" className="px-3 py-2">Month (UTC)</th>
              <th scope="col" className="px-3 py-2 text-right">Size</th>
            </tr>
          </thead>
          <tbody>
            {partitions.map((p) => (
              <tr key={p.name} className="border-t border-slate-200 dark:border-slate-700">
                <td className="px-3 py-2 tabular-nums">{p.month}</td>
                <td className="px-3 py-2 text-right tabular-nums">{formatBytes(p.bytes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}
