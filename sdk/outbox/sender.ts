/**
 * The relay's way to the server: POST /api/v1/audit/events with a body built
 * from the outbox rows' JSON as PostgreSQL holds it, so the server judges
 * exactly what the OMS logged. Failures come back as AuditClientError (the
 * server's code, status, field issues and Retry-After, or `network`).
 */
import type { IngestResult } from '../../supabase/functions/_shared/contract.ts';
import type { FieldIssue } from '../../supabase/functions/_shared/errors.ts';
import { AuditClientError } from '../errors.ts';

export interface SenderOptions {
  /** The oms-audit server, e.g. https://audit.example.com. */
  baseUrl: string;
  /** A tenant API key with the events:write scope. */
  apiKey: string;
  timeoutMs: number;
  fetch?: typeof fetch;
  headers?: Record<string, string>;
}

export type Send = (body: string) => Promise<IngestResult>;

export function eventSender(options: SenderOptions): Send {
  const url = `${options.baseUrl.replace(/\/+$/, '')}/api/v1/audit/events`;
  const fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
  return async (body) => {
    let res: Response;
    let text: string;
    try {
      res = await fetchFn(url, {
        method: 'POST',
        headers: { ...options.headers, authorization: `Bearer ${options.apiKey}`, 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      throw new AuditClientError(`The server could not be reached: ${(err as Error)?.message ?? String(err)}`, 'network', undefined, [], undefined, { cause: err });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (res.status === 201) {
      if (!json || typeof (json as IngestResult).created_count !== 'number') {
        // Something answered that is not oms-audit (a proxy's page): not an acknowledgement.
        throw new AuditClientError(`The server answered 201 without an ingest result: ${text.slice(0, 200)}`, 'http_error', 502);
      }
      return json as IngestResult;
    }
    const error = (json as { error?: { code?: string; message?: string; issues?: FieldIssue[] } } | undefined)?.error;
    const retryAfter = Number(res.headers.get('retry-after') ?? NaN);
    throw new AuditClientError(
      error?.message ?? `The server answered ${res.status}: ${text.slice(0, 200)}`,
      error?.code ?? 'http_error',
      res.status,
      Array.isArray(error?.issues) ? error.issues : [],
      Number.isFinite(retryAfter) ? retryAfter : undefined,
    );
  };
}
