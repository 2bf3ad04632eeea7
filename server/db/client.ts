/**
 * The server's connection pool: one per process, kept on globalThis so that
 * Next.js module reloading in development does not open a new pool each time.
 */
import { connect, type Sql } from '@/supabase/functions/_shared/db.ts';
import { appenderFor } from '@/supabase/functions/_shared/ingest.ts';
import { env } from '@/server/env.ts';
import { metrics } from '@/server/observability/metrics.ts';
import { caughtUpRead, type ReadSource } from './read-source.ts';

const holder = globalThis as typeof globalThis & { __omsAuditSql?: Sql };

export function db(): Sql {
  if (!holder.__omsAuditSql) {
    const { DATABASE_URL, DB_POOL_MAX, DB_PREPARE, GROUP_COMMIT_LINGER_MS } = env();
    if (!DATABASE_URL) {
      throw new Error('DATABASE_URL is not set: start oms-audit with `npm start`, which provides embedded PostgreSQL, or set DATABASE_URL');
    }
    holder.__omsAuditSql = connect(DATABASE_URL, { max: DB_POOL_MAX, prepare: DB_PREPARE, applicationName: 'oms-audit-server' });
    appenderFor(holder.__omsAuditSql, { lingerMs: GROUP_COMMIT_LINGER_MS });
  }
  return holder.__omsAuditSql;
}

const readHolder = globalThis as typeof globalThis & { __omsAuditReadSql?: Sql };

function replicaPool(url: string): Sql {
  const { DB_POOL_MAX, DB_PREPARE } = env();
  readHolder.__omsAuditReadSql ??= connect(url, { max: DB_POOL_MAX, prepare: DB_PREPARE, applicationName: 'oms-audit-reads' });
  return readHolder.__omsAuditReadSql;
}

/**
 * Where a read runs (server/db/read-source.ts): without DATABASE_READ_URL the
 * server's one pool; with it (a streaming replica) the replica once it has
 * replayed the primary's WAL up to where it was when the read began (read your
 * writes, across servers), else the primary. The cost on the primary is one
 * pg_current_wal_lsn() per read.
 */
export async function readSource(): Promise<ReadSource> {
  const { DATABASE_READ_URL, DATABASE_READ_MAX_WAIT_MS } = env();
  return caughtUpRead(db(), DATABASE_READ_URL ? replicaPool(DATABASE_READ_URL) : undefined, DATABASE_READ_MAX_WAIT_MS);
}

/** The pool a search reads from (readSource()), counted by where it read. */
export async function readDb(): Promise<Sql> {
  const source = await readSource();
  metrics().searchReads.inc({ source: source.database });
  return source.sql;
}

/** For tests and scripts that manage their own connection. */
export function setDb(sql: Sql | undefined): void {
  holder.__omsAuditSql = sql;
}
