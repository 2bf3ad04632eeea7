/**
 * `npm start` with no DATABASE_URL: embedded PostgreSQL in the data folder,
 * migrations, demo data, the CLI beside the running server, recovery after
 * the server is killed, and a data folder from before the database roles.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '@/supabase/functions/_shared/db.ts';
import { startEmbeddedPostgres } from '@/server/db/embedded.ts';
import { migrate, migrationsDir } from '@/server/db/migrate.ts';
import { createApiKey } from '@/server/services/api-keys.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { event } from '@/test/fixtures.ts';
import { writeVersion1Events } from '@/test/legacy-events.ts';
import { freePort } from '@/test/ports.ts';

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  // A killed server leaves PostgreSQL running; stop it before removing its folder.
  for (const dir of dirs) {
    const pidFile = path.join(dir, 'pg', 'postmaster.pid');
    if (existsSync(pidFile)) {
      const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
      try {
        process.kill(pid, 'SIGINT');
      } catch {
        // already gone
      }
      for (let i = 0; i < 100 && existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 100));
    }
    await rm(dir, { recursive: true, force: true });
  }
});

function start(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  let output = '';
  const { DATABASE_URL: _ignored, OMS_AUDIT_DEMO: _demo, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], { env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  children.push(child);
  return { child, output: () => output };
}

async function healthy(baseUrl: string, child: ChildProcess, output: () => string) {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`server exited:\n${output()}`);
    const res = await fetch(`${baseUrl}/api/health`).catch(() => null);
    if (res?.status === 200) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`not healthy:\n${output()}`);
}

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string }> {
  const { DATABASE_URL: _ignored, OMS_AUDIT_DEMO: _demo, ...inherited } = process.env;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/oms-audit.mjs', ...args], { env: { ...inherited, ...env } });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout }));
  });
}

describe('npm start on embedded PostgreSQL', () => {
  it('starts with demo data, serves the CLI beside it, and survives being killed', { timeout: 180_000 }, async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'oms-audit-start-'));
    dirs.push(dataDir);
    const env = { OMS_AUDIT_DATA_DIR: dataDir, OMS_AUDIT_PG_PORT: String(await freePort()), PORT: String(await freePort()), FUNCTIONS_PORT: String(await freePort()), HOST: '127.0.0.1' };
    const baseUrl = `http://127.0.0.1:${env.PORT}`;

    const first = start(env);
    await healthy(baseUrl, first.child, first.output);
    expect(first.output()).toMatch(/demo tenant "Demo Brokerage" \([0-9a-f-]{36}\); demo API key: omsk_/);
    const key = (await readFile(path.join(dataDir, 'secrets', 'demo-api-key'), 'utf8')).trim();
    const page = await (await fetch(`${baseUrl}/api/v1/audit/events?object_type=ORDER&limit=1000`, { headers: { authorization: `Bearer ${key}` } })).json();
    expect(page.events.length).toBe(1000);
    expect(new Set(page.events.map((e: { event_type: string }) => e.event_type))).toEqual(new Set(['CREATE', 'UPDATE', 'ROUTE', 'STATUS_CHANGE', 'CANCEL']));

    // The CLI uses the server's running PostgreSQL.
    const tenant = await cli(['tenant', 'create', '--name', 'beside the server', '--json'], env);
    expect(tenant.code).toBe(0);
    expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(true);

    // A second server on the same data folder is refused.
    const second = start({ ...env, PORT: String(await freePort()) });
    await new Promise((r) => second.child.once('exit', r));
    expect(second.child.exitCode).toBe(1);
    expect(second.output()).toContain('already running');

    // kill -9: PostgreSQL stays behind; the next start adopts it and nothing is lost.
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    const again = start(env);
    await healthy(baseUrl, again.child, again.output);
    expect(again.output()).toContain('reusing embedded PostgreSQL');
    expect(again.output()).not.toContain('demo data:');
    // The edge function of the killed server went with it; the new one serves on the same port.
    const functionUrl = `http://127.0.0.1:${env.FUNCTIONS_PORT}/functions/v1/audit-logger`;
    // Its own function: the one the new server announces once it listens (not whatever last held the port).
    for (let i = 0; i < 300 && !/edge function audit-logger \(Deno, pid \d+\)/.test(again.output()); i++) await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 300 && (await fetch(functionUrl, { method: 'OPTIONS' }).catch(() => null))?.status !== 204; i++) await new Promise((r) => setTimeout(r, 100));
    const edge = await fetch(functionUrl, {
      method: 'POST',
      headers: { apikey: key, 'content-type': 'application/json' },
      body: JSON.stringify({ events: [{ actor_id: 'u', actor_type: 'USER', object_type: 'ORDER', object_id: 'O-1', event_type: 'CREATE' }] }),
    }).catch((err: Error) => {
      throw new Error(`${err.message} (${String((err.cause as Error | undefined)?.message)}); the server's output:\n${again.output()}`);
    });
    expect(edge.status, again.output()).toBe(201);
    const tenants = await cli(['tenant', 'list', '--json'], env);
    expect(JSON.parse(tenants.stdout).tenants.map((t: { name: string }) => t.name)).toEqual(['Demo Brokerage', 'beside the server']);

    // A normal stop takes PostgreSQL down with it.
    again.child.kill('SIGTERM');
    await new Promise((r) => again.child.once('exit', r));
    for (let i = 0; i < 100 && existsSync(path.join(dataDir, 'pg', 'postmaster.pid')); i++) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
  });
});

/** The first migration of the two roles: a data folder from before it ran everything as the superuser. */
const ROLES_MIGRATION = '20261207100000';

