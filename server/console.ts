/**
 * Server components reach the same procedures as the browser: a tRPC caller
 * built from the page request's cookies, so permission checks, row-level
 * security and the console's own audit events are the same on both paths.
 */
import { cache } from 'react';
import { headers } from 'next/headers';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { observedClient, resolveCredential } from '@/server/auth/credentials.ts';
import { permissionsOf, type Caller, type Permission } from '@/server/auth/caller.ts';
import { createContextInner } from '@/server/context.ts';
import { createCallerFactory } from '@/server/trpc.ts';
import { appRouter } from '@/server/routers/_app.ts';
import { describeCaller, type Me } from '@/server/services/session-info.ts';
import { db } from '@/server/db/client.ts';

const createCaller = createCallerFactory(appRouter);

export interface ConsoleSession {
  caller: Caller;
  me: Me;
  can: (permission: Permission) => boolean;
  api: ReturnType<typeof createCaller>;
}

/** The signed-in console user of this request, or null (no or expired session). */
export const consoleSession = cache(async (): Promise<ConsoleSession | null> => {
  const h = await headers();
  let caller: Caller;
  try {
    const credential = await resolveCredential(h);
    if (credential.source !== 'cookie' || credential.caller.kind !== 'user') return null;
    caller = credential.caller;
  } catch (err) {
    if (err instanceof AuditError && (err.status === 401 || err.status === 403)) return null;
    throw err;
  }
  const permissions = permissionsOf(caller);
  return {
    caller,
    me: await describeCaller(db(), caller),
    can: (p) => permissions.has(p),
    api: createCaller(createContextInner({ caller, observed: observedClient(h) })),
  };
});
