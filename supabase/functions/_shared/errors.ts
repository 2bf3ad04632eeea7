/**
 * Errors that reach clients. Every transport turns an AuditError into the same
 * JSON body: {"error":{"code","message","issues":[{"index","field","message"}]}}
 * and never shows a stack trace.
 */
import type { z } from 'zod';
import { formatJsonPath } from './strict-json.ts';

export interface FieldIssue {
  /** 0-based position of the event within the batch; absent for request-level problems. */
  index?: number;
  field: string;
  message: string;
}

export type ErrorCode =
  | 'invalid_request'
  | 'malformed_json'
  | 'unauthorized'
  | 'forbidden'
  | 'tenant_mismatch'
  | 'not_found'
  | 'method_not_allowed'
  | 'batch_too_large'
  | 'body_too_large'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

const STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  malformed_json: 400,
  unauthorized: 401,
  forbidden: 403,
  tenant_mismatch: 403,
  not_found: 404,
  method_not_allowed: 405,
  batch_too_large: 413,
  body_too_large: 413,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
};

export class AuditError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly issues: FieldIssue[] = [],
    /** Seconds, for 429 and 503. */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'AuditError';
    this.status = STATUS[code];
  }

  toJSON() {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.issues.length ? { issues: this.issues } : {}),
      },
    };
  }
}

/** Maps zod issues of a `{events:[…]}` body (or of a single event) to index + field. */
export function issuesFromZod(error: z.ZodError, options: { batch: boolean }): FieldIssue[] {
  // An unknown key is reported at the key itself, like any other field.
  const flat = error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: [...issue.path, key], message: 'is not a known field' }))
      : [{ path: issue.path, message: issue.message }],
  );
  return flat.slice(0, 100).map((issue) => {
    const path = issue.path.map((p) => (typeof p === 'number' ? p : String(p)));
    if (options.batch && path[0] === 'events' && typeof path[1] === 'number') {
      return { index: path[1], field: path.length > 2 ? formatJsonPath(path.slice(2)) : '(event)', message: issue.message };
    }
    return { field: formatJsonPath(path), message: issue.message };
  });
}

export function invalid(issues: FieldIssue[], what = 'request'): AuditError {
  const first = issues[0];
  const where = first ? `${first.index !== undefined ? `event ${first.index}, ` : ''}${first.field}: ${first.message}` : '';
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return new AuditError('invalid_request', `Invalid ${what}${where ? ` — ${where}` : ''}${more}`, issues);
}

/** What a client is told while the database cannot be reached: come back in a second. */
export function databaseUnavailable(): AuditError {
  return new AuditError('unavailable', 'The database is unavailable; retry shortly', [], 1);
}

/** `err` as the client should see it: a lost or refused database connection is `databaseUnavailable()` (503). */
export function asUnavailable(err: unknown): unknown {
  return isConnectionError(err) ? databaseUnavailable() : err;
}

/** PostgreSQL connection failures are a temporary unavailability (503), not a server fault. */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; errno?: string } | null;
  if (!e) return false;
  const code = String(e.code ?? e.errno ?? '');
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT', 'ENOTFOUND'].includes(code) ||
    code.startsWith('08') || // connection exception
    code === '57P01' || // admin_shutdown
    code === '57P02' ||
    code === '57P03' // cannot_connect_now (starting up / shutting down)
  );
}

/** The HTTP status of every error code (the OpenAPI document lists them). */
export { STATUS as ERROR_STATUS };
