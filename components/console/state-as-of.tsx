'use client';
/** "State as of": replays the `after` fields of an object's events up to a chosen moment (UTC). */
import { useId, useState } from 'react';
import { formatValue, stateAsOf, type ReplayEvent } from '@/lib/diff.ts';
import { formatUtc } from '@/lib/time.ts';

function inputToIso(value: string): string {
  // datetime-local with seconds, read as UTC; the end of that second includes events within it.
  const base = value.length === 16 ? `${value}:00` : value.slice(0, 19);
  return `${base}.999999Z`;
}

export function StateAsOf({ events }: { events: ReplayEvent[] }) {
  const id = useId();
  const last = events[events.length - 1];
  const [at, setAt] = useState(() => (last ? last.occurred_at.slice(0, 19) : ''));
  const { state, applied, lastEvent } = stateAsOf(events, at ? inputToIso(at) : '');
  const fields = Object.keys(state).sort();
  return (
    <section className="card p-3" aria-labelledby={`${id}-heading`}>
      <h2 id={`${id}-heading`} className="font-semibold">
        State as of a moment
      </h2>
      <div className="mt-2 flex flex-wrap items-end gap-3">
        <div>
          <label htmlFor={`${id}-at`} className="field-label">
            State as of (UTC)
          </label>
          <input id={`${id}-at`} type="datetime-local" step="1" className="field-input" value={at} onChange={(e) => setAt(e.target.value)} />
        </div>
        <div className="flex flex-wrap gap-1" role="group" aria-label="Jump to an event">
          {events.slice(0, 30).map((e, i) => (
            <button key={e.id} type="button" className="btn px-2 py-0.5 text-xs" onClick={() => setAt(e.occurred_at.slice(0, 19))} title={formatUtc(e.occurred_at)}>
              {i + 1}. {e.event_type}
            </button>
          ))}
        </div>
      </div>
      <p className="mt-2 text-sm text-slate-700 dark:text-slate-300" aria-live="polite" data-testid="state-summary">
        {applied === 0 ? 'The object did not exist yet at that moment.' : `After ${applied} of ${events.length} events (last: ${lastEvent!.event_type} at ${formatUtc(lastEvent!.occurred_at)}).`}
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
    </section>
  );
}
