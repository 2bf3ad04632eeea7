/** Errors the SDK reports: the server's JSON error (code, field issues) or a network failure. */
import type { FieldIssue } from '../supabase/functions/_shared/errors.ts';

export type { FieldIssue };

export class AuditClientError extends Error {
  constructor(
    message: string,
    /** The server's error code (invalid_request, unauthorized, …), or `network` when no answer came. */
    readonly code: string,
    /** HTTP status; absent when the request got no answer. */
    readonly status: number | undefined,
    /** Which events were wrong and why (index within the request). */
    readonly issues: FieldIssue[] = [],
    /** Seconds the server asked to wait (429, 503). */
    readonly retryAfter?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AuditClientError';
  }

  /**
   * Worth sending again, unchanged: no answer (network, timeout), 408, 429 or a
   * server-side failure (5xx). A 4xx means the request itself is wrong.
   */
  get retryable(): boolean {
    return this.status === undefined || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

/** logBulk stopped at a failed request: what was stored before it, and the ids not stored. */
export class AuditBulkError extends AuditClientError {
  constructor(
    readonly error: AuditClientError,
    /** The requests that succeeded before the failure. */
    readonly calls: ReadonlyArray<{ ids: string[] }>,
    /** Ids of the events not stored (send them again: they are idempotent). */
    readonly unsentIds: string[],
  ) {
    super(error.message, error.code, error.status, error.issues, error.retryAfter, { cause: error });
    this.name = 'AuditBulkError';
  }
}
