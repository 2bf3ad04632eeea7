/**
 * Microsecond-precision timestamps as canonical strings.
 *
 * JavaScript's Date keeps milliseconds; audit events keep microseconds, so
 * timestamps travel as strings in one canonical form:
 * `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, exactly six fractional digits).
 */

const ISO_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?([Zz]|[+-]\d{2}(?::?\d{2})?)$/;
const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;

export interface ParsedTimestamp {
  /** Canonical form, e.g. 2026-11-26T14:00:00.123456Z */
  iso: string;
  /** Microseconds since the Unix epoch. */
  micros: number;
}

export type TimestampResult = { ok: true; value: ParsedTimestamp } | { ok: false; message: string };

export const TIMESTAMP_HINT = 'an ISO 8601 timestamp with a time zone, e.g. 2026-11-26T14:00:00.123456Z';

function fromParts(y: number, mo: number, d: number, h: number, mi: number, s: number, offsetMinutes: number, fraction: string): TimestampResult {
  const localMs = Date.UTC(y, mo - 1, d, h, mi, s);
  const check = new Date(localMs);
  // Date.UTC silently rolls over (Feb 30 → Mar 2); a round trip catches it.
  if (
    check.getUTCFullYear() !== y ||
    check.getUTCMonth() !== mo - 1 ||
    check.getUTCDate() !== d ||
    check.getUTCHours() !== h ||
    check.getUTCMinutes() !== mi ||
    check.getUTCSeconds() !== s
  ) {
    return { ok: false, message: 'is not a valid calendar date and time' };
  }
  const utcMs = localMs - offsetMinutes * 60_000;
  const frac = fraction.padEnd(6, '0');
  const iso = new Date(utcMs).toISOString().slice(0, 19) + '.' + frac + 'Z';
  return { ok: true, value: { iso, micros: utcMs * 1000 + Number(frac) } };
}

/** Parses an ISO 8601 timestamp that carries a zone (Z or ±hh:mm), at most microsecond precision. */
export function parseTimestamp(input: string): TimestampResult {
  const m = ISO_PATTERN.exec(input);
  if (!m) return { ok: false, message: `must be ${TIMESTAMP_HINT}` };
  const [, y, mo, d, h, mi, s, fraction = '', zone = 'Z'] = m;
  if (fraction.length > 6) {
    return { ok: false, message: 'has more than microsecond precision (at most 6 fractional digits)' };
  }
  let offsetMinutes = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2) || '0');
    if (oh > 23 || om > 59) return { ok: false, message: 'has an invalid time zone offset' };
    offsetMinutes = sign * (oh * 60 + om);
  }
  return fromParts(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s), offsetMinutes, fraction);
}

/**
 * Parses a filter bound: a full timestamp, or a bare date meaning midnight UTC.
 * With `endOfDay`, a bare date means the end of that day (the next midnight),
 * so `to=2025-12-31` includes all of December 31st.
 */
export function parseTimeBound(input: string, endOfDay = false): TimestampResult {
  const m = DATE_PATTERN.exec(input);
  if (!m) return parseTimestamp(input);
  const parsed = fromParts(Number(m[1]), Number(m[2]), Number(m[3]), 0, 0, 0, 0, '');
  if (!parsed.ok || !endOfDay) return parsed;
  const nextDayMs = parsed.value.micros / 1000 + 86_400_000;
  return { ok: true, value: { iso: new Date(nextDayMs).toISOString().replace('Z', '000Z'), micros: nextDayMs * 1000 } };
}

/** The current time in canonical form (microseconds from the high-resolution clock). */
export function nowTimestamp(): ParsedTimestamp {
  const micros = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  return fromMicros(micros);
}

// Many timestamps in a row share their second (a batch's received_at): format each second once.
let cachedSecond = NaN;
let cachedPrefix = '';

export function fromMicros(micros: number): ParsedTimestamp {
  const second = Math.floor(micros / 1_000_000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 19);
  }
  const fraction = String(micros - second * 1_000_000).padStart(6, '0');
  return { iso: cachedPrefix + '.' + fraction + 'Z', micros };
}

/**
 * PostgreSQL's text output of timestamptz in a UTC session
 * (`2026-11-26 14:00:00.1234+00`) to the canonical form.
 */
export function pgTimestampToIso(text: string): string {
  const dot = text.indexOf('.', 19);
  const zoneAt = text.indexOf('+', 19);
  const end = zoneAt === -1 ? text.length : zoneAt;
  const fraction = dot === -1 ? '' : text.slice(dot + 1, end);
  return text.slice(0, 10) + 'T' + text.slice(11, 19) + '.' + fraction.padEnd(6, '0') + 'Z';
}

/** First day (UTC) of the month a canonical timestamp falls in, as YYYY-MM-01. */
export function monthOf(iso: string): string {
  return iso.slice(0, 7) + '-01';
}
