/**
 * Starts oms-audit the way a user does (`npm start` = server/main.ts) on
 * embedded PostgreSQL in a temporary data folder with free ports and demo
 * data, reads the demo auditor it prints, and adds the other users the tests
 * need the way people join: the oms-audit CLI invites them and each accepts
 * the link with their own password. Returns the teardown.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../test/ports.ts';
import { cli } from './helpers.ts';

export default async function globalSetup() {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'oms-audit-e2e-'));
  const port = await freePort();
  const { DATABASE_URL: _db, OMS_AUDIT_DEMO: _demo, ...inherited } = process.env;
  // Every search of the demo trail is charted from a time sample (as a large trail is), whatever the planner expects;
  // "Count exactly" counts it exactly. The time budget is wide: on a busy test machine no shape may run out of it.
  const env: NodeJS.ProcessEnv = { ...inherited, OMS_AUDIT_DATA_DIR: dataDir, OMS_AUDIT_PG_PORT: String(await freePort()), PORT: String(port), HOST: '127.0.0.1', NEXT_TELEMETRY_DISABLED: '1', STREAM_ALLOW_PRIVATE_NETWORKS: 'true', SHAPE_EXACT_ROWS: '0', SHAPE_SAMPLE_ROWS: '200', SHAPE_BUDGET_MS: '2000' };
  let output = '';
  const server = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.on('data', (d) => (output += d));
  server.stderr.on('data', (d) => (output += d));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`oms-audit exited (${server.exitCode}):\n${output}`);
    const res = await fetch(`${baseUrl}/api/health`).catch(() => null);
    if (res?.status === 200) break;
    if (Date.now() > deadline) throw new Error(`oms-audit did not become healthy:\n${output}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  const signIn = /demo console sign-in: (\S+) \/ (\S+) \(auditor\)/.exec(output);
  if (!signIn) throw new Error(`npm start printed no demo auditor:\n${output}`);

  const password = 'correct horse battery staple';
  const demo = 'Demo Brokerage';
  const join = async (email: string, tenant: string, role: string) => {
    const invited = cli(['user', 'invite', '--email', email, '--tenant', tenant, '--role', role, '--url', baseUrl], env);
    const res = await fetch(`${baseUrl}/api/auth/invitation/accept`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: invited.token, as: 'new_account', password }) });
    if (res.status !== 200) throw new Error(`accepting the invitation of ${email} failed: ${res.status} ${await res.text()}`);
  };
  await join('viewer@demo-brokerage.example', demo, 'viewer');
  await join('admin@demo-brokerage.example', demo, 'admin');
  await join('account@demo-brokerage.example', demo, 'auditor');
  const other = cli(['tenant', 'create', '--name', 'Other Brokerage'], env);
  await join('compliance@other-brokerage.example', String(other.id), 'admin');
  await join('analyst@other-brokerage.example', String(other.id), 'viewer');

  Object.assign(process.env, {
    OMS_E2E_BASE_URL: baseUrl,
    OMS_E2E_AUDITOR_EMAIL: signIn[1],
    OMS_E2E_AUDITOR_PASSWORD: signIn[2],
    OMS_E2E_PASSWORD: password,
    // For specs that set up a tenant of their own with the oms-audit CLI (same data folder and PostgreSQL as the server).
    OMS_E2E_DATA_DIR: dataDir,
    OMS_E2E_PG_PORT: env.OMS_AUDIT_PG_PORT,
    OMS_E2E_API_KEY: existsSync(path.join(dataDir, 'secrets', 'demo-api-key')) ? (await readFile(path.join(dataDir, 'secrets', 'demo-api-key'), 'utf8')).trim() : '',
  });

  return async () => {
    await new Promise<void>((resolve) => {
      if (server.exitCode !== null) return resolve();
      server.once('exit', () => resolve());
      server.kill('SIGTERM');
    });
    // The server's own log, kept with the test artefacts.
    await mkdir('test-results', { recursive: true });
    await writeFile('test-results/oms-audit-server.log', output);
    await rm(dataDir, { recursive: true, force: true });
  };
}
