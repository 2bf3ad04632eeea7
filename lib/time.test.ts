import { describe, expect, it } from 'vitest';
import { calendarRange, formatInZone, resolveZone, wallTimeToUtc, zoneOffsetMs } from './time.ts';

const NY = 'America/New_York';

describe('times in the chosen zone', () => {
  it('shows a stored time in the zone on a 24-hour clock, keeping its microseconds', () => {
    expect(formatInZone('2026-11-02T15:32:05.123456Z', NY)).toBe('2026-11-02 10:32:05.123456 EST');
    expect(formatInZone('2026-07-01T15:32:05.000001Z', NY)).toBe('2026-07-01 11:32:05.000001 EDT');
    expect(formatInZone('2026-11-02T23:05:00.000000Z', 'Europe/London')).toBe('2026-11-02 23:05:00.000000 GMT');
    expect(formatInZone('2026-11-02T15:32:05.123456Z', 'UTC')).toBe('2026-11-02 15:32:05.123456 UTC');
  });

  it('reads a typed wall time in the zone, across the DST change', () => {
    expect(wallTimeToUtc('2026-11-02 10:32:05', NY)).toEqual({ ok: true, iso: '2026-11-02T15:32:05.000000Z' });
    expect(wallTimeToUtc('2026-10-30T10:32', NY)).toEqual({ ok: true, iso: '2026-10-30T14:32:00.000000Z' });
    // 01:30 happens twice on 2026-11-01 in New York: the first (EDT) is meant.
    expect(wallTimeToUtc('2026-11-01 01:30:00', NY)).toEqual({ ok: true, iso: '2026-11-01T05:30:00.000000Z' });
    // 02:30 never happens on 2026-03-08 in New York.
    expect(wallTimeToUtc('2026-03-08 02:30:00', NY)).toMatchObject({ ok: false, message: expect.stringContaining('does not exist in America/New_York') });
    expect(wallTimeToUtc('2026-11-02 10:32:05.5', 'UTC')).toEqual({ ok: true, iso: '2026-11-02T10:32:05.500000Z' });
    expect(wallTimeToUtc('11/02/2026 10:32 AM', NY)).toMatchObject({ ok: false });
    expect(wallTimeToUtc('2026-02-30 10:00', NY)).toMatchObject({ ok: false });
  });

  it('presets calendar periods in the zone: Today on the day DST ends has 25 hours', () => {
    const duringFallBack = Date.parse('2026-11-01T16:00:00Z');
    expect(calendarRange('today', duringFallBack, NY)).toEqual({ from: '2026-11-01T04:00:00.000000Z', to: '2026-11-02T05:00:00.000000Z' });
    expect(calendarRange('yesterday', Date.parse('2026-11-02T16:00:00Z'), NY)).toEqual({ from: '2026-11-01T04:00:00.000000Z', to: '2026-11-02T05:00:00.000000Z' });
    // Just after midnight in New York it is still the previous day in UTC terms, and vice versa.
    expect(calendarRange('today', Date.parse('2026-11-03T04:30:00Z'), NY)).toEqual({ from: '2026-11-02T05:00:00.000000Z', to: '2026-11-03T05:00:00.000000Z' });
    expect(calendarRange('today', Date.parse('2026-11-03T04:30:00Z'), 'UTC')).toEqual({ from: '2026-11-03T00:00:00.000000Z', to: '2026-11-04T00:00:00.000000Z' });
    // Weeks start on Monday; 2026-11-04 is a Wednesday.
    expect(calendarRange('this_week', Date.parse('2026-11-04T12:00:00Z'), NY)).toEqual({ from: '2026-11-02T05:00:00.000000Z', to: '2026-11-09T05:00:00.000000Z' });
    expect(calendarRange('last_week', Date.parse('2026-11-04T12:00:00Z'), NY)).toEqual({ from: '2026-10-26T04:00:00.000000Z', to: '2026-11-02T05:00:00.000000Z' });
    // Last month from November: all of October, which began in EDT; across a year boundary too.
    expect(calendarRange('last_month', Date.parse('2026-11-15T12:00:00Z'), NY)).toEqual({ from: '2026-10-01T04:00:00.000000Z', to: '2026-11-01T04:00:00.000000Z' });
    expect(calendarRange('last_month', Date.parse('2027-01-15T12:00:00Z'), 'Europe/London')).toEqual({ from: '2026-12-01T00:00:00.000000Z', to: '2027-01-01T00:00:00.000000Z' });
  });

  it('resolves a preference to a zone, falling back to UTC for an unknown one', () => {
    expect(resolveZone('browser', 'Europe/Berlin')).toBe('Europe/Berlin');
    expect(resolveZone('browser', undefined)).toBe('UTC');
    expect(resolveZone('Mars/Olympus')).toBe('UTC');
    expect(resolveZone(NY)).toBe(NY);
    expect(zoneOffsetMs(Date.parse('2026-11-02T15:00:00Z'), NY)).toBe(-5 * 3600_000);
  });
});
