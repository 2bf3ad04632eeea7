'use client';
/** What one user or service did in a period: counts by event type and the events themselves. */
import { useQuery } from '@tanstack/react-query';
import { parseAsStringLiteral, useQueryState } from 'nuqs';
import Link from 'next/link';
import { useId, useState } from 'react';
import { filtersFromSearch, serializeSearch, TIME_PRESETS, type SearchState } from '@/lib/search-params.ts';
import { useTRPC } from '@/lib/trpc.tsx';
import { EventTable } from './event-table.tsx';
import { matchCount } from '@/lib/count-words.ts';
import { useTimeZone } from './time-zone.tsx';

const RANGES = TIME_PRESETS.filter((p) => p.value !== 'custom');
const EMPTY_SEARCH: SearchState = { object_type: null, object_id: null, actor_id: null, actor_type: null, event_type: [], outcome: null, source: null, request_id: null, q: null, range: 'all', from: null, to: null, order: 'desc' };

export function ActorActivity({ actorId }: { actorId: string }) {
  const trpc = useTRPC();
  const id = useId();
  const [range, setRange] = useQueryState('range', parseAsStringLiteral(RANGES.map((r) => r.value)).withDefault('30d').withOptions({ history: 'push' }));
  const [nowMs, setNowMs] = useState(() => Date.now());
  const { zone } = useTimeZone();
  // The same period rules as the search page: relative ones against this clock, calendar ones (Today…) in the person's zone.
  const { filters: period } = filtersFromSearch({ ...EMPTY_SEARCH, range }, nowMs, zone);
  const filters = { actor_id: actorId, ...(period.from ? { from: period.from } : {}), ...(period.to ? { to: period.to } : {}) };
  const count = useQuery(trpc.events.count.queryOptions(filters));

  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-end gap-4">
        <div>
          <label htmlFor={`${id}-range`} className="field-label">
            Period
          </label>
          <select
            id={`${id}-range`}
            className="field-input"
            value={range}
            onChange={(e) => {
              setNowMs(Date.now());
              void setRange(e.target.value as typeof range);
            }}
          >
            {RANGES.map((r) => (
              <option key={r.value} value={r.value}>
                {r.label}
              </option>
            ))}
          </select>
        </div>
        <p className="text-sm font-medium" aria-live="polite">
          {count.data ? matchCount(count.data) : ''}
        </p>
        <Link className="link text-sm" href={`/${serializeSearch({ actor_id: actorId, range })}`}>
          Open in search
        </Link>
      </div>
      <EventTable filters={filters} order="desc" columns={['occurred_at', 'event_type', 'object', 'outcome', 'source', 'request_id']} label={`Events by ${actorId}`} />
    </div>
  );
}
