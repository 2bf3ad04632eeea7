/** events.* through createCaller (in-process, real database) and through the HTTP endpoint with @trpc/client. */
import { randomUUID } from 'node:crypto';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import { createContextInner } from '@/server/context.ts';
import { createCallerFactory } from '@/server/trpc.ts';
import type { Caller } from '@/server/auth/caller.ts';
import { appRouter, type AppRouter } from './_app.ts';
import { baseUrl, countEvents, event, newTenant, testSql } from '@/test/fixtures.ts';

const createCaller = createCallerFactory(appRouter);
const callerFor = (caller: Caller) => createCaller(createContextInner({ caller, sql: testSql(), observed: { ip: '10.1.2.3', userAgent: 'caller-test' } }));
const keyCaller = (tenantId: string, scopes: ('events:write' | 'events:read')[] = ['events:write', 'events:read']): Caller => ({ kind: 'api_key', keyId: randomUUID(), tenantId, scopes });

function client(key?: string) {
  return createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${baseUrl()}/api/trpc`, headers: () => (key ? { authorization: `Bearer ${key}` } : {}) })],
  });
}

describe('events router (createCaller)', () => {
  it('logs a batch and reads it back by id, list and object history', async () => {
    const t = await newTenant();
    const api = callerFor(keyCaller(t.id));
    const result = await api.events.logBulk({ events: [event({ object_id: 'ORD-9', event_type: 'create' }), event({ object_id: 'ORD-9', event_type: 'fill' })] });
    expect(result).toMatchObject({ created_count: 2, duplicate_count: 0, method: 'trpc' });
    const one = await api.events.get({ id: result.ids[1]! });
    expect(one).toMatchObject({ event_type: 'FILL', seq: 2, observed_ip: '10.1.2.3', ip_address: '10.1.2.3', user_agent: 'caller-test' });
    const history = await api.events.objectHistory({ object_type: 'order', object_id: 'ORD-9' });
    expect(history.events.map((e) => e.event_type)).toEqual(['CREATE', 'FILL']);
    const page = await api.events.list({ limit: 1 });
    expect(page.events).toHaveLength(1);
    expect(page.next_cursor).not.toBeNull();
  });

  it('enforces the permission each procedure declares', async () => {
    const t = await newTenant();
    await expect(callerFor({ kind: 'anonymous' }).events.list({})).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await expect(callerFor(keyCaller(t.id, ['events:read'])).events.logBulk({ events: [event()] })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(callerFor(keyCaller(t.id, ['events:write'])).events.list({})).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await countEvents(t.id)).toBe(0);
  });

  it('maps validation failures to 400 with index and field, and 501 events to 413', async () => {
    const t = await newTenant();
    const api = callerFor(keyCaller(t.id));
    await expect(api.events.logBulk({ events: [event(), event({ actor_id: 'x\ny' })] })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      cause: { issues: [{ index: 1, field: 'actor_id', message: expect.stringContaining('control') }] },
    });
    await expect(api.events.logBulk({ events: Array.from({ length: 501 }, () => event()) })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    await expect(api.events.get({ id: randomUUID() })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await countEvents(t.id)).toBe(0);
  });
});

describe('events router over HTTP', () => {
  it('round-trips every field through /api/trpc with an API key', async () => {
    const t = await newTenant();
    const id = randomUUID();
    const sent = event({ id, occurred_at: '2026-02-03T04:05:06.000007Z', ip_address: '::1', outcome: 'failure', source: 's', request_id: 'r', device_fingerprint: 'd', user_agent: 'u', context: { a: { b: [1, 'ü', null] } } });
    const result = await client(t.key).events.logBulk.mutate({ events: [sent] });
    expect(result).toMatchObject({ created_count: 1, ids: [id] });
    const got = await client(t.key).events.get.query({ id });
    expect(got).toMatchObject({ ...sent, tenant_id: t.id, seq: 1, occurred_at: '2026-02-03T04:05:06.000007Z', outcome: 'failure', observed_ip: '127.0.0.1' });
  });

  it('answers errors with the same codes and issues as REST', async () => {
    const t = await newTenant();
    const bad = await client(t.key).events.logBulk.mutate({ events: [event({ ip_address: 'nope' })] }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(TRPCClientError);
    expect((bad as TRPCClientError<AppRouter>).data).toMatchObject({ httpStatus: 400, auditCode: 'invalid_request', issues: [{ index: 0, field: 'ip_address' }] });
    const noKey = await client().events.list.query({}).catch((e: unknown) => e);
    expect((noKey as TRPCClientError<AppRouter>).data?.httpStatus).toBe(401);
    const wrongKey = await client('omsk_' + 'y'.repeat(32)).events.list.query({}).catch((e: unknown) => e);
    expect((wrongKey as TRPCClientError<AppRouter>).data?.httpStatus).toBe(401);
    expect(await countEvents(t.id)).toBe(0);
  });
});
