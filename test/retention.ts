/**
 * Helpers for the retention tests: a database of their own on the test
 * PostgreSQL (retention acts on every month partition of a database, so these
 * tests do not share one), months of backdated events, and a real
 * S3-compatible server on loopback.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { connect, type Sql, type TenantClaims } from '@/supabase/functions/_shared/db.ts';
import { parseBatch, type AuditEvent, type AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import { appendEvents } from '@/supabase/functions/_shared/ingest.ts';
import type { EventFilters } from '@/supabase/functions/_shared/filters.ts';
import { migrate, readMigrations } from '@/server/db/migrate.ts';
import { parseEnv, type Env } from '@/server/env.ts';
import { streamEvents } from '@/server/services/event-stream.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { freePort } from './ports.ts';

export interface RetentionDb {
  /** The runtime role's URL of this database (what the server and the CLI connect as). */
  url: string;
  /** As the runtime role. */
  sql: Sql;
  /** As the superuser, for tests that play an attacker with database rights. */
  admin: Sql;
  /** Applies the migrations left out by `migratedBefore` (an upgrade), as the owner. */
  migrateRest(): Promise<void>;
  dir: string;
  env(extra?: Record<string, string>): Env;
  drop(): Promise<void>;
}

/** The URL of another database on the same server, as the same role. */
function inDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * A fresh database owned by oms_audit_owner and migrated as it, and a scratch folder, removed by drop().
 * `migratedBefore`: apply only the migrations older than this version (an upgrade test migrates the rest itself).
 */
export async function retentionDatabase(options: { migratedBefore?: string } = {}): Promise<RetentionDb> {
  const name = `oms_retention_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const server = connect(inject('adminDatabaseUrl'), { max: 1 });
  await server.unsafe(`create database ${name} owner oms_audit_owner`);
  const ownerUrl = inDatabase(inject('ownerDatabaseUrl'), name);
  const dir = await mkdtemp(path.join(tmpdir(), 'oms-audit-retention-'));
  const asOwner = async (migrationsDir?: string) => {
    const owner = connect(ownerUrl, { max: 1 });
    try {
      await migrate(owner, migrationsDir ? { dir: migrationsDir } : {});
    } finally {
      await owner.end();
    }
  };
  if (options.migratedBefore) {
    const older = path.join(dir, 'migrations-before');
    await mkdir(older);
    for (const f of (await readMigrations()).filter((m) => m.version < options.migratedBefore!)) await writeFile(path.join(older, f.file), f.sql);
    await asOwner(older);
  } else {
    await asOwner();
  }
  const url = inDatabase(inject('databaseUrl'), name);
  const sql = connect(url, { max: 6, prepare: inject('dbPrepare'), applicationName: 'oms-audit-retention-test' });
  const admin = connect(inDatabase(inject('adminDatabaseUrl'), name), { max: 2, applicationName: 'oms-audit-retention-test-admin' });
  return {
    url,
    sql,
    admin,
    migrateRest: () => asOwner(),
    dir,
    env: (extra = {}) =>
      parseEnv({ DATABASE_URL: url, OMS_AUDIT_DATA_DIR: dir, ARCHIVE_URL: `file://${dir}/archive`, RETENTION_MIN_TOTAL_YEARS: '1', ...extra }),
    drop: async () => {
      await sql.end({ timeout: 5 });
      await admin.end({ timeout: 5 });
      await server.unsafe(`drop database ${name} with (force)`);
      await server.end();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Waits until no session holds the retention lock: PostgreSQL frees the lock of a process that was killed only
 * once its server process has seen the connection close, which on a busy machine takes a moment.
 */
export async function retentionLockFreed(admin: Sql, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [held] = await admin`
      select count(*)::int as n from pg_locks
      where locktype = 'advisory' and objid = hashtext('oms_audit.retention')::oid and granted`;
    if (held!.n === 0) return;
    if (Date.now() > deadline) throw new Error('the retention lock of a killed run was not freed');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A time inside the month `monthsAgo` months back (the 5th, noon UTC); this month: an hour ago. */
export function timeInMonth(monthsAgo: number, offsetSeconds = 0, now = new Date()): string {
  if (monthsAgo === 0) return new Date(now.getTime() - 3600_000 + offsetSeconds * 1000).toISOString();
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - monthsAgo, 5, 12));
  return new Date(d.getTime() + offsetSeconds * 1000).toISOString();
}

/** YYYY-MM of `monthsAgo` months back. */
export function monthLabel(monthsAgo: number, now = new Date()): string {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - monthsAgo, 1)).toISOString().slice(0, 7);
}

/** Whether a month `monthsAgo` back is past a hot window of `hotMonths` (its end is more than that long ago). */
export function pastHotWindow(monthsAgo: number, hotMonths: number, now = new Date()): boolean {
  const end = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - monthsAgo + 1, 1);
  const cutoff = new Date(now);
  cutoff.setUTCMonth(cutoff.getUTCMonth() - hotMonths);
  return end <= cutoff.getTime();
}

