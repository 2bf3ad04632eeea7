'use client';
/**
 * The search page: a filter bar whose every value lives in the URL (nuqs),
 * the match count, exports of exactly this filter set (export-panel.tsx),
 * and the results.
 * Text fields apply on "Search" (Enter); pickers apply at once; event types
 * are ticked and applied with their own button. Each applied change is a
 * history entry, so back/forward step through searches. Beside the results:
 * the search's shape (search-shape.tsx), whose values and the table's cells
 * add conditions to the query when clicked (Alt-click: exclude).
 */
import { useMutation, useQuery } from '@tanstack/react-query';
import { useQueryStates } from 'nuqs';
import { useEffect, useId, useRef, useState } from 'react';
import { useSearchParams } from 'next/navigation';
import { COLUMNS, filtersFromSearch, searchParsers, TIME_PRESETS, type ColumnKey, type SearchState } from '@/lib/search-params.ts';
import { errorMessage, useTRPC } from '@/lib/trpc.tsx';
import { EventTable } from './event-table.tsx';
import { ExportPanel } from './export-panel.tsx';
import { QueryInput } from './query-input.tsx';
import { Histogram, useSearchShape, ValueCounts } from './search-shape.tsx';
import { andCondition, conditionText } from '@/supabase/functions/_shared/query-language.ts';
import type { TextColumn } from '@/supabase/functions/_shared/filter-tree.ts';
import { formatInZone, formatUtc, wallTimeToUtc } from '@/lib/time.ts';
import { matchCount } from '@/lib/count-words.ts';
import { unknownSearchValues } from '@/lib/url-check.ts';
import { useHydrated } from './use-hydrated.ts';
import { useTimeZone } from './time-zone.tsx';

const TEXT_FIELDS = [
  { key: 'object_id', label: 'Object ID', placeholder: 'ORD-100001' },
  { key: 'about', label: 'Whole order', placeholder: 'ORD-100625, with fills' },
  { key: 'actor_id', label: 'Actor', placeholder: 'alice@example.com' },
  { key: 'request_id', label: 'Request ID', placeholder: 'req-…' },
  { key: 'source', label: 'Source', placeholder: 'oms-gateway' },
] as const;

type Draft = Record<'object_id' | 'about' | 'actor_id' | 'request_id' | 'source' | 'q' | 'from' | 'to', string> & { event_type: string[] };

/** The fields as the URL holds them; custom bounds as wall times in the person's zone. */
function draftOf(state: SearchState, zone: string): Draft {
  const wall = (iso: string | null) => (iso ? formatInZone(iso, zone, { withZone: false }).replace(/\.0+$/, '') : '');
  return {
    object_id: state.object_id ?? '',
    about: state.about ?? '',
    actor_id: state.actor_id ?? '',
    request_id: state.request_id ?? '',
    source: state.source ?? '',
    q: state.q ?? '',
    from: wall(state.from),
    to: wall(state.to),
    event_type: state.event_type,
  };
}

