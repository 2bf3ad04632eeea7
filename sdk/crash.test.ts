/**
 * kill -9 of the server under a sustained log() stream from another process:
 * what the SDK saw acknowledged before the kill is stored, and after the
 * restart every event the app logged is stored exactly once; after an outage
 * of several seconds, buffered events flow again within moments of the
 * server's return.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { newTenant, testSql } from '@/test/fixtures.ts';
import { freePort } from '@/test/ports.ts';
import { startServer, type RunningServer } from '@/test/server.ts';

const servers: RunningServer[] = [];
const children: ChildProcess[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.all(servers.map((s) => s.stop()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function serve(port: number, dataDir: string): Promise<RunningServer> {
  // The edge function is not involved: the app's log() goes through tRPC.
  const server = await startServer({ databaseUrl: inject('databaseUrl'), port, dataDir, env: { OMS_AUDIT_FUNCTIONS: 'false' } });
  servers.push(server);
  return server;
}

/** The app's progress as it reports it on stdout. */
function watch(child: ChildProcess) {
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  return {
    output: () => output,
    sent: () => [...output.matchAll(/^sent (\S+)$/gm)].map((m) => m[1]!),
    acked: () => Math.max(0, ...[...output.matchAll(/^acked (\d+)$/gm)].map((m) => Number(m[1]))),
    done: () => /^done$/m.test(output),
  };
}

async function until(what: string, check: () => boolean, app: ReturnType<typeof watch>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${app.output().slice(-2000)}`);
    await sleep(20);
  }
}

async function stored(tenantId: string): Promise<Map<string, number>> {
  const rows = await testSql()`select id, count(*)::int as n from public.audit_events where tenant_id = ${tenantId} group by id`;
  return new Map(rows.map((r) => [r.id as string, r.n as number]));
}

describe('kill -9 of the server during a log() stream from another process', () => {
  it('keeps every acknowledged event, and stores every logged event exactly once after the restart', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const dataDir = await mkdtemp(path.join(tmpdir(), 'oms-audit-crash-'));
    dirs.push(dataDir);
    const first = await serve(port, dataDir);
    const t = await newTenant('crash');
    const count = 4000;

    const child = spawn(process.execPath, ['--import', 'tsx', 'sdk/stream.fixture.ts'], {
      env: { ...process.env, BASE_URL: first.baseUrl, API_KEY: t.key, COUNT: String(count) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    const app = watch(child);

    await until('the first acknowledgements', () => app.acked() >= 800, app);
    await first.stop('SIGKILL');
    // Every event acknowledged before the kill is committed (the ids the app saw first, in order).
    const ackedBeforeKill = app.sent().slice(0, app.acked());
    const afterKill = await stored(t.id);
    expect(ackedBeforeKill.length).toBeGreaterThanOrEqual(800);
    expect(ackedBeforeKill.filter((id) => !afterKill.has(id))).toEqual([]);
    // The app keeps logging while the server is gone.
    const sentAtKill = app.sent().length;
    await sleep(500);
    expect(app.sent().length).toBeGreaterThan(sentAtKill);

    await serve(port, dataDir);
    await until('the app to finish', app.done, app);

    const sent = app.sent();
    expect(sent).toHaveLength(count);
    const ids = await stored(t.id);
    expect(new Set(ids.keys())).toEqual(new Set(sent));
    expect([...ids.values()].filter((n) => n !== 1)).toEqual([]);
    const [ledger] = await testSql()`select count(*)::int as n, max(seq)::int as max from public.audit_ledger where tenant_id = ${t.id}`;
    expect(ledger).toEqual({ n: count, max: count });
  });
});

describe('the SDK after an outage of the server', () => {
  it('sends buffered events within 2 s of the server being back, and flush() returns within 10 s of it', { timeout: 180_000 }, async () => {
    const port = await freePort();
    const dataDir = await mkdtemp(path.join(tmpdir(), 'oms-audit-recovery-'));
    dirs.push(dataDir);
    const first = await serve(port, dataDir);
    const t = await newTenant('recovery');
    const count = async () => (await testSql()`select count(*)::int as n from public.audit_events where tenant_id = ${t.id}`)[0]!.n as number;

    // The SDK with its default settings, as an app runs it.
    const child = spawn(process.execPath, ['--import', 'tsx', 'sdk/recovery.fixture.ts'], {
      env: { ...process.env, BASE_URL: first.baseUrl, API_KEY: t.key },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.push(child);
    const app = watch(child);
    let flushedAt = 0;
    child.stdout!.on('data', () => {
      if (!flushedAt && /^flushed /m.test(app.output())) flushedAt = Date.now();
    });
    const storedSoFar = Date.now() + 60_000;
    while ((await count()) < 100) {
      if (Date.now() > storedSoFar) throw new Error(`the app's events are not being stored:\n${app.output().slice(-2000)}`);
      await sleep(50);
    }

    await first.stop('SIGKILL');
    const killedAt = Date.now();
    const storedAtKill = await count();
    // Three seconds into the outage the app asks for everything to be stored; it cannot be yet.
    await sleep(3000);
    child.stdin!.write('flush\n');
    await sleep(Math.max(0, killedAt + 6000 - Date.now()));
    expect(flushedAt).toBe(0);

    await serve(port, dataDir);
    const recoveredAt = Date.now();
    let flowingAt = 0;
    while (!flowingAt && Date.now() - recoveredAt < 30_000) {
      if ((await count()) > storedAtKill) flowingAt = Date.now();
      else await sleep(25);
    }
    await until('flush() to return', () => flushedAt > 0, app);

    const outage = recoveredAt - killedAt;
    const flowDelay = flowingAt - recoveredAt;
    const flushDelay = flushedAt - recoveredAt;
    console.log(`outage ${outage} ms; buffered events flowing ${flowDelay} ms and flush() returned ${flushDelay} ms after the server was back`);
    expect(outage).toBeGreaterThanOrEqual(6000);
    expect(flowingAt).toBeGreaterThan(0);
    // 2 s is the promise; the rest is room for a busy machine (without the probe, the pause grew to up to 30 s).
    expect(flowDelay).toBeLessThanOrEqual(3000);
    expect(flushDelay).toBeLessThanOrEqual(10_000);

    const ids = JSON.parse(/^flushed (.*)$/m.exec(app.output())![1]!) as string[];
    const stored = await testSql()`select id from public.audit_events where tenant_id = ${t.id}`;
    expect(new Set(stored.map((r) => r.id as string))).toEqual(new Set(ids));
    expect(stored).toHaveLength(ids.length);
  });
});
