'use client';
/** What one user or service did in a period: counts by event type and the events themselves. */
import { useQuery } from '@tanstack/react-query';
import { parseAsStringLiteral, useQueryState } from 'nuqs';
import Link from 'next/link';
import { useId, useState } from 'react';
import { serializeSearch, TIME_PRESETS } from '@/lib/search-params.ts';
import { useTRPC } from '@/lib/trpc.tsx';
import { EventTable } from './event-table.tsx';

const RANGES = TIME_PRESETS.filter((p) => p.value !== 'custom');

export function ActorActivity({ actorId }: { actorId: string }) {
  const trpc = useTRPC();
  const id = useId();
  const [range, setRange] = useQueryState('range', parseAsStringLiteral(RANGES.map((r) => r.value)).withDefault('30d').withOptions({ history: 'push' }));
  const [nowMs, setNowMs] = useState(() => Date.now());
  const seconds = RANGES.find((r) => r.value === range)?.seconds ?? null;
  const from = seconds ? new Date(Math.floor(nowMs / 1000) * 1000 - seconds * 1000).toISOString() : undefined;
  const filters = { actor_id: actorId, ...(from ? { from } : {}) };
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
          {count.data ? (count.data.exact ? `${count.data.count.toLocaleString('en-US')} events` : `more than ${count.data.count.toLocaleString('en-US')} events`) : ''}
        </p>
        <Link className="link text-sm" href={`/${serializeSearch({ actor_id: actorId, range })}`}>
          Open in search
        </Link>
      </div>
      <EventTable filters={filters} order="desc" columns={['occurred_at', 'event_type', 'object', 'outcome', 'source', 'request_id']} label={`Events by ${actorId}`} />
    </div>
  );
}
