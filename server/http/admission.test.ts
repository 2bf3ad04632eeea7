/**
 * A sustained overload of bulk writes against a server of this test's own:
 * the excess is shed with 503 + Retry-After before its body is read, memory
 * stays under a ceiling, reads still answer, and every accepted event is stored.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { countEvents, event, newTenant } from '@/test/fixtures.ts';
import { startServer, type RunningServer } from '@/test/server.ts';
import { isWriteRequest } from './admission.ts';

/** The server process's resident memory may not exceed this, however much is offered. */
const RSS_CEILING_MB = 768;
const OFFER_MS = 5000;
const CLIENTS = 120;

let server: RunningServer | undefined;
afterAll(() => server?.stop());

function rssMb(pid: number): number {
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return kb / 1024;
}

describe('write admission', () => {
  it('knows which requests store events', () => {
    expect(isWriteRequest('POST', '/api/v1/audit/events')).toBe(true);
    expect(isWriteRequest('POST', '/api/v1/audit/event')).toBe(true);
    expect(isWriteRequest('POST', '/api/trpc/events.logBulk')).toBe(true);
    expect(isWriteRequest('POST', '/api/trpc/events.list,events.log?batch=1')).toBe(true);
    expect(isWriteRequest('GET', '/api/v1/audit/events?limit=5')).toBe(false);
    expect(isWriteRequest('POST', '/api/trpc/events.list')).toBe(false);
    expect(isWriteRequest('POST', '/api/trpc/savedSearches.create')).toBe(false);
  });

  it('sheds an overload with 503 + Retry-After, in bounded memory, while reads still answer', { timeout: 90_000 }, async () => {
    server = await startServer({
      databaseUrl: inject('databaseUrl'),
      env: { OMS_AUDIT_FUNCTIONS: 'false', MAX_INFLIGHT_WRITES: '16', RATE_LIMIT_WRITE_EVENTS_PER_SEC: '100000000', RATE_LIMIT_READ_REQUESTS_PER_SEC: '100000' },
    });
    const pid = server.process.pid!;
    const t = await newTenant('overload');
    const body = JSON.stringify({ events: Array.from({ length: 500 }, () => ({ ...event(), context: { note: 'x'.repeat(300) } })) }).replace(/"id":"[^"]*",?/g, '');
    const statuses = new Map<number, number>();
    const retryAfter = new Set<string | null>();
    let created = 0;
    let peakRss = rssMb(pid);
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMb(pid))), 100);

    const deadline = Date.now() + OFFER_MS;
    const offer = Array.from({ length: CLIENTS }, async () => {
      while (Date.now() < deadline) {
        const res = await fetch(`${server!.baseUrl}/api/v1/audit/events`, { method: 'POST', headers: { authorization: `Bearer ${t.writeKey}`, 'content-type': 'application/json' }, body }).catch(() => null);
        if (!res) continue;
        const json = (await res.json()) as { created_count?: number };
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 201) created += json.created_count!;
        if (res.status === 503) retryAfter.add(res.headers.get('retry-after'));
      }
    });
    // A read in the middle of the overload.
    await new Promise((r) => setTimeout(r, OFFER_MS / 2));
    const readStarted = performance.now();
    const read = await fetch(`${server.baseUrl}/api/v1/audit/events?limit=10`, { headers: { authorization: `Bearer ${t.readKey}` }, signal: AbortSignal.timeout(20_000) });
    const readMs = performance.now() - readStarted;
    await Promise.all(offer);
    clearInterval(sampler);

    expect(read.status).toBe(200);
    expect(readMs).toBeLessThan(10_000);
    expect(statuses.get(503) ?? 0).toBeGreaterThan(0);
    expect([...retryAfter]).toEqual(['1']);
    expect([...statuses.keys()].sort()).toEqual([201, 503]);
    expect(peakRss).toBeLessThan(RSS_CEILING_MB);
    // Whatever was accepted is stored; whatever was shed is not.
    expect(await countEvents(t.id)).toBe(created);
    console.log(`overload: ${JSON.stringify(Object.fromEntries(statuses))}, peak RSS ${Math.round(peakRss)} MB, read ${Math.round(readMs)} ms`);
  });
});
