'use client';
/**
 * The System page's clock evidence (docs/clock.md): each source's
 * received_at − occurred_at over the last hour, the events beyond the
 * tenant's tolerance, and the source's own latest CLOCK_SYNC report beside it.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { formatSkew } from '@/lib/skew.ts';
import { errorMessage, useTRPC } from '@/lib/trpc.tsx';
import type { ClockReportOutput as Report } from '@/server/routers/clock.types.ts';
import { Timestamp } from './timestamp.tsx';

type Source = Report['sources'][number];

const nf = new Intl.NumberFormat('en-US');

function useClockReport() {
  const trpc = useTRPC();
  return useQuery({ ...trpc.clock.report.queryOptions({ minutes: 60 }), refetchInterval: 30_000 });
}

/** min–max band and mean per minute; the table beside it carries the same figures for screen readers. */
function SkewChart({ source, from, to, limits }: { source: Source; from: string; to: string; limits: { ahead: number; behind: number } }) {
  const width = 600;
  const height = 100;
  const t0 = new Date(from).getTime();
  const span = new Date(to).getTime() - t0;
  const values = source.minutes.flatMap((m) => [m.min_ms, m.max_ms]).concat([-limits.ahead, limits.behind, 0]);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const y = (v: number) => height - ((v - lo) / (hi - lo || 1)) * (height - 8) - 4;
  const x = (iso: string) => ((new Date(iso).getTime() - t0) / span) * width;
  const bar = Math.max(2, width / 60 - 2);
  const name = source.source ?? 'no source';
  return (
    <svg role="img" aria-label={`Skew of ${name} per minute, ${formatSkew(source.min_ms)} to ${formatSkew(source.max_ms)}; tolerance ${formatSkew(-limits.ahead)} to ${formatSkew(limits.behind)}`} viewBox={`0 0 ${width} ${height}`} className="w-full max-w-3xl" data-testid="skew-chart">
      <rect x={0} y={y(limits.behind)} width={width} height={Math.max(1, y(-limits.ahead) - y(limits.behind))} className="fill-emerald-100 dark:fill-emerald-950" />
      <line x1={0} x2={width} y1={y(0)} y2={y(0)} className="stroke-slate-400" strokeWidth={1} />
      {source.minutes.map((m) => (
        <g key={m.minute} className={m.flagged_ahead + m.flagged_behind ? 'text-red-600 dark:text-red-400' : 'text-sky-600 dark:text-sky-400'}>
          <rect x={x(m.minute)} y={y(m.max_ms)} width={bar} height={Math.max(1, y(m.min_ms) - y(m.max_ms))} fill="currentColor" opacity={0.5} />
          <rect x={x(m.minute)} y={y(m.mean_ms) - 1} width={bar} height={2} fill="currentColor" />
        </g>
      ))}
    </svg>
  );
}

function SyncCell({ source }: { source: Source }) {
  const sync = source.last_sync;
  if (!sync) return <span className="text-slate-600 dark:text-slate-400">none reported</span>;
  return (
    <span>
      {formatSkew(sync.offset_ms)} from {sync.reference}
      {sync.max_error_ms !== null ? ` (± ${formatSkew(sync.max_error_ms)})` : ''}, <Timestamp iso={sync.occurred_at} />
    </span>
  );
}

/** How the measured network delay was found, in words. */
function networkDelayBasis(tolerance: Report['tolerance']): string {
  const basis = tolerance.network_delay_basis;
  if (!basis) return `measured once sources report their round trips, at most ${tolerance.max_network_delay_ms} ms`;
  const from = `${basis.min_round_trip_ms} ms round trip from ${basis.source ?? 'no source'} (${basis.written_by})`;
  return `measured: half the smallest round trip of the last ${basis.window_hours} hours, ${from}${basis.capped ? `, capped at ${basis.max_network_delay_ms} ms` : `, at most ${tolerance.max_network_delay_ms} ms`}`;
}

function ToleranceForm({ tolerance }: { tolerance: Report['tolerance'] }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [toleranceMs, setToleranceMs] = useState(String(tolerance.tolerance_ms));
  const [delayMs, setDelayMs] = useState(String(tolerance.network_delay_ms));
  const [measured, setMeasured] = useState(tolerance.network_delay_measured);
  const [maxDelayMs, setMaxDelayMs] = useState(String(tolerance.max_network_delay_ms));
  const save = useMutation(trpc.clock.setTolerance.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.clock.report.queryKey() }) }));
  return (
    <form
      className="flex flex-wrap items-end gap-3 text-sm"
      onSubmit={(e) => {
        e.preventDefault();
        save.mutate({ tolerance_ms: Number(toleranceMs), network_delay_ms: Number(delayMs), network_delay_measured: measured, max_network_delay_ms: Number(maxDelayMs) });
      }}
    >
      <label className="flex flex-col">
        Tolerance (ms)
        <input className="input w-28" type="number" min={0} max={60000} step={1} required value={toleranceMs} onChange={(e) => setToleranceMs(e.target.value)} />
      </label>
      <label className="flex items-center gap-1">
        <input type="checkbox" checked={measured} onChange={(e) => setMeasured(e.target.checked)} />
        Measure the network delay
      </label>
      {measured ? (
        <label className="flex flex-col">
          Measured delay at most (ms)
          <input className="input w-28" type="number" min={0} max={60000} step={1} required value={maxDelayMs} onChange={(e) => setMaxDelayMs(e.target.value)} />
        </label>
      ) : (
        <label className="flex flex-col">
          Network delay (ms)
          <input className="input w-28" type="number" min={0} max={60000} step={1} required value={delayMs} onChange={(e) => setDelayMs(e.target.value)} />
        </label>
      )}
      <button className="btn" type="submit" disabled={save.isPending}>
        Save tolerance
      </button>
      {save.isError ? <p role="alert">{errorMessage(save.error)}</p> : null}
      {save.isSuccess ? <p role="status">Saved; events arriving from now on are flagged under it.</p> : null}
    </form>
  );
}

