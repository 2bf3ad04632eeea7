/**
 * Admission control for writes: at most MAX_INFLIGHT_WRITES write requests
 * are handled by this process at once. Past that, a write is answered 503
 * with Retry-After before its body is read, so an overload costs a short
 * answer instead of memory: bodies, parsed events and queued groups stay
 * bounded however much is offered. Reads are never refused here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { errorParts } from '@/supabase/functions/_shared/http.ts';
import { env } from '@/server/env.ts';

let inFlight = 0;

/** POSTs that store events: REST batches, the single-event endpoint, tRPC events.log / events.logBulk. */
export function isWriteRequest(method: string | undefined, url: string | undefined): boolean {
  if (method !== 'POST' || !url) return false;
  const path = url.split('?')[0]!;
  if (path === '/api/v1/audit/events' || path === '/api/v1/audit/event') return true;
  return path.startsWith('/api/trpc/') && /(^|,)events\.log(Bulk)?(,|$)/.test(decodeURIComponent(path.slice('/api/trpc/'.length)));
}

export function inFlightWrites(): number {
  return inFlight;
}

/**
 * Counts a write request until its response is finished. Returns false when
 * the request was refused (and answered) because the process is at capacity.
 */
export function admitWrite(req: IncomingMessage, res: ServerResponse): boolean {
  if (!isWriteRequest(req.method, req.url)) return true;
  if (inFlight >= env().MAX_INFLIGHT_WRITES) {
    const { status, headers, body } = errorParts(new AuditError('unavailable', 'The server is at capacity; retry shortly. Nothing was stored.', [], 1));
    const json = JSON.stringify(body);
    // The body is not read; closing the connection keeps a client from sending megabytes nobody reads.
    res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(json), connection: 'close' });
    res.end(json);
    req.resume();
    return false;
  }
  inFlight++;
  res.once('close', () => inFlight--);
  return true;
}
