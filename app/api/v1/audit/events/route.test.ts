/** The seed's REST contract, over real HTTP against the running server. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { revokeApiKey } from '@/server/services/api-keys.ts';
import { call, countEvents, event, newTenant, testSql } from '@/test/fixtures.ts';

const EVENTS = '/api/v1/audit/events';

describe('POST /api/v1/audit/events', () => {
  it("accepts the seed's example body and returns it from the seed's query", async () => {
    const t = await newTenant();
    const body = {
      events: [
        {
          tenant_id: t.id,
          actor_id: 'user-123',
          actor_type: 'USER',
          object_type: 'ORDER',
          object_id: 'order-456',
          event_type: 'CREATE',
          context: { order_total: 150.0 },
          ip_address: '192.168.1.1',
        },
      ],
    };
    const created = await call('POST', EVENTS, { key: t.key, body });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ created_count: 1, duplicate_count: 0, ids: [expect.any(String)], method: 'rest', duration_ms: expect.any(Number) });

    const year = new Date().getUTCFullYear();
    const found = await call('GET', `${EVENTS}?tenant_id=${t.id}&object_type=order&object_id=order-456&from=${year - 1}-01-01&to=${year}-12-31`, { key: t.key });
    expect(found.status).toBe(200);
    expect(found.body.next_cursor).toBeNull();
    expect(found.body.events).toEqual([
      expect.objectContaining({
        id: created.body.ids[0],
        tenant_id: t.id,
        seq: 1,
        actor_id: 'user-123',
        actor_type: 'USER',
        object_type: 'ORDER',
        object_id: 'order-456',
        event_type: 'CREATE',
        outcome: 'success',
        context: { order_total: 150 },
        ip_address: '192.168.1.1',
        observed_ip: '127.0.0.1',
        schema_version: 2,
        written_by: `api_key:${t.keyId}`,
      }),
    ]);
  });

  it('round-trips every field: microseconds, IPv6, unicode, nested JSON', async () => {
    const t = await newTenant();
    const full = {
      id: randomUUID(),
      tenant_id: t.id,
      occurred_at: '2026-03-04T05:06:07.123456+02:00',
      actor_type: 'service',
      actor_id: 'fix-engine 🚀 «prod»',
      object_type: 'execution',
      object_id: 'EXE-注文-1',
      event_type: 'fill',
      outcome: 'FAILURE',
      source: 'fix-engine',
      request_id: 'req-abc-123',
      ip_address: '2001:0DB8:0000:0000:0000:0000:0000:0042',
      user_agent: 'QuickFIX/J 2.3.1',
      device_fingerprint: 'fp:ab:cd',
      context: { before: { status: 'NEW', qty: 0 }, after: { status: 'FILLED', qty: 100.5 }, tags: ['a', 'ß', null, true], deep: { x: { y: { z: [1, 2, { w: '“quoted”' }] } } } },
    };
    expect((await call('POST', EVENTS, { key: t.key, body: { events: [full] }, headers: { 'user-agent': 'roundtrip-client/1' } })).status).toBe(201);
    const got = await call('GET', `${EVENTS}/${full.id}`, { key: t.key });
    expect(got.status).toBe(200);
    expect(got.body).toEqual({
      id: full.id,
      tenant_id: t.id,
      seq: 1,
      occurred_at: '2026-03-04T03:06:07.123456Z',
      received_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
      actor_type: 'SERVICE',
      actor_id: full.actor_id,
      object_type: 'EXECUTION',
      object_id: full.object_id,
      event_type: 'FILL',
      outcome: 'failure',
      source: 'fix-engine',
      request_id: 'req-abc-123',
      ip_address: '2001:db8::42',
      user_agent: 'QuickFIX/J 2.3.1',
      device_fingerprint: 'fp:ab:cd',
      observed_ip: '127.0.0.1',
      observed_user_agent: 'roundtrip-client/1',
      context: full.context,
      schema_version: 2,
      written_by: `api_key:${t.keyId}`,
      personal: null,
    });
  });

  it('stores SQL-looking and formula-looking strings verbatim', async () => {
    const t = await newTenant();
    const nasty = ["'; DROP TABLE audit_events; --", '=HYPERLINK("http://evil")', 'a"b\\c', '1 OR 1=1', '$$ language plpgsql $$'];
    const res = await call('POST', EVENTS, { key: t.key, body: { events: nasty.map((s) => event({ object_id: s, actor_id: s, context: { note: s, [s]: s } })) } });
    expect(res.status).toBe(201);
    for (const s of nasty) {
      const found = await call('GET', `${EVENTS}?object_id=${encodeURIComponent(s)}`, { key: t.key });
      expect(found.body.events, s).toHaveLength(1);
      expect(found.body.events[0]).toMatchObject({ object_id: s, actor_id: s, context: { note: s, [s]: s } });
    }
  });

  it('accepts 500 events and refuses 501 with 413, storing nothing', async () => {
    const t = await newTenant();
    const ok = await call('POST', EVENTS, { key: t.key, body: { events: Array.from({ length: 500 }, () => event()) } });
    expect(ok.status).toBe(201);
    expect(ok.body.created_count).toBe(500);
    const tooMany = await call('POST', EVENTS, { key: t.key, body: { events: Array.from({ length: 501 }, () => event()) } });
    expect(tooMany.status).toBe(413);
    expect(tooMany.body.error).toMatchObject({ code: 'batch_too_large', issues: [{ field: 'events', message: expect.stringContaining('500') }] });
    expect(await countEvents(t.id)).toBe(500);
  });

  it('refuses the whole batch when one event is invalid, naming index and field', async () => {
    const t = await newTenant();
    const res = await call('POST', EVENTS, { key: t.key, body: { events: [event(), event(), event({ ip_address: 'not-an-ip' }), event({ id: 'nope' })] } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: {
        code: 'invalid_request',
        message: expect.stringContaining('event 2, ip_address'),
        issues: [
          { index: 2, field: 'ip_address', message: expect.any(String) },
          { index: 3, field: 'id', message: 'must be a UUID' },
        ],
      },
    });
    expect(await countEvents(t.id)).toBe(0);
  });

  it('answers malformed and oversized bodies with JSON errors, never a stack trace', async () => {
    const t = await newTenant();
    const cases: [string, number, string][] = [
      ['{"events": [', 400, 'malformed_json'],
      ['not json', 400, 'malformed_json'],
      ['[]', 400, 'invalid_request'],
      ['{"events": "many"}', 400, 'invalid_request'],
      ['{"events": [{"actor_id": 1}]}', 400, 'invalid_request'],
    ];
    for (const [rawBody, status, code] of cases) {
      const res = await call('POST', EVENTS, { key: t.key, rawBody });
      expect(res.status, rawBody).toBe(status);
      expect(res.body.error.code, rawBody).toBe(code);
      expect(JSON.stringify(res.body)).not.toMatch(/at .*\.(ts|js):\d+/);
    }
    const huge = JSON.stringify({ events: [event({ context: { blob: 'x'.repeat(5 * 1024 * 1024) } })] });
    const res = await call('POST', EVENTS, { key: t.key, rawBody: huge });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('body_too_large');
    expect(await countEvents(t.id)).toBe(0);
  });

  it('answers 401 without a valid key and 403 without the scope or for another tenant', async () => {
    const [t, other] = await Promise.all([newTenant(), newTenant()]);
    const body = { events: [event()] };
    expect((await call('POST', EVENTS, { body })).status).toBe(401);
    expect((await call('POST', EVENTS, { key: 'omsk_' + 'x'.repeat(32), body })).status).toBe(401);
    expect((await call('POST', EVENTS, { body, headers: { authorization: 'Basic abc' } })).status).toBe(401);
    const readOnly = await call('POST', EVENTS, { key: t.readKey, body });
    expect(readOnly.status).toBe(403);
    expect(readOnly.body.error.message).toContain('events:write');
    expect((await call('GET', EVENTS, { key: t.writeKey })).status).toBe(403);
    const mismatch = await call('POST', EVENTS, { key: t.key, body: { events: [event(), event({ tenant_id: other.id })] } });
    expect(mismatch.status).toBe(403);
    expect(mismatch.body.error).toMatchObject({ code: 'tenant_mismatch', issues: [{ index: 1, field: 'tenant_id' }] });

    await revokeApiKey(testSql(), { id: t.keyId });
    const revoked = await call('POST', EVENTS, { key: t.key, body });
    expect(revoked.status).toBe(401);
    expect(revoked.body.error.message).toContain('revoked');
    expect(revoked.headers.get('www-authenticate')).toContain('Bearer');
    expect(await countEvents(t.id)).toBe(0);
    expect(await countEvents(other.id)).toBe(0);
  });

  it('accepts Supabase\'s apikey header convention', async () => {
    const t = await newTenant();
    const res = await call('POST', EVENTS, { headers: { apikey: t.key }, body: { events: [event()] } });
    expect(res.status).toBe(201);
  });

  it('offers no way to change or delete events', async () => {
    const t = await newTenant();
    const res = await call('POST', EVENTS, { key: t.key, body: { events: [event()] } });
    const id = res.body.ids[0];
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      expect((await call(method, `${EVENTS}/${id}`, { key: t.key, body: { actor_id: 'x' } })).status, method).toBe(405);
      expect((await call(method, EVENTS, { key: t.key, body: {} })).status, method).toBe(405);
    }
    const after = await call('GET', `${EVENTS}/${id}`, { key: t.key });
    expect(after.body.actor_id).toBe('trader-7');
  });
});

describe('GET /api/v1/audit/events', () => {
  async function seededTenant() {
    const t = await newTenant();
    const base = Date.now() - 3600_000;
    const at = (minutes: number) => new Date(base + minutes * 60_000).toISOString();
    const events = [
      event({ object_id: 'ORD-1', event_type: 'CREATE', actor_id: 'alice', occurred_at: at(1), source: 'gw', request_id: 'r1', context: { symbol: 'AAPL', side: 'BUY' } }),
      event({ object_id: 'ORD-1', event_type: 'ROUTE', actor_id: 'router', actor_type: 'SERVICE', occurred_at: at(2), source: 'sor', request_id: 'r1', context: { symbol: 'AAPL', venue: 'XNAS' } }),
      event({ object_id: 'ORD-1', event_type: 'FILL', actor_id: 'fix', actor_type: 'SERVICE', occurred_at: at(3), source: 'fix', context: { symbol: 'AAPL', qty: 100 } }),
      event({ object_id: 'ORD-2', event_type: 'CREATE', actor_id: 'bob', occurred_at: at(4), source: 'gw', context: { symbol: 'MSFT', side: 'SELL' } }),
      event({ object_id: 'ORD-2', event_type: 'CANCEL', actor_id: 'bob', occurred_at: at(5), outcome: 'failure', source: 'gw', context: { symbol: 'MSFT' } }),
      event({ object_type: 'ACCOUNT', object_id: 'ACC-1', event_type: 'UPDATE', actor_id: 'alice', occurred_at: at(6), source: 'admin', context: { limit: 5 } }),
    ];
    await call('POST', EVENTS, { key: t.key, body: { events } });
    return { t, at };
  }

  const ids = (res: { body: { events: { object_id: string; event_type: string }[] } }) => res.body.events.map((e) => `${e.object_id}/${e.event_type}`);

  it('filters by every field and combinations, newest first unless asked otherwise', async () => {
    const { t, at } = await seededTenant();
    const q = async (query: string) => {
      const res = await call('GET', `${EVENTS}?${query}`, { key: t.readKey });
      expect(res.status, query).toBe(200);
      return ids(res);
    };
    expect(await q('object_type=order&object_id=ORD-1')).toEqual(['ORD-1/FILL', 'ORD-1/ROUTE', 'ORD-1/CREATE']);
    expect(await q('object_type=order&object_id=ORD-1&order=asc')).toEqual(['ORD-1/CREATE', 'ORD-1/ROUTE', 'ORD-1/FILL']);
    expect(await q('actor_id=alice')).toEqual(['ACC-1/UPDATE', 'ORD-1/CREATE']);
    expect(await q('actor_type=service')).toEqual(['ORD-1/FILL', 'ORD-1/ROUTE']);
    expect(await q('event_type=create')).toEqual(['ORD-2/CREATE', 'ORD-1/CREATE']);
    expect(await q('event_type=CREATE&event_type=cancel')).toEqual(['ORD-2/CANCEL', 'ORD-2/CREATE', 'ORD-1/CREATE']);
    expect(await q('event_type=FILL,ROUTE')).toEqual(['ORD-1/FILL', 'ORD-1/ROUTE']);
    expect(await q('outcome=failure')).toEqual(['ORD-2/CANCEL']);
    expect(await q('source=gw&actor_id=bob')).toEqual(['ORD-2/CANCEL', 'ORD-2/CREATE']);
    expect(await q('request_id=r1')).toEqual(['ORD-1/ROUTE', 'ORD-1/CREATE']);
    expect(await q(`from=${encodeURIComponent(at(2))}&to=${encodeURIComponent(at(4))}`)).toEqual(['ORD-1/FILL', 'ORD-1/ROUTE']);
    expect(await q(`context=${encodeURIComponent('{"symbol":"AAPL"}')}`)).toEqual(['ORD-1/FILL', 'ORD-1/ROUTE', 'ORD-1/CREATE']);
    expect(await q('context.symbol=MSFT&event_type=CREATE')).toEqual(['ORD-2/CREATE']);
    expect(await q('object_type=ORDER&actor_type=USER&outcome=success&source=gw&context.side=BUY')).toEqual(['ORD-1/CREATE']);
    expect(await q('object_id=nothing-like-this')).toEqual([]);
  });

  it('rejects bad filters with 400 naming the parameter', async () => {
    const { t } = await seededTenant();
    for (const [query, field] of [
      ['from=yesterday', 'from'],
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['order=sideways', 'order'],
      ['outcome=perhaps', 'outcome'],
      ['context=notjson', 'context'],
      ['from=2026-02-01&to=2026-01-01', 'from'],
      ['cursor=garbage', 'cursor'],
      ['frobnicate=1', 'frobnicate'],
      ['object_type=bad%20type', 'object_type'],
    ]) {
      const res = await call('GET', `${EVENTS}?${query}`, { key: t.key });
      expect(res.status, query).toBe(400);
      expect(res.body.error.issues[0].field, query).toBe(field);
    }
  });

  it('pages with an opaque cursor bound to its filters', async () => {
    const { t } = await seededTenant();
    const first = await call('GET', `${EVENTS}?limit=2`, { key: t.key });
    expect(first.body.events).toHaveLength(2);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await call('GET', `${EVENTS}?limit=2&cursor=${first.body.next_cursor}`, { key: t.key });
    expect(ids(second)).toEqual(['ORD-2/CREATE', 'ORD-1/FILL']);
    const misused = await call('GET', `${EVENTS}?limit=2&actor_id=bob&cursor=${first.body.next_cursor}`, { key: t.key });
    expect(misused.status).toBe(400);
    expect(misused.body.error.issues[0]).toMatchObject({ field: 'cursor', message: expect.stringContaining('other filters') });
  });

  it('returns every matching row exactly once while new events keep arriving', async () => {
    const t = await newTenant();
    const old = Array.from({ length: 230 }, (_, i) => event({ object_id: `P-${i}`, occurred_at: new Date(Date.now() - 86_400_000 + i * 1000).toISOString() }));
    await call('POST', EVENTS, { key: t.key, body: { events: old } });
    const to = encodeURIComponent(new Date(Date.now() - 3600_000).toISOString());
    for (const order of ['desc', 'asc']) {
      const seen: string[] = [];
      let cursor: string | null = null;
      let page = 0;
      do {
        const res: { status: number; body: { events: { object_id: string }[]; next_cursor: string | null } } = await call('GET', `${EVENTS}?limit=17&order=${order}&to=${to}${cursor ? `&cursor=${cursor}` : ''}`, { key: t.key });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        seen.push(...res.body.events.map((e) => e.object_id));
        cursor = res.body.next_cursor;
        // Writers keep going meanwhile, inside and outside the queried range.
        await call('POST', EVENTS, { key: t.key, body: { events: [event({ object_id: `NEW-${order}-${page}` }), event({ object_id: `LATE-${order}-${page}`, occurred_at: new Date(Date.now() - 2 * 86_400_000).toISOString() })] } });
        page++;
      } while (cursor);
      const expected = old.map((e) => e.object_id);
      const fromOld = seen.filter((id) => id.startsWith('P-'));
      expect(fromOld).toEqual(order === 'desc' ? [...expected].reverse() : expected);
      expect(new Set(seen).size).toBe(seen.length);
    }
  });

  it("never shows or finds another tenant's events", async () => {
    const [a, b] = await Promise.all([newTenant(), newTenant()]);
    const created = await call('POST', EVENTS, { key: a.key, body: { events: [event({ object_id: 'SECRET-ORDER' })] } });
    const id = created.body.ids[0];
    expect((await call('GET', `${EVENTS}?object_id=SECRET-ORDER`, { key: b.key })).body.events).toEqual([]);
    const foreign = await call('GET', `${EVENTS}?tenant_id=${a.id}`, { key: b.key });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error.code).toBe('tenant_mismatch');
    expect((await call('GET', `${EVENTS}/${id}`, { key: b.key })).status).toBe(404);
    expect((await call('GET', `${EVENTS}/${id}`, { key: a.key })).status).toBe(200);
  });
});
