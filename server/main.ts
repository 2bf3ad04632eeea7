/**
 * The oms-audit server process (`npm start`, or `node --import tsx server/main.ts`
 * under a supervisor): the whole product in one process tree.
 *   1. validates the environment;
 *   2. opens the database: DATABASE_URL (+ DATABASE_OWNER_URL), or embedded PostgreSQL in the data folder;
 *   3. applies pending migrations as the owner, refuses a runtime connection that could change
 *      the trail (server/db/prepare.ts), and (embedded) loads demo data into an empty store;
 *      from here on everything runs as the runtime role;
 *   4. builds the console when no build exists, then serves it and the APIs on PORT (server/http/host.ts);
 *   5. runs the background jobs (server/background.ts), e.g. month partitions ahead;
 *   6. serves the audit-logger edge function under Deno on FUNCTIONS_PORT (server/functions.ts).
 * `--dev` serves with Next.js's development server instead.
 *
 * SIGTERM or SIGINT (a supervisor, Ctrl-C, or npm passing either on) stops it
 * through one function, `shutdown`: requests in flight finish and new ones are
 * answered 503, then the edge function, the background jobs, the database
 * connections and the embedded PostgreSQL (whichever process runs on its
 * folder now, also after a restart underneath, and the one it started even
 * when its folder was deleted) stop, and server.pid goes. Each step is bounded
 * in time; what could not be stopped cleanly is named and the exit status is 1.
 * Deno and PostgreSQL run in process groups of their own, so a terminal's
 * Ctrl-C reaches this process only, which stops them in that order.
 */
import { heapLimitWarning } from './heap-limit.ts';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type Sql } from '@/supabase/functions/_shared/db.ts';
import { parseEnv, type Env } from '@/server/env.ts';
import { dataPath, openDatabase, type OpenedDatabase } from '@/server/db/open.ts';
import { PlacementError } from '@/server/db/postmaster.ts';
import { checkReadDatabase, DatabaseSetupError, prepareDatabase } from '@/server/db/prepare.ts';
import { scratchDir, scratchRoot, sweepScratch } from '@/server/scratch.ts';
import { warmDuckDB } from '@/server/archive/duckdb.ts';
import { seedDemo } from '@/server/services/demo-data.ts';
import { startBackgroundJobs } from '@/server/background.ts';
import { configuredArchiveUrl } from '@/server/archive/storage.ts';
import { startEdgeFunctions, type EdgeFunctions } from '@/server/functions.ts';
import { createHost, type Host } from '@/server/http/host.ts';
import { registerIngestMetrics } from '@/server/observability/ingest-metrics.ts';
import { isSameProcess, processStartTime } from '@/server/pids.ts';
import { fromRoot, projectRoot } from '@/server/paths.ts';

const log = (line: string) => console.log(`[oms-audit] ${line}`);

/** A start-up that cannot go on: one line for the operator, exit status 1. */
class BootError extends Error {}

/** What a running server holds, filled in as it boots, so a signal during boot stops what has started so far. */
export interface ServerParts {
  host?: Host;
  functions?: EdgeFunctions | null;
  stopBackground?: () => Promise<void>;
  sql?: Sql;
  database?: OpenedDatabase;
  releaseLock?: () => void | Promise<void>;
}

export interface ShutdownOptions {
  /** How long requests in flight may take to finish (default 10 s). */
  graceMs?: number;
  /** How long each later step may take before it is given up (a process in it killed) (default 3 s). */
  stepMs?: number;
  log?: (line: string) => void;
}

const TIMED_OUT = Symbol('timed out');

