/**
 * The query language over HTTP: the list endpoint, the count and the export
 * take the same `q`, answer it the same way, and refuse an invalid query with
 * 400 naming `q` and the place of the error (an export never runs without it).
 */
import { describe, expect, it } from 'vitest';
import { baseUrl, call, event, newTenant } from '@/test/fixtures.ts';

const EVENTS = '/api/v1/audit/events';

async function seeded() {
  const t = await newTenant('query-language');
  const base = Date.UTC(2026, 10, 2, 9, 0, 0);
  const at = (minutes: number) => new Date(base + minutes * 60_000).toISOString();
  const events = [
    event({ object_id: 'ORD-1', event_type: 'CREATE', actor_id: 'Alice@Firm.example', occurred_at: at(1), source: 'gw', context: { symbol: 'AAPL', last_px: 187.25 } }),
    event({ object_id: 'ORD-1', event_type: 'FILL', actor_id: 'fix', actor_type: 'SERVICE', occurred_at: at(2), context: { symbol: 'AAPL', last_px: 401.5 } }),
    event({ object_id: 'ORD-2', event_type: 'CREATE', actor_id: 'alice@firm.example', occurred_at: at(3), source: 'gw', context: { symbol: 'MSFT', last_px: 420 } }),
    event({ object_id: 'ORD-2', event_type: 'CANCEL', actor_id: 'bob', occurred_at: at(4), outcome: 'failure', source: 'gw', context: { symbol: 'MSFT' } }),
    event({ object_id: 'ORD-3', event_type: 'CREATE', actor_id: 'bob', occurred_at: at(5), context: { symbol: 'NVDA', after: { status: 'NEW' } } }),
  ];
  expect((await call('POST', EVENTS, { key: t.key, body: { events } })).status).toBe(201);
  return { t, at };
}

const ids = (body: { events: { object_id: string; event_type: string }[] }) => body.events.map((e) => `${e.object_id}/${e.event_type}`);

describe('q: the query language on the API', () => {
  it('answers OR, NOT, parentheses, ranges, EXISTS, case-insensitive and prefix matches', async () => {
    const { t, at } = await seeded();
    const q = async (query: string) => {
      const res = await call('GET', `${EVENTS}?order=asc&q=${encodeURIComponent(query)}`, { key: t.readKey });
      expect(res.status, query).toBe(200);
      return ids(res.body);
    };
    expect(await q('symbol = AAPL or symbol = MSFT')).toEqual(['ORD-1/CREATE', 'ORD-1/FILL', 'ORD-2/CREATE', 'ORD-2/CANCEL']);
    expect(await q('last_px > 400')).toEqual(['ORD-1/FILL', 'ORD-2/CREATE']);
    expect(await q('last_px > 400 AND NOT symbol = MSFT')).toEqual(['ORD-1/FILL']);
    expect(await q('(symbol = AAPL OR symbol = NVDA) AND event_type = CREATE')).toEqual(['ORD-1/CREATE', 'ORD-3/CREATE']);
    expect(await q('actor ~ ALICE@FIRM.EXAMPLE')).toEqual(['ORD-1/CREATE', 'ORD-2/CREATE']);
    expect(await q('actor = alice*')).toEqual(['ORD-2/CREATE']);
    expect(await q('actor ~ al*')).toEqual(['ORD-1/CREATE', 'ORD-2/CREATE']);
    expect(await q('object = ORD-*')).toHaveLength(5);
    expect(await q('NOT source EXISTS')).toEqual(['ORD-1/FILL', 'ORD-3/CREATE']);
    expect(await q('after.status EXISTS')).toEqual(['ORD-3/CREATE']);
    expect(await q('event_type IN (FILL, CANCEL)')).toEqual(['ORD-1/FILL', 'ORD-2/CANCEL']);
    expect(await q(`occurred_at >= ${at(2)} AND occurred_at < "${at(4)}"`)).toEqual(['ORD-1/FILL', 'ORD-2/CREATE']);
    expect(await q('outcome = failure OR symbol = NVDA')).toEqual(['ORD-2/CANCEL', 'ORD-3/CREATE']);
    // Combined with the other filters: all of them apply.
    const both = await call('GET', `${EVENTS}?order=asc&object_id=ORD-2&q=${encodeURIComponent('symbol = MSFT')}`, { key: t.readKey });
    expect(ids(both.body)).toEqual(['ORD-2/CREATE', 'ORD-2/CANCEL']);
  });

  it('refuses an invalid query with 400 naming q and the place of the error, on the list, the count and the export', async () => {
    const { t } = await seeded();
    const bad = encodeURIComponent('symbol = AAPL OR');
    const list = await call('GET', `${EVENTS}?q=${bad}`, { key: t.readKey });
    expect(list.status).toBe(400);
    expect(list.body.error.issues).toEqual([{ field: 'q', message: 'at character 17: Expected a condition, e.g. symbol = AAPL' }]);
    expect(list.body.error.message).toContain('q: at character 17');

    const count = await call('GET', `/api/trpc/events.count?input=${encodeURIComponent(JSON.stringify({ q: 'last_px > abc' }))}`, { key: t.readKey });
    expect(count.status).toBe(400);
    expect(JSON.stringify(count.body)).toContain('is not a number');

    const exported = await call('GET', `${EVENTS}/export?format=csv&q=${bad}`, { key: t.readKey });
    expect(exported.status).toBe(400);
    expect(exported.body.error.issues[0]).toMatchObject({ field: 'q', message: expect.stringContaining('at character 17') });
  });

  it('exports exactly what the list shows for the same query', async () => {
    const { t } = await seeded();
    const query = encodeURIComponent('(symbol = AAPL OR last_px >= 420) AND NOT event_type = FILL');
    const list = await call('GET', `${EVENTS}?order=asc&q=${query}`, { key: t.readKey });
    const res = await fetch(`${baseUrl()}${EVENTS}/export?format=jsonl&q=${query}`, { headers: { authorization: `Bearer ${t.readKey}` } });
    expect(res.status).toBe(200);
    const lines = (await res.text()).trimEnd().split('\n').map((l) => JSON.parse(l) as { id: string });
    expect(lines.map((e) => e.id)).toEqual(list.body.events.map((e: { id: string }) => e.id));
    expect(ids(list.body)).toEqual(['ORD-1/CREATE', 'ORD-2/CREATE']);
  });
});
