/**
 * Helpers for the REST route handlers: bounded body reading, JSON errors in
 * one shape, and the credential → permission → rate-limit guard.
 */
import { requirePermission, type Caller, type Permission } from '@/server/auth/caller.ts';
import { checkCsrf, resolveCredential } from '@/server/auth/credentials.ts';

import { errorResponse } from '@/supabase/functions/_shared/http.ts';

export { jsonResponse as json, errorResponse, readJsonBody } from '@/supabase/functions/_shared/http.ts';

/** Resolves the caller (401) and checks it holds `permission` in its tenant (403). */
export async function authorize(req: Request, permission: Permission): Promise<Caller> {
  const credential = await resolveCredential(req.headers);
  checkCsrf(req.method, req.headers, credential);
  requirePermission(credential.caller, permission);
  return credential.caller;
}

export { chargeRate } from '@/server/auth/rate-limit.ts';

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
