import { describe, expect, it } from 'vitest';
import { fromMicros, monthOf, parseTimeBound, parseTimestamp, pgTimestampToIso } from './timestamps.ts';

describe('parseTimestamp', () => {
  it('keeps microseconds and normalises to UTC', () => {
    expect(parseTimestamp('2026-11-26T14:00:00.123456Z')).toEqual({ ok: true, value: { iso: '2026-11-26T14:00:00.123456Z', micros: Date.UTC(2026, 10, 26, 14) * 1000 + 123456 } });
    expect(parseTimestamp('2026-11-26T16:30:00.5+02:30').ok && parseTimestamp('2026-11-26T16:30:00.5+02:30')).toMatchObject({ value: { iso: '2026-11-26T14:00:00.500000Z' } });
    expect(parseTimestamp('2026-01-01T00:30:00-01:00')).toMatchObject({ value: { iso: '2026-01-01T01:30:00.000000Z' } });
  });

  it('refuses what it cannot represent exactly', () => {
    expect(parseTimestamp('2026-11-26T14:00:00')).toMatchObject({ ok: false }); // no zone: ambiguous
    expect(parseTimestamp('2026-11-26T14:00:00.1234567Z')).toMatchObject({ ok: false, message: expect.stringContaining('microsecond') });
    expect(parseTimestamp('2026-02-30T00:00:00Z')).toMatchObject({ ok: false, message: expect.stringContaining('calendar') });
    expect(parseTimestamp('yesterday')).toMatchObject({ ok: false });
    expect(parseTimestamp('2026-11-26T14:00:00+25:00')).toMatchObject({ ok: false });
  });
});

describe('parseTimeBound', () => {
  it('reads a bare date as midnight, or the end of the day for an upper bound', () => {
    expect(parseTimeBound('2025-12-31')).toMatchObject({ value: { iso: '2025-12-31T00:00:00.000000Z' } });
    expect(parseTimeBound('2025-12-31', true)).toMatchObject({ value: { iso: '2026-01-01T00:00:00.000000Z' } });
    expect(parseTimeBound('2025-12-31T10:00:00Z', true)).toMatchObject({ value: { iso: '2025-12-31T10:00:00.000000Z' } });
  });
});

describe('conversions', () => {
  it('reads PostgreSQL timestamptz output in a UTC session', () => {
    expect(pgTimestampToIso('2026-11-26 14:00:00.1234+00')).toBe('2026-11-26T14:00:00.123400Z');
    expect(pgTimestampToIso('2026-11-26 14:00:00+00')).toBe('2026-11-26T14:00:00.000000Z');
  });
  it('formats microsecond epochs and months', () => {
    expect(fromMicros(Date.UTC(2026, 0, 2) * 1000 + 7).iso).toBe('2026-01-02T00:00:00.000007Z');
    expect(monthOf('2026-11-26T14:00:00.000000Z')).toBe('2026-11-01');
  });
});
