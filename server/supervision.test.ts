/**
 * Stopping the server the way supervisors do: SIGTERM or SIGINT to the one
 * process that was started (`npm start`'s pid, or the server started without
 * npm). Writes in flight are answered (201, or 503 once the shutdown began),
 * the edge function and embedded PostgreSQL stop with it, no process is left,
 * server.pid goes, and the next start finds every acknowledged event. Also
 * after PostgreSQL was restarted underneath the server, and with a server.pid
 * naming an exited (unreaped) process.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '@/supabase/functions/_shared/db.ts';
import { createAuditClient } from '@/sdk/index.ts';
import { stopCluster } from '@/server/db/postmaster.ts';
import { isAlive, processStartTime } from '@/server/pids.ts';
import { event } from '@/test/fixtures.ts';
import { freePort } from '@/test/ports.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const started: ChildProcess[] = [];
let dataDir = '';
afterAll(async () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (dataDir) {
    await stopCluster(path.join(dataDir, 'pg'));
    await rm(dataDir, { recursive: true, force: true });
  }
});

/** Every process below `root`, read from /proc (Deno and PostgreSQL run in groups of their own, but are still its children). */
function descendants(root: number): { pid: number; command: string }[] {
  const parentOf = new Map<number, number>();
  const commandOf = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      parentOf.set(Number(entry), Number(stat.slice(close + 2).split(' ')[1]));
      commandOf.set(Number(entry), stat.slice(stat.indexOf('(') + 1, close));
    } catch {
      // exited meanwhile
    }
  }
  const found: { pid: number; command: string }[] = [];
  const queue = [root];
  while (queue.length) {
    const parent = queue.shift()!;
    for (const [pid, ppid] of parentOf) {
      if (ppid === parent) {
        found.push({ pid, command: commandOf.get(pid)! });
        queue.push(pid);
      }
    }
  }
  return found;
}

interface Started {
  child: ChildProcess;
  output: () => string;
}

