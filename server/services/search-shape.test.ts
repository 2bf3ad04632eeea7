/**
 * The search's shape: exact histogram and value counts within its time
 * budget, estimates labelled with their basis beyond it (never as exact),
 * "Count exactly" in an export slot, and always inside the filter.
 */
import { describe, expect, it } from 'vitest';
import { parseListInput, filtersOf } from '@/supabase/functions/_shared/filters.ts';
import { adminSql, call, event, newTenant, testSql } from '@/test/fixtures.ts';
import { exportSlots } from './export-slots.ts';
import { bucketWidth, explainShape, searchShape, timeSample, type SearchShape } from './search-shape.ts';

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

    // Forced past the exact count (more matches expected than it may count, a small sample): every part an estimate, with its basis.
    const sampled = await searchShape(testSql(), claimsOf(t.id), range, { exactRows: 0, sampleRows: 300 });
    expect(sampled.unavailable).toBeNull();
    expect(sampled.exact).toBe(false);
    expect(sampled.buckets.length).toBeGreaterThan(0);
    expect(sampled.buckets.every((b) => !b.exact)).toBe(true);
    for (const part of [sampled.accuracy.histogram, sampled.accuracy.facets]) {
      expect(part.label).toBe('estimate');
      expect(part.basis).toMatch(/^sampled [\d.]+ % of the time range \([\d,]+ windows spread over it, read through this tenant's index only\), [\d,]+ matching events seen, each counted [\d.]+ times$/);
    }

    // A tiny time budget: whatever part of the work fits, no answer is labelled exact unless it equals the plain count.
    for (const budgetMs of [1, 2, 5]) {
      const tight = await searchShape(testSql(), claimsOf(t.id), range, { budgetMs, sampleRows: 300 });
      if (tight.unavailable) expect(tight.exact).toBe(false);
      else if (tight.accuracy.histogram.label === 'exact') expect(tight.buckets.reduce((a, b) => a + b.count, 0)).toBe(plain!.n);
      else expect(tight.buckets.every((b) => !b.exact) && !tight.exact).toBe(true);
    }

    // "Count exactly": no budget, whatever the limits above, and the same as a plain count.
    const counted = await searchShape(testSql(), claimsOf(t.id), range, { exact: true, budgetMs: 1, exactRows: 0, sampleRows: 1 });
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

  it("samples only the tenant's own rows, in time windows through its index: each estimate is the windows' exact count, scaled", async () => {
    // A small tenant and a large one whose events share the same month partition, interleaved in time.
    const small = await newTenant('shape-small');
    const large = await newTenant('shape-large');
    const base = Date.UTC(2026, 9, 7, 9, 0, 0);
    const at = (i: number, n: number) => new Date(base + Math.floor((i * 4 * 3600_000) / n)).toISOString();
    await post(small.key, 400, (i) => event({ event_type: i % 3 ? 'ROUTE' : 'CANCEL', actor_id: i % 2 ? 'dana' : 'eli', occurred_at: at(i, 400) }));
    await post(large.key, 3000, (i) => event({ event_type: 'ROUTE', actor_id: 'other', occurred_at: at(i, 3000) }));
    const range = filters({ from: new Date(base).toISOString(), to: new Date(base + 4 * 3600_000).toISOString() });
    // A sample of half the time (the most it takes) in 20 windows at fixed offsets, so the windows can be rebuilt here.
    const random = () => 0.37;
    const shape = await searchShape(testSql(), claimsOf(small.id), range, { exactRows: 0, sampleRows: 1e9, sampleWindows: 20, random });
    expect(shape.exact).toBe(false);
    expect(shape.accuracy.histogram.basis).toMatch(/^sampled 50 % of the time range \(20 windows spread over it, read through this tenant's index only\), [\d,]+ matching events seen, each counted 2\.0 times$/);
    await expectWindowCounts(shape, small.id, timeSample({ from: shape.from!, to: shape.to! }, 0.5, 20, random), null);

    // One trader's whole trail (no time range): the same, through the actor index.
    const trader = filters({ actor_id: 'dana' });
    const traderShape = await searchShape(testSql(), claimsOf(small.id), trader, { exactRows: 0, sampleRows: 1e9, sampleWindows: 20, random });
    expect(traderShape.unavailable).toBeNull();
    expect(traderShape.accuracy.facets.label).toBe('estimate');
    expect(traderShape.facets.actor_id.map((f) => f.value)).toEqual(['dana']);
    await expectWindowCounts(traderShape, small.id, timeSample({ from: traderShape.from!, to: traderShape.to! }, 0.5, 20, random), 'dana');

    // The plan: every window is a range scan of an index that starts with the tenant; no table or page sample is read.
    for (const [f, index] of [
      [range, /audit_events_\d{4}_\d{2}_pkey|tenant_id_occurred_at/],
      [trader, /actor/],
    ] as const) {
      const explained = await explainShape(testSql(), claimsOf(small.id), f);
      const sampledPlan = explained.slice(explained.indexOf('-- time sample'));
      expect(sampledPlan).toMatch(/Index (Only )?Scan using \S+/);
      expect(sampledPlan).toMatch(index);
      expect(sampledPlan).not.toMatch(/Seq Scan|Sample Scan/);
      // Each window is its own range scan: its bounds are the index condition, not a filter on the tenant's rows.
      expect(sampledPlan).toMatch(/Index Cond: \(.*occurred_at >= to_timestamp\(w\.lo\)\).*occurred_at < to_timestamp\(w\.hi\)\)/);
      expect(sampledPlan).not.toMatch(/Join Filter/);
    }
  });

  it('spends its budget on the look-ups too: a look-up that cannot finish in time makes the shape unavailable at the budget, saying so', async () => {
    const t = await newTenant('shape-lookup');
    expect((await call('POST', '/api/v1/audit/events', { key: t.key, body: { events: [event({ object_type: 'ORDER', object_id: 'ORD-1' })] } })).status).toBe(201);
    const about = filters({ about: 'ORD-1', about_type: 'ORDER' });
    expect((await searchShape(testSql(), claimsOf(t.id), about, { budgetMs: 5000 })).buckets.reduce((a, b) => a + b.count, 0)).toBe(1);
    // The tenant's related keys cannot be read while another transaction holds their table.
    const shape = await adminSql().begin(async (tx) => {
      await tx`lock table public.related_order_keys in access exclusive mode`;
      return searchShape(testSql(), claimsOf(t.id), about, { budgetMs: 300 });
    });
    expect(shape.unavailable).toMatch(/^Looking up what to chart .* took longer than the 300 ms budget/);
    expect(shape.exact).toBe(false);
    expect(shape.buckets).toEqual([]);
  });

  it('picks readable bucket widths, at most 60 buckets', () => {
    expect(bucketWidth(0, 3600_000)).toBe(60);
    expect(bucketWidth(0, 86_400_000)).toBe(1800);
    expect(bucketWidth(0, 30 * 86_400_000)).toBe(43_200);
    expect(bucketWidth(0, 365 * 86_400_000)).toBe(7 * 86400);
  });
});

async function post(key: string, n: number, make: (i: number) => ReturnType<typeof event>) {
  for (let k = 0; k < n; k += 500) {
    const events = Array.from({ length: Math.min(500, n - k) }, (_, i) => make(k + i));
    expect((await call('POST', '/api/v1/audit/events', { key, body: { events } })).status).toBe(201);
  }
}

/** Every bar and event-type count of a sampled shape is the tenant's matching events inside the sample's windows, divided by its fraction. */
async function expectWindowCounts(shape: SearchShape, tenantId: string, sample: ReturnType<typeof timeSample>, actor: string | null) {
  const inWindows = await adminSql()`
    select floor((extract(epoch from e.occurred_at) - ${Date.parse(shape.buckets[0]!.start) / 1000}::float8) / ${shape.bucket_seconds}::float8)::int as i, e.event_type
    from public.audit_events e
    where e.tenant_id = ${tenantId} and (${actor}::text is null or e.actor_id = ${actor})
      and e.occurred_at >= ${shape.from!}::timestamptz and e.occurred_at < ${shape.to!}::timestamptz
      and exists (select 1 from unnest(${sample.lo}::float8[], ${sample.hi}::float8[]) as w(lo, hi) where e.occurred_at >= to_timestamp(w.lo) and e.occurred_at < to_timestamp(w.hi))`;
  expect(inWindows.length).toBeGreaterThan(0);
  const scaled = (n: number) => Math.round(n / sample.fraction);
  shape.buckets.forEach((b, i) => expect(b.count).toBe(scaled(inWindows.filter((r) => r.i === i).length)));
  for (const { value, count } of shape.facets.event_type) expect(count).toBe(scaled(inWindows.filter((r) => r.event_type === value).length));
  expect(shape.accuracy.histogram.basis).toContain(`${inWindows.length.toLocaleString('en-US')} matching events seen`);
}
