import { describe, expect, it } from 'vitest';
import { fillsAsOf, type RelatedEvent } from './order-fills.ts';

const e = (minute: number, object_type: string, object_id: string, context: Record<string, unknown>): RelatedEvent => ({
  id: `${object_id}-${minute}`,
  occurred_at: `2026-11-02T15:${String(minute).padStart(2, '0')}:00.000000Z`,
  object_type,
  object_id,
  context,
});

const EVENTS = [
  e(0, 'ORDER', 'ORD-1', { quantity: 300 }),
  e(1, 'EXECUTION', 'EXE-1', { order_id: 'ORD-1', last_qty: 100, last_px: 187.25 }),
  e(2, 'EXECUTION', 'EXE-2', { order_id: 'ORD-1', last_qty: 200, last_px: 187.5 }),
  e(3, 'EXECUTION', 'EXE-3', { order_id: 'ORD-1', last_qty: 1, last_px: 0.1 }),
  e(4, 'ALLOCATION', 'ALC-1', { order_id: 'ORD-1', allocations: [{ account: 'A1', quantity: 200 }, { account: 'A2', quantity: 101 }] }),
  e(5, 'ALLOCATION', 'ALC-1', { order_id: 'ORD-1', allocations: [{ account: 'A1', quantity: 301 }] }),
];

describe('fills and allocations as of a moment', () => {
  it('is nothing before the first fill', () => {
    expect(fillsAsOf(EVENTS, '2026-11-02T15:00:59.999999Z')).toEqual({ fills: 0, filled_quantity: '0', average_price: null, allocated_quantity: '0', allocations: [] });
  });
  it('sums quantities and averages prices in decimal, not floating point', () => {
    expect(fillsAsOf(EVENTS, '2026-11-02T15:02:00.000000Z')).toMatchObject({ fills: 2, filled_quantity: '300', average_price: '187.416667' });
    // 0.1 is not binary: 100×187.25 + 200×187.5 + 1×0.1 = 56225.1 exactly, over 301.
    expect(fillsAsOf(EVENTS, '2026-11-02T15:03:00.000000Z')).toMatchObject({ fills: 3, filled_quantity: '301', average_price: '186.794352' });
  });
  it('takes the latest version of each allocation', () => {
    expect(fillsAsOf(EVENTS, '2026-11-02T15:04:00.000000Z')).toMatchObject({ allocated_quantity: '301', allocations: [{ account: 'A1', quantity: '200' }, { account: 'A2', quantity: '101' }] });
    expect(fillsAsOf(EVENTS, '2026-11-02T15:05:00.000000Z')).toMatchObject({ allocated_quantity: '301', allocations: [{ allocation_id: 'ALC-1', account: 'A1', quantity: '301' }] });
  });
});
