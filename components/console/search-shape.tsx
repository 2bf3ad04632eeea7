'use client';
/**
 * The search's shape beside its results: a histogram of matching events over
 * time with labelled axes in the chosen zone (drag across it, or click a bar,
 * to zoom the time range to it), archived months included, and the
 * most frequent event types, object types, actors, sources and outcomes
 * (click a value to filter on it, Alt-click to exclude it). Counts are exact
 * or labelled as estimates, as the server computed them (search-shape.ts).
 */
import { useQuery } from '@tanstack/react-query';
import { useRef, useState } from 'react';
import type { EventFiltersInput } from '@/supabase/functions/_shared/filters.ts';
import { useTRPC } from '@/lib/trpc.tsx';
import { formatInZone, zoneAbbreviation } from '@/lib/time.ts';
import { useTimeZone } from './time-zone.tsx';
import { ErasedMark } from './erased-mark.tsx';

export type FacetField = 'event_type' | 'object_type' | 'actor_id' | 'source' | 'outcome';

const FACETS: { field: FacetField; label: string }[] = [
  { field: 'event_type', label: 'Event type' },
  { field: 'object_type', label: 'Object type' },
  { field: 'actor_id', label: 'Actor' },
  { field: 'source', label: 'Source' },
  { field: 'outcome', label: 'Outcome' },
];

const fmt = (n: number) => n.toLocaleString('en-US');

/**
 * The shape of the search within its time budget; `countExactly()` asks for
 * the same search counted exactly, without the budget (until the search
 * changes). A refusal (the export slots are busy) is in `error`.
 */
export function useSearchShape(filters: EventFiltersInput, enabled: boolean) {
  const trpc = useTRPC();
  const key = JSON.stringify(filters);
  const [exactFor, setExactFor] = useState<string | null>(null);
  const exact = exactFor === key;
  const query = useQuery({ ...trpc.events.shape.queryOptions({ ...filters, exact }), enabled });
  return { ...query, exactRequested: exact, countExactly: () => setExactFor(key) };
}

type Shape = NonNullable<ReturnType<typeof useSearchShape>['data']>;

/** Asks for exact counts of the same search (no time budget; held to the export slots). */
function CountExactly({ onClick }: { onClick: () => void }) {
  return (
    <button type="button" className="rounded border border-slate-400 px-2 py-0.5 text-xs font-medium hover:bg-blue-50 dark:hover:bg-slate-800" onClick={onClick} data-testid="count-exactly">
      Count exactly
    </button>
  );
}

/** A tick label at this instant: dates for day-wide bars and wider, otherwise month-day and time (24-hour), in the zone. */
function tickLabel(iso: string, bucketSeconds: number, zone: string): string {
  const text = formatInZone(iso, zone, { withZone: false });
  return bucketSeconds >= 86400 ? text.slice(0, 10) : bucketSeconds >= 60 ? text.slice(5, 16) : text.slice(5, 19);
}

const TICKS = 4;

/**
 * The histogram, with its axes: time on x in the chosen zone, matching events
 * per bar on y. Bars that lie partly in an archived month that could not be
 * counted are hatched and named below the chart. `onZoom` receives the chosen
 * [from, to) as ISO strings.
 */
