import { describe, expect, it } from 'vitest';
import { formatSkew } from './skew.ts';

describe('formatSkew', () => {
  it('keeps µs for small skews, a sign for clocks ahead, and readable units for backfilled events', () => {
    expect(formatSkew(0.042)).toBe('0.042 ms');
    expect(formatSkew(-199.5)).toBe('−200 ms');
    expect(formatSkew(26.14)).toBe('26.1 ms');
    expect(formatSkew(1000.25)).toBe('1000 ms');
    expect(formatSkew(45_000)).toBe('45.0 s');
    expect(formatSkew(600_000)).toBe('10 min');
    expect(formatSkew(5 * 3_600_000)).toBe('5.0 h');
    expect(formatSkew(-20_597_845)).toBe('−5.7 h');
    expect(formatSkew(1_331_826_425)).toBe('15.4 d');
  });
});
