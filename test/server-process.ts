/**
 * The whole server as supervisors run it (`npm start`, or server/main.ts
 * without npm) on an embedded store of the test's own, and what tests check
 * about its processes: the tree below it (from /proc: Deno and PostgreSQL run
 * in process groups of their own, but are still its children), its health,
 * and that every process is gone after a stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isAlive } from '@/server/pids.ts';
import { freePort } from './ports.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Launched {
  child: ChildProcess;
  output: () => string;
}

const launched: ChildProcess[] = [];

/** A new data folder and free ports for one server: its environment and URLs. */
export async function serverSetting(prefix: string) {
  const dataDir = await mkdtemp(path.join(tmpdir(), prefix));
  const env = {
    OMS_AUDIT_DATA_DIR: dataDir,
    OMS_AUDIT_PG_PORT: String(await freePort()),
    PORT: String(await freePort()),
    FUNCTIONS_PORT: String(await freePort()),
    HOST: '127.0.0.1',
  };
  return { dataDir, env, baseUrl: `http://127.0.0.1:${env.PORT}`, functionsUrl: `http://127.0.0.1:${env.FUNCTIONS_PORT}/functions/v1/audit-logger` };
}

/** Starts `command` with the test's environment, without the suite's database URLs or demo switch. */
export function launch(command: string, args: string[], env: Record<string, string>): Launched {
  const { DATABASE_URL: _u, DATABASE_OWNER_URL: _o, DATABASE_READ_URL: _r, OMS_AUDIT_DEMO: _d, npm_lifecycle_event: _l, ...inherited } = process.env;
  let output = '';
  const child = spawn(command, args, { env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  launched.push(child);
  return { child, output: () => output };
}

/** SIGKILL to every launched process still running (a failed test's leftovers). */
export function killLaunched(): void {
  for (const child of launched) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** Every process below `root`, read from /proc. */
export function descendants(root: number): { pid: number; command: string }[] {
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

/** Waits until the console's API and the edge function both answer. */
export async function healthy(baseUrl: string, functionsUrl: string, server: Launched): Promise<void> {
  for (let i = 0; i < 900; i++) {
    if (server.child.exitCode !== null) throw new Error(`server exited:\n${server.output()}`);
    const api = await fetch(`${baseUrl}/api/health`).catch(() => null);
    const edge = api?.status === 200 ? await fetch(functionsUrl, { method: 'OPTIONS' }).catch(() => null) : null;
    if (edge?.status === 204) return;
    await sleep(200);
  }
  throw new Error(`not healthy:\n${server.output()}`);
}

export const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => child.once('exit', () => r()));

/** The pids still running at `deadline` (an exited, unreaped process counts as gone). */
export async function allGone(pids: number[], deadline: number): Promise<number[]> {
  while (Date.now() < deadline && pids.some(isAlive)) await sleep(50);
  return pids.filter(isAlive);
}
