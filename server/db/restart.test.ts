/**
 * PostgreSQL restarted under ingest (a database and server of this test's
 * own): requests in the gap fail fast with 503 and Retry-After, never 500
 * and never a hang; the pool reconnects; the SDK stores everything once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, type Sql } from '@/supabase/functions/_shared/db.ts';
import { createApiKey } from '@/server/services/api-keys.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { createAuditClient } from '@/sdk/index.ts';
import { event } from '@/test/fixtures.ts';
import { freePort } from '@/test/ports.ts';
import { startServer, type RunningServer } from '@/test/server.ts';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded.ts';
import { migrate } from './migrate.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const REQUEST_TIMEOUT_MS = 15_000;

let dataDir = '';
let database: EmbeddedDatabase | undefined;
let server: RunningServer | undefined;
let sql: Sql | undefined;
afterAll(async () => {
  await sql?.end({ timeout: 1 });
  await server?.stop();
  await database?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

interface Probe {
  status: number | 'timeout' | 'network';
  retryAfter: string | null;
  code?: string;
  ms: number;
}

/** One REST write and one tRPC read, each with a deadline: what a client sees at this moment. */
async function probe(baseUrl: string, key: string): Promise<Probe[]> {
  const requests = [
    () => fetch(`${baseUrl}/api/v1/audit/events`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ events: [event()] }), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }),
    () => fetch(`${baseUrl}/api/trpc/events.count?input=${encodeURIComponent('{}')}`, { headers: { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }),
  ];
  return Promise.all(
    requests.map(async (send): Promise<Probe> => {
      const started = performance.now();
      try {
        const res = await send();
        const body = (await res.json()) as { error?: { code?: string; data?: { auditCode?: string } } };
        return { status: res.status, retryAfter: res.headers.get('retry-after'), code: body.error?.data?.auditCode ?? body.error?.code, ms: performance.now() - started };
      } catch (err) {
        return { status: (err as Error).name === 'TimeoutError' ? 'timeout' : 'network', retryAfter: null, ms: performance.now() - started };
      }
    }),
  );
}

describe('PostgreSQL restarted during ingest', () => {
  it('answers 503 with Retry-After meanwhile, recovers its pool, and the SDK stores everything once', { timeout: 120_000 }, async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'oms-audit-pg-restart-'));
    const pgPort = await freePort();
    database = await startEmbeddedPostgres({ dataDir, port: pgPort, ephemeral: true });
    const owner = connect(database.ownerUrl, { max: 1 });
    await migrate(owner);
    await owner.end();
    sql = connect(database.runtimeUrl, { max: 2 });
    const tenant = await createTenant(sql, 'pg-restart');
    const { key } = await createApiKey(sql, { tenantId: tenant.id, scopes: ['events:write', 'events:read'], name: 'app' });
    server = await startServer({ databaseUrl: database.runtimeUrl, dataDir: path.join(dataDir, 'server'), env: { OMS_AUDIT_FUNCTIONS: 'false', API_KEY_CACHE_SECONDS: '0' } });
    const baseUrl = server.baseUrl;

    let retries = 0;
    const audit = createAuditClient({ baseUrl, apiKey: key, flushIntervalMs: 10, retry: { baseMs: 50, maxMs: 400 }, onRetry: () => retries++ });
    const logged: string[] = [];
    let delivered = false;
    const producer = (async () => {
      for (let i = 0; i < 3000; i++) {
        logged.push((await audit.log(event({ object_id: `ORD-${i}` })))!);
        if (i % 10 === 9) await sleep(20);
      }
    })();
    const probes: Probe[] = [];
    const gap = { open: false };
    const downProbes: Probe[] = [];
    // A probe every 100 ms, each on its own: one slow answer does not hide the others.
    const sentProbes: Promise<void>[] = [];
    const prober = (async () => {
      while (!delivered) {
        const duringGap = gap.open;
        sentProbes.push(
          probe(baseUrl, key).then((seen) => {
            probes.push(...seen);
            if (duringGap) downProbes.push(...seen);
          }),
        );
        await sleep(100);
      }
      await Promise.all(sentProbes);
    })();

    while (logged.length < 800) await sleep(10);
    gap.open = true;
    await database.stop();
    await sleep(1500);
    database = await startEmbeddedPostgres({ dataDir, port: pgPort, ephemeral: true });
    gap.open = false;
    await producer;
    await audit.flush();
    delivered = true;
    await prober;

    // While PostgreSQL was away: 503 + Retry-After (or a success just before the stop), never 500, never a hang.
    expect(downProbes.length).toBeGreaterThan(0);
    const unavailable = downProbes.filter((p) => p.status === 503);
    expect(unavailable.length).toBeGreaterThan(0);
    expect(unavailable.every((p) => p.retryAfter === '1' && p.code === 'unavailable')).toBe(true);
    expect(probes.filter((p) => typeof p.status !== 'number' || p.status >= 500).filter((p) => p.status !== 503)).toEqual([]);
    expect(Math.max(...probes.map((p) => p.ms))).toBeLessThan(REQUEST_TIMEOUT_MS);
    // The pool is back: the same server answers writes and reads.
    expect((await probe(baseUrl, key)).map((p) => p.status)).toEqual([201, 200]);

    // The SDK retried through the gap and stored each of its events exactly once.
    expect(retries).toBeGreaterThan(0);
    const rows = await sql`select id, count(*)::int as n from public.audit_events where tenant_id = ${tenant.id} group by id`;
    const stored = new Map(rows.map((r) => [r.id as string, r.n as number]));
    for (const id of logged) expect(stored.get(id), id).toBe(1);
  });
});
