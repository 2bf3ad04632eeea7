/**
 * The relay inside an OMS process, between a real PostgreSQL database of the
 * OMS's own and the real oms-audit server over HTTP (through a reverse proxy
 * where a test needs one to fail): committed events arrive once each, in the
 * outbox's order, with the ids the outbox gave them; a lost acknowledgement,
 * an outage or a refused event loses and doubles nothing; several relays on
 * one outbox never send together; the lag is visible while events wait.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import { baseUrl, newTenant, testSql, type TestTenant } from '@/test/fixtures.ts';
import { createOmsDatabase, type OmsDatabase } from '@/test/oms-database.ts';
import { startReverseProxy, type ReverseProxy } from '@/test/reverse-proxy.ts';
import { installOutbox, outboxStatus, retryParked } from './admin.ts';
import { OutboxNotReadyError, startRelay, type ParkedEvent, type Relay, type RelayOptions } from './relay.ts';
import { outbox } from './writer.ts';

let db: OmsDatabase;
let app: postgres.Sql;
const relays: Relay[] = [];
const proxies: ReverseProxy[] = [];

beforeAll(async () => {
  db = await createOmsDatabase();
  app = postgres(db.appUrl, { max: 4, onnotice: () => {} });
});

afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.stop()));
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  await app?.end();
  await db?.drop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function relay(tenant: TestTenant, options: Partial<RelayOptions> = {}): Relay {
  const r = startRelay({ source: db.relayUrl, baseUrl: baseUrl(), apiKey: tenant.writeKey, idleDelayMs: 20, standbyPollMs: 50, statsIntervalMs: 50, retry: { baseMs: 20, maxMs: 200 }, ...options });
  relays.push(r);
  return r;
}

async function proxy(): Promise<ReverseProxy> {
  const p = await startReverseProxy(baseUrl());
  proxies.push(p);
  return p;
}

const change = (orderId: string, i: number, extra: Partial<AuditEventRequest> = {}): AuditEventRequest => ({
  actor_id: 'fix-engine',
  actor_type: 'SERVICE',
  object_type: 'ORDER',
  object_id: orderId,
  event_type: 'FILL',
  context: { fill: i, price: '187.2500', quantity: 100 },
  ...extra,
});

/** Commits `count` order changes, `perTransaction` events per transaction; returns the ids in commit order. */
async function commitChanges(orderId: string, count: number, perTransaction = 50): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += perTransaction) {
    const n = Math.min(perTransaction, count - i);
    ids.push(
      ...(await app.begin(async (tx) => {
        await tx`insert into orders (id, status, quantity) values (${orderId}, 'NEW', 0) on conflict (id) do update set quantity = orders.quantity + ${n}`;
        return outbox(tx).logBulk(Array.from({ length: n }, (_, k) => change(orderId, i + k)));
      })),
    );
  }
  return ids;
}

async function trail(tenantId: string) {
  return testSql()`select id::text, event_type, occurred_at, context from public.audit_events where tenant_id = ${tenantId} order by seq`;
}

