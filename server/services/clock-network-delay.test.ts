/**
 * The measured network delay in a tenant's clock tolerance (docs/clock.md,
 * "Network delay in the tolerance"): half the smallest network round trip its
 * sources reported over the last day, capped, each change recorded in the
 * trail with its basis; a source overstating its round trips loosens nothing
 * while another reports honestly, and at most the cap when it is alone; a delay
 * set by hand is kept.
 */
import { describe, expect, it } from 'vitest';
import { baseUrl, call, event, newTenant, testSql } from '@/test/fixtures.ts';
import { clockTolerance, setClockTolerance } from './clock.ts';
import { calibrateNetworkDelays } from './clock-network-delay.ts';

const now = () => new Date().toISOString();
const claimsOf = (tenantId: string) => ({ tenant_id: tenantId, sub: 'test', role: 'authenticated' as const });

async function report(key: string, source: string, roundTripMs: string, occurredAt = now()) {
  const res = await call('POST', '/api/v1/audit/events', { key, headers: { 'x-audit-round-trip-ms': roundTripMs }, body: { events: [event({ source, occurred_at: occurredAt })] } });
  expect(res.status).toBe(201);
}

async function toleranceEvents(tenantId: string) {
  return testSql()`
    select written_by, context from public.audit_events
    where tenant_id = ${tenantId} and event_type = 'AUDIT_CLOCK_TOLERANCE' order by seq`;
}

describe('the measured network delay in the clock tolerance', () => {
  it('is half the smallest round trip of all sources, rounded up, recorded with its basis; the write path and exports then apply it', async () => {
    const t = await newTenant('net-delay');
    await report(t.writeKey, 'oms-near', '30');
    await report(t.writeKey, 'oms-near', '8.5');
    // A source that overstates its round trip raises nothing: the smallest report of all sources counts.
    await report(t.writeKey, 'oms-liar', '60000');
    expect(await clockTolerance(testSql(), claimsOf(t.id))).toMatchObject({ network_delay_ms: 0, network_delay_measured: true, max_network_delay_ms: 50 });

    const changes = await calibrateNetworkDelays(testSql(), { tenantIds: [t.id] });
    expect(changes).toEqual([expect.objectContaining({ tenant_id: t.id, before_ms: 0, after_ms: 5 })]);
    const tolerance = await clockTolerance(testSql(), claimsOf(t.id));
    expect(tolerance).toMatchObject({ tolerance_ms: 50, network_delay_ms: 5, network_delay_measured: true, updated_by: 'operator:clock-calibration' });
    expect(tolerance.network_delay_basis).toMatchObject({ min_round_trip_ms: 8.5, source: 'oms-near', window_hours: 24, max_network_delay_ms: 50, capped: false });
    expect(tolerance.network_delay_basis!.written_by).toMatch(/^api_key:/);

    // On the record, with what it was measured from.
    const recorded = await toleranceEvents(t.id);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]!.written_by).toBe('operator:clock-calibration');
    expect(recorded[0]!.context).toMatchObject({ before: { tolerance_ms: 50, network_delay_ms: 0 }, after: { tolerance_ms: 50, network_delay_ms: 5 }, network_delay_basis: { min_round_trip_ms: 8.5, source: 'oms-near' } });

    // Exports state it in their signed manifest (the one pair of numbers every clock_flag is recomputed under), and how it came about.
    const exported = await fetch(`${baseUrl()}/api/v1/audit/events/export?format=jsonl`, { headers: { authorization: `Bearer ${t.readKey}` } });
    expect(exported.status).toBe(200);
    await exported.arrayBuffer();
    const manifest = (await call('GET', new URL(exported.headers.get('x-audit-manifest')!, baseUrl()).pathname, { key: t.readKey })).body;
    expect(manifest.clock).toEqual({ tolerance_ms: 50, network_delay_ms: 5, network_delay_measured: true, max_network_delay_ms: 50 });
    // The write path flags new arrivals under it.
    await report(t.writeKey, 'oms-after', '9');
    const [minute] = await testSql()`select behind_limit_us, ahead_limit_us from public.clock_skew_minutes where tenant_id = ${t.id} and source = 'oms-after'`;
    expect(minute).toMatchObject({ behind_limit_us: 55000, ahead_limit_us: 50000 });

    // Unchanged measurements change nothing and record nothing.
    expect(await calibrateNetworkDelays(testSql(), { tenantIds: [t.id] })).toEqual([]);
    expect(await toleranceEvents(t.id)).toHaveLength(1);
  });

  it('gives a lone source that overstates its round trips at most the cap', async () => {
    const t = await newTenant('net-delay-cap');
    await report(t.writeKey, 'oms-liar', '60000');
    expect(await calibrateNetworkDelays(testSql(), { tenantIds: [t.id] })).toEqual([expect.objectContaining({ after_ms: 50 })]);
    expect((await clockTolerance(testSql(), claimsOf(t.id))).network_delay_basis).toMatchObject({ min_round_trip_ms: 60000, capped: true, max_network_delay_ms: 50 });

    // A lower cap applies at once.
    const { after } = await setClockTolerance(testSql(), claimsOf(t.id), { tolerance_ms: 50, network_delay_ms: 0, network_delay_measured: true, max_network_delay_ms: 20 }, 'user:admin');
    expect(after).toMatchObject({ network_delay_ms: 20, network_delay_measured: true, max_network_delay_ms: 20 });
    expect(after.network_delay_basis).toMatchObject({ capped: true, max_network_delay_ms: 20 });
  });

  it('keeps a network delay set by hand, and leaves tenants without reports alone', async () => {
    const manual = await newTenant('net-delay-manual');
    await setClockTolerance(testSql(), claimsOf(manual.id), { tolerance_ms: 40, network_delay_ms: 7 }, 'user:admin');
    await report(manual.writeKey, 'oms-near', '2');
    const silent = await newTenant('net-delay-silent');
    const res = await call('POST', '/api/v1/audit/events', { key: silent.writeKey, body: { events: [event({ source: 'oms-quiet', occurred_at: now() })] } });
    expect(res.status).toBe(201);

    expect(await calibrateNetworkDelays(testSql(), { tenantIds: [manual.id, silent.id] })).toEqual([]);
    // Every tenant (the server's hourly run) over a day long past: reports from outside the window change nothing anywhere.
    const pending = await newTenant('net-delay-later');
    await report(pending.writeKey, 'oms-near', '10');
    expect(await calibrateNetworkDelays(testSql(), { now: new Date('2001-01-01T00:00:00Z') })).toEqual([]);
    expect(await clockTolerance(testSql(), claimsOf(pending.id))).toMatchObject({ network_delay_ms: 0, updated_at: null });
    expect(await clockTolerance(testSql(), claimsOf(manual.id))).toMatchObject({ tolerance_ms: 40, network_delay_ms: 7, network_delay_measured: false });
    expect(await clockTolerance(testSql(), claimsOf(silent.id))).toMatchObject({ network_delay_ms: 0, network_delay_measured: true, updated_at: null });
    expect(await toleranceEvents(manual.id)).toHaveLength(0);
    expect(await toleranceEvents(silent.id)).toHaveLength(0);
  });
});
