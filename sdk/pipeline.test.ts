/**
 * log() when the server goes away: retries until it is back (nothing lost,
 * nothing doubled), backpressure when the buffer is full, spill to a local folder.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { event, newTenant, testSql } from '@/test/fixtures.ts';
import { freePort } from '@/test/ports.ts';
import { startServer, type RunningServer } from '@/test/server.ts';
import { createAuditClient } from './index.ts';
import { fileSpill } from './node.ts';

const servers: RunningServer[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function serve(port: number, functionsPort: number): Promise<RunningServer> {
  const server = await startServer({ databaseUrl: inject('databaseUrl'), port, env: { FUNCTIONS_PORT: String(functionsPort) } });
  servers.push(server);
  return server;
}

/** Every stored id of the tenant, with how often it is stored. */
async function stored(tenantId: string): Promise<Map<string, number>> {
  const rows = await testSql()`select id, count(*)::int as n from public.audit_events where tenant_id = ${tenantId} group by id`;
  return new Map(rows.map((r) => [r.id as string, r.n as number]));
}

describe('log() across a server restart', () => {
  it('retries until the server is back and stores every event exactly once', async () => {
    const [port, functionsPort] = [await freePort(), await freePort()];
    const first = await serve(port, functionsPort);
    const t = await newTenant();
    let retries = 0;
    const audit = createAuditClient({
      baseUrl: first.baseUrl,
      functionsUrl: first.functionsBaseUrl,
      apiKey: t.key,
      flushIntervalMs: 10,
      retry: { baseMs: 50, maxMs: 500 },
      onRetry: () => retries++,
    });

    const logged: string[] = [];
    const producer = (async () => {
      for (let i = 0; i < 3000; i++) {
        logged.push((await audit.log(event({ object_id: `ORD-${i}` })))!);
        if (i % 20 === 19) await sleep(20);
      }
    })();
    while (logged.length < 800) await sleep(10);
    // Killed mid-stream: requests in flight get no answer, whether or not their events were committed.
    await first.stop('SIGKILL');
    await sleep(300);
    const second = await serve(port, functionsPort);
    await producer;
    await audit.flush();

    expect(retries).toBeGreaterThan(0);
    const ids = await stored(t.id);
    expect(new Set(ids.keys())).toEqual(new Set(logged));
    expect([...ids.values()].every((n) => n === 1)).toBe(true);
    const [{ n, max }] = (await testSql()`select count(*)::int as n, max(seq)::int as max from public.audit_ledger where tenant_id = ${t.id}`) as unknown as [{ n: number; max: number }];
    expect({ n, max }).toEqual({ n: 3000, max: 3000 });
    await second.stop();
  });
});

describe('log() with a full buffer', () => {
  it('makes producers wait for room (backpressure), or spills to a local folder, until the server answers', async () => {
    const [port, functionsPort] = [await freePort(), await freePort()];
    const t = await newTenant();
    const options = { baseUrl: `http://127.0.0.1:${port}`, apiKey: t.key, flushIntervalMs: 10, retry: { baseMs: 50, maxMs: 300 } };

    // Backpressure: 50 fit; the 51st log() waits.
    const waiting = createAuditClient({ ...options, maxBufferedEvents: 50 });
    const fits = await Promise.all(Array.from({ length: 50 }, () => waiting.log(event())));
    let admitted = false;
    const blocked = waiting.log(event()).then((id) => ((admitted = true), id));
    await sleep(500);
    expect(admitted).toBe(false);
    expect(waiting.stats()).toMatchObject({ waiting: 1, buffered: 50 - waiting.stats().inFlight });

    // Spill: nobody waits; what does not fit goes to disk.
    const spillDir = await mkdtemp(path.join(tmpdir(), 'oms-audit-spill-'));
    dirs.push(spillDir);
    const spilling = createAuditClient({ ...options, maxBufferedEvents: 20, spill: fileSpill(spillDir) });
    const spilled = await Promise.all(Array.from({ length: 200 }, () => spilling.log(event())));
    expect(spilling.stats()).toMatchObject({ spilled: 180, waiting: 0 });
    await sleep(400);
    const segments = (await readdir(spillDir)).filter((f) => f.endsWith('.jsonl'));
    expect(segments.reduce((n, f) => n + Number(/-(\d+)\.jsonl$/.exec(f)![1]), 0)).toBe(180);

    await serve(port, functionsPort);
    const late = await blocked;
    expect(admitted).toBe(true);
    await Promise.all([waiting.flush(), spilling.flush()]);
    const ids = await stored(t.id);
    expect(new Set(ids.keys())).toEqual(new Set([...fits, late, ...spilled]));
    expect(ids.size).toBe(251);
    expect(await readdir(spillDir)).toEqual([]);
  });
});
