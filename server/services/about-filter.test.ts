/**
 * The whole order: `about` gathers an order's own events and every event
 * whose context names it (fills, allocations, child orders), the same in
 * pages, counts, the REST list and exports; nothing else, and a number that
 * reads like the id is not the id.
 */
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { appendEvents } from '@/supabase/functions/_shared/ingest.ts';
import { baseUrl, call, event, newTenant, testSql } from '@/test/fixtures.ts';
import { countMatching } from './count.ts';
import { listEvents } from './query.ts';
import { filterExpr } from '@/supabase/functions/_shared/filters.ts';

const at = (minute: number) => `2026-11-02T15:${String(minute).padStart(2, '0')}:00.000000Z`;

async function orderWithFills() {
  const t = await newTenant('about');
  const events = [
    event({ occurred_at: at(0), object_type: 'ORDER', object_id: 'ORD-7', event_type: 'CREATE', context: { symbol: 'AAPL', quantity: 300 } }),
    event({ occurred_at: at(1), object_type: 'EXECUTION', object_id: 'EXE-7-1', event_type: 'FILL', context: { order_id: 'ORD-7', last_qty: 100, last_px: 187.25 } }),
    event({ occurred_at: at(2), object_type: 'ORDER', object_id: 'ORD-7-C', event_type: 'CREATE', context: { parent_order_id: 'ORD-7' } }),
    event({ occurred_at: at(3), object_type: 'EXECUTION', object_id: 'EXE-7-2', event_type: 'FILL', context: { order_id: 'ORD-7', last_qty: 200, last_px: 187.5 } }),
    event({ occurred_at: at(4), object_type: 'RISK_CHECK', object_id: 'RC-1', event_type: 'PASS', context: { client_order_id: 'ORD-7' } }),
    event({ occurred_at: at(5), object_type: 'ALLOCATION', object_id: 'ALC-7', event_type: 'ALLOCATE', context: { order_id: 'ORD-7', allocations: [{ account: 'A1', quantity: 300 }] } }),
    // Not about ORD-7: another order and its fill, an id inside another field, the id under a key not asked for.
    event({ occurred_at: at(6), object_type: 'ORDER', object_id: 'ORD-8', event_type: 'CREATE', context: { note: 'ORD-7' } }),
    event({ occurred_at: at(7), object_type: 'EXECUTION', object_id: 'EXE-8-1', event_type: 'FILL', context: { order_id: 'ORD-8' } }),
    event({ occurred_at: at(8), object_type: 'EXECUTION', object_id: 'EXE-9-1', event_type: 'FILL', context: { nested: { order_id: 'ORD-7' } } }),
    // The object type narrows the object's own events: a quote that happens to share the id is not the order.
    event({ occurred_at: at(9), object_type: 'QUOTE', object_id: 'ORD-7', event_type: 'CREATE' }),
    // A number is not the string id.
    event({ occurred_at: at(10), object_type: 'ORDER', object_id: '100625', event_type: 'CREATE' }),
    event({ occurred_at: at(11), object_type: 'EXECUTION', object_id: 'EXE-N', event_type: 'FILL', context: { order_id: 100625 } }),
  ];
  await appendEvents(testSql(), { tenantId: t.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events }, 500), { ip: null, userAgent: 'test' }, 'cli');
  return t;
}

const claimsOf = (t: { id: string }) => ({ tenant_id: t.id, sub: 'test', role: 'authenticated' as const });
const ids = (events: { object_id: string }[]) => events.map((e) => e.object_id);
const WHOLE_ORDER = ['ORD-7', 'EXE-7-1', 'ORD-7-C', 'EXE-7-2', 'RC-1', 'ALC-7'];

