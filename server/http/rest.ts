/**
 * Helpers for the REST route handlers: bounded body reading, JSON errors in
 * one shape, and the credential → permission → rate-limit guard.
 */
import { AuditError, isConnectionError } from '@/supabase/functions/_shared/errors.ts';
import { principalOf, requirePermission, type Caller, type Permission } from '@/server/auth/caller.ts';
import { checkCsrf, resolveCredential } from '@/server/auth/credentials.ts';
import { enforceRateLimit } from '@/server/auth/rate-limit.ts';
import { env } from '@/server/env.ts';

export function json(body: unknown, init: ResponseInit = {}): Response {
  const headers = new Headers(init.headers);
  headers.set('content-type', 'application/json; charset=utf-8');
  headers.set('cache-control', 'no-store');
  return new Response(JSON.stringify(body), { ...init, headers });
}

export function errorResponse(err: unknown): Response {
  let audit: AuditError;
  if (err instanceof AuditError) audit = err;
  else if (isConnectionError(err)) audit = new AuditError('unavailable', 'The database is unavailable; retry shortly', [], 1);
  else {
    const id = crypto.randomUUID();
    console.error(`[oms-audit] internal error ${id}:`, err);
    audit = new AuditError('internal', `Internal server error (reference ${id})`);
  }
  const headers: Record<string, string> = {};
  if (audit.retryAfter !== undefined) headers['retry-after'] = String(audit.retryAfter);
  if (audit.status === 401) headers['www-authenticate'] = 'Bearer realm="oms-audit"';
  return json(audit.toJSON(), { status: audit.status, headers });
}

/**
 * Reads a JSON body of at most `maxBytes`. A larger body is refused (413)
 * as soon as it is seen to be larger, before it is read to the end.
 */
export async function readJsonBody(req: Request, maxBytes: number): Promise<unknown> {
  const tooLarge = () => new AuditError('body_too_large', `The request body exceeds ${maxBytes} bytes. Nothing was stored.`);
  const declared = Number(req.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) throw tooLarge();
  if (!req.body) throw new AuditError('malformed_json', 'The request has no body; send JSON');
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new AuditError('malformed_json', `The body is not valid JSON: ${(err as Error).message}`);
  }
}

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
