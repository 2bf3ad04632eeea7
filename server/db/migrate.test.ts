import { randomUUID } from 'node:crypto';
import { cp, mkdtemp, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { connect, type Sql } from '@/supabase/functions/_shared/db.ts';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { appendEvents } from '@/supabase/functions/_shared/ingest.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { startPostgres15, type Pg15 } from '@/test/pg15.ts';
import { event } from '@/test/fixtures.ts';
import { checkRuntimeRole } from '@/supabase/functions/_shared/runtime-role.ts';
import { migrate, migrationStatus, migrationsDir, readMigrations } from './migrate.ts';
import { PUBLIC_TABLES } from './roles.ts';

/** A database URL with another database name. */
function inDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A fresh, empty database on the server of `adminUrl` (a superuser's), owned by `owner`; dropped afterwards. */
async function freshDatabase(adminUrl: string, owner = 'postgres'): Promise<{ name: string; admin: Sql; drop: () => Promise<void> }> {
  const name = `oms_migrate_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const server = connect(adminUrl, { max: 1 });
  await server.unsafe(`create database ${name} owner ${owner}`);
  const admin = connect(inDatabase(adminUrl, name), { max: 2 });
  return {
    name,
    admin,
    drop: async () => {
      await admin.end();
      await server.unsafe(`drop database ${name} with (force)`);
      await server.end();
    },
  };
}

/** Everyday work as the runtime role, and the trail's defences against it. */
async function exercise(runtime: Sql) {
  const tenant = await createTenant(runtime, 'migration check');
  const result = await appendEvents(runtime, { tenantId: tenant.id, writer: { kind: 'operator', name: 't' } }, parseBatch({ events: [event(), event({ occurred_at: '2020-05-05T05:05:05.555555Z' })] }, 500), { ip: null, userAgent: null }, 'cli');
  expect(result.created_count).toBe(2);
  const rows = await runtime.begin(async (tx) => {
    await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${JSON.stringify({ tenant_id: randomUUID() })}, true)`;
    return tx`select count(*)::int as n from public.audit_events`;
  });
  expect(rows[0]!.n).toBe(0);
  expect((await runtime`select count(*)::int as n from public.audit_events where tenant_id = ${tenant.id}`)[0]!.n).toBe(2);
  await expect(runtime`delete from public.audit_events`).rejects.toMatchObject({ code: '42501' });
  expect(await checkRuntimeRole(runtime)).toMatchObject({ user: 'oms_audit_runtime', problems: [] });
}

/** Relations and functions of oms-audit that oms_audit_owner does not own. */
async function notOwnedByOwner(sql: Sql): Promise<string[]> {
  const rows = await sql`
    select c.oid::regclass::text as name from pg_class c
    where (c.relnamespace = 'oms_audit'::regnamespace or (c.relnamespace = 'public'::regnamespace and c.relname = any(${[...PUBLIC_TABLES]})))
      and c.relkind in ('r', 'p', 'v', 'S') and c.relowner <> to_regrole('oms_audit_owner')
    union all
    select p.oid::regprocedure::text from pg_proc p where p.pronamespace = 'oms_audit'::regnamespace and p.proowner <> to_regrole('oms_audit_owner')
    union all
    select 'schema oms_audit' from pg_namespace where nspname = 'oms_audit' and nspowner <> to_regrole('oms_audit_owner')`;
  return rows.map((r) => r.name as string);
}

describe('migrations', () => {
  it('apply as oms_audit_owner on a fresh embedded PostgreSQL, and a second run is a no-op; the runtime role works', async () => {
    const db = await freshDatabase(inject('adminDatabaseUrl'), 'oms_audit_owner');
    const owner = connect(inDatabase(inject('ownerDatabaseUrl'), db.name), { max: 1 });
    const runtime = connect(inDatabase(inject('databaseUrl'), db.name), { max: 2 });
    try {
      const files = (await readMigrations()).map((f) => f.file);
      expect(await migrate(owner)).toEqual(files);
      expect(await migrate(owner)).toEqual([]);
      expect(await migrationStatus(runtime)).toEqual({ applied: files, pending: [] });
      expect(await notOwnedByOwner(db.admin)).toEqual([]);
      await exercise(runtime);
    } finally {
      await Promise.all([owner.end(), runtime.end()]);
      await db.drop();
    }
  });

  it('refuse to run when an applied migration was changed', async () => {
    const db = await freshDatabase(inject('adminDatabaseUrl'));
    const dir = await mkdtemp(path.join(tmpdir(), 'oms-migrations-'));
    try {
      await cp(migrationsDir(), dir, { recursive: true });
      await migrate(db.admin, { dir });
      const [first] = await readMigrations(dir);
      await appendFile(path.join(dir, first!.file), '\n-- edited\n');
      await expect(migrate(db.admin, { dir })).rejects.toThrow(/was changed after it was applied/);
      await writeFile(path.join(dir, '20991231000000_later.sql'), 'select 1;');
      await expect(migrationStatus(db.admin, dir)).rejects.toThrow(/was changed/);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await db.drop();
    }
  });

  describe('on Debian PostgreSQL 15', () => {
    let pg15: Pg15;
    beforeAll(async () => {
      pg15 = await startPostgres15();
    });
    afterAll(() => pg15?.stop());

    it('apply unchanged as the superuser, hand every object to oms_audit_owner, and work as oms_audit_runtime', async () => {
      const db = await freshDatabase(pg15.url);
      // The first migration creates the roles NOLOGIN; the operator then gives the runtime role a password.
      const password = randomUUID();
      const runtimeUrl = Object.assign(new URL(inDatabase(pg15.url, db.name)), { username: 'oms_audit_runtime', password }).toString();
      const runtime = connect(runtimeUrl, { max: 2 });
      try {
        const [version] = await db.admin`select current_setting('server_version_num')::int as v`;
        expect(version!.v).toBeGreaterThanOrEqual(150000);
        expect(version!.v).toBeLessThan(160000);
        expect((await migrate(db.admin)).length).toBe((await readMigrations()).length);
        expect(await migrate(db.admin)).toEqual([]);
        expect(await notOwnedByOwner(db.admin)).toEqual([]);
        // A later migration run by the superuser (as by `supabase db push`) is handed over by the next `migrate`.
        await db.admin`create type oms_audit.later_kind as enum ('a', 'b'); create table oms_audit.later_table (id int, kind oms_audit.later_kind)`.simple();
        await db.admin`create function oms_audit.later_fn() returns int language sql as 'select 1'`;
        expect((await notOwnedByOwner(db.admin)).sort()).toEqual(['oms_audit.later_fn()', 'oms_audit.later_table']);
        expect(await migrate(db.admin)).toEqual([]);
        expect(await notOwnedByOwner(db.admin)).toEqual([]);
        expect((await db.admin`select pg_get_userbyid(typowner) as owner from pg_type where typname = 'later_kind'`)[0]!.owner).toBe('oms_audit_owner');
        await db.admin.unsafe(`alter role oms_audit_runtime login password '${password}'`);
        await exercise(runtime);
      } finally {
        await runtime.end();
        await db.drop();
      }
    });
  });
});
