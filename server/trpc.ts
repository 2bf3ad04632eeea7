/**
 * The one initTRPC. Exports only base procedures:
 *   publicProcedure    anyone
 *   protectedProcedure any authenticated caller
 *   tenantProcedure    a caller holding meta.permission in its tenant (rate-limited)
 * Service errors (AuditError) become tRPC errors with the same code, message
 * and field issues as the REST API; internal errors never show their details.
 */
import { initTRPC, TRPCError } from '@trpc/server';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import { z } from 'zod';
import { AuditError, databaseUnavailable, isConnectionError, issuesFromZod, type FieldIssue } from '@/supabase/functions/_shared/errors.ts';
import { LIMITS } from '@/supabase/functions/_shared/limits.ts';
import { claimsOf, requirePermission, writerOf, type Permission } from '@/server/auth/caller.ts';
import { chargeRate } from '@/server/auth/rate-limit.ts';
import { recordIngestFailure, type IngestPath } from '@/server/observability/ingest-metrics.ts';
import { metrics } from '@/server/observability/metrics.ts';
import type { Context } from './context.ts';

export interface Meta {
  /** The permission a tenantProcedure requires. Every tenant procedure declares one. */
  permission?: Permission;
  /** Counted against the write (events) or read (requests) rate limit. */
  rate?: 'write' | 'read';
}

const TRPC_CODES: Record<AuditError['code'], TRPC_ERROR_CODE_KEY> = {
  invalid_request: 'BAD_REQUEST',
  malformed_json: 'BAD_REQUEST',
  unauthorized: 'UNAUTHORIZED',
  forbidden: 'FORBIDDEN',
  tenant_mismatch: 'FORBIDDEN',
  not_found: 'NOT_FOUND',
  method_not_allowed: 'METHOD_NOT_SUPPORTED',
  batch_too_large: 'PAYLOAD_TOO_LARGE',
  body_too_large: 'PAYLOAD_TOO_LARGE',
  rate_limited: 'TOO_MANY_REQUESTS',
  unavailable: 'SERVICE_UNAVAILABLE',
  internal: 'INTERNAL_SERVER_ERROR',
};

/** Maps input validation failures the same way REST does: too many events is 413, the rest 400 with index + field. */
export function toAuditError(error: unknown): AuditError | null {
  if (error instanceof AuditError) return error;
  if (error instanceof TRPCError && error.cause instanceof AuditError) return error.cause;
  // A lost or refused database connection is temporary: 503 with Retry-After, as on REST.
  if (isConnectionError(error) || (error instanceof TRPCError && isConnectionError(error.cause))) return databaseUnavailable();
  const zodError = error instanceof z.ZodError ? error : error instanceof TRPCError && error.cause instanceof z.ZodError ? error.cause : null;
  if (zodError) {
    const tooMany = zodError.issues.find((i) => i.code === 'too_big' && i.path.length === 1 && i.path[0] === 'events');
    if (tooMany) {
      return new AuditError('batch_too_large', `A batch holds at most ${LIMITS.apiBatch} events. Nothing was stored.`, [
        { field: 'events', message: tooMany.message },
      ]);
    }
    const issues = issuesFromZod(zodError, { batch: true });
    const first = issues[0];
    return new AuditError('invalid_request', `Invalid input${first ? ` — ${first.index !== undefined ? `event ${first.index}, ` : ''}${first.field}: ${first.message}` : ''}`, issues);
  }
  return null;
}

const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    errorFormatter({ shape, error }) {
      const audit = error.cause instanceof AuditError ? error.cause : null;
      const internal = error.code === 'INTERNAL_SERVER_ERROR';
      return {
        message: internal ? 'Internal server error' : shape.message,
        code: shape.code,
        data: {
          code: shape.data.code,
          httpStatus: shape.data.httpStatus,
          path: shape.data.path,
          auditCode: audit?.code ?? (internal ? 'internal' : undefined),
          issues: (audit?.issues ?? []) as FieldIssue[],
          retryAfter: audit?.retryAfter,
        },
      };
    },
  });

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const middleware = t.middleware;

/** Turns service errors into tRPC errors with matching status codes. Wraps input parsing too. */
const auditErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) {
    const audit = toAuditError(result.error.cause ?? result.error);
    if (audit) throw new TRPCError({ code: TRPC_CODES[audit.code], message: audit.message, cause: audit });
  }
  return result;
});

/** Read latency by procedure, and write requests refused before the write path (bad input, credentials, rate). */
const observed = t.middleware(async ({ path, type, next }) => {
  const started = performance.now();
  const result = await next();
  if (type === 'query') metrics().queryDurationSeconds.observe({ procedure: path }, (performance.now() - started) / 1000);
  else if (!result.ok && INGEST_PROCEDURES[path]) recordIngestFailure(INGEST_PROCEDURES[path], result.error);
  return result;
});

const INGEST_PROCEDURES: Record<string, IngestPath> = { 'events.logBulk': 'trpc', 'events.log': 'single' };

export const publicProcedure = t.procedure.use(observed).use(auditErrors);

export const protectedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (ctx.authError) throw ctx.authError;
  if (ctx.caller.kind === 'anonymous') throw new AuditError('unauthorized', 'Authentication required: send Authorization: Bearer <API key> or sign in');
  return next({ ctx });
});

export const tenantProcedure = protectedProcedure.use(async ({ ctx, meta, next, getRawInput }) => {
  if (!meta?.permission) throw new AuditError('internal', 'Procedure declares no permission');
  requirePermission(ctx.caller, meta.permission);
  if (meta.rate) {
    const events = ((await getRawInput()) as { events?: unknown[] } | undefined)?.events;
    chargeRate(ctx.caller, meta.rate, meta.rate === 'write' && Array.isArray(events) ? events.length : 1);
  }
  return next({ ctx: { ...ctx, claims: claimsOf(ctx.caller), writer: writerOf(ctx.caller) } });
});