async function pendingFor(orderId: string): Promise<number> {
  const owner = postgres(db.ownerUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await owner`select count(*)::int as n from oms_audit_outbox.audit_outbox where event->>'object_id' = ${orderId}`;
    return row!.n as number;
  } finally {
    await owner.end();
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('the relay', () => {
  it('ships the committed events in the outbox’s order, with their ids, exactly as logged, and removes them', { timeout: 60_000 }, async () => {
    const t = await newTenant('outbox-order');
    const orderId = `O-${randomUUID()}`;
    const first = await commitChanges(orderId, 1_230);
    // A transaction that rolls back after logging leaves nothing to ship.
    await app
      .begin(async (tx) => {
        await outbox(tx).log(change(orderId, -1, { event_type: 'CANCEL' }));
        throw new Error('rolled back');
      })
      .catch(() => {});
    const r = relay(t);
    await r.drain({ timeoutMs: 30_000 });
    const second = await commitChanges(orderId, 70, 7);
    r.wake();
    await r.drain({ timeoutMs: 30_000 });

    const stored = await trail(t.id);
    expect(stored.map((e) => e.id)).toEqual([...first, ...second]);
    expect(stored.map((e) => e.event_type)).not.toContain('CANCEL');
    expect(stored[0]!.context).toEqual({ fill: 0, price: '187.2500', quantity: 100 });
    expect(await pendingFor(orderId)).toBe(0);
    const stats = r.stats();
    expect(stats).toMatchObject({ role: 'leader', createdEvents: 1_300, duplicateEvents: 0, parkedEvents: 0, pendingRows: 0 });
    // 500 a request at most.
    expect(stats.requests).toBeGreaterThanOrEqual(4);
  });

  it('works from a pg Pool and from postgres.js’s sql handed in by the OMS', { timeout: 60_000 }, async () => {
    const t = await newTenant('outbox-clients');
    const pool = new pg.Pool({ connectionString: db.relayUrl, max: 2 });
    const sql = postgres(db.relayUrl, { max: 2, onnotice: () => {} });
    try {
      const orderId = `O-${randomUUID()}`;
      const ids = await commitChanges(orderId, 30);
      const viaPool = relay(t, { source: pool });
      await viaPool.drain({ timeoutMs: 30_000 });
      await viaPool.stop();
      const more = await commitChanges(orderId, 30);
      const viaSql = relay(t, { source: sql });
      await viaSql.drain({ timeoutMs: 30_000 });
      await viaSql.stop();
      expect((await trail(t.id)).map((e) => e.id)).toEqual([...ids, ...more]);
      // What the OMS handed in stays open for it.
      expect((await pool.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
      expect(await sql`select 1 as one`).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
      await sql.end();
    }
  });

  it('sends again what was stored but not acknowledged: the server stores it once', { timeout: 60_000 }, async () => {
    const t = await newTenant('outbox-lost-ack');
    const p = await proxy();
    const orderId = `O-${randomUUID()}`;
    const ids = await commitChanges(orderId, 600);
    p.loseAnswers(2);
    const r = relay(t, { baseUrl: p.url });
    await r.drain({ timeoutMs: 30_000 });
    expect((await trail(t.id)).map((e) => e.id)).toEqual(ids);
    const stats = r.stats();
    expect(stats.failedRequests).toBe(2);
    // The first 500 were stored at the first attempt; the server says so when they come again.
    expect(stats).toMatchObject({ duplicateEvents: 500, createdEvents: 100, sentEvents: 600 });
  });

  it('takes a 201 that does not name the events sent for no acknowledgement, and sends them again', { timeout: 60_000 }, async () => {
    const t = await newTenant('outbox-stale-ack');
    const p = await proxy();
    const orderId = `O-${randomUUID()}`;
    const ids = await commitChanges(orderId, 20);
    p.staleAnswers(1);
    const r = relay(t, { baseUrl: p.url });
    await r.drain({ timeoutMs: 30_000 });
    expect((await trail(t.id)).map((e) => e.id)).toEqual(ids);
    expect(r.stats()).toMatchObject({ failedRequests: 1, duplicateEvents: 20, createdEvents: 0, sentEvents: 20 });
    expect(r.stats().lastError).toMatch(/does not name the 20 events sent/);
  });

  it('keeps everything while the server cannot be reached, shows the lag, and delivers it all on its return', { timeout: 60_000 }, async () => {
    const t = await newTenant('outbox-outage');
    const p = await proxy();
    p.setUp(false);
    const errors: Error[] = [];
    const r = relay(t, { baseUrl: p.url, onError: (e) => errors.push(e) });
    const orderId = `O-${randomUUID()}`;
    const ids = await commitChanges(orderId, 120);
    await until('the lag to show', () => (r.stats().pendingRows ?? 0) >= 120 && (r.stats().oldestPendingSeconds ?? 0) >= 0.3 && r.stats().failedRequests >= 2);
    expect(r.stats().lastError).toMatch(/could not be reached/);
    expect(await countStored(t.id)).toBe(0);
    p.setUp(true);
    await r.drain({ timeoutMs: 30_000 });
    expect((await trail(t.id)).map((e) => e.id)).toEqual(ids);
    await until('the lag to clear', () => r.stats().pendingRows === 0 && r.stats().oldestPendingSeconds === 0);
    expect(errors.every((e) => e.name === 'AuditClientError')).toBe(true);
  });

  it('drops nothing when the key is refused (401): it keeps trying, and delivers once the key is right', { timeout: 60_000 }, async () => {
    const t = await newTenant('outbox-bad-key');
    const orderId = `O-${randomUUID()}`;
    const ids = await commitChanges(orderId, 10);
    const wrong = relay(t, { apiKey: 'omsk_not-a-key' });
    await until('refusals', () => wrong.stats().failedRequests >= 2);
    await wrong.stop();
    expect(wrong.stats()).toMatchObject({ parkedEvents: 0, sentEvents: 0 });
    expect(await pendingFor(orderId)).toBe(10);
    await relay(t).drain({ timeoutMs: 30_000 });
    expect((await trail(t.id)).map((e) => e.id)).toEqual(ids);
  });

  it('parks an event the server refuses, with the server’s answer, and delivers the others in order', { timeout: 60_000 }, async () => {
    const t = await newTenant('outbox-parked');
    const orderId = `O-${randomUUID()}`;
    const before = await commitChanges(orderId, 5);
    // Plain SQL (any language) is checked only for what the database can tell: this time is not ISO 8601.
    const [bad] = await app.begin((tx) => tx`select oms_audit_outbox.log(${JSON.stringify(change(orderId, 99, { occurred_at: 'yesterday' }))}::text::jsonb)::text as id`);
    const after = await commitChanges(orderId, 5);
    const parked: ParkedEvent[] = [];
    const r = relay(t, { onParked: (events) => parked.push(...events) });
    await r.drain({ timeoutMs: 30_000 });

    expect((await trail(t.id)).map((e) => e.id)).toEqual([...before, ...after]);
    expect(parked).toEqual([{ id: bad!.id, position: expect.stringMatching(/^\d+$/), error: { status: 400, code: 'invalid_request', message: expect.any(String), issues: [{ field: 'occurred_at', message: expect.any(String) }] } }]);
    const status = await outboxStatus(db.ownerUrl);
    expect(status.parked.find((p) => p.id === bad!.id)).toMatchObject({ event: { object_id: orderId, occurred_at: 'yesterday' }, error: { status: 400, issues: [{ field: 'occurred_at' }] } });
    expect(r.stats().parkedEvents).toBe(1);
    await until('the parked count', () => r.stats().parkedRows! >= 1);

    // Sent again after the cause is fixed (here: the event is corrected by its owner, then requeued).
    const owner = postgres(db.ownerUrl, { max: 1, onnotice: () => {} });
    try {
      await owner`update oms_audit_outbox.audit_outbox_parked set event = event || '{"occurred_at":"2026-12-01T08:00:00Z"}' where id = ${bad!.id}`;
    } finally {
      await owner.end();
    }
    expect(await retryParked(db.ownerUrl, { ids: [bad!.id] })).toBe(1);
    r.wake();
    await r.drain({ timeoutMs: 30_000 });
    expect((await trail(t.id)).map((e) => e.id)).toEqual([...before, ...after, bad!.id]);
  });

  it('halves a batch a proxy refuses as too large, and parks only an event that cannot pass alone', { timeout: 60_000 }, async () => {
    const t = await newTenant('outbox-413');
    const p = await proxy();
    const orderId = `O-${randomUUID()}`;
    const small = await commitChanges(orderId, 40);
    const [big] = await app.begin((tx) => outbox(tx).logBulk([change(orderId, 40, { context: { note: 'x'.repeat(20_000) } })]));
    const rest = await commitChanges(orderId, 40);
    // A batch of 80 small events is ~17 KB; the proxy takes 6 KB at most.
    p.setMaxBodyBytes(6_000);
    const r = relay(t, { baseUrl: p.url });
    await r.drain({ timeoutMs: 30_000 });
    expect((await trail(t.id)).map((e) => e.id)).toEqual([...small, ...rest]);
    const status = await outboxStatus(db.ownerUrl);
    expect(status.parked.find((e) => e.id === big)).toMatchObject({ error: { status: 413, code: 'http_error' } });
    // The proxy's limit raised, the parked event goes through.
    p.setMaxBodyBytes(Infinity);
    await retryParked(db.ownerUrl, { ids: [big!] });
    r.wake();
    await r.drain({ timeoutMs: 30_000 });
    expect((await trail(t.id)).map((e) => e.id)).toEqual([...small, ...rest, big]);
  });

  it('with several relays on one outbox, one leads and the others wait; stopping the leader hands over; nothing is sent twice', { timeout: 90_000 }, async () => {
    const t = await newTenant('outbox-leaders');
    const group = [relay(t, { batchSize: 50 }), relay(t, { batchSize: 50 }), relay(t, { batchSize: 50 })];
    await until('a leader', () => group.filter((r) => r.stats().role === 'leader').length === 1 && group.filter((r) => r.stats().role === 'standby').length === 2);
    const orderId = `O-${randomUUID()}`;
    const ids: string[] = [];
    const writing = (async () => {
      for (let i = 0; i < 30; i++) {
        ids.push(...(await commitChanges(orderId, 20, 20)));
        await sleep(15);
      }
    })();
    await until('deliveries', () => group.some((r) => r.stats().sentEvents > 100));
    const leader = group.find((r) => r.stats().role === 'leader')!;
    await leader.stop();
    await until('a new leader', () => group.filter((r) => r.stats().role === 'leader').length === 1);
    await writing;
    const next = group.find((r) => r.stats().role === 'leader')!;
    await next.drain({ timeoutMs: 30_000 });

    expect((await trail(t.id)).map((e) => e.id)).toEqual(ids);
    expect(group.reduce((n, r) => n + r.stats().duplicateEvents, 0)).toBe(0);
    expect(group.reduce((n, r) => n + r.stats().createdEvents, 0)).toBe(600);
    expect(group.filter((r) => r.stats().sentEvents > 0).length).toBe(2);
  });

  it('reports an outbox that is not installed, and starts once it is', { timeout: 60_000 }, async () => {
    const t = await newTenant('outbox-not-installed');
    const fresh = await createOmsDatabase({ withOutbox: false });
    try {
      const errors: Error[] = [];
      const r = relay(t, { source: fresh.ownerUrl, onError: (e) => errors.push(e) });
      await until('the report', () => errors.some((e) => e instanceof OutboxNotReadyError));
      expect(errors.find((e) => e instanceof OutboxNotReadyError)!.message).toMatch(/oms-audit outbox init/);
      expect(r.stats().role).toBe('connecting');
      await installOutbox(fresh.ownerUrl);
      const owner = postgres(fresh.ownerUrl, { max: 1, onnotice: () => {} });
      let id: string;
      try {
        id = await owner.begin((tx) => outbox(tx).log(change('O-late', 1)));
      } finally {
        await owner.end();
      }
      await r.drain({ timeoutMs: 30_000 });
      expect((await trail(t.id)).map((e) => e.id)).toEqual([id]);
      await r.stop();
    } finally {
      await fresh.drop();
    }
  });
});

async function countStored(tenantId: string): Promise<number> {
  const [row] = await testSql()`select count(*)::int as n from public.audit_events where tenant_id = ${tenantId}`;
  return row!.n as number;
}
