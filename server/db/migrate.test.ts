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
import { migrate, migrationStatus, migrationsDir, readMigrations } from './migrate.ts';

/** A fresh, empty database on the given server; dropped afterwards. */
async function freshDatabase(serverUrl: string): Promise<{ sql: Sql; drop: () => Promise<void> }> {
  const name = `oms_migrate_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const admin = connect(serverUrl, { max: 1 });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const sql = connect(url.toString(), { max: 2 });
  return {
    sql,
    drop: async () => {
      await sql.end();
      await admin.unsafe(`drop database ${name} with (force)`);
      await admin.end();
    },
  };
}

async function exercise(sql: Sql) {
  const tenant = await createTenant(sql, 'migration check');
  const result = await appendEvents(sql, { tenantId: tenant.id, writer: { kind: 'operator', name: 't' } }, parseBatch({ events: [event(), event({ occurred_at: '2020-05-05T05:05:05.555555Z' })] }, 500), { ip: null, userAgent: null }, 'cli');
  expect(result.created_count).toBe(2);
  const rows = await sql.begin(async (tx) => {
    await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${JSON.stringify({ tenant_id: randomUUID() })}, true)`;
    return tx`select count(*)::int as n from public.audit_events`;
  });
  expect(rows[0]!.n).toBe(0);
  await expect(sql`delete from public.audit_events`).rejects.toMatchObject({ message: expect.stringContaining('append-only') });
}

describe('migrations', () => {
  it('apply on a fresh embedded PostgreSQL, and a second run is a no-op', async () => {
    const db = await freshDatabase(inject('databaseUrl'));
    try {
      const files = (await readMigrations()).map((f) => f.file);
      expect(await migrate(db.sql)).toEqual(files);
      expect(await migrate(db.sql)).toEqual([]);
      expect(await migrationStatus(db.sql)).toEqual({ applied: files, pending: [] });
      await exercise(db.sql);
    } finally {
      await db.drop();
    }
  });

  it('refuse to run when an applied migration was changed', async () => {
    const db = await freshDatabase(inject('databaseUrl'));
    const dir = await mkdtemp(path.join(tmpdir(), 'oms-migrations-'));
    try {
      await cp(migrationsDir(), dir, { recursive: true });
      await migrate(db.sql, { dir });
      const [first] = await readMigrations(dir);
      await appendFile(path.join(dir, first!.file), '\n-- edited\n');
      await expect(migrate(db.sql, { dir })).rejects.toThrow(/was changed after it was applied/);
      await writeFile(path.join(dir, '20991231000000_later.sql'), 'select 1;');
      await expect(migrationStatus(db.sql, dir)).rejects.toThrow(/was changed/);
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

    it('apply unchanged and work', async () => {
      const db = await freshDatabase(pg15.url);
      try {
        const [version] = await db.sql`select current_setting('server_version_num')::int as v`;
        expect(version!.v).toBeGreaterThanOrEqual(150000);
        expect(version!.v).toBeLessThan(160000);
        expect((await migrate(db.sql)).length).toBe((await readMigrations()).length);
        expect(await migrate(db.sql)).toEqual([]);
        await exercise(db.sql);
      } finally {
        await db.drop();
      }
    });
  });
});