export function ClockEvidence({ canManage }: { canManage: boolean }) {
  const report = useClockReport();
  if (report.isPending) return <div className="skeleton h-40" aria-busy="true" aria-label="Loading the clock evidence" />;
  if (report.isError) return <p role="alert">{errorMessage(report.error)}</p>;
  const { tolerance, sources, syncs, from, to } = report.data;
  const limits = { ahead: tolerance.tolerance_ms, behind: tolerance.tolerance_ms + tolerance.network_delay_ms };
  return (
    <section className="card space-y-3 p-3" aria-labelledby="clock-evidence">
      <h2 id="clock-evidence" className="font-semibold">
        Source clocks, last hour
      </h2>
      <p className="text-sm" data-testid="clock-tolerance">
        received_at − occurred_at per source and credential. An event is flagged when its clock is ahead of ours by more than {tolerance.tolerance_ms} ms, or behind by more than {limits.behind} ms (tolerance {tolerance.tolerance_ms} ms + network delay {tolerance.network_delay_ms} ms
        {tolerance.network_delay_measured ? `, ${networkDelayBasis(tolerance)}` : ', set by hand'}).
      </p>
      {canManage ? <ToleranceForm tolerance={tolerance} /> : null}
      {sources.length === 0 ? (
        <p className="text-sm">No events with their own occurred_at arrived in the last hour.</p>
      ) : (
        <div className="overflow-x-auto">
          <table className="w-full text-sm" data-testid="clock-sources">
            <caption className="sr-only">Measured skew and reported clock sync per source</caption>
            <thead className="bg-slate-100 text-left dark:bg-slate-800">
              <tr>
                <th scope="col" className="px-3 py-2">Source</th>
                <th scope="col" className="px-3 py-2">Written by</th>
                <th scope="col" className="px-3 py-2 text-right">Events</th>
                <th scope="col" className="px-3 py-2 text-right">Skew min / mean / max</th>
                <th scope="col" className="px-3 py-2 text-right">
                  <abbr title="The network round trips the source's client measured and reported: an upper bound on the delivery delay inside the skew">Round trip</abbr> min / max
                </th>
                <th scope="col" className="px-3 py-2 text-right">Flagged ahead / behind</th>
                <th scope="col" className="px-3 py-2">Last clock sync reported</th>
              </tr>
            </thead>
            <tbody>
              {sources.map((s) => (
                <tr key={`${s.source}/${s.written_by}`} className="border-t border-slate-200 dark:border-slate-700" data-source={s.source ?? ''}>
                  <th scope="row" className="px-3 py-2 text-left font-mono font-normal">{s.source ?? <span className="text-slate-600 dark:text-slate-400">none</span>}</th>
                  <td className="break-all px-3 py-2 font-mono text-xs">{s.written_by}</td>
                  <td className="px-3 py-2 text-right tabular-nums">{nf.format(s.events)}</td>
                  <td className="px-3 py-2 text-right tabular-nums">
                    {formatSkew(s.min_ms)} / {formatSkew(s.mean_ms)} / {formatSkew(s.max_ms)}
                  </td>
                  <td className="px-3 py-2 text-right tabular-nums" data-testid="round-trip">
                    {s.min_round_trip_ms === null || s.max_round_trip_ms === null ? <span className="text-slate-600 dark:text-slate-400">not reported</span> : `${formatSkew(s.min_round_trip_ms)} / ${formatSkew(s.max_round_trip_ms)}`}
                  </td>
                  <td className={`px-3 py-2 text-right tabular-nums ${s.flagged_ahead + s.flagged_behind ? 'font-semibold text-red-700 dark:text-red-300' : ''}`} data-testid="flagged">
                    {nf.format(s.flagged_ahead)} / {nf.format(s.flagged_behind)}
                  </td>
                  <td className="px-3 py-2" data-testid="last-sync">
                    <SyncCell source={s} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {sources.map((s) => (
        <figure key={`${s.source}/${s.written_by}`} className="space-y-1">
          <figcaption className="text-xs text-slate-600 dark:text-slate-400">
            <span className="font-mono">{s.source ?? 'no source'}</span> ({s.written_by}): min–max band and mean per minute; the shaded band is the tolerance.
          </figcaption>
          <SkewChart source={s} from={from} to={to} limits={limits} />
        </figure>
      ))}
      <details className="text-sm">
        <summary>Clock sync reports this hour ({syncs.length})</summary>
        {syncs.length === 0 ? (
          <p className="mt-1">No CLOCK_SYNC events arrived in the last hour. The sync log of any day is at <code>GET /api/v1/audit/clock</code>.</p>
        ) : (
          <ul className="mt-1 space-y-1">
            {syncs.map((s) => (
              <li key={s.event_id}>
                <Timestamp iso={s.occurred_at} /> <span className="font-mono">{s.source ?? 'no source'}</span>: {formatSkew(s.offset_ms)} from {s.reference}
              </li>
            ))}
          </ul>
        )}
      </details>
    </section>
  );
}
