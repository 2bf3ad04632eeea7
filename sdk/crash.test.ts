/**
 * kill -9 of the server under a sustained log() stream from another process:
 * what the SDK saw acknowledged before the kill is stored, and after the
 * restart every event the app logged is stored exactly once.
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
