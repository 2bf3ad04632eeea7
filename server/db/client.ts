/**
 * The server's connection pool: one per process, kept on globalThis so that
 * Next.js module reloading in development does not open a new pool each time.
 */
import { connect, type Sql } from '@/supabase/functions/_shared/db.ts';
import { appenderFor } from '@/supabase/functions/_shared/ingest.ts';
import { env } from '@/server/env.ts';

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

/**
 * The pool searches read from: DATABASE_READ_URL (a streaming replica) when
 * set, else the server's one pool. A replica trails the primary by its replay
 * lag, so a search right after a write may not show it yet (docs/scaling.md).
 */
export function readDb(): Sql {
  const { DATABASE_READ_URL, DB_POOL_MAX, DB_PREPARE } = env();
  if (!DATABASE_READ_URL) return db();
  readHolder.__omsAuditReadSql ??= connect(DATABASE_READ_URL, { max: DB_POOL_MAX, prepare: DB_PREPARE, applicationName: 'oms-audit-reads' });
  return readHolder.__omsAuditReadSql;
}

/** For tests and scripts that manage their own connection. */
export function setDb(sql: Sql | undefined): void {
  holder.__omsAuditSql = sql;
}
