/**
 * Clock evidence with fake clocks: our clock is pinned (performance.now), the
 * sources' clocks are whatever their occurred_at says. A source 200 ms fast is
 * flagged, one within tolerance is not, and the per-minute figures are exactly
 * what the stored events say.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Caller } from '@/server/auth/caller.ts';
import { createContextInner } from '@/server/context.ts';
import { appRouter } from '@/server/routers/_app.ts';
import { createCallerFactory } from '@/server/trpc.ts';
import { parseBatch, type AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import { appendEvents } from '@/supabase/functions/_shared/ingest.ts';
import { SKEW_BUCKET_EDGES_US } from '@/supabase/functions/_shared/clock.ts';
import { clockReport, clockWindow } from './clock.ts';
import { call, countEvents, event, newMember, newTenant, testSql } from '@/test/fixtures.ts';

const api = (caller: Caller) => createCallerFactory(appRouter)(createContextInner({ caller, sql: testSql() }));
const MINUTE = 60_000;

/** Our clock, pinned to `ms` while `fn` runs. */
async function at<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  const spy = vi.spyOn(performance, 'now').mockReturnValue(ms - performance.timeOrigin);
  try {
    return await fn();
  } finally {
    spy.mockRestore();
  }
}

/** The middle of the minute before the current one: a whole minute, in the past, in this month's partition or the last. */
function pinnedNow(): number {
  return Math.floor(Date.now() / MINUTE) * MINUTE - MINUTE + 30_000;
}

const iso = (ms: number, extraMicros = 0) => new Date(ms).toISOString().replace('Z', `${String(extraMicros).padStart(3, '0')}Z`);

async function write(tenantId: string, keyId: string, events: AuditEventRequest[]) {
  return appendEvents(testSql(), { tenantId, writer: { kind: 'api_key', keyId } }, parseBatch({ events }, 500), { ip: null, userAgent: null }, 'rest');
}

async function admin(tenantId: string): Promise<Caller> {
  const { user } = await newMember(tenantId, 'admin');
  return { kind: 'user', userId: user.id, email: user.email, memberships: user.memberships, tenantId };
}

afterEach(() => vi.restoreAllMocks());

