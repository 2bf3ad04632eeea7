/**
 * Stopping the server when its embedded PostgreSQL vanished underneath it:
 * killed (SIGKILL to the postmaster), or its whole data folder deleted while
 * it ran. SIGTERM to the process that was started (`npm start`'s pid, or
 * server/main.ts without npm) still stops the server, Deno and PostgreSQL
 * within a few seconds, removes server.pid, and exits saying what could not
 * be stopped cleanly (status 1); the next start is not blocked by the dead
 * server and finds the data.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '@/supabase/functions/_shared/db.ts';
import { stopCluster } from '@/server/db/postmaster.ts';
import { isAlive } from '@/server/pids.ts';
import { event } from '@/test/fixtures.ts';
import { allGone, descendants, exited, healthy, killLaunched, launch, serverSetting } from '@/test/server-process.ts';

/** A few seconds: what a supervisor waits before it kills (Docker's default is 10 s). */
const STOP_WITHIN_MS = 8_000;

const folders: string[] = [];
afterAll(async () => {
  killLaunched();
  for (const dir of folders) {
    await stopCluster(path.join(dir, 'pg'));
    await rm(dir, { recursive: true, force: true });
  }
});

async function serverEnv() {
  const setting = await serverSetting('oms-audit-vanished-');
  folders.push(setting.dataDir);
  return setting;
}

const postmasterOf = (dataDir: string) => Number(readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);

async function writeOne(baseUrl: string, key: string): Promise<{ status: number; id: string }> {
  const e = event({ id: randomUUID() });
  const res = await fetch(`${baseUrl}/api/v1/audit/events`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ events: [e] }) });
  await res.arrayBuffer();
  return { status: res.status, id: e.id as string };
}

describe('stopping the server after its PostgreSQL vanished', () => {
  it('PostgreSQL killed under npm start: SIGTERM stops everything within seconds, says so, and the next start finds the data', { timeout: 240_000 }, async () => {
    const { dataDir, env, baseUrl, functionsUrl } = await serverEnv();
    const npm = launch('npm', ['start', '--silent'], env);
    await healthy(baseUrl, functionsUrl, npm);
    const key = (await readFile(path.join(dataDir, 'secrets', 'demo-api-key'), 'utf8')).trim();
    const written = await writeOne(baseUrl, key);
    expect(written.status).toBe(201);
    const tree = descendants(npm.child.pid!);
    expect(tree.map((p) => p.command)).toEqual(expect.arrayContaining(['node', 'postgres', 'deno']));

    const postmaster = postmasterOf(dataDir);
    process.kill(postmaster, 'SIGKILL');
    await expect.poll(() => isAlive(postmaster), { timeout: 5_000 }).toBe(false);
    // The server goes on answering, with 503 while its database is away.
    expect((await writeOne(baseUrl, key)).status).toBe(503);

    const signalled = Date.now();
    npm.child.kill('SIGTERM');
    await exited(npm.child);
    expect(await allGone([npm.child.pid!, ...tree.map((p) => p.pid)], signalled + STOP_WITHIN_MS)).toEqual([]);
    expect(Date.now() - signalled).toBeLessThan(STOP_WITHIN_MS);
    expect(npm.output()).toContain('SIGTERM: shutting down');
    expect(npm.output()).toMatch(new RegExp(`stopped, but not cleanly: PostgreSQL \\(pid ${postmaster}\\) had exited before the shutdown`));
    expect(npm.child.exitCode).not.toBe(0);
    expect(existsSync(path.join(dataDir, 'server.pid'))).toBe(false);

    // The next start (server/main.ts without npm) is not blocked, recovers PostgreSQL, and has the acknowledged event.
    const again = launch(process.execPath, ['--import', 'tsx', 'server/main.ts'], env);
    await healthy(baseUrl, functionsUrl, again);
    const admin = connect(`postgres://postgres:${encodeURIComponent((await readFile(path.join(dataDir, 'secrets', 'pg-password'), 'utf8')).trim())}@127.0.0.1:${env.OMS_AUDIT_PG_PORT}/oms_audit`, { max: 1 });
    try {
      const [row] = await admin`select count(*)::int as n from public.audit_events where id = ${written.id}`;
      expect(row!.n).toBe(1);
    } finally {
      await admin.end();
    }
    // Stopped with nothing vanished: clean, status 0.
    again.child.kill('SIGTERM');
    await exited(again.child);
    expect(again.child.exitCode).toBe(0);
    expect(again.output()).toContain('[oms-audit] stopped');
  });

  it('data folder deleted under server/main.ts: SIGTERM stops the PostgreSQL it started and Deno within seconds, and exits 1 naming it', { timeout: 240_000 }, async () => {
    const { dataDir, env, baseUrl, functionsUrl } = await serverEnv();
    const server = launch(process.execPath, ['--import', 'tsx', 'server/main.ts'], env);
    await healthy(baseUrl, functionsUrl, server);
    const tree = descendants(server.child.pid!);
    expect(tree.map((p) => p.command)).toEqual(expect.arrayContaining(['postgres', 'deno']));
    const postmaster = postmasterOf(dataDir);

    // Everything goes: the cluster, server.pid, the secrets. PostgreSQL keeps running on open files (and may write
    // into a folder as it is being removed: removed again until it is gone).
    for (let i = 0; i < 20 && existsSync(dataDir); i++) await rm(dataDir, { recursive: true, force: true, maxRetries: 5 }).catch(() => {});
    expect(existsSync(dataDir)).toBe(false);
    expect(isAlive(postmaster)).toBe(true);

    const signalled = Date.now();
    server.child.kill('SIGTERM');
    await exited(server.child);
    expect(await allGone([server.child.pid!, postmaster, ...tree.map((p) => p.pid)], signalled + STOP_WITHIN_MS)).toEqual([]);
    expect(Date.now() - signalled).toBeLessThan(STOP_WITHIN_MS);
    expect(server.child.exitCode).toBe(1);
    expect(server.output()).toMatch(/stopped, but not cleanly: PostgreSQL's cluster folder .*pg was gone/);
    expect(existsSync(path.join(dataDir, 'server.pid'))).toBe(false);
  });
});
