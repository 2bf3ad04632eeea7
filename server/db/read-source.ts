/**
 * Where a read runs when a streaming replica is configured (DATABASE_READ_URL),
 * with the guarantee that it sees every write acknowledged before it began:
 * the primary's WAL position is taken first, then the replica is used once it
 * has replayed past it. A replica further behind than the wait allows, or one
 * that cannot be reached, leaves the read on the primary — never a read that
 * shows less. Searches (server/db/client.ts) and exports (REST and CLI) share
 * this one rule; exports also record the outcome in their manifest.
 */
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { isConnectionError } from '@/supabase/functions/_shared/errors.ts';

export interface ReadSource {
  sql: Sql;
  /** Which database the read runs on. */
  database: 'primary' | 'replica';
  /** The primary's WAL position when the read began (when a replica was asked); the read sees every write before it. */
  primaryLsn: string | null;
  /** Why the read stays on the primary (null when it runs on the replica). */
  reason: string | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The replica once it has replayed the primary's current WAL position, within `maxWaitMs`; else the primary, saying why. */
export async function caughtUpRead(primary: Sql, replica: Sql | undefined, maxWaitMs: number): Promise<ReadSource> {
  if (!replica) return { sql: primary, database: 'primary', primaryLsn: null, reason: 'no replica configured (DATABASE_READ_URL)' };
  let primaryLsn: string | null = null;
  try {
    const [{ lsn }] = (await primary`select pg_current_wal_lsn()::text as lsn`) as unknown as [{ lsn: string }];
    primaryLsn = lsn;
    const deadline = Date.now() + maxWaitMs;
    for (;;) {
      // Null when the read URL is not in recovery (the primary itself): nothing to wait for.
      const [{ replayed }] = (await replica`select coalesce(pg_last_wal_replay_lsn() >= ${lsn}::pg_lsn, true) as replayed`) as unknown as [{ replayed: boolean }];
      if (replayed) return { sql: replica, database: 'replica', primaryLsn, reason: null };
      if (Date.now() >= deadline) break;
      await sleep(10);
    }
  } catch (err) {
    // The primary's own failure is the read's failure too; a replica's is not.
    if (!isConnectionError(err) || (await primary`select 1`.then(() => false, () => true))) throw err;
    return { sql: primary, database: 'primary', primaryLsn, reason: `the replica could not be reached: ${(err as Error).message}` };
  }
  return { sql: primary, database: 'primary', primaryLsn, reason: `the replica had not replayed the primary's WAL up to ${primaryLsn} within ${maxWaitMs} ms` };
}