describe('clock evidence', () => {
  it('flags a source 200 ms fast and one 300 ms slow, not one within tolerance, and counts only what was stored', async () => {
    const tenant = await newTenant('clock');
    const keyId = randomUUID();
    const now = pinnedNow();
    const fast = [event({ source: 'oms-fast', occurred_at: iso(now + 199, 500) }), event({ source: 'oms-fast', occurred_at: iso(now + 201) })];
    const good = [event({ source: 'oms-good', occurred_at: iso(now - 12) }), event({ source: 'oms-good', occurred_at: iso(now + 30) }), event({ source: 'oms-good', occurred_at: iso(now - 49) })];
    const slow = [event({ source: 'oms-slow', occurred_at: iso(now - 300) })];
    // No occurred_at of its own: stamped with received_at, no evidence about any clock.
    const unstamped = event({ source: 'oms-good' });
    const batch = [...fast, ...good, ...slow, unstamped].map((e) => ({ ...e, id: randomUUID() }));
    await at(now, () => write(tenant.id, keyId, batch));
    // A retry of the same batch stores nothing and adds nothing.
    const retry = await at(now + 5, () => write(tenant.id, keyId, batch));
    expect(retry.duplicate_count).toBe(batch.length);

    const caller = await admin(tenant.id);
    const report = await api(caller).clock.report({ minutes: 5 });
    expect(report.tolerance).toMatchObject({ tolerance_ms: 50, network_delay_ms: 0, updated_at: null });
    const bySource = Object.fromEntries(report.sources.map((s) => [s.source, s]));
    expect(Object.keys(bySource).sort()).toEqual(['oms-fast', 'oms-good', 'oms-slow']);
    const minute = iso(Math.floor(now / MINUTE) * MINUTE, 0);

    expect(bySource['oms-fast']).toMatchObject({ written_by: `api_key:${keyId}`, events: 2, flagged_ahead: 2, flagged_behind: 0, min_ms: -201, max_ms: -199.5, mean_ms: -200.25 });
    expect(bySource['oms-fast']!.minutes).toEqual([
      { minute, events: 2, ahead_events: 2, flagged_ahead: 2, flagged_behind: 0, min_ms: -201, max_ms: -199.5, mean_ms: -200.25, buckets: bucketsOf([-199_500, -201_000]), round_trips: 0, min_round_trip_ms: null, max_round_trip_ms: null },
    ]);
    expect(bySource['oms-good']).toMatchObject({ events: 3, flagged_ahead: 0, flagged_behind: 0, min_ms: -30, max_ms: 49 });
    expect(bySource['oms-good']!.minutes[0]!.ahead_events).toBe(1);
    expect(bySource['oms-slow']).toMatchObject({ events: 1, flagged_ahead: 0, flagged_behind: 1, min_ms: 300, max_ms: 300 });

    // Each event's detail says how far its clock was off and whether that is beyond the tolerance.
    const [fastEvent, goodEvent, slowEvent] = [batch[0]!, batch[2]!, batch[5]!];
    expect(await api(caller).clock.event({ id: fastEvent.id! })).toMatchObject({ skew_ms: -199.5, flag: 'ahead' });
    expect(await api(caller).clock.event({ id: goodEvent.id! })).toMatchObject({ skew_ms: 12, flag: null });
    expect(await api(caller).clock.event({ id: slowEvent.id! })).toMatchObject({ skew_ms: 300, flag: 'behind' });
    expect(await api(caller).clock.event({ id: batch.at(-1)!.id! })).toMatchObject({ skew_ms: null, flag: null });
  });

  it('keeps figures an outsider can recompute from the events themselves', async () => {
    const tenant = await newTenant('clock-recompute');
    const now = pinnedNow();
    const offsets = [-250, -40, 0.5, 3, 17, 60, 120, 999, 4000, 7000];
    await at(now, () => write(tenant.id, randomUUID(), offsets.map((o) => event({ source: 'oms-a', occurred_at: iso(now - o) }))));
    await at(now + 1000, () => write(tenant.id, randomUUID(), offsets.slice(0, 4).map((o) => event({ source: 'oms-a', occurred_at: iso(now + 1000 - o) }))));
    const [stored] = await testSql()`
      select sum(events)::int as events, min(min_skew_us)::bigint as min, max(max_skew_us)::bigint as max, sum(sum_skew_us)::bigint as sum
      from public.clock_skew_minutes where tenant_id = ${tenant.id}`;
    const [recomputed] = await testSql()`
      select count(*)::int as events, min(d)::bigint as min, max(d)::bigint as max, sum(d)::bigint as sum
      from (select (extract(epoch from received_at - occurred_at) * 1000000)::bigint as d
            from public.audit_events where tenant_id = ${tenant.id} and occurred_at <> received_at) x`;
    expect(stored).toEqual(recomputed);
    expect(Number(stored!.events)).toBe(14);
  });

  it('flags under the tenant tolerance plus network delay, and records who changed it', async () => {
    const tenant = await newTenant('clock-tolerance');
    const caller = await admin(tenant.id);
    const set = await api(caller).clock.setTolerance({ tolerance_ms: 250, network_delay_ms: 100 });
    expect(set).toMatchObject({ tolerance_ms: 250, network_delay_ms: 100, updated_by: `user:${(caller as { userId: string }).userId}` });
    const now = pinnedNow();
    await at(now, () =>
      write(tenant.id, randomUUID(), [
        event({ source: 'oms-fast', occurred_at: iso(now + 200) }), // within 250 ms ahead
        event({ source: 'oms-fast', occurred_at: iso(now + 260) }), // beyond
        event({ source: 'oms-slow', occurred_at: iso(now - 340) }), // within 250 + 100 behind
        event({ source: 'oms-slow', occurred_at: iso(now - 360) }), // beyond
      ]),
    );
    const report = await api(caller).clock.report({ minutes: 5 });
    const bySource = Object.fromEntries(report.sources.map((s) => [s.source, s]));
    expect(bySource['oms-fast']).toMatchObject({ events: 2, flagged_ahead: 1, flagged_behind: 0 });
    expect(bySource['oms-slow']).toMatchObject({ events: 2, flagged_ahead: 0, flagged_behind: 1 });

    const [record] = await testSql()`
      select actor_id, context from public.audit_events where tenant_id = ${tenant.id} and event_type = 'AUDIT_CLOCK_TOLERANCE'`;
    expect(record!.context).toMatchObject({ before: { tolerance_ms: 50, network_delay_ms: 0 }, after: { tolerance_ms: 250, network_delay_ms: 100 } });
  });

  it('may be read by viewers and read keys, changed by admins only, and shows no other tenant', async () => {
    const [tenant, other] = await Promise.all([newTenant('clock-roles'), newTenant('clock-other')]);
    const now = pinnedNow();
    await at(now, () => write(other.id, randomUUID(), [event({ source: 'elsewhere', occurred_at: iso(now - 5) })]));
    const { user } = await newMember(tenant.id, 'viewer');
    const viewer: Caller = { kind: 'user', userId: user.id, email: user.email, memberships: user.memberships, tenantId: tenant.id };
    expect((await api(viewer).clock.report({ minutes: 5 })).sources).toEqual([]);
    await expect(api(viewer).clock.setTolerance({ tolerance_ms: 1, network_delay_ms: 0 })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const reader: Caller = { kind: 'api_key', keyId: randomUUID(), tenantId: tenant.id, scopes: ['events:read'] };
    expect((await api(reader).clock.tolerance()).tolerance_ms).toBe(50);
    await expect(api(reader).clock.report({ minutes: 24 * 60 + 1 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});

describe('clock metrics', () => {
  it("export each source's skew, flagged events and last reported sync to Prometheus", async () => {
    const tenant = await newTenant('clock-metrics');
    const keyId = randomUUID();
    const now = pinnedNow();
    await at(now, () =>
      write(tenant.id, keyId, [
        event({ source: 'oms-fast', occurred_at: iso(now + 200) }),
        event({ source: 'oms-good', occurred_at: iso(now - 20) }),
        event({ event_type: 'CLOCK_SYNC', source: 'oms-fast', occurred_at: iso(now - 10), context: { offset_ms: 180.5, reference: 'NIST time.nist.gov' } }),
      ]),
    );
    const res = await call('GET', '/api/metrics');
    expect(res.status).toBe(200);
    const lines = (res.body as string).split('\n').filter((l) => l.includes(`tenant="${tenant.id}"`));
    const value = (name: string, ...labels: string[]) => {
      const line = lines.find((l) => l.startsWith(`${name}{`) && labels.every((label) => l.includes(label)));
      return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    const by = `written_by="api_key:${keyId}"`;
    expect(value('oms_audit_clock_skew_flagged_events', 'source="oms-fast"', by, 'direction="ahead"')).toBe(1);
    expect(value('oms_audit_clock_skew_flagged_events', 'source="oms-good"', by, 'direction="ahead"')).toBe(0);
    expect(value('oms_audit_clock_skew_flagged_events', 'source="oms-good"', by, 'direction="behind"')).toBe(0);
    expect(value('oms_audit_clock_skew_seconds', 'source="oms-fast"', by, 'stat="min"')).toBeCloseTo(-0.2, 9);
    expect(value('oms_audit_clock_skew_seconds', 'source="oms-good"', by, 'stat="max"')).toBeCloseTo(0.02, 9);
    expect(value('oms_audit_clock_skew_events', 'source="oms-fast"', by)).toBe(2);
    expect(value('oms_audit_clock_sync_offset_seconds', 'source="oms-fast"')).toBeCloseTo(0.1805, 9);
    // The tolerance in force: this tenant set none, so the defaults (50 ms, a measured delay of 0, at most 50 ms).
    expect(value('oms_audit_clock_tolerance_seconds', 'part="tolerance"', 'measured="1"')).toBeCloseTo(0.05, 9);
    expect(value('oms_audit_clock_tolerance_seconds', 'part="network_delay"', 'measured="1"')).toBe(0);
    expect(value('oms_audit_clock_tolerance_seconds', 'part="max_network_delay"', 'measured="1"')).toBeCloseTo(0.05, 9);
  });
});

describe('CLOCK_SYNC', () => {
  it('is refused without a numeric offset and a reference, naming the event and field, and nothing is stored', async () => {
    const tenant = await newTenant('clock-sync-bad');
    const res = await call('POST', '/api/v1/audit/events', {
      key: tenant.key,
      body: {
        events: [
          event({ source: 'oms-a' }),
          event({ event_type: 'clock_sync', source: 'oms-a', context: { reference: 'NIST time.nist.gov' } }),
          event({ event_type: 'CLOCK_SYNC', source: 'oms-a', context: { offset_ms: '0.3', reference: '' } }),
          event({ event_type: 'CLOCK_SYNC', source: 'oms-a', context: { offset_ms: 0.3, reference: 'GPS', max_error_ms: -1 } }),
        ],
      },
    });
    expect(res.status).toBe(400);
    expect((res.body as { error: { issues: unknown[] } }).error.issues).toEqual([
      { index: 1, field: 'context.offset_ms', message: 'is required for CLOCK_SYNC events' },
      { index: 2, field: 'context.offset_ms', message: 'must be a number of milliseconds' },
      { index: 2, field: 'context.reference', message: 'must not be empty' },
      { index: 3, field: 'context.max_error_ms', message: 'must not be negative' },
    ]);
    expect(await countEvents(tenant.id)).toBe(0);
  });

  it('is stored exactly as sent and shown beside the measured skew of its source, and in the sync log', async () => {
    const tenant = await newTenant('clock-sync');
    const sync = { offset_ms: 0.42, reference: 'NIST time.nist.gov', max_error_ms: 1.5, stratum: 2, method: 'NTP' };
    const occurred = new Date(Date.now() - 3).toISOString();
    const res = await call('POST', '/api/v1/audit/events', {
      key: tenant.key,
      body: { events: [event({ source: 'oms-a', occurred_at: occurred }), event({ event_type: 'CLOCK_SYNC', source: 'oms-a', occurred_at: occurred, context: sync })] },
    });
    expect(res.status).toBe(201);
    const [stored] = await testSql()`select context from public.audit_events where tenant_id = ${tenant.id} and event_type = 'CLOCK_SYNC'`;
    expect(stored!.context).toEqual(sync);

    const report = await call('GET', '/api/v1/audit/clock?minutes=10', { key: tenant.readKey });
    expect(report.status).toBe(200);
    const body = report.body as { sources: { source: string; events: number; last_sync: { offset_ms: number; reference: string; max_error_ms: number } | null }[]; syncs: unknown[] };
    expect(body.sources).toHaveLength(1);
    expect(body.sources[0]).toMatchObject({ source: 'oms-a', events: 2, last_sync: { offset_ms: 0.42, reference: 'NIST time.nist.gov', max_error_ms: 1.5 } });
    expect(body.syncs).toEqual([expect.objectContaining({ source: 'oms-a', offset_ms: 0.42, written_by: expect.stringMatching(/^api_key:/) })]);

    const wrong = await call('GET', '/api/v1/audit/clock?minutes=abc', { key: tenant.readKey });
    expect(wrong.status).toBe(400);
  });

  it("shows a fast source's report as its last sync when the report is dated after the window's end but was received within it", async () => {
    const tenant = await newTenant('clock-sync-ahead');
    const keyId = randomUUID();
    const now = pinnedNow();
    const minuteEnd = Math.floor(now / MINUTE) * MINUTE + MINUTE;
    // Received in the middle of the minute, dated by a clock 45 s fast: after the minute's end.
    const sync = event({ event_type: 'CLOCK_SYNC', source: 'oms-ahead', occurred_at: iso(now + 45_000), context: { offset_ms: 45_000, reference: 'NIST time.nist.gov' } });
    // An ordinary event of the source a minute earlier, so the source is in the earlier window too.
    await at(now - MINUTE, () => write(tenant.id, keyId, [event({ source: 'oms-ahead', occurred_at: iso(now - MINUTE + 45_000) })]));
    await at(now, () => write(tenant.id, keyId, [sync]));
    const claims = { tenant_id: tenant.id, sub: 'test', role: 'authenticated' as const };
    const report = await clockReport(testSql(), claims, clockWindow({ to: new Date(minuteEnd).toISOString(), minutes: 5 }));
    expect(report.sources.map((s) => [s.source, s.last_sync?.offset_ms])).toEqual([['oms-ahead', 45_000]]);
    // A window that ended before the report was received does not show it.
    const before = await clockReport(testSql(), claims, clockWindow({ to: new Date(minuteEnd - MINUTE).toISOString(), minutes: 5 }));
    expect(before.sources.map((s) => [s.source, s.last_sync])).toEqual([['oms-ahead', null]]);
  });
});

/** The bucket counts the documented edges give these skews (µs). */
function bucketsOf(skews: number[]): number[] {
  const counts = new Array<number>(SKEW_BUCKET_EDGES_US.length + 1).fill(0);
  for (const s of skews) counts[SKEW_BUCKET_EDGES_US.filter((edge) => s >= edge).length]!++;
  return counts;
}
