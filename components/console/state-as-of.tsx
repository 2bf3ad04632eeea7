'use client';
/**
 * "State as of": replays the `after` fields of an object's own events up to a
 * chosen moment, with the order's fills (filled quantity, average price) and
 * allocations as of that moment. The moment is typed in the person's time
 * zone (24-hour clock) and kept in the URL (?at=…, UTC) so it can be shared.
 */
import { useRouter, useSearchParams } from 'next/navigation';
import { useId, useState } from 'react';
import { formatValue, stateAsOf, type ReplayEvent } from '@/lib/diff.ts';
import { fillsAsOf, AVG_DECIMALS, type RelatedEvent } from '@/lib/order-fills.ts';
import { formatInZone, wallTimeToUtc } from '@/lib/time.ts';
import { Timestamp } from './timestamp.tsx';
import { useTimeZone } from './time-zone.tsx';

/** The end of the second (or microsecond) typed: events within it count. */
function endOf(iso: string, typed: string): string {
  return /\.\d/.test(typed) ? iso : `${iso.slice(0, 19)}.999999Z`;
}

export function StateAsOf({ events, related, initialAt }: { events: ReplayEvent[]; related: RelatedEvent[]; initialAt: string | null }) {
  const id = useId();
  const router = useRouter();
  const params = useSearchParams();
  const { zone } = useTimeZone();
  // Without a chosen moment: after the last event of the whole order (its allocation often comes after its own last event).
  const latest = [...events, ...related].reduce((max, e) => (e.occurred_at > max ? e.occurred_at : max), '');
  const at = initialAt ?? latest;
  const [typed, setTyped] = useState<{ zone: string; at: string; text: string } | null>(null);
  const text = typed && typed.zone === zone && typed.at === at ? typed.text : at ? formatInZone(at, zone, { withZone: false }).replace(/\.0+$/, '') : '';
  const [error, setError] = useState<string | null>(null);

  function go(iso: string) {
    const next = new URLSearchParams(params.toString());
    next.set('at', iso);
    router.replace(`?${next.toString()}`, { scroll: false });
  }
  function onSubmit(e: React.FormEvent) {
    e.preventDefault();
    const r = wallTimeToUtc(text, zone);
    if (!r.ok) return setError(r.message);
    setError(null);
    go(endOf(r.iso, text));
  }

  const { state, applied, lastEvent } = stateAsOf(events, at);
  const fills = fillsAsOf(related, at);
  const fields = Object.keys(state).sort();
  return (
    <section className="card p-3" aria-labelledby={`${id}-heading`}>
      <h2 id={`${id}-heading`} className="font-semibold">
        State as of a moment
      </h2>
      <form className="mt-2 flex flex-wrap items-end gap-3" onSubmit={onSubmit}>
        <div>
          <label htmlFor={`${id}-at`} className="field-label">
            State as of ({zone})
          </label>
          <input id={`${id}-at`} className="field-input w-56 font-mono" placeholder="2026-11-02 10:32:05" value={text} onChange={(e) => setTyped({ zone, at, text: e.target.value })} />
        </div>
        <button type="submit" className="btn">
          Show
        </button>
        <div className="flex flex-wrap gap-1" role="group" aria-label="Jump to an event">
          {events.slice(0, 30).map((e, i) => (
            <button key={e.id} type="button" className="btn px-2 py-0.5 text-xs" onClick={() => go(e.occurred_at)} title={formatInZone(e.occurred_at, zone)}>
              {i + 1}. {e.event_type}
            </button>
          ))}
        </div>
      </form>
      {error ? (
        <p role="alert" className="mt-1 text-sm text-red-700 dark:text-red-300">
          {error}
        </p>
      ) : null}
      <p className="mt-2 text-sm text-slate-700 dark:text-slate-300" aria-live="polite" data-testid="state-summary">
        {applied === 0 ? (
          'The object did not exist yet at that moment.'
        ) : (
          <>
            After {applied} of {events.length} events (last: {lastEvent!.event_type} at <Timestamp iso={lastEvent!.occurred_at} />
            ).
          </>
        )}
      </p>
      {fields.length ? (
        <dl className="mt-2 grid grid-cols-[12rem_1fr] gap-x-3 gap-y-1 text-sm" data-testid="state-fields">
          {fields.map((f) => (
            <div key={f} className="contents">
              <dt className="font-mono text-slate-700 dark:text-slate-300">{f}</dt>
              <dd className="font-mono">{formatValue(state[f])}</dd>
            </div>
          ))}
        </dl>
      ) : null}
      {related.length ? (
        <dl className="mt-3 grid grid-cols-[12rem_1fr] gap-x-3 gap-y-1 border-t border-slate-200 pt-2 text-sm dark:border-slate-700" data-testid="fills-as-of">
          <dt className="text-slate-700 dark:text-slate-300">Fills</dt>
          <dd className="font-mono">{fills.fills}</dd>
          <dt className="text-slate-700 dark:text-slate-300">Filled quantity</dt>
          <dd className="font-mono">{fills.filled_quantity}</dd>
          <dt className="text-slate-700 dark:text-slate-300">Average price</dt>
          <dd className="font-mono">{fills.average_price === null ? '—' : `${fills.average_price} (rounded to ${AVG_DECIMALS} decimals)`}</dd>
          <dt className="text-slate-700 dark:text-slate-300">Allocated</dt>
          <dd className="font-mono">
            {fills.allocated_quantity}
            {fills.allocations.length ? ` (${fills.allocations.map((a) => `${a.account}: ${a.quantity}`).join(', ')})` : ''}
          </dd>
        </dl>
      ) : null}
    </section>
  );
}
