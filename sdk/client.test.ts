/** The SDK against the real server and the real edge function (Deno), over HTTP. */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { baseUrl, countEvents, event, newTenant, testSql } from '@/test/fixtures.ts';
import { startFunction, type RunningFunction } from '@/test/functions.ts';
import { freePort } from '@/test/ports.ts';
import { AuditBulkError, AuditClientError, createAuditClient, type AuditClientOptions } from './index.ts';

const functionsUrl = () => inject('functionsBaseUrl');

function client(apiKey: string, options: Partial<AuditClientOptions> = {}) {
  return createAuditClient({ baseUrl: baseUrl(), functionsUrl: functionsUrl(), apiKey, ...options });
}

async function storedIds(tenantId: string): Promise<string[]> {
  const rows = await testSql()`select id from public.audit_events where tenant_id = ${tenantId}`;
  return rows.map((r) => r.id as string);
}

const routes = (calls: { method: string; events: number }[]) => calls.map((c) => `${c.method}:${c.events}`);

describe('logBulk', () => {
  it('sends small batches through tRPC and large ones to the edge function, split at the limits', async () => {
    const t = await newTenant();
    const audit = client(t.key);
    expect(routes((await audit.logBulk(Array.from({ length: 50 }, () => event()))).calls)).toEqual(['trpc:50']);
    expect(routes((await audit.logBulk(Array.from({ length: 51 }, () => event()))).calls)).toEqual(['edge_function:51']);
    const big = await audit.logBulk(Array.from({ length: 2500 }, () => event()));
    expect(routes(big.calls)).toEqual(['edge_function:1000', 'edge_function:1000', 'edge_function:500']);
    expect(big).toMatchObject({ created_count: 2500, duplicate_count: 0 });
    expect(new Set(big.ids).size).toBe(2500);
    expect(await countEvents(t.id)).toBe(50 + 51 + 2500);

    // The threshold is configurable; without a functions URL everything goes through tRPC in batches of 500.
    expect(routes((await client(t.key, { edgeThreshold: 5 }).logBulk(Array.from({ length: 6 }, () => event()))).calls)).toEqual(['edge_function:6']);
    const trpcOnly = await client(t.key, { functionsUrl: undefined }).logBulk(Array.from({ length: 1200 }, () => event()));
    expect(routes(trpcOnly.calls)).toEqual(['trpc:500', 'trpc:500', 'trpc:200']);
    expect(await countEvents(t.id)).toBe(50 + 51 + 2500 + 6 + 1200);
  });

  it('splits by body size too, so events with large contexts still fit the limits', async () => {
    const t = await newTenant();
    const fat = Array.from({ length: 300 }, () => event({ context: { note: 'x'.repeat(30_000) } }));
    const result = await client(t.key).logBulk(fat);
    expect(result.calls.length).toBeGreaterThan(1);
    expect(result.calls.every((c) => c.method === 'edge_function')).toBe(true);
    expect(result.created_count).toBe(300);
  });

  it('refuses an array with an invalid event before sending any of it', async () => {
    const t = await newTenant();
    const err = await client(t.key)
      .logBulk([...Array.from({ length: 600 }, () => event()), event({ ip_address: 'nope' })])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuditClientError);
    expect(err).toMatchObject({ status: 400, code: 'invalid_request', issues: [{ index: 600, field: 'ip_address' }], retryable: false });
    expect(await countEvents(t.id)).toBe(0);
  });

  it('reports a refusal with what was stored before it', async () => {
    const [t, other] = await Promise.all([newTenant(), newTenant('other')]);
    const events = [...Array.from({ length: 1000 }, () => event()), ...Array.from({ length: 10 }, () => event({ tenant_id: other.id }))];
    const err = (await client(t.key).logBulk(events).catch((e: unknown) => e)) as AuditBulkError;
    expect(err).toBeInstanceOf(AuditBulkError);
    expect(err).toMatchObject({ status: 403, code: 'tenant_mismatch' });
    expect(err.calls.flatMap((c) => c.ids)).toHaveLength(1000);
    expect(err.unsentIds).toHaveLength(10);
    expect(await countEvents(t.id)).toBe(1000);
  });
});

describe('the edge function down', () => {
  let fn: RunningFunction | undefined;
  afterAll(() => fn?.stop());

  it('falls back to tRPC, for logBulk and for log(), and stores everything once', async () => {
    const t = await newTenant();
    fn = await startFunction({ databaseUrl: inject('databaseUrl') });
    const audit = client(t.key, { functionsUrl: fn.baseUrl, flushIntervalMs: 5 });
    expect(routes((await audit.logBulk(Array.from({ length: 100 }, () => event()))).calls)).toEqual(['edge_function:100']);

    await fn.stop();
    const fallback = await audit.logBulk(Array.from({ length: 700 }, () => event()));
    expect(routes(fallback.calls)).toEqual(['trpc:500', 'trpc:200']);
    expect(fallback.calls[0]!.fallback_reason).toMatch(/could not be reached/);

    const ids = await Promise.all(Array.from({ length: 300 }, () => audit.log(event())));
    await audit.flush();
    expect(await countEvents(t.id)).toBe(1100);
    const stored = new Set(await storedIds(t.id));
    expect(ids.every((id) => id && stored.has(id))).toBe(true);

    // Nothing listening at all: the same.
    const nowhere = client(t.key, { functionsUrl: `http://127.0.0.1:${await freePort()}` });
    expect(routes((await nowhere.logBulk(Array.from({ length: 60 }, () => event()))).calls)).toEqual(['trpc:60']);
    expect(await countEvents(t.id)).toBe(1160);
  });
});

