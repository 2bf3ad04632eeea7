/**
 * Applies supabase/migrations/*.sql in name order, each in its own transaction,
 * and records them. A file changed after it was applied is refused: migrations
 * are history, a change goes in a new file. Run by a role other than
 * oms_audit_owner (a superuser, Supabase's postgres), it then hands every
 * oms-audit object to oms_audit_owner (server/db/roles.ts).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { fromRoot } from '@/server/paths.ts';
import { handOverToOwner, mayHandOver } from './roles.ts';

export const migrationsDir = () => fromRoot('supabase', 'migrations');
const FILE_PATTERN = /^(\d{14})_([a-z0-9_]+)\.sql$/;

export interface MigrationFile {
  version: string;
  name: string;
  file: string;
  checksum: string;
  sql: string;
}

export async function readMigrations(dir = migrationsDir()): Promise<MigrationFile[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  return Promise.all(
    files.map(async (file) => {
      const match = FILE_PATTERN.exec(file);
      if (!match) throw new Error(`Migration ${file} does not follow <14-digit timestamp>_<name>.sql`);
      const sql = await readFile(path.join(dir, file), 'utf8');
      return { version: match[1]!, name: match[2]!, file, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

const BOOTSTRAP = `
  create schema if not exists oms_audit;
  create table if not exists oms_audit.schema_migrations (
    version text primary key,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now()
  );`;

export interface MigrationStatus {
  applied: string[];
  pending: string[];
}

async function appliedChecksums(sql: Sql): Promise<Map<string, { name: string; checksum: string }>> {
  const exists = await sql`select to_regclass('oms_audit.schema_migrations') is not null as ok`;
  if (!exists[0]!.ok) return new Map();
  const rows = await sql`select version, name, checksum from oms_audit.schema_migrations order by version`;
  return new Map(rows.map((r) => [r.version as string, { name: r.name as string, checksum: r.checksum as string }]));
}

function checkUnchanged(files: MigrationFile[], applied: Map<string, { checksum: string }>): void {
  for (const f of files) {
    const done = applied.get(f.version);
    if (done && done.checksum !== f.checksum) {
      throw new Error(
        `Migration ${f.file} was changed after it was applied (checksum ${done.checksum.slice(0, 12)}… in the database, ${f.checksum.slice(0, 12)}… on disk). Put the change in a new migration.`,
      );
    }
  }
}

export async function migrationStatus(sql: Sql, dir = migrationsDir()): Promise<MigrationStatus> {
  const files = await readMigrations(dir);
  const applied = await appliedChecksums(sql);
  checkUnchanged(files, applied);
  return {
    applied: files.filter((f) => applied.has(f.version)).map((f) => f.file),
    pending: files.filter((f) => !applied.has(f.version)).map((f) => f.file),
  };
}

/** Applies pending migrations; returns the files applied (empty when up to date). */
export async function migrate(sql: Sql, options: { dir?: string; log?: (line: string) => void } = {}): Promise<string[]> {
  const files = await readMigrations(options.dir);
  const done: string[] = [];
  await sql.begin(async (tx) => {
    // One migrator at a time (server and CLI may start together).
    await tx`select pg_advisory_xact_lock(hashtext('oms_audit.migrate'))`;
    await tx.unsafe(BOOTSTRAP);
  });
  const applied = await appliedChecksums(sql);
  checkUnchanged(files, applied);
  for (const f of files) {
    if (applied.has(f.version)) continue;
    await sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(hashtext('oms_audit.migrate'))`;
      const again = await tx`select 1 from oms_audit.schema_migrations where version = ${f.version}`;
      if (again.length) return; // applied by a concurrent migrator
      await tx.unsafe(f.sql);
      await tx`insert into oms_audit.schema_migrations (version, name, checksum) values (${f.version}, ${f.name}, ${f.checksum})`;
      done.push(f.file);
      options.log?.(`applied ${f.file}`);
    });
  }
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext('oms_audit.migrate'))`;
    if (await mayHandOver(tx)) await handOverToOwner(tx);
  });
  return done;
}
