/**
 * Helpers for the REST route handlers: bounded body reading, JSON errors in
 * one shape, and the credential → permission → rate-limit guard.
 */
import { principalOf, requirePermission, type Caller, type Permission } from '@/server/auth/caller.ts';
import { checkCsrf, resolveCredential } from '@/server/auth/credentials.ts';
import { enforceRateLimit } from '@/server/auth/rate-limit.ts';
import { env } from '@/server/env.ts';

import { errorResponse } from '@/supabase/functions/_shared/http.ts';

export { jsonResponse as json, errorResponse, readJsonBody } from '@/supabase/functions/_shared/http.ts';

/** Resolves the caller (401) and checks it holds `permission` in its tenant (403). */
export async function authorize(req: Request, permission: Permission): Promise<Caller> {
  const credential = await resolveCredential(req.headers);
  checkCsrf(req.method, req.headers, credential);
  requirePermission(credential.caller, permission);
  return credential.caller;
}

/** Charges the caller's rate limit: writes in events, reads in requests (429 with Retry-After). */
export function chargeRate(caller: Caller, kind: 'write' | 'read', cost = 1): void {
  const { RATE_LIMIT_WRITE_EVENTS_PER_SEC, RATE_LIMIT_READ_REQUESTS_PER_SEC } = env();
  enforceRateLimit(principalOf(caller), kind, cost, {
    writeEventsPerSec: RATE_LIMIT_WRITE_EVENTS_PER_SEC,
    readRequestsPerSec: RATE_LIMIT_READ_REQUESTS_PER_SEC,
  });
}

/** Wraps a route handler so every failure becomes a JSON error, never a stack trace. */
export function route<A extends unknown[]>(handler: (req: Request, ...rest: A) => Promise<Response>) {
  return async (req: Request, ...rest: A): Promise<Response> => {
    try {
      return await handler(req, ...rest);
    } catch (err) {
      return errorResponse(err);
    }
  };
}
