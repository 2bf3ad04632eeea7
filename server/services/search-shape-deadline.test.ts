/**
 * The search shape's budget is a deadline on the wall clock: the answer comes
 * by then whatever holds the work up — waiting for a connection, a statement
 * blocked on a lock — labelled for what it is, and nothing of it is left
 * running on the database. A search with more matches than a sample sees
 * (symbol OR another) is sized by what its index selects, not by the planner's
 * guess at the JSON recheck, and is labelled exact only when it equals a plain
 * count.
 */
import { describe, expect, inject, it } from 'vitest';
import { connect } from '@/supabase/functions/_shared/db.ts';
import { filtersOf, parseListInput } from '@/supabase/functions/_shared/filters.ts';
import { adminSql, call, event, newTenant, testSql } from '@/test/fixtures.ts';
import { explainShape, searchShape } from './search-shape.ts';

const claimsOf = (tenantId: string) => ({ tenant_id: tenantId, sub: 'test', role: 'authenticated' as const });
const filters = (input: Record<string, unknown>) => filtersOf(parseListInput(input));

/** The test pool's backends still running a statement or holding a transaction open. */
async function busyBackends(applicationName: string) {
  return adminSql()`select pid, state, query from pg_stat_activity where application_name = ${applicationName} and state <> 'idle'`;
}

async function settled(applicationName: string) {
  for (let i = 0; i < 50 && (await busyBackends(applicationName)).length; i++) await new Promise((r) => setTimeout(r, 100));
  return busyBackends(applicationName);
}