describe('log()', () => {
  it('buffers, batches and stores every event with the id it returned', async () => {
    const t = await newTenant();
    const audit = client(t.key, { flushIntervalMs: 10 });
    const ids = await Promise.all(Array.from({ length: 1500 }, (_, i) => audit.log(event({ object_id: `ORD-${i}` }))));
    expect(ids.every((id) => typeof id === 'string')).toBe(true);
    await audit.flush();
    expect(audit.stats()).toEqual({ buffered: 0, inFlight: 0, spilled: 0, waiting: 0 });
    expect((await storedIds(t.id)).sort()).toEqual([...(ids as string[])].sort());
  });

  it('hands events the server refuses to onError, never sends them again, and stores the rest', async () => {
    const [t, other] = await Promise.all([newTenant(), newTenant('other')]);
    const errors: { code: string; status?: number; events: unknown[] }[] = [];
    const audit = client(t.key, { onError: (err, events) => errors.push({ code: err.code, status: err.status, events }) });
    const invalid = event({ ip_address: 'not-an-ip' });
    const foreign = event({ tenant_id: other.id });
    const good: (string | null)[] = [];
    for (let i = 0; i < 120; i++) {
      good.push(await audit.log(event()));
      if (i === 30) await audit.log(invalid);
      if (i === 90) await audit.log(foreign);
    }
    await audit.flush();
    expect(errors.map((e) => [e.code, e.status, e.events.length])).toEqual(
      expect.arrayContaining([
        ['invalid_request', 400, 1],
        ['tenant_mismatch', 403, 1],
      ]),
    );
    expect(errors).toHaveLength(2);
    expect(errors.find((e) => e.code === 'invalid_request')!.events[0]).toMatchObject({ ip_address: 'not-an-ip' });
    expect((await storedIds(t.id)).sort()).toEqual([...(good as string[])].sort());
    expect(await countEvents(other.id)).toBe(0);
  });

  it('offers the seed helpers: creation, update with changed fields, status change', async () => {
    const t = await newTenant();
    const audit = client(t.key);
    const subject = { actor_id: 'trader-7', actor_type: 'USER', object_type: 'ORDER', object_id: `ORD-${randomUUID()}` };
    await audit.logCreation({ ...subject, data: { symbol: 'AAPL', quantity: 100, limit_price: 187.5 } });
    await audit.logUpdate({ ...subject, before: { symbol: 'AAPL', quantity: 100, limit_price: 187.5 }, after: { symbol: 'AAPL', quantity: 150, limit_price: 187.25 }, context: { symbol: 'AAPL' } });
    await audit.logStatusChange({ ...subject, from: 'NEW', to: 'CANCELLED', reason: 'Trader cancelled' });
    await audit.flush();

    const pages = [];
    for await (const page of audit.query({ object_type: 'ORDER', object_id: subject.object_id, order: 'asc' })) pages.push(page);
    const events = pages.flatMap((p) => p.events);
    expect(events.map((e) => [e.event_type, e.context])).toEqual([
      ['CREATE', { after: { symbol: 'AAPL', quantity: 100, limit_price: 187.5 } }],
      ['UPDATE', { symbol: 'AAPL', changed: ['limit_price', 'quantity'], before: { limit_price: 187.5, quantity: 100 }, after: { limit_price: 187.25, quantity: 150 } }],
      ['STATUS_CHANGE', { before: { status: 'NEW' }, after: { status: 'CANCELLED' }, reason: 'Trader cancelled' }],
    ]);
  });
});

describe('query()', () => {
  it('iterates over every page of a filter', async () => {
    const t = await newTenant();
    const audit = client(t.key);
    const { ids } = await audit.logBulk(Array.from({ length: 250 }, (_, i) => event({ object_id: 'ORD-Q', actor_id: `trader-${i % 2}` })));
    const pages = [];
    for await (const page of audit.query({ object_id: 'ORD-Q', limit: 100 })) pages.push(page);
    expect(pages.map((p) => p.events.length)).toEqual([100, 100, 50]);
    expect(new Set(pages.flatMap((p) => p.events.map((e) => e.id)))).toEqual(new Set(ids));
    let actor = 0;
    for await (const page of audit.query({ actor_id: 'trader-1', limit: 1000 })) actor += page.events.length;
    expect(actor).toBe(125);
  });
});
