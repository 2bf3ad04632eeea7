import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.ts';
import { changedFields, updateEvent } from './helpers.ts';

describe('changedFields', () => {
  it('lists added, removed and changed fields, comparing nested values by content', () => {
    expect(changedFields({ a: 1, b: { x: 1, y: [1, 2] }, c: 'same', d: 1 }, { a: 2, b: { y: [1, 2], x: 1 }, c: 'same', e: null })).toEqual(['a', 'd', 'e']);
    expect(changedFields({}, {})).toEqual([]);
  });

  it('builds an update event that records only what changed', () => {
    const e = updateEvent({ actor_id: 'u', actor_type: 'USER', object_type: 'ORDER', object_id: 'O-1', before: { qty: 1, side: 'BUY' }, after: { qty: 2, side: 'BUY', tif: 'DAY' } });
    expect(e).toEqual({ actor_id: 'u', actor_type: 'USER', object_type: 'ORDER', object_id: 'O-1', event_type: 'UPDATE', context: { changed: ['qty', 'tif'], before: { qty: 1, tif: null }, after: { qty: 2, tif: 'DAY' } } });
  });
});

describe('backoffDelay', () => {
  const options = { baseMs: 100, maxMs: 5_000 };
  it('grows exponentially up to the maximum, with full jitter', () => {
    expect(backoffDelay(0, options, undefined, () => 1)).toBe(100);
    expect(backoffDelay(3, options, undefined, () => 1)).toBe(800);
    expect(backoffDelay(20, options, undefined, () => 1)).toBe(5_000);
    expect(backoffDelay(3, options, undefined, () => 0.25)).toBe(200);
    expect(backoffDelay(3, options, undefined, () => 0)).toBe(0);
  });
  it("never retries sooner than the server's Retry-After", () => {
    expect(backoffDelay(0, options, 2, () => 0.5)).toBe(2_000);
  });
});
