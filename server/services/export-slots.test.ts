/**
 * Export slots: limits per tenant and per process, and the stalled-reader
 * clock (with fake timers); then the attack over HTTP against a server of this
 * test's own: a tenant's exports read by clients that read nothing are ended
 * after the stall time (manifest failed, slot freed) while another tenant's
 * export works.
 */
import http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { inject } from 'vitest';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import type { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { event, newTenant, testSql, type TestTenant } from '@/test/fixtures.ts';
import { startServer, type RunningServer } from '@/test/server.ts';
import { ExportSlots } from './export-slots.ts';
import { logEvents } from './ingest.ts';

afterEach(() => vi.useRealTimers());

describe('export slots', () => {
  it("refuses a tenant's export beyond its limit (429) while another tenant's still starts, and the process's beyond its own (503)", () => {
    const slots = new ExportSlots({ maxConcurrent: 3, perTenant: 2, stallMs: 0 });
    const a1 = slots.acquire('a');
    slots.acquire('a');
    expect(() => slots.acquire('a')).toThrow(expect.objectContaining({ status: 429, retryAfter: 30 }));
    slots.acquire('b');
    expect(() => slots.acquire('c')).toThrow(expect.objectContaining({ status: 503, retryAfter: 30 }));
    a1.release();
    a1.release(); // twice frees one slot only
    expect(slots.running()).toBe(2);
    expect(slots.running('a')).toBe(1);
    expect(() => slots.acquire('c')).not.toThrow();
  });

  it('ends an export whose reader takes nothing while data waits for it, and not one that waits on the database', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
    const slots = new ExportSlots({ maxConcurrent: 4, perTenant: 2, stallMs: 10_000 });
    const ended: AuditError[] = [];

    // Waiting on the database for a minute: no data for the reader, never ended.
    const slow = slots.acquire('a');
    slow.watch(() => false, (reason) => ended.push(reason));
    vi.advanceTimersByTime(60_000);
    expect(ended).toEqual([]);

    // A reader that keeps asking is never ended either.
    const steady = slots.acquire('b');
    steady.watch(() => true, (reason) => ended.push(reason));
    for (let i = 0; i < 12; i++) {
      vi.advanceTimersByTime(5_000);
      steady.progress();
    }
    expect(ended).toEqual([]);

    // Data waiting and no read for the stall time: ended once, with the reason.
    vi.advanceTimersByTime(11_000);
    expect(ended).toHaveLength(1);
    expect(ended[0]!.message).toBe('The export was ended: its reader took no data for 10 s');
    vi.advanceTimersByTime(60_000);
    expect(ended).toHaveLength(1);
    slow.release();
    steady.release();
    expect(slots.running()).toBe(0);
  });

  it('never ends an export when the stall time is 0', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
    const slots = new ExportSlots({ maxConcurrent: 2, perTenant: 1, stallMs: 0 });
    const end = vi.fn();
    slots.acquire('a').watch(() => true, end);
    vi.advanceTimersByTime(3_600_000);
    expect(end).not.toHaveBeenCalled();
  });
});

describe('exports whose readers read nothing', () => {
  const STALL_SECONDS = 3;
  let server: RunningServer;
  let a: TestTenant;
  let b: TestTenant;
  const open: http.ClientRequest[] = [];

  beforeAll(async () => {
    server = await startServer({
      databaseUrl: inject('databaseUrl'),
      env: { OMS_AUDIT_FUNCTIONS: 'false', EXPORT_STALL_SECONDS: String(STALL_SECONDS), MAX_CONCURRENT_EXPORTS: '3', EXPORTS_PER_TENANT: '2', RATE_LIMIT_READ_REQUESTS_PER_SEC: '100000' },
    });
    [a, b] = await Promise.all([newTenant('stall-a'), newTenant('stall-b')]);
    // About 30 MB of CSV: far more than the sockets and streams between COPY and a client that reads nothing can hold.
    for (let i = 0; i < 12; i++) {
      const events = parseBatch({ events: Array.from({ length: 100 }, () => event({ context: { note: 'n'.repeat(24 * 1024) } })) }, 500);
      await logEvents(testSql(), { tenantId: a.id, writer: { kind: 'operator', name: 'test' } }, events, { ip: null, userAgent: 'test' }, 'rest');
    }
    const few = parseBatch({ events: Array.from({ length: 50 }, () => event()) }, 500);
    await logEvents(testSql(), { tenantId: b.id, writer: { kind: 'operator', name: 'test' } }, few, { ip: null, userAgent: 'test' }, 'rest');
  }, 300_000);
  afterAll(async () => {
    for (const req of open) req.destroy();
    await server?.stop();
  });

  const exportUrl = () => `${server.baseUrl}/api/v1/audit/events/export?format=csv`;

  /** Starts an export and reads nothing after its headers: resolves with the export's id. */
  function stalledExport(tenant: TestTenant): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = http.get(exportUrl(), { headers: { authorization: `Bearer ${tenant.readKey}` } }, (res) => {
        res.pause();
        if (res.statusCode !== 200) reject(new Error(`export answered ${res.statusCode}`));
        else resolve(res.headers['x-audit-export-id'] as string);
      });
      req.on('error', () => {});
      open.push(req);
    });
  }

  /** The export's manifest, as its tenant reads it. */
  async function manifestOf(tenant: TestTenant, id: string): Promise<{ status: string; error: string | null; row_count: number | null }> {
    const res = await fetch(`${server.baseUrl}/api/v1/audit/exports/${id}/manifest`, { headers: { authorization: `Bearer ${tenant.readKey}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as { status: string; error: string | null; row_count: number | null };
  }

  /** A whole export of the tenant (its trail also holds the records of its earlier exports). */
  async function expectComplete(tenant: TestTenant, atLeast: number): Promise<void> {
    const res = await fetch(exportUrl(), { headers: { authorization: `Bearer ${tenant.readKey}` }, signal: AbortSignal.timeout(240_000) });
    expect(res.status).toBe(200);
    const rows = (await res.text()).split('\r\n').filter(Boolean).length - 1;
    expect(rows).toBeGreaterThanOrEqual(atLeast);
    await expect.poll(() => manifestOf(tenant, res.headers.get('x-audit-export-id')!), { timeout: 60_000 }).toMatchObject({ status: 'complete', row_count: rows });
  }

  it("ends tenant A's stalled exports after the stall time while tenant B exports, and frees A's slots", { timeout: 300_000 }, async () => {
    const stalled = [await stalledExport(a), await stalledExport(a)];

    // A holds its two slots: a third export of A is refused, B's starts and completes.
    const third = await fetch(exportUrl(), { headers: { authorization: `Bearer ${a.readKey}` } });
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBe('30');
    expect(await third.json()).toMatchObject({ error: { code: 'rate_limited' } });
    await expectComplete(b, 50);

    // A's exports end: the reason in their manifests, their slots free again.
    for (const id of stalled) {
      await expect.poll(() => manifestOf(a, id), { timeout: 120_000, interval: 250 }).toMatchObject({ status: 'failed', error: `The export was ended: its reader took no data for ${STALL_SECONDS} s` });
    }
    await expectComplete(a, 1200);
  });
});