/** `work`, or TIMED_OUT once `ms` have passed (the work is then abandoned, not awaited). */
async function within<T>(ms: number, work: Promise<T> | T): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), ms)));
  try {
    return await Promise.race([Promise.resolve(work), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** SIGKILL to a process that would not stop; whether it was there to signal. */
function kill(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops a running server in order: no new requests (503 on open connections)
 * while those in flight finish, together with the edge function and the
 * background jobs; then the database connections, the embedded PostgreSQL
 * (its folder's postmaster, whoever started it, and the one this server
 * started even if its folder is gone), and the start-up lock. Every step runs
 * even when an earlier one failed, and each is bounded in time — also when
 * PostgreSQL was killed or its data folder deleted underneath — so a shutdown
 * ends within about graceMs + 3 × stepMs + 7 s (26 s by default) whatever happened.
 * Resolves with what could not be stopped cleanly (empty when all was well).
 */
export async function shutdown(parts: ServerParts, options: ShutdownOptions = {}): Promise<string[]> {
  const say = options.log ?? log;
  const stepMs = options.stepMs ?? 3_000;
  const problems: string[] = [];
  const note = (problem: string) => {
    problems.push(problem);
    say(`shutdown: ${problem}`);
  };
  const step = async (name: string, ms: number, run: () => Promise<unknown> | unknown, onTimeout?: () => string) => {
    try {
      if ((await within(ms, run())) === TIMED_OUT) note(`${name} did not stop within ${ms} ms${onTimeout ? `: ${onTimeout()}` : ''}`);
    } catch (err) {
      note(`${name} failed: ${(err as Error).message}`);
    }
  };
  const graceMs = options.graceMs ?? 10_000;
  await Promise.all([
    step('requests in flight', graceMs + 1_000, async () => {
      const { unfinished } = (await parts.host?.close(graceMs)) ?? { unfinished: 0 };
      if (unfinished) say(`shutdown: ${unfinished} request(s) did not finish in time and were cut off`);
    }),
    step('edge function', stepMs, () => parts.functions?.stop(), () => (kill(parts.functions?.pid()) ? 'killed (SIGKILL)' : 'it had already exited')),
    step('background jobs', stepMs, () => parts.stopBackground?.(), () => 'abandoned'),
  ]);
  await step('database connections', stepMs, () => parts.sql?.end({ timeout: 2 }), () => 'abandoned');
  // stopPostgres: up to 5 s fast, 2 s immediate, 1 s after SIGKILL.
  await step('embedded PostgreSQL', stepMs + 6_000, async () => {
    for (const problem of (await parts.database?.embedded?.stop()) ?? []) note(problem);
  });
  await step('server.pid', stepMs, () => parts.releaseLock?.());
  return problems;
}

/**
 * server.pid in the data folder: one server per embedded store. It names the
 * pid and the start time of its process, so a server that has exited (even
 * one not yet reaped by its parent) or a reused pid never blocks a start.
 */
async function claimServerLock(env: Env): Promise<() => void> {
  const file = dataPath(env, 'server.pid');
  if (existsSync(file)) {
    const [pidLine, startLine] = (await readFile(file, 'utf8')).split('\n');
    const pid = Number(pidLine);
    if (pid && pid !== process.pid && isSameProcess(pid, startLine?.trim() || null)) throw new BootError(`oms-audit is already running with this data folder (pid ${pid})`);
  }
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${process.pid}\n${processStartTime(process.pid) ?? ''}\n`);
  // Synchronous, so that a shutdown past its deadline can still remove it on the way out.
  return () => {
    // Only our own lock: a second server refused at start must not remove the running one's.
    let current = '';
    try {
      current = readFileSync(file, 'utf8');
    } catch {
      return;
    }
    if (Number(current.split('\n')[0]) === process.pid) rmSync(file, { force: true });
  };
}

async function seedDemoData(env: Env, sql: Sql): Promise<void> {
  const keyFile = dataPath(env, 'secrets', 'demo-api-key');
  const seeded = await seedDemo(sql, { log });
  if (seeded.apiKey) {
    await mkdir(path.dirname(keyFile), { recursive: true, mode: 0o700 });
    await writeFile(keyFile, seeded.apiKey.key + '\n', { mode: 0o600 });
  }
  const key = existsSync(keyFile) ? (await readFile(keyFile, 'utf8')).trim() : '(created earlier; see oms-audit key create)';
  log(`demo tenant "${seeded.tenant.name}" (${seeded.tenant.id}); demo API key: ${key}`);
  const auditorFile = dataPath(env, 'secrets', 'demo-auditor');
  if (seeded.auditor) {
    await mkdir(path.dirname(auditorFile), { recursive: true, mode: 0o700 });
    await writeFile(auditorFile, `${seeded.auditor.email}\n${seeded.auditor.password}\n`, { mode: 0o600 });
  }
  const [auditorEmail, auditorPassword] = existsSync(auditorFile) ? (await readFile(auditorFile, 'utf8')).split('\n') : [];
  if (auditorEmail) log(`demo console sign-in: ${auditorEmail} / ${auditorPassword} (auditor)`);
}

/** Boots the server, recording each part in `parts` as soon as it runs. */
export async function boot(parts: ServerParts, options: { dev: boolean }): Promise<void> {
  const { dev } = options;
  let env: Env;
  try {
    env = parseEnv(process.env);
  } catch (err) {
    throw new BootError((err as Error).message);
  }
  (process.env as Record<string, string>).NODE_ENV = dev ? 'development' : 'production';
  process.env.NEXT_TELEMETRY_DISABLED ??= '1';
  // The request handlers will see DATABASE_URL: name the embedded store's archive (and anchor) location for them
  // as the background jobs resolve it, so the console checks the same anchors the sealer writes.
  if (!env.DATABASE_URL && !env.ARCHIVE_URL) process.env.ARCHIVE_URL = configuredArchiveUrl(env)!;

  const embeddedDefault = !env.DATABASE_URL;
  if (embeddedDefault) parts.releaseLock = await claimServerLock(env);
  await sweepScratch(env, log);
  parts.database = await openDatabase(env, log, { adopt: true, detached: true }).catch((err: Error) => {
    throw new BootError(err instanceof PlacementError ? err.message : `cannot open the database: ${err.message}`);
  });
  const database = parts.database;
  // Next.js (in this process) and the processes started below see only the runtime role's URL.
  process.env.DATABASE_URL = database.runtimeUrl;
  delete process.env.DATABASE_OWNER_URL;

  const sql = connect(database.runtimeUrl, { max: 2, prepare: env.DB_PREPARE, applicationName: 'oms-audit-maintenance' });
  parts.sql = sql;
  const applied = await prepareDatabase(database, sql, env, log).catch((err: Error) => {
    throw new BootError(err instanceof DatabaseSetupError ? err.message : `cannot prepare the database: ${err.message}`);
  });
  if (!applied.length) log('database schema is up to date');
  const reads = await checkReadDatabase(env, log).catch((err: Error) => {
    throw new BootError(err instanceof DatabaseSetupError ? err.message : `cannot check DATABASE_READ_URL: ${err.message}`);
  });
  if (reads) log(`searches read from DATABASE_READ_URL (${reads.replica ? 'a streaming replica' : 'not a replica'}, as ${reads.user})`);

  // Demo data is on by default for the embedded store only; set OMS_AUDIT_DEMO=true to seed an external one.
  const demo = process.env.OMS_AUDIT_DEMO === undefined ? embeddedDefault : env.OMS_AUDIT_DEMO;
  if (demo) await seedDemoData(env, sql);

  await sql`select oms_audit.ensure_partitions_ahead(3)`;
  parts.stopBackground = startBackgroundJobs(sql, env, log);
  parts.functions = env.OMS_AUDIT_FUNCTIONS ? startEdgeFunctions(env, database.runtimeUrl, log) : null;

  if (!dev && !existsSync(fromRoot('.next', 'BUILD_ID'))) {
    log('no production build found; building (about a minute)…');
    const build = spawnSync(process.execPath, [fromRoot('node_modules', 'next', 'dist', 'bin', 'next'), 'build'], { cwd: projectRoot(), stdio: 'inherit', env: process.env });
    if (build.status !== 0) throw new BootError('next build failed');
  }

  const { default: next } = await import('next');
  const app = next({ dev, dir: projectRoot(), hostname: env.HOST, port: env.PORT });
  const handle = app.getRequestHandler();
  await app.prepare();

  registerIngestMetrics();
  const host = createHost((req, res) => handle(req, res));
  parts.host = host;
  await host.listen(env.PORT, env.HOST).catch((err: Error) => {
    throw new BootError(`cannot listen on ${env.HOST}:${env.PORT}: ${err.message}`);
  });
  log(`serving http://${env.HOST === '0.0.0.0' ? 'localhost' : env.HOST}:${env.PORT} (${dev ? 'development' : 'production'})`);
  const heap = heapLimitWarning(env.MEMORY_LIMIT_MB);
  if (heap) log(heap);
  // After readiness, in the background: the first archived read of a search then fits in its time budget.
  void warmArchiveReader(env);
}

/** Loads DuckDB (the archived months' reader) once, logging how long it took or why it could not. */
async function warmArchiveReader(env: Env): Promise<void> {
  try {
    const dir = await scratchDir(scratchRoot(env), 'duckdb-warm');
    try {
      log(`archive reader (DuckDB) warmed in ${Math.round(await warmDuckDB(dir))} ms`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  } catch (err) {
    log(`archive reader (DuckDB) not warmed: ${(err as Error).message}; the first archived read loads it`);
  }
}

/** Past this, a shutdown that has not ended is cut short: what it started is killed and the process exits 1 (before systemd's TimeoutStopSec=30 in docs/operations.md). */
const SHUTDOWN_DEADLINE_MS = 28_000;

/**
 * The last resort when a shutdown overruns SHUTDOWN_DEADLINE_MS: SIGKILL to
 * Deno and to the PostgreSQL this server started, server.pid removed.
 */
function forceStop(parts: ServerParts): string[] {
  const killed: string[] = [];
  const deno = parts.functions?.pid();
  if (kill(deno)) killed.push(`the edge function (Deno, pid ${deno})`);
  for (const pid of parts.database?.embedded?.kill?.() ?? []) killed.push(`PostgreSQL (pid ${pid})`);
  try {
    void parts.releaseLock?.();
  } catch {
    // Nothing more can be done on the way out.
  }
  return killed;
}

/**
 * Runs the server until SIGTERM or SIGINT; a failed start stops what it
 * started and exits 1 with one line. A shutdown that could not stop
 * everything cleanly (PostgreSQL killed or its folder deleted underneath, a
 * process that had to be killed) exits 1 naming what.
 */
export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const parts: ServerParts = {};
  let stopping: Promise<void> | null = null;
  const stop = (code: number) => {
    // A second signal (npm passes on the one a terminal also sent us) changes nothing.
    if (stopping) return stopping;
    const deadline = setTimeout(() => {
      const killed = forceStop(parts);
      console.error(`[oms-audit] the shutdown did not end within ${SHUTDOWN_DEADLINE_MS / 1000} s${killed.length ? `; killed ${killed.join(', ')}` : ''}`);
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    stopping = shutdown(parts)
      .then((problems) => {
        if (problems.length) {
          console.error(`[oms-audit] stopped, but not cleanly: ${problems.join('; ')}`);
          code = code || 1;
        } else if (code === 0) log('stopped');
      })
      .finally(() => process.exit(code));
    return stopping;
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      log(`${signal}: shutting down`);
      void stop(0);
    });
  }
  try {
    await boot(parts, { dev: argv.includes('--dev') });
  } catch (err) {
    if (stopping) return;
    console.error(`[oms-audit] ${err instanceof BootError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await stop(1);
  }
}

/** Whether this module is the program (`node server/main.ts`), not imported; links in the path resolved as Node does. */
function isProgram(): boolean {
  try {
    return !!process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isProgram()) void main();