describe('the about filter (the whole order)', () => {
  it('gathers the order and the events naming it, in pages and counts', async () => {
    const t = await orderWithFills();
    const about = { about: 'ORD-7', about_type: 'ORDER' };
    const page = await listEvents(testSql(), claimsOf(t), { ...about, order: 'asc', limit: 1000 });
    expect(ids(page.events)).toEqual(WHOLE_ORDER);
    // Keyset pages of 2 walk the same list.
    const walked: string[] = [];
    let cursor: string | undefined;
    do {
      const p = await listEvents(testSql(), claimsOf(t), { ...about, order: 'asc', limit: 2, cursor });
      walked.push(...ids(p.events));
      cursor = p.next_cursor ?? undefined;
    } while (cursor);
    expect(walked).toEqual(WHOLE_ORDER);
    expect(await countMatching(testSql(), claimsOf(t), about)).toEqual({ count: WHOLE_ORDER.length, exact: true });
    // Without a type, every object with that id is included; with keys, only those keys are read.
    expect(ids((await listEvents(testSql(), claimsOf(t), { about: 'ORD-7', order: 'asc', limit: 1000 })).events)).toEqual([...WHOLE_ORDER, 'ORD-7']);
    expect(ids((await listEvents(testSql(), claimsOf(t), { ...about, about_keys: ['order_id'], order: 'asc', limit: 1000 })).events)).toEqual(['ORD-7', 'EXE-7-1', 'EXE-7-2', 'ALC-7']);
    // Other filters still apply on top.
    expect(ids((await listEvents(testSql(), claimsOf(t), { ...about, event_type: ['FILL'], order: 'asc', limit: 1000 })).events)).toEqual(['EXE-7-1', 'EXE-7-2']);
    // A numeric order_id is not the string id.
    expect(ids((await listEvents(testSql(), claimsOf(t), { about: '100625', about_type: 'ORDER', order: 'asc', limit: 1000 })).events)).toEqual(['100625']);
  });

  it('answers the same through REST and as one CSV export', async () => {
    const t = await orderWithFills();
    const listed = await call('GET', '/api/v1/audit/events?about=ORD-7&about_type=ORDER&order=asc', { key: t.readKey });
    expect(listed.status).toBe(200);
    expect(ids(listed.body.events)).toEqual(WHOLE_ORDER);
    const keyed = await call('GET', '/api/v1/audit/events?about=ORD-7&about_type=ORDER&about_keys=order_id,parent_order_id&order=asc', { key: t.readKey });
    expect(ids(keyed.body.events)).toEqual(['ORD-7', 'EXE-7-1', 'ORD-7-C', 'EXE-7-2', 'ALC-7']);

    const res = await fetch(`${baseUrl()}/api/v1/audit/events/export?format=csv&about=ORD-7&about_type=ORDER&about_keys=order_id,parent_order_id`, { headers: { authorization: `Bearer ${t.readKey}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-audit-time-zone')).toBe('UTC');
    const rows = parse(await res.text(), { columns: true }) as { object_id: string }[];
    expect(ids(rows)).toEqual(['ORD-7', 'EXE-7-1', 'ORD-7-C', 'EXE-7-2', 'ALC-7']);
    const manifest = await call('GET', res.headers.get('x-audit-manifest')!.replace(baseUrl(), ''), { key: t.readKey });
    expect(manifest.body).toMatchObject({ status: 'complete', row_count: 5, filters: { about: 'ORD-7', about_type: 'ORDER', about_keys: ['order_id', 'parent_order_id'] } });
    const defaults = await fetch(`${baseUrl()}/api/v1/audit/events/export?format=jsonl&about=ORD-7&about_type=ORDER`, { headers: { authorization: `Bearer ${t.readKey}` } });
    expect(ids((await defaults.text()).trim().split('\n').map((l) => JSON.parse(l)))).toEqual(WHOLE_ORDER);
  });

  it('refuses about_type or about_keys without about, and a key that is not a field name', async () => {
    const t = await orderWithFills();
    for (const query of ['about_type=ORDER', 'about_keys=order_id', 'about=ORD-7&about_keys=a.b']) {
      const res = await call('GET', `/api/v1/audit/events?${query}`, { key: t.readKey });
      expect(res.status, query).toBe(400);
    }
  });

  it('is one condition of the filter tree every back end compiles (pages, counts, exports, archived months)', () => {
    expect(filterExpr({ about: 'ORD-7', about_type: 'ORDER' })).toEqual({
      op: 'and',
      args: [
        {
          op: 'or',
          args: [
            { op: 'and', args: [{ op: 'eq', field: 'object_id', value: 'ORD-7' }, { op: 'eq', field: 'object_type', value: 'ORDER' }] },
            { op: 'eq', field: { context: ['order_id'] }, value: 'ORD-7' },
            { op: 'eq', field: { context: ['parent_order_id'] }, value: 'ORD-7' },
            { op: 'eq', field: { context: ['client_order_id'] }, value: 'ORD-7' },
          ],
        },
      ],
    });
  });
});
