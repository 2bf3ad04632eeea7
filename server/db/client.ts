/**
 * The server's connection pool: one per process, kept on globalThis so that
 * Next.js module reloading in development does not open a new pool each time.
 */
import { connect, type Sql } from '@/supabase/functions/_shared/db.ts';
import { appenderFor } from '@/supabase/functions/_shared/ingest.ts';
import { env } from '@/server/env.ts';
import { isConnectionError } from '@/supabase/functions/_shared/errors.ts';
import { metrics } from '@/server/observability/metrics.ts';

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function replicaPool(url: string): Sql {
  const { DB_POOL_MAX, DB_PREPARE } = env();
  readHolder.__omsAuditReadSql ??= connect(url, { max: DB_POOL_MAX, prepare: DB_PREPARE, applicationName: 'oms-audit-reads' });
  return readHolder.__omsAuditReadSql;
}

/**
 * The pool a search reads from. Without DATABASE_READ_URL: the server's one
 * pool. With it (a streaming replica): the replica, once it has replayed
 * the primary's WAL up to where it was when the search began, so a search
 * sees every write acknowledged before it (read your writes, across servers);
 * if the replica is further behind than DATABASE_READ_MAX_WAIT_MS, or cannot
 * be reached, the search reads from the primary instead. The cost on the
 * primary is one pg_current_wal_lsn() per search.
 */
export async function readDb(): Promise<Sql> {
  const { DATABASE_READ_URL, DATABASE_READ_MAX_WAIT_MS } = env();
  const primary = db();
  if (!DATABASE_READ_URL) {
    metrics().searchReads.inc({ source: 'primary' });
    return primary;
  }
  const replica = replicaPool(DATABASE_READ_URL);
  try {
    const [{ lsn }] = (await primary`select pg_current_wal_lsn()::text as lsn`) as unknown as [{ lsn: string }];
    const deadline = Date.now() + DATABASE_READ_MAX_WAIT_MS;
    for (;;) {
      // Null when the read URL is not in recovery (the primary itself): nothing to wait for.
      const [{ replayed }] = (await replica`select coalesce(pg_last_wal_replay_lsn() >= ${lsn}::pg_lsn, true) as replayed`) as unknown as [{ replayed: boolean }];
      if (replayed) {
        metrics().searchReads.inc({ source: 'replica' });
        return replica;
      }
      if (Date.now() >= deadline) break;
      await sleep(10);
    }
  } catch (err) {
    // The primary's own failure is the search's failure too; a replica's is not.
    if (!isConnectionError(err) || (await primary`select 1`.then(() => false, () => true))) throw err;
  }
  metrics().searchReads.inc({ source: 'primary' });
  return primary;
}

/** For tests and scripts that manage their own connection. */
export function setDb(sql: Sql | undefined): void {
  holder.__omsAuditSql = sql;
}
