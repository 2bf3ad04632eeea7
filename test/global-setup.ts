/**
 * One real PostgreSQL (embedded, in a temporary folder, fsync off) and one real
 * oms-audit server for the whole test run. Tests get their URLs via inject()
 * and isolate themselves with their own tenants. The server and the tests'
 * own connections use the runtime role, as in production, so every feature is
 * exercised with least privilege; tests that play an attacker with database
 * rights connect as the superuser (adminDatabaseUrl).
 *
 * OMS_AUDIT_TEST_TOPOLOGY runs the same tests on the shapes teams deploy
 * (test/topology.ts, docs/scaling.md), on Debian's PostgreSQL 15:
 *   pooler   the server and the tests' runtime connections go through pgbouncer in
 *            transaction mode (DB_PREPARE=false); migrations and attacks go direct;
 *   replica  the server's searches read from a streaming replica (DATABASE_READ_URL);
 *            everything else stays on the primary.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { connect } from '../supabase/functions/_shared/db.ts';
import { startEmbeddedPostgres } from '../server/db/embedded.ts';
import { OWNER_ROLE, RUNTIME_ROLE, setUpEmbeddedRoles } from '../server/db/roles.ts';
import { startPgbouncer, startPrimary, startReplica, topologyAvailable } from './topology.ts';
import { migrate } from '../server/db/migrate.ts';
import { freePort } from './ports.ts';
import { startServer } from './server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** oms_audit_runtime: what the server, the edge function and the CLI connect as. */
    databaseUrl: string;
    /** oms_audit_owner: migrations, new databases of tests that need one. */
    ownerDatabaseUrl: string;
    /** The cluster's superuser: tests that play an attacker with every database right. */
    adminDatabaseUrl: string;
    baseUrl: string;
    /** supabase-js createClient URL of the running server's edge functions. */
    functionsBaseUrl: string;
    dataDir: string;
    signingKeyFile: string;
    masterKeyFile: string;
    /** false when databaseUrl goes through a transaction pooler. */
    dbPrepare: boolean;
    /** The replica the server's searches read from (the runtime role), or '' when reads go to the primary. */
    readDatabaseUrl: string;
  }
}

interface TestDatabase {
  runtimeUrl: string;
  ownerUrl: string;
  superuserUrl: string;
  prepare: boolean;
  readUrl: string;
  stop(): Promise<void>;
}

async function embeddedDatabase(dataDir: string): Promise<TestDatabase> {
  const pg = await startEmbeddedPostgres({ dataDir, port: await freePort(), ephemeral: true });
  return { runtimeUrl: pg.runtimeUrl, ownerUrl: pg.ownerUrl, superuserUrl: pg.superuserUrl, prepare: true, readUrl: '', stop: async () => void (await pg.stop()) };
}

/** A Debian PostgreSQL 15 primary with oms-audit's roles and database, and pgbouncer or a replica in front. */
async function topologyDatabase(topology: string): Promise<TestDatabase> {
  if (topology !== 'pooler' && topology !== 'replica') throw new Error(`OMS_AUDIT_TEST_TOPOLOGY must be pooler or replica, not "${topology}"`);
  const missing = topologyAvailable();
  if (missing) throw new Error(missing);
  const primary = await startPrimary();
  const admin = connect(primary.url(), { max: 1 });
  await admin.unsafe('create database oms_audit');
  await setUpEmbeddedRoles(admin, 'oms_audit', { owner: randomUUID(), runtime: randomUUID() });
  await admin.end();
  const stops: (() => Promise<void>)[] = [];
  const base = { ownerUrl: primary.url('oms_audit', OWNER_ROLE), superuserUrl: primary.url('oms_audit') };
  let database: Omit<TestDatabase, 'stop'>;
  if (topology === 'pooler') {
    const pooler = await startPgbouncer(primary, [RUNTIME_ROLE, OWNER_ROLE, 'postgres']);
    stops.push(pooler.stop);
    database = { ...base, runtimeUrl: pooler.url('oms_audit', RUNTIME_ROLE), prepare: false, readUrl: '' };
  } else {
    const replica = await startReplica(primary);
    stops.push(replica.stop);
    database = { ...base, runtimeUrl: primary.url('oms_audit', RUNTIME_ROLE), prepare: true, readUrl: replica.url('oms_audit', RUNTIME_ROLE) };
  }
  return {
    ...database,
    stop: async () => {
      for (const stop of stops) await stop();
      await primary.stop();
    },
  };
}

export default async function setup(project: TestProject) {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'oms-audit-test-'));
  const topology = process.env.OMS_AUDIT_TEST_TOPOLOGY;
  const pg = topology ? await topologyDatabase(topology) : await embeddedDatabase(dataDir);
  const sql = connect(pg.ownerUrl, { max: 1 });
  await migrate(sql);
  await sql.end();

  if (!existsSync('.next/BUILD_ID')) {
    const build = spawnSync(process.execPath, ['node_modules/next/dist/bin/next', 'build'], { stdio: 'inherit', env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' } });
    if (build.status !== 0) throw new Error('next build failed');
  }
  // One checkpoint signing key for the server and the tests.
  const signingKeyFile = path.join(dataDir, 'signing-key.pem');
  await writeFile(signingKeyFile, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  // One master key of personal data for every server and CLI process of the run (they share the database).
  const masterKeyFile = path.join(dataDir, 'master-key');
  await writeFile(masterKeyFile, randomBytes(32).toString('base64') + '\n', { mode: 0o600 });
  process.env.OMS_AUDIT_MASTER_KEY_FILE = masterKeyFile;

  // Keys are re-checked on every request, so a revocation shows at once in tests. Like every test server
  // (test/server.ts), this one leaves sealing and stream delivery to the tests that do them.
  const server = await startServer({
    databaseUrl: pg.runtimeUrl,
    dataDir: path.join(dataDir, 'server'),
    env: {
      DB_PREPARE: String(pg.prepare),
      ...(pg.readUrl ? { DATABASE_READ_URL: pg.readUrl } : {}),
      API_KEY_CACHE_SECONDS: '0', OMS_AUDIT_SIGNING_KEY_FILE: signingKeyFile,
      // As in the test processes (test/setup-env.ts): on a busy test machine no search shape may run out of its budget.
      SHAPE_BUDGET_MS: process.env.SHAPE_BUDGET_MS ?? '10000' },
  });

  project.provide('databaseUrl', pg.runtimeUrl);
  project.provide('ownerDatabaseUrl', pg.ownerUrl);
  project.provide('adminDatabaseUrl', pg.superuserUrl);
  project.provide('baseUrl', server.baseUrl);
  project.provide('functionsBaseUrl', server.functionsBaseUrl);
  project.provide('dataDir', dataDir);
  project.provide('signingKeyFile', signingKeyFile);
  project.provide('masterKeyFile', masterKeyFile);
  project.provide('dbPrepare', pg.prepare);
  project.provide('readDatabaseUrl', pg.readUrl);

  return async () => {
    await server.stop();
    await pg.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
}
