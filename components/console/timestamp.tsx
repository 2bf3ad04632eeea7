'use client';
import { formatInZone, formatUtc } from '@/lib/time.ts';
import { useTimeZone } from './time-zone.tsx';

/** A stored timestamp in the person's time zone (24-hour clock, microseconds as stored); in UTC beside it when that zone is another. */
export function Timestamp({ iso, showUtc = false }: { iso: string; showUtc?: boolean }) {
  const { zone } = useTimeZone();
  return (
    <span>
      <time dateTime={iso} className="tabular-nums" title={zone === 'UTC' ? undefined : formatUtc(iso)}>
        {formatInZone(iso, zone)}
      </time>
      {showUtc && zone !== 'UTC' ? <span className="ml-2 text-slate-600 dark:text-slate-400">({formatUtc(iso)})</span> : null}
    </span>
  );
}
