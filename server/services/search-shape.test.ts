/**
 * The search's shape: exact histogram and value counts within its time
 * budget, estimates labelled with their basis beyond it (never as exact),
 * "Count exactly" in an export slot, and always inside the filter.
 */
import { describe, expect, it } from 'vitest';
import { parseListInput, filtersOf } from '@/supabase/functions/_shared/filters.ts';
import { adminSql, call, event, newTenant, testSql } from '@/test/fixtures.ts';
import { exportSlots } from './export-slots.ts';
import { bucketWidth, searchShape } from './search-shape.ts';

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

  it('answers beyond its budget with estimates labelled as such, never as exact; without pressure exactly, equal to a plain count', async () => {
    const t = await newTenant('shape-budget');
    const base = Date.UTC(2026, 9, 6, 0, 0, 0);
    const total = 3000;
    for (let k = 0; k < total; k += 500) {
      const events = Array.from({ length: 500 }, (_, i) => event({ event_type: (k + i) % 4 ? 'ROUTE' : 'FILL', occurred_at: new Date(base + ((k + i) * 3600_000) / total).toISOString(), context: { note: 'x'.repeat(400) } }));
      expect((await call('POST', '/api/v1/audit/events', { key: t.key, body: { events } })).status).toBe(201);
    }
    const range = filters({ from: new Date(base - 10 * 3600_000).toISOString(), to: new Date(base + 10 * 3600_000).toISOString() });
    const [plain] = await adminSql()`select count(*)::int as n, count(*) filter (where event_type = 'ROUTE')::int as route from public.audit_events where tenant_id = ${t.id}`;

    // No pressure: exact, labelled exact, and the same as a plain count.
    const exact = await searchShape(testSql(), claimsOf(t.id), range, { budgetMs: 60_000 });
    expect(exact.accuracy).toEqual({ histogram: { label: 'exact', basis: null }, facets: { label: 'exact', basis: null } });
    expect(exact.exact).toBe(true);
    expect(exact.buckets.every((b) => b.exact)).toBe(true);
    expect(exact.buckets.reduce((a, b) => a + b.count, 0)).toBe(plain!.n);
    expect(exact.facets.event_type.find((f) => f.value === 'ROUTE')!.count).toBe(plain!.route);

    // Forced past the exact count (more matches expected than it may count, a sample of a few pages): every part an estimate, with its basis.
    const sampled = await searchShape(testSql(), claimsOf(t.id), range, { exactRows: 0, samplePages: 4 });
    expect(sampled.unavailable).toBeNull();
    expect(sampled.exact).toBe(false);
    expect(sampled.buckets.length).toBeGreaterThan(0);
    expect(sampled.buckets.every((b) => !b.exact)).toBe(true);
    for (const part of [sampled.accuracy.histogram, sampled.accuracy.facets]) {
      expect(part.label).toBe('estimate');
      expect(part.basis).toMatch(/^sampled [\d.]+ % of the pages of the months in range \(TABLESAMPLE SYSTEM, about 4 of [\d,]+ pages\), [\d,]+ matching events seen, each counted [\d.]+ times/);
    }

    // A tiny time budget: whatever part of the work fits, no answer is labelled exact unless it equals the plain count.
    for (const budgetMs of [1, 2, 5]) {
      const tight = await searchShape(testSql(), claimsOf(t.id), range, { budgetMs, samplePages: 4 });
      if (tight.unavailable) expect(tight.exact).toBe(false);
      else if (tight.accuracy.histogram.label === 'exact') expect(tight.buckets.reduce((a, b) => a + b.count, 0)).toBe(plain!.n);
      else expect(tight.buckets.every((b) => !b.exact) && !tight.exact).toBe(true);
    }

    // "Count exactly": no budget, whatever the limits above, and the same as a plain count.
    const counted = await searchShape(testSql(), claimsOf(t.id), range, { exact: true, budgetMs: 1, exactRows: 0, samplePages: 4 });
    expect(counted.accuracy.histogram).toEqual({ label: 'exact', basis: null });
    expect(counted.buckets.reduce((a, b) => a + b.count, 0)).toBe(plain!.n);
  });

  it('counts exactly only in an export slot, refused while the tenant holds all of its slots', async () => {
    const t = await newTenant('shape-slot');
    expect((await call('POST', '/api/v1/audit/events', { key: t.key, body: { events: [event()] } })).status).toBe(201);
    const held = Array.from({ length: exportSlots().limits.perTenant }, () => exportSlots().acquire(t.id));
    try {
      await expect(searchShape(testSql(), claimsOf(t.id), filters({}), { exact: true })).rejects.toMatchObject({ code: 'rate_limited' });
      // The budgeted shape needs no slot.
      expect((await searchShape(testSql(), claimsOf(t.id), filters({}))).buckets.reduce((a, b) => a + b.count, 0)).toBe(1);
    } finally {
      for (const slot of held) slot.release();
    }
    expect((await searchShape(testSql(), claimsOf(t.id), filters({}), { exact: true })).buckets.reduce((a, b) => a + b.count, 0)).toBe(1);
    expect(exportSlots().running(t.id)).toBe(0);
  });

  it('picks readable bucket widths, at most 60 buckets', () => {
    expect(bucketWidth(0, 3600_000)).toBe(60);
    expect(bucketWidth(0, 86_400_000)).toBe(1800);
    expect(bucketWidth(0, 30 * 86_400_000)).toBe(43_200);
    expect(bucketWidth(0, 365 * 86_400_000)).toBe(7 * 86400);
  });
});
