/** Stored timestamps (canonical UTC, microseconds) as people read them. */

/** 2026-11-26T14:00:00.123456Z → 2026-11-26 14:00:00.123456 UTC */
export function formatUtc(iso: string): string {
  return iso.replace('T', ' ').replace('Z', ' UTC');
}

/** The same moment in the viewer's time zone (browser only: the server's zone means nothing to the viewer). */
export function localTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short' });
}
