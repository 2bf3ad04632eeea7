/**
 * tRPC context. createContextInner() takes what a request carries once it is
 * authenticated, so tests build contexts directly and call procedures through
 * createCaller() with real credentials and a real database.
 */
import type { ObservedClient } from '@/supabase/functions/_shared/ingest.ts';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { db, readDb } from '@/server/db/client.ts';
import type { Caller } from '@/server/auth/caller.ts';
import { checkCsrf, observedClient, resolveCredential } from '@/server/auth/credentials.ts';
import { AuditError, databaseUnavailable, isConnectionError } from '@/supabase/functions/_shared/errors.ts';

export interface ContextInner {
  caller: Caller;
  observed: ObservedClient;
  sql: Sql;
  /** The pool a search reads from: a replica (DATABASE_READ_URL) that has caught up, else `sql` (server/db/client.ts). */
  reads: () => Promise<Sql>;
  /** Set when resolving the credential failed: procedures that need a caller answer with it. */
  authError?: AuditError;
}

export function createContextInner(opts: { caller: Caller; observed?: ObservedClient; sql?: Sql; reads?: () => Promise<Sql>; authError?: AuditError }): ContextInner {
  const sql = opts.sql;
  return {
    caller: opts.caller,
    observed: opts.observed ?? { ip: null, userAgent: null },
    sql: sql ?? db(),
    reads: opts.reads ?? (sql ? async () => sql : readDb),
    authError: opts.authError,
  };
}

export async function createContext({ req }: { req: Request }): Promise<ContextInner> {
  const observed = observedClient(req.headers);
  try {
    const credential = await resolveCredential(req.headers);
    checkCsrf(req.method, req.headers, credential);
    return createContextInner({ caller: credential.caller, observed });
  } catch (err) {
    if (err instanceof AuditError) return createContextInner({ caller: { kind: 'anonymous' }, observed, authError: err });
    // The key or user could not be looked up: procedures answer 503, not 500.
    if (isConnectionError(err)) return createContextInner({ caller: { kind: 'anonymous' }, observed, authError: databaseUnavailable() });
    throw err;
  }
}

export type Context = ContextInner;