export function Histogram({
  shape,
  onZoom,
  onCountExactly,
  error,
}: {
  shape: Shape | undefined;
  onZoom: (from: string, to: string) => void;
  /** Absent once exact counts were asked for. */
  onCountExactly?: () => void;
  error?: string | null;
}) {
  const svgRef = useRef<SVGSVGElement>(null);
  const [drag, setDrag] = useState<{ a: number; b: number } | null>(null);
  const { zone } = useTimeZone();
  if (error) return <p role="alert" className="text-sm text-red-800 dark:text-red-300" data-testid="histogram-error">{error}</p>;
  if (!shape) return <div className="skeleton h-24" aria-label={onCountExactly ? 'Loading the histogram' : 'Counting exactly'} />;
  if (shape.unavailable)
    return (
      <p className="flex flex-wrap items-center gap-2 text-sm text-slate-700 dark:text-slate-300" data-testid="histogram-unavailable">
        {shape.unavailable} {onCountExactly ? <CountExactly onClick={onCountExactly} /> : null}
      </p>
    );
  const buckets = shape.buckets;
  if (!buckets.length) return null;
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const n = buckets.length;
  const startMs = (i: number) => Date.parse(buckets[i]!.start);
  const endMs = (i: number) => (i + 1 < n ? startMs(i + 1) : startMs(i) + shape.bucket_seconds * 1000);
  const total = buckets.reduce((a, b) => a + b.count, 0);
  const index = (clientX: number) => {
    const box = svgRef.current!.getBoundingClientRect();
    return Math.max(0, Math.min(n - 1, Math.floor(((clientX - box.left) / box.width) * n)));
  };
  const zoom = (a: number, b: number) => {
    const lo = Math.min(a, b);
    const hi = Math.max(a, b);
    onZoom(new Date(startMs(lo)).toISOString(), new Date(endMs(hi)).toISOString());
  };
  const width = shape.bucket_seconds;
  const per = width % 86400 === 0 ? `${width / 86400} day${width === 86400 ? '' : 's'}` : width % 3600 === 0 ? `${width / 3600} h` : width % 60 === 0 ? `${width / 60} min` : `${width} s`;
  const endIso = new Date(endMs(n - 1)).toISOString();
  const short = buckets.some((b) => b.short);
  const summary = `${shape.accuracy.histogram.label === 'exact' ? fmt(total) : `≈ ${fmt(total)} (estimate)`} matching events from ${formatInZone(buckets[0]!.start, zone)} to before ${formatInZone(endIso, zone)}, ${per} per bar${short ? ', hatched bars short: archived months not counted' : ''}`;
  // Evenly spaced bar starts, and the end; fewer bars than ticks repeat none (one bar: its start and its end).
  const ticks = [...new Set([...Array.from({ length: TICKS }, (_, k) => buckets[Math.min(n - 1, Math.floor((k * n) / TICKS))]!.start), endIso])];
  const zoneName = `${zone}${zone === 'UTC' ? '' : `, ${zoneAbbreviation(startMs(0), zone)}`}`;
  return (
    <figure className="space-y-1" data-testid="histogram">
      <div className="flex items-stretch gap-1">
        <span className="text-xs text-slate-700 [writing-mode:vertical-rl] rotate-180 text-center dark:text-slate-300" data-testid="histogram-y-label">
          Events per bar
        </span>
        <div className="flex h-24 flex-col justify-between text-right text-xs text-slate-700 tabular-nums dark:text-slate-300" aria-hidden data-testid="histogram-y-ticks">
          <span>{fmt(max)}</span>
          <span>{fmt(Math.round(max / 2))}</span>
          <span>0</span>
        </div>
        <div className="min-w-0 flex-1">
          <svg
            ref={svgRef}
            role="img"
            aria-label={`Histogram: ${summary}`}
            viewBox={`0 0 ${n * 10} 60`}
            preserveAspectRatio="none"
            className="h-24 w-full cursor-crosshair touch-none border-b border-l border-slate-400 select-none"
            onPointerDown={(e) => {
              e.currentTarget.setPointerCapture(e.pointerId);
              const i = index(e.clientX);
              setDrag({ a: i, b: i });
            }}
            onPointerMove={(e) => drag && setDrag({ ...drag, b: index(e.clientX) })}
            onPointerUp={(e) => {
              if (!drag) return;
              const b = index(e.clientX);
              setDrag(null);
              zoom(drag.a, b);
            }}
          >
            <defs>
              <pattern id="histogram-uncounted" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
                <rect width="2" height="4" className="fill-amber-500/50" />
              </pattern>
            </defs>
            {buckets.map((b, i) =>
              b.short ? <rect key={`short-${b.start}`} x={i * 10} y={0} width={10} height={60} fill="url(#histogram-uncounted)" data-testid="histogram-short" /> : null,
            )}
            {buckets.map((b, i) => {
              const h = (b.count / max) * 56;
              return (
                <rect key={b.start} x={i * 10 + 1} y={60 - h} width={8} height={h} className={b.exact ? 'fill-blue-600 dark:fill-blue-400' : 'fill-blue-400 dark:fill-blue-300'} data-count={b.count}>
                  <title>{`${formatInZone(b.start, zone)}: ${b.exact ? '' : '≈ '}${fmt(b.count)}${b.short ? ' (short: an archived month here was not counted)' : ''}`}</title>
                </rect>
              );
            })}
            {drag ? <rect x={Math.min(drag.a, drag.b) * 10} y={0} width={(Math.abs(drag.b - drag.a) + 1) * 10} height={60} className="fill-amber-400/40" /> : null}
          </svg>
          <div className="flex justify-between text-xs text-slate-700 tabular-nums dark:text-slate-300" aria-hidden data-testid="histogram-x-ticks">
            {ticks.map((iso, k) => (
              <span key={k}>{tickLabel(iso, width, zone)}</span>
            ))}
          </div>
          <p className="text-center text-xs text-slate-700 dark:text-slate-300" data-testid="histogram-x-label">
            Time ({zoneName}), {per} per bar
          </p>
        </div>
      </div>
      <figcaption className="flex flex-wrap justify-between gap-2 text-xs text-slate-700 dark:text-slate-300">
        <span data-testid="histogram-summary">{summary}. Drag across the bars or click one to zoom.</span>
        <span className="flex flex-wrap items-center gap-2">
          <span data-testid="shape-accuracy">{accuracy(shape)}</span>
          {!shape.exact && onCountExactly ? <CountExactly onClick={onCountExactly} /> : null}
        </span>
      </figcaption>
    </figure>
  );
}