function launch(command: string, args: string[], env: Record<string, string>): Started {
  const { DATABASE_URL: _u, DATABASE_OWNER_URL: _o, OMS_AUDIT_DEMO: _d, npm_lifecycle_event: _l, ...inherited } = process.env;
  let output = '';
  const child = spawn(command, args, { env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  started.push(child);
  return { child, output: () => output };
}

async function healthy(baseUrl: string, functionsUrl: string, server: Started): Promise<void> {
  for (let i = 0; i < 900; i++) {
    if (server.child.exitCode !== null) throw new Error(`server exited:\n${server.output()}`);
    const api = await fetch(`${baseUrl}/api/health`).catch(() => null);
    const edge = api?.status === 200 ? await fetch(functionsUrl, { method: 'OPTIONS' }).catch(() => null) : null;
    if (edge?.status === 204) return;
    await sleep(200);
  }
  throw new Error(`not healthy:\n${server.output()}`);
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => child.once('exit', () => r()));

async function allGone(pids: number[], deadline: number): Promise<number[]> {
  while (Date.now() < deadline && pids.some(isAlive)) await sleep(50);
  return pids.filter(isAlive);
}

/** Writes one event per request until told to stop; what each request got back. */
function writeContinuously(baseUrl: string, key: string) {
  const outcomes: { id: string; status: number | string }[] = [];
  let running = true;
  const loops = Array.from({ length: 4 }, async () => {
    while (running) {
      const e = event({ id: randomUUID() });
      try {
        const res = await fetch(`${baseUrl}/api/v1/audit/events`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ events: [e] }) });
        await res.arrayBuffer();
        outcomes.push({ id: e.id as string, status: res.status });
      } catch (err) {
        outcomes.push({ id: e.id as string, status: String(((err as Error).cause as NodeJS.ErrnoException | undefined)?.code ?? (err as Error).message) });
        await sleep(20);
      }
    }
  });
  return {
    outcomes,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

describe('stopping the server', () => {
  it('SIGTERM to npm start, SIGINT to the server after a PostgreSQL restart underneath: every process gone, nothing acknowledged lost', { timeout: 300_000 }, async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'oms-audit-supervision-'));
    const env = {
      OMS_AUDIT_DATA_DIR: dataDir,
      OMS_AUDIT_PG_PORT: String(await freePort()),
      PORT: String(await freePort()),
      FUNCTIONS_PORT: String(await freePort()),
      HOST: '127.0.0.1',
    };
    const baseUrl = `http://127.0.0.1:${env.PORT}`;
    const functionsUrl = `http://127.0.0.1:${env.FUNCTIONS_PORT}/functions/v1/audit-logger`;
    const pidFile = path.join(dataDir, 'server.pid');
    const postmasterPid = path.join(dataDir, 'pg', 'postmaster.pid');

    // 1. npm start, then SIGTERM to npm's pid only, with writes in flight and an SDK sending.
    const npm = launch('npm', ['start', '--silent'], env);
    await healthy(baseUrl, functionsUrl, npm);
    const tree = descendants(npm.child.pid!);
    expect(tree.map((p) => p.command)).toEqual(expect.arrayContaining(['node', 'postgres', 'deno']));
    const key = (await readFile(path.join(dataDir, 'secrets', 'demo-api-key'), 'utf8')).trim();
    const writes = writeContinuously(baseUrl, key);
    const audit = createAuditClient({ baseUrl, apiKey: key, flushIntervalMs: 10, retry: { baseMs: 100, maxMs: 500 } });
    const logged: string[] = [];
    let producing = true;
    const producer = (async () => {
      while (producing) {
        logged.push((await audit.log(event()))!);
        await sleep(5);
      }
    })();
    while (writes.outcomes.filter((o) => o.status === 201).length < 20 || logged.length < 50) await sleep(20);

    const signalled = Date.now();
    npm.child.kill('SIGTERM');
    await exited(npm.child);
    expect(await allGone([npm.child.pid!, ...tree.map((p) => p.pid)], signalled + 15_000)).toEqual([]);
    await writes.stop();
    producing = false;
    await producer;
    expect(npm.output()).toContain('SIGTERM: shutting down');
    expect(existsSync(pidFile)).toBe(false);
    expect(existsSync(postmasterPid)).toBe(false);
    // Every answer was a success or a 503 of the shutdown; none was an error of the server.
    const statuses = new Set(writes.outcomes.map((o) => o.status).filter((s) => typeof s === 'number'));
    expect([...statuses].filter((s) => s !== 201 && s !== 503)).toEqual([]);

    // 2. A server.pid naming an exited, unreaped process blocks nothing; the server started without npm finds the data.
    const zombieParent = spawn('sh', ['-c', 'sleep 0.05 & exec sleep 60'], { stdio: 'ignore' });
    started.push(zombieParent);
    let zombie = 0;
    for (let i = 0; i < 100 && !zombie; i++) {
      await sleep(50);
      const [child] = readFileSync(`/proc/${zombieParent.pid}/task/${zombieParent.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      if (child && readFileSync(`/proc/${child}/stat`, 'utf8').split(') ')[1]!.startsWith('Z')) zombie = child;
    }
    expect(zombie).toBeGreaterThan(0);
    await writeFile(pidFile, `${zombie}\n${processStartTime(zombie) ?? ''}\n`);
    const server = launch(process.execPath, ['--import', 'tsx', 'server/main.ts'], env);
    await healthy(baseUrl, functionsUrl, server);
    zombieParent.kill('SIGKILL');
    await audit.flush();
    const admin = connect(`postgres://postgres:${encodeURIComponent((await readFile(path.join(dataDir, 'secrets', 'pg-password'), 'utf8')).trim())}@127.0.0.1:${env.OMS_AUDIT_PG_PORT}/oms_audit`, { max: 1 });
    try {
      const acknowledged = writes.outcomes.filter((o) => o.status === 201).map((o) => o.id);
      const ids = [...acknowledged, ...logged];
      const rows = await admin`select id, count(*)::int as n from public.audit_events where id = any(${ids}::uuid[]) group by id`;
      const stored = new Map(rows.map((r) => [r.id as string, r.n as number]));
      expect(acknowledged.filter((id) => stored.get(id) !== 1)).toEqual([]);
      // The SDK's events, sent through the shutdown and the restart, each stored exactly once.
      expect(logged.filter((id) => stored.get(id) !== 1)).toEqual([]);
    } finally {
      await admin.end();
    }

    // 3. PostgreSQL restarted underneath the server (pg_ctl restart), then SIGINT to the server.
    const pgCtl = path.join(path.dirname(readFileSync(path.join(dataDir, 'pg', 'postmaster.opts'), 'utf8').split(' ')[0]!), 'pg_ctl');
    const before = Number(readFileSync(postmasterPid, 'utf8').split('\n')[0]);
    const procStatus = readFileSync(`/proc/${before}/status`, 'utf8');
    const [uid, gid] = [/^Uid:\s+(\d+)/m, /^Gid:\s+(\d+)/m].map((re) => Number(re.exec(procStatus)![1]));
    const restart = spawnSync(pgCtl, ['restart', '-D', path.join(dataDir, 'pg'), '-m', 'fast', '-w', '-l', path.join(dataDir, 'pg', 'restarted.log')], { uid, gid, stdio: 'ignore', timeout: 60_000 });
    expect(restart.status).toBe(0);
    const restarted = Number(readFileSync(postmasterPid, 'utf8').split('\n')[0]);
    expect(restarted).not.toBe(before);
    // The pool reconnects: a write after the restart succeeds.
    let status = 0;
    for (let i = 0; i < 50 && status !== 201; i++) {
      const res = await fetch(`${baseUrl}/api/v1/audit/events`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ events: [event()] }) });
      status = res.status;
      if (status !== 201) await sleep(200);
    }
    expect(status).toBe(201);
    const serverTree = descendants(server.child.pid!);
    const stopping = Date.now();
    server.child.kill('SIGINT');
    await exited(server.child);
    const stoppedInMs = Date.now() - stopping;
    expect(await allGone([server.child.pid!, restarted, ...serverTree.map((p) => p.pid)], stopping + 15_000)).toEqual([]);
    // Stopping the restarted PostgreSQL is as quick as stopping the server's own (it took over 10 s when it waited for the wrong one).
    expect(stoppedInMs).toBeLessThan(8_000);
    expect(server.output()).toContain('SIGINT: shutting down');
    expect(existsSync(pidFile)).toBe(false);
    expect(existsSync(postmasterPid)).toBe(false);
  });
});
