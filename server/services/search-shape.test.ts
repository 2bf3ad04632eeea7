/**
 * The search's shape: exact histogram and value counts while every bucket is
 * read whole, estimates marked as such beyond, and always inside the filter.
 */
import { describe, expect, it } from 'vitest';
import { parseListInput, filtersOf } from '@/supabase/functions/_shared/filters.ts';
import { call, event, newTenant, testSql } from '@/test/fixtures.ts';
import { bucketWidth, PER_BUCKET, searchShape } from './search-shape.ts';

const claimsOf = (tenantId: string) => ({ tenant_id: tenantId, sub: 'test', role: 'authenticated' as const });
const filters = (input: Record<string, unknown>) => filtersOf(parseListInput(input));

describe('search shape', () => {
  it('counts exactly per bucket and per value, within the filter', async () => {
    const t = await newTenant('shape');
    const base = Date.UTC(2026, 9, 5, 10, 0, 0);
    const events = [
      ...Array.from({ length: 6 }, (_, i) => event({ event_type: 'CREATE', actor_id: 'alice', occurred_at: new Date(base + i * 60_000).toISOString(), source: 'gw' })),
      ...Array.from({ length: 3 }, (_, i) => event({ event_type: 'CANCEL', actor_id: 'bob', outcome: 'failure', occurred_at: new Date(base + 3600_000 + i * 60_000).toISOString() })),
      event({ event_type: 'FILL', object_type: 'EXECUTION', actor_id: 'fix', occurred_at: new Date(base + 2 * 3600_000).toISOString(), context: { symbol: 'MSFT' } }),
    ];
    expect((await call('POST', '/api/v1/audit/events', { key: t.key, body: { events } })).status).toBe(201);
    const shape = await searchShape(testSql(), claimsOf(t.id), filters({ q: 'symbol = AAPL' }));
    expect(shape.exact).toBe(true);
    expect(shape.unavailable).toBeNull();
    expect(shape.buckets.reduce((a, b) => a + b.count, 0)).toBe(9);
    expect(shape.bucket_seconds).toBe(300);
    expect(shape.buckets[0]).toEqual({ start: new Date(base).toISOString(), count: 5, exact: true, short: false });
    expect(shape.facets.event_type).toEqual([
      { value: 'CREATE', count: 6 },
      { value: 'CANCEL', count: 3 },
    ]);
    expect(shape.facets.actor_id).toEqual([
      { value: 'alice', count: 6 },
      { value: 'bob', count: 3 },
    ]);
    expect(shape.facets.source).toEqual([
      { value: 'gw', count: 6 },
      { value: null, count: 3 },
    ]);
    expect(shape.facets.outcome).toEqual([
      { value: 'success', count: 6 },
      { value: 'failure', count: 3 },
    ]);
    // A time range in the filter is the chart's range.
    const narrow = await searchShape(testSql(), claimsOf(t.id), filters({ from: new Date(base + 3000_000).toISOString(), to: new Date(base + 4000_000).toISOString() }));
    expect(narrow.from).toBe(new Date(base + 3000_000).toISOString().replace('Z', '000Z'));
    expect(narrow.buckets.reduce((a, b) => a + b.count, 0)).toBe(3);
    // Nothing matches: no buckets, nothing counted.
    expect(await searchShape(testSql(), claimsOf(t.id), filters({ q: 'symbol = NONE' }))).toMatchObject({ buckets: [], exact: true });
  });

  it('estimates a bucket fuller than it reads, and says so', async () => {
    const t = await newTenant('shape-estimate');
    const base = Date.UTC(2026, 9, 6, 0, 0, 0);
    const total = PER_BUCKET * 4;
    // Evenly spread over one hour: one bucket of an hour-wide chart holds them all.
    for (let k = 0; k < total; k += 500) {
      const events = Array.from({ length: Math.min(500, total - k) }, (_, i) => event({ event_type: (k + i) % 4 ? 'ROUTE' : 'FILL', occurred_at: new Date(base + ((k + i) * 3600_000) / total).toISOString() }));
      expect((await call('POST', '/api/v1/audit/events', { key: t.key, body: { events } })).status).toBe(201);
    }
    const shape = await searchShape(testSql(), claimsOf(t.id), filters({ from: new Date(base - 10 * 3600_000).toISOString(), to: new Date(base + 10 * 3600_000).toISOString() }));
    expect(shape.exact).toBe(false);
    const full = shape.buckets.filter((b) => !b.exact);
    expect(full.length).toBeGreaterThan(0);
    const estimate = shape.buckets.reduce((a, b) => a + b.count, 0);
    expect(estimate).toBeGreaterThan(total * 0.8);
    expect(estimate).toBeLessThan(total * 1.25);
    const route = shape.facets.event_type.find((f) => f.value === 'ROUTE')!.count;
    expect(route / estimate).toBeGreaterThan(0.65);
    expect(route / estimate).toBeLessThan(0.85);
  });

  it('picks readable bucket widths, at most 60 buckets', () => {
    expect(bucketWidth(0, 3600_000)).toBe(60);
    expect(bucketWidth(0, 86_400_000)).toBe(1800);
    expect(bucketWidth(0, 30 * 86_400_000)).toBe(43_200);
    expect(bucketWidth(0, 365 * 86_400_000)).toBe(7 * 86400);
  });
});
