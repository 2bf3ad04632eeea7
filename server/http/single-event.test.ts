/** Single events over real HTTP: POST /api/v1/audit/event (served by the Node server) and tRPC events.log, committed together. */
import { randomUUID } from 'node:crypto';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import { LIMITS } from '@/supabase/functions/_shared/limits.ts';
import type { AppRouter } from '@/server/routers/_app.ts';
import { baseUrl, call, countEvents, event, newTenant, testSql } from '@/test/fixtures.ts';

const EVENT = '/api/v1/audit/event';

describe('POST /api/v1/audit/event', () => {
  it('answers 200 concurrent requests each only after its event is committed, in far fewer transactions', async () => {
    const t = await newTenant();
    const ids = Array.from({ length: 200 }, () => randomUUID());
    // Each answer is checked against the database the moment it arrives: an acknowledged event must be visible.
    const visibleOnAck = await Promise.all(
      ids.map(async (id) => {
        const res = await call('POST', EVENT, { key: t.key, body: event({ id }) });
        expect(res.status).toBe(201);
        expect(res.body).toMatchObject({ created_count: 1, duplicate_count: 0, ids: [id], method: 'group_commit' });
        const [row] = await testSql()`select count(*)::int as n from public.audit_ledger where tenant_id = ${t.id} and id = ${id}`;
        return row!.n as number;
      }),
    );
    expect(visibleOnAck).toEqual(ids.map(() => 1));

    const rows = await testSql()`select id, seq, xmin::text as tx from public.audit_ledger where tenant_id = ${t.id} order by seq`;
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(new Set(rows.map((r) => r.id as string))).toEqual(new Set(ids));
    // Group commit: requests that arrive while a transaction of the tenant runs share the next one.
    const transactions = new Set(rows.map((r) => r.tx)).size;
    expect(transactions).toBeLessThanOrEqual(100);
  });

  it('takes the same contract as a batch event, and refuses bad input without storing it', async () => {
    const [t, other] = await Promise.all([newTenant(), newTenant('other')]);
    const bad = await call('POST', EVENT, { key: t.key, body: event({ occurred_at: 'yesterday' }) });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'invalid_request', issues: [{ field: 'occurred_at' }] });
    expect((await call('POST', EVENT, { key: t.key, body: { events: [event()] } })).status).toBe(400);
    expect((await call('POST', EVENT, { key: t.key, rawBody: '{"actor_id":' })).body.error.code).toBe('malformed_json');
    expect((await call('POST', EVENT, { key: t.key, rawBody: JSON.stringify(event({ context: { blob: 'x'.repeat(LIMITS.eventBodyBytes) } })) })).status).toBe(413);
    expect((await call('POST', EVENT, { key: t.key, body: event({ tenant_id: other.id }) })).status).toBe(403);
    expect((await call('POST', EVENT, { key: t.readKey, body: event() })).status).toBe(403);
    expect((await call('POST', EVENT, { body: event() })).status).toBe(401);
    expect((await call('GET', EVENT, { key: t.key })).status).toBe(405);
    expect(await countEvents(t.id)).toBe(0);
    expect(await countEvents(other.id)).toBe(0);

    const id = randomUUID();
    expect((await call('POST', EVENT, { key: t.writeKey, body: event({ id }) })).body.created_count).toBe(1);
    expect((await call('POST', EVENT, { key: t.writeKey, body: event({ id }) })).body).toMatchObject({ created_count: 0, duplicate_count: 1, duplicate_ids: [id] });
    expect(await countEvents(t.id)).toBe(1);
  });
});

describe('POST /api/v1/audit/event reads the request as every endpoint does', () => {
  it('takes the key from either header, honours the tenant header, and records what the server saw of the client', async () => {
    const [t, other] = await Promise.all([newTenant(), newTenant('other')]);
    const refused = await call('POST', EVENT, { headers: { apikey: t.key, 'x-oms-tenant-id': other.id }, body: event() });
    expect(refused.status).toBe(403);
    const id = randomUUID();
    const res = await call('POST', EVENT, {
      headers: { apikey: t.key, 'x-oms-tenant-id': t.id.toUpperCase(), 'user-agent': 'order-router/7.1', 'x-request-id': 'probe-req-1', 'X-Audit-Round-Trip-Ms': 'soon' },
      body: event({ id, actor_type: 'service', ip_address: '2001:DB8::0:1' }),
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/X-Audit-Round-Trip-Ms/i);
    const ok = await call('POST', EVENT, {
      headers: { apikey: t.key, 'x-oms-tenant-id': t.id.toUpperCase(), 'user-agent': 'order-router/7.1', 'x-request-id': 'probe-req-1' },
      body: event({ id, actor_type: 'service', ip_address: '2001:DB8::0:1' }),
    });
    expect(ok.status).toBe(201);
    expect(ok.headers.get('x-request-id')).toBe('probe-req-1');
    const [row] = await testSql()`select actor_type, host(ip_address) as ip, host(observed_ip) as observed_ip, observed_user_agent, user_agent, request_id
      from public.audit_events where tenant_id = ${t.id} and id = ${id}`;
    expect(row).toEqual({ actor_type: 'SERVICE', ip: '2001:db8::1', observed_ip: '127.0.0.1', observed_user_agent: 'order-router/7.1', user_agent: 'order-router/7.1', request_id: 'probe-req-1' });
    expect(await countEvents(other.id)).toBe(0);
  });
});

describe('tRPC events.log', () => {
  it('stores one event per call, concurrently, and reports field errors like REST', async () => {
    const t = await newTenant();
    const trpc = createTRPCClient<AppRouter>({ links: [httpLink({ url: `${baseUrl()}/api/trpc`, headers: { authorization: `Bearer ${t.key}` } })] });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => trpc.events.log.mutate(event({ object_id: `ORD-${i}` }))));
    expect(results.every((r) => r.created_count === 1 && r.method === 'group_commit')).toBe(true);
    expect(await countEvents(t.id)).toBe(50);

    const bad = await trpc.events.log.mutate(event({ actor_type: 'not a type' })).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(TRPCClientError);
    expect((bad as TRPCClientError<AppRouter>).data).toMatchObject({ httpStatus: 400, auditCode: 'invalid_request', issues: [{ field: 'actor_type' }] });
    expect(await countEvents(t.id)).toBe(50);
  });
});
