import { describe, expect, it } from 'vitest';
import { diffFields, stateAsOf } from './diff.ts';

describe('diffs and replay', () => {
  it('lists changed fields first', () => {
    expect(diffFields({ a: 1, b: 2 }, { a: 1, b: 3, c: null })).toEqual([
      { field: 'b', before: 2, after: 3, changed: true },
      { field: 'c', before: undefined, after: null, changed: true },
      { field: 'a', before: 1, after: 1, changed: false },
    ]);
  });

  it('replays after-fields up to a moment', () => {
    const events = [
      { id: '1', occurred_at: '2026-01-01T00:00:00.000000Z', event_type: 'CREATE', context: { after: { status: 'NEW', qty: 100 } } },
      { id: '2', occurred_at: '2026-01-01T00:00:01.000000Z', event_type: 'UPDATE', context: { before: { qty: 100 }, after: { qty: 200 } } },
      { id: '3', occurred_at: '2026-01-01T00:00:02.000000Z', event_type: 'FILL', context: { note: 'no change' } },
    ];
    expect(stateAsOf(events, '2025-12-31T00:00:00.000000Z')).toMatchObject({ state: {}, applied: 0 });
    expect(stateAsOf(events, '2026-01-01T00:00:00.500000Z')).toMatchObject({ state: { status: 'NEW', qty: 100 }, applied: 1 });
    expect(stateAsOf(events, '2026-01-01T00:00:09.000000Z')).toMatchObject({ state: { status: 'NEW', qty: 200 }, applied: 3, lastEvent: { id: '3' } });
  });
});
