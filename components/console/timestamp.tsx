'use client';
import { useSyncExternalStore } from 'react';

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

/** 2026-11-26T14:00:00.123456Z → 2026-11-26 14:00:00.123456 UTC */
export function formatUtc(iso: string): string {
  return iso.replace('T', ' ').replace('Z', ' UTC');
}

export function localTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short' });
}
