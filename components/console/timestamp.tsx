'use client';
import { useSyncExternalStore } from 'react';
import { formatUtc, localTime } from '@/lib/time.ts';

const subscribe = () => () => {};

/** A stored timestamp in UTC (as stored, microseconds), with the viewer's local time beside it once in the browser. */
export function Timestamp({ iso, showLocal = true }: { iso: string; showLocal?: boolean }) {
  const local = useSyncExternalStore(
    subscribe,
    () => localTime(iso),
    () => null,
  );
  return (
    <span>
      <time dateTime={iso} className="tabular-nums">
        {formatUtc(iso)}
      </time>
      {showLocal && local ? <span className="ml-2 text-slate-600 dark:text-slate-400">({local})</span> : null}
    </span>
  );
}