/** What the counts cover, in words: exact, or estimates, and the archived months counted or not. */
function accuracy(shape: Shape): string {
  const { histogram, facets } = shape.accuracy;
  const parts = shape.exact
    ? ['Exact counts']
    : [
        `Estimates (≈): bars ${histogram.label === 'exact' ? 'exact' : `estimated (${histogram.basis})`}`,
        `value counts ${facets.label === 'exact' ? 'exact' : `estimated (${facets.basis})`}`,
      ];
  const counted = shape.archived_months.filter((m) => m.counted).map((m) => m.month);
  const missing = shape.archived_months.filter((m) => !m.counted).map((m) => m.month);
  if (counted.length) parts.push(`archived months counted from their archive: ${counted.join(', ')}`);
  if (missing.length) parts.push(`NOT counted (hatched, counts short): archived months ${missing.join(', ')}${shape.archive_error ? ` — ${shape.archive_error}` : ''}`);
  return parts.join('; ');
}

/** Value counts per field; click filters on a value, Alt-click (or the ⊘ button) excludes it. */
export function ValueCounts({ shape, onFilter }: { shape: Shape | undefined; onFilter: (field: FacetField, value: string | null, exclude: boolean) => void }) {
  if (!shape) return <div className="skeleton h-64" aria-label="Loading value counts" />;
  if (shape.unavailable) return null;
  const estimated = shape.accuracy.facets.label === 'estimate';
  return (
    <nav aria-label="Value counts" className="space-y-3 text-sm" data-testid="value-counts">
      {FACETS.map(({ field, label }) => {
        const values = shape.facets[field];
        if (!values.length) return null;
        return (
          <section key={field} aria-labelledby={`facet-${field}`}>
            <h2 id={`facet-${field}`} className="mb-1 text-xs font-semibold tracking-wide text-slate-700 uppercase dark:text-slate-300">
              {label}
            </h2>
            <ul className="space-y-0.5">
              {values.map((v) => {
                const shown = v.value ?? '(none)';
                return (
                  <li key={shown} className="flex items-center gap-1">
                    <button
                      type="button"
                      className="flex min-w-0 flex-1 justify-between gap-2 rounded px-1 text-left hover:bg-blue-50 dark:hover:bg-slate-800"
                      title={`Click: only ${shown}. Alt-click: all but ${shown}.`}
                      aria-label={`${label} ${v.erased ? 'erased' : shown}: ${estimated ? 'about ' : ''}${fmt(v.count)} events${estimated ? ' (estimate)' : ''}. Filter on it (Alt: exclude it)`}
                      onClick={(e) => onFilter(field, v.value, e.altKey)}
                    >
                      <span className="truncate">{v.erased ? <ErasedMark /> : shown}</span>
                      <span className="text-slate-600 tabular-nums dark:text-slate-400">
                        {estimated ? '≈ ' : ''}
                        {fmt(v.count)}
                        {estimated ? <span className="sr-only"> (estimate)</span> : null}
                      </span>
                    </button>
                    <button type="button" className="rounded px-1 text-slate-600 hover:bg-red-50 dark:text-slate-400 dark:hover:bg-slate-800" aria-label={`Exclude ${label.toLowerCase()} ${shown}`} onClick={() => onFilter(field, v.value, true)}>
                      ⊘
                    </button>
                  </li>
                );
              })}
            </ul>
          </section>
        );
      })}
    </nav>
  );
}
