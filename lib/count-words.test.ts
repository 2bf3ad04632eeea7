import { describe, expect, it } from 'vitest';
import { countOf, matchCount } from './count-words.ts';

describe('counts in words', () => {
  it('uses the singular for exactly one', () => {
    expect(countOf(1, 'event')).toBe('1 event');
    expect(countOf(0, 'event')).toBe('0 events');
    expect(countOf(12345, 'event')).toBe('12,345 events');
    expect(countOf(1, 'checkpoint')).toBe('1 checkpoint');
  });
  it('says "more than" for a capped count, always plural', () => {
    expect(matchCount({ count: 1, exact: true })).toBe('1 event');
    expect(matchCount({ count: 10000, exact: false })).toBe('more than 10,000 events');
  });
});