export function SearchPage({ canExport }: { canExport: boolean }) {
  const trpc = useTRPC();
  const [state, setState] = useQueryStates(searchParsers, { history: 'push' });
  const { zone } = useTimeZone();
  const [draft, setDraft] = useState<Draft>(() => draftOf(state, zone));
  const [draftKey, setDraftKey] = useState(() => JSON.stringify(draftOf(state, zone)));
  const [timeError, setTimeError] = useState<string | null>(null);
  const [nowMs, setNowMs] = useState(() => Date.now());
  const ids = useId();

  // The URL changed under us (back/forward, a saved search): show its values in the fields.
  const urlKey = JSON.stringify(draftOf(state, zone));
  if (urlKey !== draftKey) {
    setDraftKey(urlKey);
    setDraft(draftOf(state, zone));
  }
  useEffect(() => {
    const onPop = () => setNowMs(Date.now());
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);

  const facets = useQuery(trpc.events.facets.queryOptions());
  const { filters, error: filterError } = filtersFromSearch(state, nowMs, zone);
  const count = useQuery({ ...trpc.events.count.queryOptions(filters), enabled: !filterError });
  const shape = useSearchShape(filters, !filterError);

  type Patch = Exclude<Parameters<typeof setState>[0], null | ((...args: never[]) => unknown)>;
  function apply(patch: Patch) {
    setNowMs(Date.now());
    void setState(patch);
  }

  /** Adds `field = value` (or its exclusion) to the query and runs it. */
  function addCondition(field: TextColumn, value: string | null, exclude: boolean) {
    const condition = value === null ? `${exclude ? '' : 'NOT '}${field} EXISTS` : conditionText(field, value, exclude);
    const q = andCondition(state.q ?? '', condition);
    setDraft({ ...draft, q });
    apply({ q });
  }

  function onSubmit(e: React.FormEvent) {
    e.preventDefault();
    const blank = (s: string) => (s.trim() ? s.trim() : null);
    // Custom bounds are typed in the person's zone; the URL keeps them in UTC.
    const bound = (wall: string) => {
      if (!wall.trim()) return null;
      const r = wallTimeToUtc(wall, zone);
      if (!r.ok) throw new Error(r.message);
      return r.iso;
    };
    let from: string | null = null;
    let to: string | null = null;
    try {
      from = state.range === 'custom' ? bound(draft.from) : null;
      to = state.range === 'custom' ? bound(draft.to) : null;
      setTimeError(null);
    } catch (err) {
      setTimeError((err as Error).message);
      return;
    }
    apply({
      object_id: blank(draft.object_id),
      about: blank(draft.about),
      actor_id: blank(draft.actor_id),
      request_id: blank(draft.request_id),
      source: blank(draft.source),
      q: blank(draft.q),
      event_type: draft.event_type.length ? draft.event_type : null,
      from,
      to,
    });
  }

  const eventTypes = [...new Set([...(facets.data?.event_types ?? []), ...state.event_type])].sort();
  const urlProblems = unknownSearchValues(new URLSearchParams(useSearchParams().toString()), { eventTypes: facets.data?.event_types ?? null });
  const objectTypes = [...new Set([...(facets.data?.object_types ?? []), ...(state.object_type ? [state.object_type] : [])])].sort();
  const actorTypes = [...new Set([...(facets.data?.actor_types ?? []), ...(state.actor_type ? [state.actor_type] : [])])].sort();
  // An export runs with every filter of the search or not at all: a filter the API would refuse stops it here, saying why.
  const exportBlocked = filterError ? `Query: ${filterError.message}` : count.isError ? errorMessage(count.error) : null;

  return (
    <div className="space-y-3">
      <h1 className="sr-only">Search events</h1>
      <form onSubmit={onSubmit} className="card grid grid-cols-2 gap-3 p-3 md:grid-cols-4 xl:grid-cols-8" aria-label="Filters">
        <div>
          <label htmlFor={`${ids}-object-type`} className="field-label">
            Object type
          </label>
          <select id={`${ids}-object-type`} className="field-input" value={state.object_type ?? ''} onChange={(e) => apply({ object_type: e.target.value || null })}>
            <option value="">Any</option>
            {objectTypes.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </div>
        {TEXT_FIELDS.map((f) => (
          <div key={f.key}>
            <label htmlFor={`${ids}-${f.key}`} className="field-label">
              {f.label}
            </label>
            <input
              id={`${ids}-${f.key}`}
              className="field-input"
              value={draft[f.key]}
              placeholder={f.placeholder}
              list={f.key === 'source' ? `${ids}-sources` : undefined}
              onChange={(e) => setDraft({ ...draft, [f.key]: e.target.value })}
            />
          </div>
        ))}
        <datalist id={`${ids}-sources`}>
          {(facets.data?.sources ?? []).map((s) => (
            <option key={s} value={s} />
          ))}
        </datalist>
        <div>
          <label htmlFor={`${ids}-actor-type`} className="field-label">
            Actor type
          </label>
          <select id={`${ids}-actor-type`} className="field-input" value={state.actor_type ?? ''} onChange={(e) => apply({ actor_type: e.target.value || null })}>
            <option value="">Any</option>
            {actorTypes.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor={`${ids}-outcome`} className="field-label">
            Outcome
          </label>
          <select id={`${ids}-outcome`} className="field-input" value={state.outcome ?? ''} onChange={(e) => apply({ outcome: (e.target.value || null) as 'success' | 'failure' | null })}>
            <option value="">Any</option>
            <option value="success">success</option>
            <option value="failure">failure</option>
          </select>
        </div>
        <EventTypePicker types={eventTypes} selected={state.event_type} onApply={(event_type) => apply({ event_type })} />
        <QueryInput value={draft.q} onChange={(q) => setDraft({ ...draft, q })} problem={draft.q === (state.q ?? '') ? filterError : null} />
        <div>
          <label htmlFor={`${ids}-range`} className="field-label">
            Time range
          </label>
          <select id={`${ids}-range`} className="field-input" value={state.range} onChange={(e) => apply({ range: e.target.value as typeof state.range, ...(e.target.value === 'custom' ? {} : { from: null, to: null }) })}>
            {TIME_PRESETS.map((p) => (
              <option key={p.value} value={p.value}>
                {p.label}
              </option>
            ))}
          </select>
        </div>
        {state.range === 'custom' ? (
          <>
            <div>
              <label htmlFor={`${ids}-from`} className="field-label">
                From ({zone})
              </label>
              <input id={`${ids}-from`} className="field-input font-mono" placeholder="2026-11-02 09:30:00" value={draft.from} onChange={(e) => setDraft({ ...draft, from: e.target.value })} />
            </div>
            <div>
              <label htmlFor={`${ids}-to`} className="field-label">
                Before ({zone})
              </label>
              <input id={`${ids}-to`} className="field-input font-mono" placeholder="2026-11-03 00:00:00" aria-describedby={`${ids}-to-hint`} value={draft.to} onChange={(e) => setDraft({ ...draft, to: e.target.value })} />
              <p id={`${ids}-to-hint`} className="mt-0.5 text-[11px] text-slate-600 dark:text-slate-400">
                Exclusive: events before this moment; 24-hour clock
              </p>
            </div>
          </>
        ) : null}
        <div>
          <label htmlFor={`${ids}-order`} className="field-label">
            Order
          </label>
          <select id={`${ids}-order`} className="field-input" value={state.order} onChange={(e) => apply({ order: e.target.value as 'asc' | 'desc' })}>
            <option value="desc">Newest first</option>
            <option value="asc">Oldest first</option>
          </select>
        </div>
        <div className="flex items-end gap-2">
          <button type="submit" className="btn-primary">
            Search
          </button>
          <button
            type="button"
            className="btn"
            onClick={() => apply({ about: null, object_type: null, object_id: null, actor_id: null, actor_type: null, event_type: null, outcome: null, source: null, request_id: null, q: null, console: null, range: null, from: null, to: null })}
          >
            Reset
          </button>
        </div>
      </form>

      <div className="flex flex-wrap items-center gap-x-4 gap-y-2 text-sm">
        <p aria-live="polite" data-testid="result-count" className="font-medium">
          {filterError ? null : count.isPending ? <span className="skeleton inline-block h-4 w-24 align-middle" /> : count.isError ? 'Count unavailable' : matchCount(count.data)}
        </p>
        <TimeRangeNote from={filters.from} to={filters.to} />
        <ColumnPicker columns={state.cols} onChange={(cols) => void setState({ cols })} />
        <SaveSearch />
        {canExport ? <ExportPanel filters={filters} order={state.order} count={count.data} blocked={exportBlocked} /> : null}
      </div>
      <label className="flex w-fit items-center gap-2 text-sm">
        <input type="checkbox" checked={state.console} onChange={(e) => apply({ console: e.target.checked || null })} />
        Show console activity (AUDIT_* sign-ins, searches, views, exports)
      </label>
      {timeError ? (
        <p role="alert" className="text-sm text-red-700 dark:text-red-300">
          Time range: {timeError}
        </p>
      ) : null}
      {urlProblems.length ? (
        <div role="status" className="card border-amber-300 p-2 text-sm dark:border-amber-700" data-testid="url-problems">
          <p className="font-medium">This link asks for something the console cannot apply:</p>
          <ul className="list-disc pl-5">
            {urlProblems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </div>
      ) : null}
      {filterError ? (
        <p className="text-sm text-slate-700 dark:text-slate-300">Correct the query to see its events.</p>
      ) : (
        <>
          <Histogram shape={shape.data} error={shape.error?.message} onCountExactly={shape.exactRequested ? undefined : shape.countExactly} onZoom={(from, to) => apply({ range: 'custom', from, to })} />
          <div className="grid gap-3 lg:grid-cols-[15rem_minmax(0,1fr)]">
            <aside className="card p-3">
              <ValueCounts shape={shape.data} onFilter={addCondition} />
            </aside>
            <EventTable filters={filters} order={state.order} columns={state.cols} label="Matching events" onFilter={addCondition} />
          </div>
        </>
      )}
    </div>
  );
}

function TimeRangeNote({ from, to }: { from?: string; to?: string }) {
  // A relative range is resolved against the browser's clock, and the browser's zone is known only there: shown once hydrated.
  const hydrated = useHydrated();
  const { zone } = useTimeZone();
  if (!hydrated) return <span className="skeleton inline-block h-4 w-48 align-middle" />;
  if (!from && !to) return <span className="text-slate-600 dark:text-slate-400">All time</span>;
  return (
    <span className="text-slate-700 dark:text-slate-300" data-testid="time-range">
      {from ? formatInZone(from, zone) : 'the beginning'} → before {to ? formatInZone(to, zone) : 'now'}
      {zone !== 'UTC' ? (
        <span className="ml-1 text-slate-600 dark:text-slate-400">
          (UTC: {from ? formatUtc(from) : '…'} → before {to ? formatUtc(to) : 'now'})
        </span>
      ) : null}
    </span>
  );
}

function ColumnPicker({ columns, onChange }: { columns: ColumnKey[]; onChange: (cols: ColumnKey[]) => void }) {
  const ref = useRef<HTMLDetailsElement>(null);
  function onKeyDown(e: React.KeyboardEvent) {
    if (e.key !== 'Escape' || !ref.current?.open) return;
    e.preventDefault();
    ref.current.open = false;
    ref.current.querySelector('summary')?.focus();
  }
  return (
    <details className="relative" ref={ref} onKeyDown={onKeyDown}>
      <summary className="btn cursor-pointer list-none">Columns</summary>
      <fieldset className="card absolute z-20 mt-1 w-56 space-y-1 p-3 shadow-lg">
        <legend className="sr-only">Columns shown</legend>
        {COLUMNS.map((c) => (
          <label key={c.key} className="flex items-center gap-2 text-sm">
            <input
              type="checkbox"
              checked={columns.includes(c.key)}
              onChange={(e) => onChange(e.target.checked ? COLUMNS.map((x) => x.key).filter((k) => k === c.key || columns.includes(k)) : columns.filter((k) => k !== c.key))}
            />
            {c.label}
          </label>
        ))}
      </fieldset>
    </details>
  );
}

function SaveSearch() {
  const trpc = useTRPC();
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  const save = useMutation(trpc.savedSearches.create.mutationOptions());
  const id = useId();
  if (!open) {
    return (
      <button type="button" className="btn" onClick={() => setOpen(true)}>
        Save search
      </button>
    );
  }
  return (
    <form
      className="flex items-end gap-2"
      onSubmit={(e) => {
        e.preventDefault();
        save.mutate({ name, query: window.location.search }, { onSuccess: () => setOpen(false) });
      }}
    >
      <div>
        <label htmlFor={id} className="field-label">
          Name
        </label>
        <input id={id} className="field-input" value={name} onChange={(e) => setName(e.target.value)} required autoFocus />
      </div>
      <button type="submit" className="btn-primary" disabled={save.isPending}>
        Save
      </button>
      <button type="button" className="btn" onClick={() => setOpen(false)}>
        Cancel
      </button>
      {save.isError ? (
        <span role="alert" className="text-red-700 dark:text-red-300">
          {errorMessage(save.error)}
        </span>
      ) : null}
    </form>
  );
}

/** Event types as checkboxes: ticking changes nothing until Apply (no search per click or keypress). */
function EventTypePicker({ types, selected, onApply }: { types: string[]; selected: string[]; onApply: (types: string[] | null) => void }) {
  const [draft, setDraft] = useState<string[] | null>(null);
  const ticked = draft ?? selected;
  const changed = draft !== null && (draft.length !== selected.length || draft.some((t) => !selected.includes(t)));
  return (
    <fieldset className="row-span-2 min-w-0">
      <legend className="field-label">Event types{selected.length ? ` (${selected.length})` : ''}</legend>
      <div className="field-input max-h-32 space-y-0.5 overflow-auto py-1">
        {types.map((t) => (
          <label key={t} className="flex items-center gap-1.5 text-xs">
            <input type="checkbox" checked={ticked.includes(t)} onChange={(e) => setDraft(e.target.checked ? [...ticked, t] : ticked.filter((x) => x !== t))} />
            <span className="truncate">{t}</span>
          </label>
        ))}
      </div>
      <div className="mt-1 flex gap-1">
        <button
          type="button"
          className={changed ? 'btn-primary px-2 py-0.5 text-xs' : 'btn px-2 py-0.5 text-xs'}
          disabled={!changed}
          onClick={() => {
            onApply(ticked.length ? [...ticked].sort() : null);
            setDraft(null);
          }}
        >
          Apply event types
        </button>
        {selected.length || (draft && draft.length) ? (
          <button
            type="button"
            className="btn px-2 py-0.5 text-xs"
            onClick={() => {
              onApply(null);
              setDraft(null);
            }}
          >
            Any type
          </button>
        ) : null}
      </div>
    </fieldset>
  );
}
