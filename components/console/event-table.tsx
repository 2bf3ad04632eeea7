'use client';
/**
 * Search results: a virtualized table (only the rows in view are in the
 * DOM) fed by keyset pages, so scrolling stays smooth however many rows are
 * loaded. The next page is fetched as the end comes into view.
 *
 * A row opens its event (click anywhere on it, or Enter on its time); the
 * Object and Actor cells go to their pages; event type, outcome, source,
 * actor type and request id cells filter on their value (Alt-click excludes).
 * The table is one Tab stop: arrow keys move between rows (Up/Down) and
 * between a row's links and buttons (Left/Right), so Tab moves past it in one step.
 */
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useInfiniteQuery } from '@tanstack/react-query';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useMemo, useRef, useState } from 'react';
import type { TextColumn } from '@/supabase/functions/_shared/filter-tree.ts';
import type { EventFiltersInput } from '@/supabase/functions/_shared/filters.ts';
import { COLUMNS, type ColumnKey } from '@/lib/search-params.ts';
import { errorMessage, useTRPC } from '@/lib/trpc.tsx';
import { formatInZone } from '@/lib/time.ts';
import { useTimeZone } from './time-zone.tsx';
import { ErasedMark, erasedPointers } from './erased-mark.tsx';

const PAGE_SIZE = 250;
const ROW_HEIGHT = 34;

type Row = {
  id: string;
  seq: number;
  occurred_at: string;
  received_at: string;
  event_type: string;
  object_type: string;
  object_id: string;
  actor_type: string;
  actor_id: string;
  outcome: string;
  source: string | null;
  request_id: string | null;
  ip_address: string | null;
  context: Record<string, unknown>;
  personal_data?: { subject_id: string | null; erased: string[] };
};

/** Columns whose cells filter on their value when clicked. */
const FILTERABLE: Partial<Record<ColumnKey, TextColumn>> = { event_type: 'event_type', outcome: 'outcome', source: 'source', actor_type: 'actor_type', request_id: 'request_id' };

export type CellFilter = (field: TextColumn, value: string, exclude: boolean) => void;

const LABELS = Object.fromEntries(COLUMNS.map((c) => [c.key, c.label.toLowerCase()]));

function cell(row: Row, key: ColumnKey, zone: string, onFilter: CellFilter | undefined): React.ReactNode {
  const field = FILTERABLE[key];
  const raw = field ? (row[key as keyof Row] as string | null) : null;
  if (onFilter && field && raw !== null) {
    return (
      <button
        type="button"
        tabIndex={-1}
        className="max-w-full truncate rounded px-0.5 text-left hover:bg-blue-100 hover:underline dark:hover:bg-slate-700"
        title={`Click: only ${raw}. Alt-click: all but ${raw}.`}
        aria-label={`Filter on ${LABELS[key]} ${raw} (Alt: exclude)`}
        onClick={(e) => onFilter(field, raw, e.altKey)}
      >
        {key === 'outcome' && raw === 'failure' ? <span className="font-medium text-red-700 dark:text-red-300">failure</span> : raw}
      </button>
    );
  }
  switch (key) {
    case 'occurred_at':
      return <time dateTime={row.occurred_at}>{formatInZone(row.occurred_at, zone, { withZone: false })}</time>;
    case 'received_at':
      return <time dateTime={row.received_at}>{formatInZone(row.received_at, zone, { withZone: false })}</time>;
    case 'object':
      return (
        <Link href={`/objects/${encodeURIComponent(row.object_type)}/${encodeURIComponent(row.object_id)}`} className="link" tabIndex={-1}>
          <span className="text-slate-600 dark:text-slate-400">{row.object_type}</span> {row.object_id}
        </Link>
      );
    case 'actor':
      return (
        <Link href={`/actors/${encodeURIComponent(row.actor_id)}`} className="link" tabIndex={-1}>
          {erasedPointers(row).has('/actor_id') ? <ErasedMark /> : row.actor_id}
        </Link>
      );
    case 'outcome':
      return row.outcome === 'failure' ? <span className="font-medium text-red-700 dark:text-red-300">failure</span> : 'success';
    case 'context':
      return <code className="text-xs">{JSON.stringify(row.context)}</code>;
    case 'seq':
      return String(row.seq);
    default:
      return (row[key as keyof Row] as string | null) ?? '—';
  }
}