describe('npm start on a data folder from before the database roles', () => {
  it('hands its objects to oms_audit_owner, applies the new migrations, and serves the old events as oms_audit_runtime', { timeout: 180_000 }, async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'oms-audit-upgrade-'));
    dirs.push(dataDir);
    const pgPort = await freePort();
    // What an earlier oms-audit left: one database owned by the superuser, which applied the migrations and wrote the events.
    const pg = await startEmbeddedPostgres({ dataDir, port: pgPort, ephemeral: true });
    const server = connect(pg.superuserUrl.replace(/\/oms_audit$/, '/postgres'), { max: 1 });
    await server.unsafe('drop database oms_audit with (force)');
    await server.unsafe('drop role oms_audit_runtime');
    await server.unsafe('drop role oms_audit_owner');
    await server.unsafe('create database oms_audit owner postgres');
    await server.end();
    for (const file of ['pg-owner-password', 'pg-runtime-password']) await rm(path.join(dataDir, 'secrets', file));
    const oldMigrations = await mkdtemp(path.join(tmpdir(), 'oms-audit-old-migrations-'));
    dirs.push(oldMigrations);
    for (const file of (await readdir(migrationsDir())).filter((f) => f < ROLES_MIGRATION)) await cp(path.join(migrationsDir(), file), path.join(oldMigrations, file));
    const old = connect(pg.superuserUrl, { max: 2 });
    await migrate(old, { dir: oldMigrations });
    const tenant = await createTenant(old, 'from before the roles');
    const { key } = await createApiKey(old, { tenantId: tenant.id, scopes: ['events:write', 'events:read'], name: 'old key' });
    // Version 1 rows, as the write path of that release stored them (no written_by column yet).
    await writeVersion1Events(old, tenant.id, Array.from({ length: 7 }, () => event()));
    const [ownedBefore] = await old`select pg_get_userbyid(relowner) as owner from pg_class where oid = 'public.audit_events'::regclass`;
    expect(ownedBefore!.owner).toBe('postgres');
    await old.end();
    await pg.stop();

    const env = { OMS_AUDIT_DATA_DIR: dataDir, OMS_AUDIT_PG_PORT: String(pgPort), PORT: String(await freePort()), OMS_AUDIT_FUNCTIONS: 'false', HOST: '127.0.0.1', OMS_AUDIT_DEMO: 'false' };
    const baseUrl = `http://127.0.0.1:${env.PORT}`;
    const upgraded = start(env);
    try {
      await healthy(baseUrl, upgraded.child, upgraded.output);
      expect(upgraded.output()).toContain(`applied ${ROLES_MIGRATION}_owner_and_runtime_roles.sql`);
      const page = await (await fetch(`${baseUrl}/api/v1/audit/events?limit=100`, { headers: { authorization: `Bearer ${key}` } })).json();
      expect(page.events).toHaveLength(7);
      const write = await fetch(`${baseUrl}/api/v1/audit/events`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ events: [event()] }) });
      expect(write.status).toBe(201);

      // Everything is the owner's now; the server runs as the runtime role, with passwords kept private.
      const admin = connect(`postgres://postgres:${encodeURIComponent((await readFile(path.join(dataDir, 'secrets', 'pg-password'), 'utf8')).trim())}@127.0.0.1:${pgPort}/oms_audit`, { max: 1 });
      try {
        const notOwners = await admin`
          select c.oid::regclass::text as name from pg_class c
          where (c.relnamespace = 'oms_audit'::regnamespace or c.oid in ('public.audit_events'::regclass, 'public.audit_ledger'::regclass))
            and c.relkind in ('r', 'p') and c.relowner <> to_regrole('oms_audit_owner')`;
        expect(notOwners).toEqual([]);
        const [db] = await admin`select pg_get_userbyid(datdba) as owner from pg_database where datname = 'oms_audit'`;
        expect(db!.owner).toBe('oms_audit_owner');
        const sessions = await admin`select distinct usename from pg_stat_activity where application_name = 'oms-audit-server'`;
        expect(sessions.map((r) => r.usename)).toEqual(['oms_audit_runtime']);
      } finally {
        await admin.end();
      }
      for (const file of ['pg-owner-password', 'pg-runtime-password']) expect((await stat(path.join(dataDir, 'secrets', file))).mode & 0o777, file).toBe(0o600);
      expect((await stat(path.join(dataDir, 'secrets'))).mode & 0o777).toBe(0o700);
    } finally {
      upgraded.child.kill('SIGTERM');
      await new Promise((r) => upgraded.child.once('exit', r));
    }
  });
});
