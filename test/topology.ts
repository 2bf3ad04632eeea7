/**
 * The database shapes teams deploy, built from Debian's packages for tests:
 * a PostgreSQL 15 primary (Supabase's major version), a streaming replica of
 * it (pg_basebackup into a second cluster, hot standby), and Debian's
 * pgbouncer in transaction mode in front of the primary (what Supabase's
 * pooler on port 6543 does). Each lives in a temporary folder on free ports;
 * run as root, PostgreSQL and pgbouncer run as the OS user "postgres" (neither
 * runs as root). Local connections are trusted: these clusters hold test data
 * only and listen on 127.0.0.1.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { freePort } from './ports.ts';

const BIN = '/usr/lib/postgresql/15/bin';
const PGBOUNCER = '/usr/sbin/pgbouncer';

export interface Service {
  port: number;
  /** postgres://postgres@127.0.0.1:<port>/<database> */
  url(database?: string, user?: string): string;
  /** Everything the process has written to stdout and stderr so far (PostgreSQL logs each connection with its application_name). */
  log(): string;
  stop(): Promise<void>;
}

function asPostgres(): { uid?: number; gid?: number } {
  if (userInfo().uid !== 0) return {};
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
}

async function ownedFolder(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  const ids = asPostgres();
  if (ids.uid !== undefined) await chown(dir, ids.uid, ids.gid!);
  return dir;
}

type Started = ChildProcess & { log(): string };

/** Runs `command` until a line of its output contains `ready` (or it exits: an error with its output); its output stays readable with `log()`. */
function startUntil(command: string, args: string[], ready: RegExp, options: SpawnOptions = {}): Promise<Started> {
  const child = spawn(command, args, { ...asPostgres(), stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let output = '';
  const started = Object.assign(child, { log: () => output });
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d;
      if (ready.test(output)) resolve(started);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${path.basename(command)} exited (${code}): ${output}`)));
  });
}

function stopper(child: ChildProcess, dir: string, signal: NodeJS.Signals = 'SIGINT'): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill(signal);
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
}

const urlOf = (port: number) => (database = 'postgres', user = 'postgres') => `postgres://${user}@127.0.0.1:${port}/${database}`;

export function topologyAvailable(): string | null {
  if (!existsSync(`${BIN}/postgres`)) return `PostgreSQL 15 is not installed (${BIN}): apt-get install postgresql-15`;
  if (!existsSync(PGBOUNCER)) return `pgbouncer is not installed (${PGBOUNCER}): apt-get install pgbouncer`;
  return null;
}

/** A PostgreSQL 15 primary that accepts streaming replicas. */
export async function startPrimary(): Promise<Service> {
  const dir = await ownedFolder('oms-audit-primary-');
  const data = path.join(dir, 'data');
  const init = spawnSync(`${BIN}/initdb`, ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '--encoding=UTF8', '--locale=C'], { ...asPostgres(), encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  const child = await startUntil(
    `${BIN}/postgres`,
    ['-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`, '-c', 'fsync=off', '-c', 'wal_level=replica', '-c', 'max_wal_senders=4', '-c', 'max_connections=300', '-c', 'log_connections=on'],
    /ready to accept connections/,
  );
  return { port, url: urlOf(port), log: child.log, stop: stopper(child, dir) };
}

/** A hot standby streaming from `primary`: a base backup of it in a second cluster. */
export async function startReplica(primary: Service): Promise<Service> {
  const dir = await ownedFolder('oms-audit-replica-');
  const data = path.join(dir, 'data');
  const backup = spawnSync(`${BIN}/pg_basebackup`, ['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-D', data, '-R', '-X', 'stream', '--no-sync'], { ...asPostgres(), encoding: 'utf8' });
  if (backup.status !== 0) throw new Error(`pg_basebackup failed: ${backup.stderr}`);
  const port = await freePort();
  const child = await startUntil(
    `${BIN}/postgres`,
    ['-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`, '-c', 'fsync=off', '-c', 'hot_standby=on', '-c', 'max_connections=300', '-c', 'log_connections=on'],
    /ready to accept read-only connections/,
  );
  return { port, url: urlOf(port), log: child.log, stop: stopper(child, dir) };
}

/** Debian's pgbouncer in transaction mode in front of `primary`, for the given users. */
export async function startPgbouncer(primary: Service, users: string[]): Promise<Service> {
  const dir = await ownedFolder('oms-audit-pgbouncer-');
  const port = await freePort();
  const ini = path.join(dir, 'pgbouncer.ini');
  await writeFile(path.join(dir, 'userlist.txt'), users.map((u) => `"${u}" ""`).join('\n') + '\n', { mode: 0o644 });
  await writeFile(
    ini,
    [
      '[databases]',
      `* = host=127.0.0.1 port=${primary.port}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      `unix_socket_dir = ${dir}`,
      'auth_type = trust',
      `auth_file = ${path.join(dir, 'userlist.txt')}`,
      'pool_mode = transaction',
      'max_client_conn = 1000',
      'default_pool_size = 40',
      'ignore_startup_parameters = extra_float_digits',
      `pidfile = ${path.join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  await mkdir(dir, { recursive: true });
  const child = await startUntil(PGBOUNCER, [ini], /process up/);
  return { port, url: urlOf(port), log: child.log, stop: stopper(child, dir, 'SIGINT') };
}

/** Waits until the replica has replayed everything the primary has written so far. */
export async function replicaCaughtUp(primaryUrl: string, replicaUrl: string, timeoutMs = 30_000): Promise<void> {
  const { default: postgres } = await import('postgres');
  const primary = postgres(primaryUrl, { max: 1, onnotice: () => {} });
  const replica = postgres(replicaUrl, { max: 1, onnotice: () => {} });
  try {
    const [{ lsn }] = (await primary`select pg_current_wal_lsn()::text as lsn`) as unknown as [{ lsn: string }];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [{ behind }] = (await replica`select pg_wal_lsn_diff(${lsn}::pg_lsn, pg_last_wal_replay_lsn()) > 0 as behind`) as unknown as [{ behind: boolean }];
      if (!behind) return;
      if (Date.now() > deadline) throw new Error(`the replica did not replay ${lsn} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await primary.end();
    await replica.end();
  }
}