export function EventTable({ filters, order, columns, label, onFilter }: { filters: EventFiltersInput; order: 'asc' | 'desc'; columns: ColumnKey[]; label: string; onFilter?: CellFilter }) {
  const trpc = useTRPC();
  const router = useRouter();
  // The row whose first link is the table's one Tab stop.
  const [active, setActive] = useState(0);
  const { zone } = useTimeZone();
  const query = useInfiniteQuery(
    trpc.events.list.infiniteQueryOptions({ ...filters, order, limit: PAGE_SIZE }, { getNextPageParam: (last) => last.next_cursor ?? undefined }),
  );
  const rows = useMemo(() => query.data?.pages.flatMap((p) => p.events) ?? [], [query.data]);
  const parentRef = useRef<HTMLDivElement>(null);
  // eslint-disable-next-line react-hooks/incompatible-library -- the virtualizer returns fresh values on purpose
  const virtualizer = useVirtualizer({ count: rows.length, getScrollElement: () => parentRef.current, estimateSize: () => ROW_HEIGHT, overscan: 15 });
  const items = virtualizer.getVirtualItems();
  const lastIndex = items.length ? items[items.length - 1]!.index : -1;
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = query;

  useEffect(() => {
    if (lastIndex >= rows.length - 40 && hasNextPage && !isFetchingNextPage) void fetchNextPage();
  }, [lastIndex, rows.length, hasNextPage, isFetchingNextPage, fetchNextPage]);

  // Time columns name the zone their times are in.
  const shown = COLUMNS.filter((c) => columns.includes(c.key)).map((c) => (c.key === 'occurred_at' || c.key === 'received_at' ? { ...c, label: c.label.replace('(UTC)', `(${zone})`) } : c));
  const template = shown.map((c) => c.width).join(' ');

  const controls = (rowIndex: number) => [...(parentRef.current?.querySelectorAll<HTMLElement>(`[data-row-index="${rowIndex}"] a, [data-row-index="${rowIndex}"] button`) ?? [])];

  function onKeyDown(e: React.KeyboardEvent<HTMLDivElement>) {
    const current = (document.activeElement as HTMLElement | null)?.closest('[data-row-index]') as HTMLElement | null;
    const index = current ? Number(current.dataset.rowIndex) : -1;
    if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
      if (index < 0) return;
      const list = controls(index);
      const at = list.indexOf(document.activeElement as HTMLElement);
      const next = list[Math.max(0, Math.min(list.length - 1, at + (e.key === 'ArrowRight' ? 1 : -1)))];
      e.preventDefault();
      next?.focus();
      return;
    }
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const next = Math.max(0, Math.min(rows.length - 1, index + (e.key === 'ArrowDown' ? 1 : -1)));
    e.preventDefault();
    setActive(next);
    virtualizer.scrollToIndex(next, { align: 'auto' });
    requestAnimationFrame(() => controls(next)[0]?.focus());
  }

  if (query.isError) {
    return (
      <p role="alert" className="card border-red-300 p-4 text-sm text-red-800 dark:border-red-800 dark:text-red-200">
        {errorMessage(query.error)}
      </p>
    );
  }

  const header = (
    <div role="rowgroup">
      <div role="row" className="grid border-b border-slate-200 bg-slate-100 px-2 font-medium text-slate-800 dark:border-slate-700 dark:bg-slate-800 dark:text-slate-200" style={{ gridTemplateColumns: template }}>
        {shown.map((c) => (
          <div role="columnheader" key={c.key} className="truncate px-2 py-1.5">
            {c.label}
          </div>
        ))}
      </div>
    </div>
  );

  return (
    <div className="card overflow-hidden text-sm">
      {query.isPending ? (
        <>
          <div role="table" aria-label={label} aria-rowcount={1}>
            {header}
          </div>
          <div className="space-y-2 p-3" aria-busy="true" aria-label="Loading events">
            {Array.from({ length: 8 }, (_, i) => (
              <div key={i} className="skeleton h-6" />
            ))}
          </div>
        </>
      ) : rows.length === 0 ? (
        <>
          <div role="table" aria-label={label} aria-rowcount={1}>
            {header}
          </div>
          <div className="p-8 text-center text-slate-700 dark:text-slate-300">
            <p className="font-medium">No events match these filters.</p>
            <p className="mt-1 text-sm">Widen the time range or clear a filter.</p>
          </div>
        </>
      ) : (
        <div role="table" aria-label={label} aria-rowcount={hasNextPage ? -1 : rows.length + 1} onKeyDown={onKeyDown}>
          {header}
          <div ref={parentRef} role="rowgroup" className="h-[calc(100vh-22rem)] min-h-80 overflow-auto" data-testid="results-scroll">
            <div className="relative w-full" style={{ height: virtualizer.getTotalSize() }}>
              {items.map((item) => {
                const row = rows[item.index]!;
                return (
                  <div
                    key={row.id}
                    role="row"
                    aria-rowindex={item.index + 2}
                    data-row-index={item.index}
                    className="absolute left-0 grid w-full cursor-pointer items-center border-b border-slate-100 px-2 hover:bg-blue-50 focus-within:bg-blue-50 dark:border-slate-800 dark:hover:bg-slate-800 dark:focus-within:bg-slate-800"
                    style={{ height: ROW_HEIGHT, transform: `translateY(${item.start}px)`, gridTemplateColumns: template }}
                    onFocus={() => setActive(item.index)}
                    onClick={(e) => {
                      // Links and buttons in the row do their own thing; anywhere else opens the event.
                      if ((e.target as HTMLElement).closest('a, button')) return;
                      router.push(`/events/${row.id}`);
                    }}
                  >
                    {shown.map((c, i) => (
                      <div role="cell" key={c.key} className="truncate px-2">
                        {i === 0 ? (
                          <Link href={`/events/${row.id}`} className="link" tabIndex={item.index === Math.min(active, rows.length - 1) ? 0 : -1} aria-label={`Open event: ${row.event_type} of ${row.object_type} ${row.object_id}, ${formatInZone(row.occurred_at, zone)}`}>
                            {cell(row as Row, c.key, zone, undefined)}
                          </Link>
                        ) : (
                          cell(row as Row, c.key, zone, onFilter)
                        )}
                      </div>
                    ))}
                  </div>
                );
              })}
            </div>
          </div>
        </div>
      )}
      <p className="border-t border-slate-200 px-3 py-1.5 text-xs text-slate-600 dark:border-slate-700 dark:text-slate-400" aria-live="polite">
        {rows.length.toLocaleString('en-US')} loaded{isFetchingNextPage ? ' · loading more…' : hasNextPage ? ' · scroll for more' : rows.length ? ' · end of results' : ''}
      </p>
    </div>
  );
}