export async function tenantWithHistory(sql: Sql, label: string, months: number[], perMonth: number): Promise<{ id: string; claims: TenantClaims }> {
  const tenant = await createTenant(sql, `${label}-${randomUUID().slice(0, 8)}`);
  for (const m of months) await addEvents(sql, tenant.id, m, perMonth);
  return { id: tenant.id, claims: { tenant_id: tenant.id, sub: 'test', role: 'authenticated' } };
}

/** `n` order events of a tenant in the month `monthsAgo` back, through the normal write path. */
export async function addEvents(sql: Sql, tenantId: string, monthsAgo: number, n: number, offset = 0): Promise<string[]> {
  const events = seedEvents(monthsAgo, n, offset);
  const ids: string[] = [];
  for (let i = 0; i < events.length; i += 500) {
    const result = await appendEvents(sql, { tenantId, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events: events.slice(i, i + 500) }, 500), { ip: '198.51.100.1', userAgent: 'retention-test' }, 'cli');
    ids.push(...result.ids);
  }
  return ids;
}

/** The order events addEvents writes: `n` in the month `monthsAgo` back. */
export function seedEvents(monthsAgo: number, n: number, offset = 0): AuditEventRequest[] {
  return Array.from({ length: n }, (_, i) => ({
    actor_id: `trader-${i % 3}`,
    actor_type: 'USER',
    object_type: 'ORDER',
    object_id: `ORD-${monthsAgo}-${i % 4}`,
    event_type: ['CREATE', 'UPDATE', 'FILL', 'CANCEL'][i % 4]!,
    occurred_at: timeInMonth(monthsAgo, offset + i * 37),
    source: 'seed',
    request_id: `req-${monthsAgo}-${offset + i}`,
    ip_address: i % 2 ? '203.0.113.7' : '2001:db8::7',
    context: { symbol: i % 3 ? 'AAPL' : 'MSFT', qty: 100 * (i + 1), px: 187.25, note: `line "${i}", comma\nnewline ü 🚀` },
  }));
}

/** Every event of a filter set through the export stream, without the `archived` mark. */
export async function allEvents(sql: Sql, claims: TenantClaims, filters: EventFilters = {}): Promise<(AuditEvent & { archived?: boolean })[]> {
  const out: (AuditEvent & { archived?: boolean })[] = [];
  for await (const page of streamEvents(sql, claims, filters, { pageSize: 97 })) out.push(...page);
  return out;
}

export const withoutMark = (events: (AuditEvent & { archived?: boolean })[]) => events.map(({ archived: _a, ...e }) => e);

export interface S3Server {
  endpoint: string;
  bucket: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** A real S3-compatible server (s3rver) on a loopback port, with one bucket. */
export async function startS3(): Promise<S3Server> {
  const { default: S3rver } = await import('s3rver');
  const directory = await mkdtemp(path.join(tmpdir(), 'oms-audit-s3-'));
  const bucket = 'oms-audit-archive';
  const port = await freePort();
  const server = new S3rver({ port, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: bucket }] });
  await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    env: { ARCHIVE_URL: `s3://${bucket}/archives`, ARCHIVE_S3_ENDPOINT: endpoint, ARCHIVE_S3_FORCE_PATH_STYLE: 'true', ARCHIVE_S3_ACCESS_KEY_ID: 'S3RVER', ARCHIVE_S3_SECRET_ACCESS_KEY: 'S3RVER' },
    stop: async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/**
 * Archives and drops one month of the shared test database into `dir`/archive (the server reads archives
 * wherever their catalog entry says). The month must belong to the calling test file alone: the whole
 * partition is archived.
 */
export async function archiveSharedMonth(sql: Sql, dir: string, month: string): Promise<void> {
  const { retentionContext } = await import('@/server/services/retention/context.ts');
  const { archiveMonth } = await import('@/server/services/retention/archive.ts');
  const { withRetentionLock } = await import('@/server/services/retention/parts.ts');
  const env = parseEnv({ DATABASE_URL: inject('databaseUrl'), OMS_AUDIT_DATA_DIR: dir, ARCHIVE_URL: `file://${dir}/archive`, RETENTION_MIN_TOTAL_YEARS: '1' });
  const ctx = await retentionContext(sql, env, { actor: 'test', workDir: path.join(dir, 'work') });
  // Dropping a partition waits (10 s at a time) for queries of audit_events to end; other test files' exports
  // run for minutes, so the drop is tried again until they are done (archiving again is a no-op).
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await withRetentionLock(sql, { wait: true }, () => archiveMonth(ctx, `${month}-01`, { drop: true }));
      if (result.outcome !== 'dropped') throw new Error(`archiving ${month} ended ${result.outcome}: ${JSON.stringify(result.tenants)}`);
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== '55P03' || attempt >= 60) throw err;
    }
  }
}
