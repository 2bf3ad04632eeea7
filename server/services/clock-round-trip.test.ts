/**
 * The network delay inside a source's skew (docs/clock.md, "Network delay"):
 * the SDK measures the round trip of its requests on its monotonic clock, takes
 * off the time the server says it worked (Server-Timing) and reports the last
 * one with the next request; the server keeps, per source
 * and minute, how many events came with one and the smallest and largest,
 * beside the skew they bound — in the report, on the System page and in the
 * metrics. A malformed report refuses the request and stores nothing.
 */
import { describe, expect, inject, it } from 'vitest';
import { createAuditClient } from '@/sdk/index.ts';
import { adminSql, baseUrl, call, countEvents, event, newTenant, testSql } from '@/test/fixtures.ts';
import { clockReport, clockWindow, type SourceClock } from './clock.ts';

const now = () => new Date().toISOString();

async function sourceClock(tenantId: string, source: string): Promise<SourceClock | undefined> {
  const report = await clockReport(testSql(), { tenant_id: tenantId, sub: 'test', role: 'authenticated' }, clockWindow({ minutes: 10 }));
  return report.sources.find((s) => s.source === source);
}

describe('network delay in the clock evidence', () => {
  it('keeps the round trips a client reports beside its source’s skew, in the report and the metrics', async () => {
    const t = await newTenant('round-trip');
    const post = (roundTrip: string | null, n: number) =>
      call('POST', '/api/v1/audit/events', {
        key: t.writeKey,
        headers: roundTrip === null ? {} : { 'x-audit-round-trip-ms': roundTrip },
        body: { events: Array.from({ length: n }, () => event({ source: 'oms-rt', occurred_at: now() })) },
      });
    expect((await post(null, 1)).status).toBe(201);
    expect((await post('12.5', 2)).status).toBe(201);
    expect((await post('3.25', 1)).status).toBe(201);
    await expect.poll(() => sourceClock(t.id, 'oms-rt')).toMatchObject({ events: 4, round_trips: 3, min_round_trip_ms: 3.25, max_round_trip_ms: 12.5 });

    const metrics = (await call('GET', '/api/metrics')).body as string;
    const lines = metrics.split('\n').filter((l) => l.startsWith('oms_audit_clock_round_trip_seconds') && l.includes(`tenant="${t.id}"`));
    // The metrics cover complete minutes: present once the minute of these events has ended.
    for (const line of lines) expect(line).toMatch(/stat="(min|max)"} (0\.00325|0\.0125)$/);
  });

  it('refuses a malformed round trip with 400 naming the header, and stores nothing', async () => {
    const t = await newTenant('round-trip-bad');
    for (const bad of ['-1', 'abc', '60000.001', '1.2345', '1e3']) {
      const res = await call('POST', '/api/v1/audit/events', { key: t.writeKey, headers: { 'x-audit-round-trip-ms': bad }, body: { events: [event({ occurred_at: now() })] } });
      expect(res.status, bad).toBe(400);
      expect(res.body.error.issues, bad).toEqual([expect.objectContaining({ field: 'header x-audit-round-trip-ms' })]);
    }
    expect(await countEvents(t.id)).toBe(0);
  });

  it('answers every ingest request with the server’s own time (Server-Timing)', async () => {
    const t = await newTenant('server-timing');
    const rest = await fetch(`${baseUrl()}/api/v1/audit/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.writeKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events: [event({ occurred_at: now() })] }),
    });
    expect(rest.status).toBe(201);
    expect(rest.headers.get('server-timing')).toMatch(/^oms-audit;dur=\d+\.\d{3}$/);
    const edge = await fetch(`${inject('functionsBaseUrl')}/functions/v1/audit-logger`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.writeKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events: [] }),
    });
    // Refusals carry it too: the client measured their round trip as well.
    expect(edge.status).toBe(400);
    expect(edge.headers.get('server-timing')).toMatch(/^oms-audit;dur=\d+\.\d{3}$/);
  });

  for (const transport of ['tRPC', 'edge function'] as const) {
    it(`reports the network's part of the round trip, without the server's own time (${transport})`, { timeout: 30_000 }, async () => {
      const t = await newTenant('round-trip-network');
      const source = `oms-net-${transport === 'tRPC' ? 'trpc' : 'edge'}`;
      const serverTimes: number[] = [];
      // The SDK's own fetch underneath: what came back on the wire, for the assertions only.
      const observed: typeof fetch = async (input, init) => {
        const res = await fetch(input, init);
        const timing = /dur=([\d.]+)/.exec(res.headers.get('server-timing') ?? '');
        if (timing) serverTimes.push(Number(timing[1]));
        return res;
      };
      const audit = createAuditClient({ baseUrl: baseUrl(), functionsUrl: transport === 'tRPC' ? undefined : inject('functionsBaseUrl'), apiKey: t.writeKey, fetch: observed });
      const HELD_MS = 1000;
      try {
        await audit.log(event({ source, occurred_at: now() }));
        await audit.flush();
        // The second request waits in the server for the tenant's sequence, locked here for HELD_MS: a slow server, a fast network.
        const held = await adminSql().begin(async (tx) => {
          await tx`select last_seq from oms_audit.tenant_sequences where tenant_id = ${t.id} for update`;
          const pid = (await tx<{ pid: number }[]>`select pg_backend_pid() as pid`)[0]!.pid;
          const second = (async () => {
            await audit.log(event({ source, occurred_at: now() }));
            await audit.flush();
          })();
          // Held for HELD_MS from the moment the second request waits on this lock (so inside the server's time).
          for (;;) {
            const blocked = await adminSql()<{ waiting: number }[]>`select count(*)::int as waiting from pg_stat_activity where ${pid}::int = any(pg_blocking_pids(pid))`;
            if (blocked[0]!.waiting) break;
            await new Promise((r) => setTimeout(r, 5));
          }
          await new Promise((r) => setTimeout(r, HELD_MS));
          return { second }; // committed (the lock released) before the second request can finish
        });
        await held.second;
        // The third request reports the second's round trip.
        await audit.log(event({ source, occurred_at: now() }));
        await audit.flush();
      } finally {
        await audit.shutdown();
      }
      expect(Math.max(...serverTimes)).toBeGreaterThanOrEqual(HELD_MS);
      const clock = await sourceClock(t.id, source);
      expect(clock).toMatchObject({ events: 3, round_trips: 2 });
      // The whole round trip of the second request was over HELD_MS; the server's time taken off leaves the loopback's.
      expect(clock!.max_round_trip_ms).toBeLessThan(HELD_MS / 2);
    });

    it(`is measured by the SDK on its own requests (${transport})`, async () => {
      const t = await newTenant('round-trip-sdk');
      const source = `oms-sdk-${transport === 'tRPC' ? 'trpc' : 'edge'}`;
      const audit = createAuditClient({ baseUrl: baseUrl(), functionsUrl: transport === 'tRPC' ? undefined : inject('functionsBaseUrl'), apiKey: t.writeKey });
      try {
        // The first request has no round trip to report yet; each later one reports its predecessor's.
        for (let i = 0; i < 3; i++) {
          await audit.log(event({ source, occurred_at: now() }));
          await audit.flush();
        }
      } finally {
        await audit.shutdown();
      }
      const clock = await sourceClock(t.id, source);
      expect(clock).toMatchObject({ events: 3, round_trips: 2 });
      expect(clock!.min_round_trip_ms).toBeGreaterThan(0);
      expect(clock!.max_round_trip_ms).toBeLessThan(60_000);
    });
  }
});