describe('search shape deadline', () => {
  it('answers by its deadline while it waits for a connection, and starts nothing on the database after it', async () => {
    const t = await newTenant('shape-deadline-pool');
    expect((await call('POST', '/api/v1/audit/events', { key: t.key, body: { events: [event()] } })).status).toBe(201);
    const applicationName = 'oms-audit-test-shape-deadline';
    // One connection, taken for 1.5 s: the shape cannot begin its transaction before its 300 ms deadline.
    const pool = connect(inject('databaseUrl'), { max: 1, prepare: inject('dbPrepare'), applicationName });
    try {
      await pool`select 1`;
      const busy = pool`select pg_sleep(1.5)`.execute();
      const started = performance.now();
      const shape = await searchShape(pool, claimsOf(t.id), filters({}), { budgetMs: 300 });
      const answeredAfter = performance.now() - started;
      expect(answeredAfter).toBeLessThan(1500);
      expect(shape.unavailable).toMatch(/^Looking up what to chart .* took longer than the 300 ms budget/);
      expect(shape.exact).toBe(false);
      expect(shape.buckets).toEqual([]);
      await busy;
      // The connection freed, the shape's work stops at its first statement past the deadline: no transaction stays open.
      expect(await settled(applicationName)).toEqual([]);
      // And the pool serves the next shape as usual.
      const next = await searchShape(pool, claimsOf(t.id), filters({}), { budgetMs: 60_000 });
      expect(next.exact).toBe(true);
      expect(next.buckets.reduce((a, b) => a + b.count, 0)).toBe(1);
    } finally {
      await pool.end();
    }
  });

  it('answers by its deadline while a statement waits on a lock, and the statement is cut there, not left waiting', async () => {
    const t = await newTenant('shape-deadline-lock');
    expect((await call('POST', '/api/v1/audit/events', { key: t.key, body: { events: [event({ object_type: 'ORDER', object_id: 'ORD-7' })] } })).status).toBe(201);
    const applicationName = 'oms-audit-test-shape-lock';
    const pool = connect(inject('databaseUrl'), { max: 2, prepare: inject('dbPrepare'), applicationName });
    try {
      const about = filters({ about: 'ORD-7', about_type: 'ORDER' });
      const waiting = await adminSql().begin(async (tx) => {
        await tx`lock table public.related_order_keys in access exclusive mode`;
        const started = performance.now();
        const shape = await searchShape(pool, claimsOf(t.id), about, { budgetMs: 300 });
        expect(performance.now() - started).toBeLessThan(1500);
        expect(shape.unavailable).toMatch(/^Looking up what to chart .* took longer than the 300 ms budget/);
        // Still holding the lock 1.5 s on: nothing of the shape waits for it any more.
        await new Promise((r) => setTimeout(r, 1500));
        return tx`select l.pid from pg_locks l join pg_stat_activity a using (pid) where not l.granted and a.application_name = ${applicationName}`;
      });
      expect(waiting).toEqual([]);
      expect(await settled(applicationName)).toEqual([]);
    } finally {
      await pool.end();
    }
  });

  it('sizes "symbol OR another" by the rows its index selects, and labels it exact only when it equals a plain count', async () => {
    const t = await newTenant('shape-symbol-or');
    const base = Date.UTC(2026, 8, 10, 9, 0, 0);
    // Two symbols of many: 10 % of the tenant's events, so an index serves them.
    const symbolOf = (i: number) => (i % 20 === 0 ? 'AAPL' : i % 20 === 1 ? 'MSFT' : `S${i % 37}`);
    for (let k = 0; k < 4000; k += 500) {
      const events = Array.from({ length: 500 }, (_, j) => {
        const i = k + j;
        return event({ event_type: i % 5 ? 'ROUTE' : 'FILL', occurred_at: new Date(base + i * 60_000).toISOString(), context: { symbol: symbolOf(i) } });
      });
      expect((await call('POST', '/api/v1/audit/events', { key: t.key, body: { events } })).status).toBe(201);
    }
    await adminSql()`analyze public.audit_events`;
    const q = filters({ q: 'symbol = AAPL OR symbol = MSFT', from: new Date(base).toISOString(), to: new Date(base + 4000 * 60_000).toISOString() });
    const [plain] = await adminSql()`
      select count(*)::int as n, count(*) filter (where event_type = 'FILL')::int as fill from public.audit_events
      where tenant_id = ${t.id} and context ->> 'symbol' in ('AAPL', 'MSFT')`;
    expect(plain!.n).toBe(400);
    // The planner's estimate of the matches alone is a small fraction (no statistics on the JSON recheck); what the shape
    // expects is at least what the index conditions select.
    const planned = Number(/^planner expects (\d+) matches/.exec(await explainShape(testSql(), claimsOf(t.id), q))![1]);
    expect(planned).toBeGreaterThanOrEqual(plain!.n / 2);

    // More matches expected than the sample would see: a quick sample first, then the exact count, which wins when it ends.
    const shape = await searchShape(testSql(), claimsOf(t.id), q, { sampleRows: 100, budgetMs: 60_000 });
    expect(shape.unavailable).toBeNull();
    expect(shape.accuracy).toEqual({ histogram: { label: 'exact', basis: null }, facets: { label: 'exact', basis: null } });
    expect(shape.buckets.reduce((a, b) => a + b.count, 0)).toBe(plain!.n);
    expect(shape.facets.event_type.find((f) => f.value === 'FILL')!.count).toBe(plain!.fill);

    // Under tight deadlines, whatever part fits: exact only if equal to the plain count, otherwise an estimate with its basis.
    for (const budgetMs of [2, 5, 10, 20, 40]) {
      const tight = await searchShape(testSql(), claimsOf(t.id), q, { sampleRows: 100, budgetMs });
      if (tight.unavailable) expect(tight.exact).toBe(false);
      else if (tight.accuracy.histogram.label === 'exact') {
        expect(tight.buckets.reduce((a, b) => a + b.count, 0)).toBe(plain!.n);
        expect(tight.buckets.every((b) => b.exact)).toBe(true);
      } else {
        expect(tight.exact).toBe(false);
        expect(tight.buckets.every((b) => !b.exact)).toBe(true);
        expect(tight.accuracy.histogram.basis).toMatch(/^sampled [\d.]+ % of the time range .*, [\d,]+ matching events seen, each counted [\d.]+ times$/);
      }
    }
  });
});
