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

/**
 * Time zones. The console shows, takes and presets every time in the zone
 * the person chose (UTC, their browser's, or a named IANA zone such as
 * America/New_York), with a 24-hour clock; what is stored and exported stays
 * UTC. Zone arithmetic uses the platform's time-zone database (Intl), so DST
 * changes are the zone's own.
 */

/** The zones offered by name, besides UTC and the browser's. */
export const NAMED_ZONES = ['America/New_York', 'America/Chicago', 'America/Los_Angeles', 'Europe/London', 'Europe/Berlin', 'Europe/Zurich', 'Asia/Hong_Kong', 'Asia/Singapore', 'Asia/Tokyo', 'Australia/Sydney'] as const;

/** The stored preference: 'UTC', 'browser', or an IANA zone name. */
export type ZonePreference = string;
export const ZONE_COOKIE = 'oms_tz';

export function isValidZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** A preference as a zone name: 'browser' is the browser's zone where there is one (else UTC). */
export function resolveZone(preference: ZonePreference | null | undefined, browserZone?: string): string {
  if (!preference || preference === 'UTC') return 'UTC';
  if (preference === 'browser') return browserZone && isValidZone(browserZone) ? browserZone : 'UTC';
  return isValidZone(preference) ? preference : 'UTC';
}

const partsFormatters = new Map<string, Intl.DateTimeFormat>();
function wallParts(utcMs: number, zone: string) {
  let f = partsFormatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', weekday: 'short' });
    partsFormatters.set(zone, f);
  }
  const parts = f.formatToParts(new Date(utcMs));
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return { year: Number(get('year')), month: Number(get('month')), day: Number(get('day')), hour: Number(get('hour')), minute: Number(get('minute')), second: Number(get('second')), weekday: get('weekday') };
}

/** The zone's offset from UTC at this instant, in milliseconds (New York in winter: −5 h). */
export function zoneOffsetMs(utcMs: number, zone: string): number {
  const w = wallParts(utcMs, zone);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - Math.floor(utcMs / 1000) * 1000;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** The zone's short name at this instant (EST, EDT, GMT+1), or UTC. */
export function zoneAbbreviation(utcMs: number, zone: string): string {
  if (zone === 'UTC') return 'UTC';
  const name = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'short' }).formatToParts(new Date(utcMs)).find((p) => p.type === 'timeZoneName')?.value;
  return name ?? zone;
}

/** 2026-11-02T15:32:05.123456Z in America/New_York → "2026-11-02 10:32:05.123456 EST" (24-hour clock, digits as stored). */
export function formatInZone(iso: string, zone: string, options: { withZone?: boolean } = {}): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  if (zone === 'UTC') return options.withZone === false ? formatUtc(iso).replace(' UTC', '') : formatUtc(iso);
  const fraction = /\.(\d+)Z$/.exec(iso)?.[1];
  const w = wallParts(ms, zone);
  const text = `${w.year}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}${fraction ? `.${fraction}` : ''}`;
  return options.withZone === false ? text : `${text} ${zoneAbbreviation(ms, zone)}`;
}

export type WallTimeResult = { ok: true; iso: string } | { ok: false; message: string };

/**
 * A wall-clock time typed in a zone ("2026-11-02 10:32:05", seconds and
 * fraction optional; T or space) as the canonical UTC instant. A time that
 * occurs twice (the hour repeated when DST ends) is its first occurrence; a
 * time that does not occur (skipped when DST starts) is refused, saying so.
 */
export function wallTimeToUtc(text: string, zone: string): WallTimeResult {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?$/.exec(text.trim());
  if (!m) return { ok: false, message: `"${text}" is not a time like 2026-11-02 10:32:05 (24-hour clock)` };
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4] ?? '0', m[5] ?? '0', m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];
  const fraction = (m[7] ?? '').padEnd(6, '0');
  const wallMs = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(wallMs);
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) return { ok: false, message: `"${text}" is not a date and time that exists` };
  const offsets = [...new Set([zoneOffsetMs(wallMs - 86_400_000, zone), zoneOffsetMs(wallMs, zone), zoneOffsetMs(wallMs + 86_400_000, zone)])];
  const instants = offsets.map((o) => wallMs - o).filter((utc) => zoneOffsetMs(utc, zone) === wallMs - utc);
  if (!instants.length) return { ok: false, message: `${text.trim()} does not exist in ${zone}: the clocks skip it (daylight saving time begins)` };
  const utc = Math.min(...instants);
  return { ok: true, iso: `${new Date(utc).toISOString().slice(0, 19)}.${fraction}Z` };
}

/** Midnight at the start of this wall date in the zone, as UTC ms (a date whose midnight is skipped starts at its first instant). */
function startOfDay(year: number, month: number, day: number, zone: string): number {
  const d = new Date(Date.UTC(year, month - 1, day));
  const text = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  for (let minutes = 0; minutes < 180; minutes += 15) {
    const r = wallTimeToUtc(`${text} ${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}:00`, zone);
    if (r.ok) return Date.parse(r.iso);
  }
  throw new Error(`no start of day ${text} in ${zone}`);
}

export const CALENDAR_PRESETS = ['today', 'yesterday', 'this_week', 'last_week', 'this_month', 'last_month'] as const;
export type CalendarPreset = (typeof CALENDAR_PRESETS)[number];

/**
 * A calendar period in the zone as [from, to) in canonical UTC: Today is the
 * zone's midnight to the next (25 hours on the day DST ends), weeks start on
 * Monday.
 */
export function calendarRange(preset: CalendarPreset, nowMs: number, zone: string): { from: string; to: string } {
  const w = wallParts(nowMs, zone);
  const weekdayIndex = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].indexOf(w.weekday);
  const day = (offsetDays: number) => startOfDay(w.year, w.month, w.day + offsetDays, zone);
  const [from, to] = (() => {
    switch (preset) {
      case 'today':
        return [day(0), day(1)];
      case 'yesterday':
        return [day(-1), day(0)];
      case 'this_week':
        return [day(-weekdayIndex), day(7 - weekdayIndex)];
      case 'last_week':
        return [day(-weekdayIndex - 7), day(-weekdayIndex)];
      case 'this_month':
        return [startOfDay(w.year, w.month, 1, zone), startOfDay(w.year, w.month + 1, 1, zone)];
      case 'last_month':
        return [startOfDay(w.year, w.month - 1, 1, zone), startOfDay(w.year, w.month, 1, zone)];
    }
  })();
  const canonical = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}.000000Z`;
  return { from: canonical(from), to: canonical(to) };
}
