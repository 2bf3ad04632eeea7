/**
 * Admission control for writes, by bytes: every write request is charged the
 * memory it will hold (supabase/functions/_shared/write-budget.ts) before its
 * body is read, and is answered 503 with Retry-After when the charges of the
 * writes in flight would pass MAX_INFLIGHT_WRITE_BYTES (derived from
 * MEMORY_LIMIT_MB), or when MAX_INFLIGHT_WRITES requests are in flight.
 * Refused bodies are never parsed (they are discarded as they arrive), so an
 * overload costs short answers instead of memory, however many maximum-size
 * batches arrive at once. Reads are never refused here.
 *
 * A declared Content-Length is charged up front. A chunked body is charged as
 * the largest body its endpoint accepts until it has been read, then as the
 * bytes that actually arrived.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorParts } from '@/supabase/functions/_shared/http.ts';
import { LIMITS } from '@/supabase/functions/_shared/limits.ts';
import { atCapacity, WriteBudget, writeCharge, type WriteTicket } from '@/supabase/functions/_shared/write-budget.ts';
import { env, writeBudgetBytes } from '@/server/env.ts';
import type { IngestPath } from '@/server/observability/ingest-metrics.ts';
import { metrics } from '@/server/observability/metrics.ts';

/** What a write endpoint accepts at most: body bytes and events; and its label in the ingest metrics. */
interface WriteRoute {
  maxBodyBytes: number;
  maxEvents: number;
  path: IngestPath;
}

const REST_BULK: WriteRoute = { maxBodyBytes: LIMITS.apiBodyBytes, maxEvents: LIMITS.apiBatch, path: 'rest' };
const SINGLE: WriteRoute = { maxBodyBytes: LIMITS.eventBodyBytes, maxEvents: 1, path: 'single' };
// A batched tRPC request may hold many events.log / events.logBulk calls: as many events as fit in its body.
const TRPC: WriteRoute = { maxBodyBytes: LIMITS.apiBodyBytes, maxEvents: Number.POSITIVE_INFINITY, path: 'trpc' };

/** The write endpoint a request is for: REST batches, the single-event endpoint, tRPC events.log / events.logBulk. */
export function writeRouteOf(method: string | undefined, url: string | undefined): WriteRoute | null {
  if (method !== 'POST' || !url) return null;
  const path = url.split('?')[0]!;
  if (path === '/api/v1/audit/events') return REST_BULK;
  if (path === '/api/v1/audit/event') return SINGLE;
  if (!path.startsWith('/api/trpc/')) return null;
  let procedures = path.slice('/api/trpc/'.length);
  try {
    procedures = decodeURIComponent(procedures);
  } catch {
    // Malformed escapes: judged as sent (tRPC refuses such a path anyway).
  }
  return /(^|,)events\.log(Bulk)?(,|$)/.test(procedures) ? TRPC : null;
}

export function isWriteRequest(method: string | undefined, url: string | undefined): boolean {
  return writeRouteOf(method, url) !== null;
}

const holder = globalThis as typeof globalThis & { __omsAuditWriteBudget?: WriteBudget };

/** The process's write budget (one per process, from the environment). */
export function writeBudget(): WriteBudget {
  holder.__omsAuditWriteBudget ??= new WriteBudget(writeBudgetBytes(env()), env().MAX_INFLIGHT_WRITES);
  return holder.__omsAuditWriteBudget;
}

function declaredLength(req: IncomingMessage): number | null {
  const header = req.headers['content-length'];
  if (header === undefined) return null;
  const n = Number(header);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

const TICKET = Symbol('oms-audit write ticket');
type AdmittedResponse = ServerResponse & { [TICKET]?: WriteTicket };

/** The response's 'close' listener, shared by every request (no closure per request). */
function releaseTicket(this: AdmittedResponse): void {
  this[TICKET]?.release();
}

/**
 * Charges a chunked body its real size once it has been received. The count is
 * taken where Node's HTTP parser hands each chunk to the request stream
 * (IncomingMessage#push), so whoever reads the body later sees it unchanged.
 */
function whenBodyReceived(req: IncomingMessage, ticket: WriteTicket, route: WriteRoute): void {
  const push = req.push;
  let bytes = 0;
  req.push = function countedPush(this: IncomingMessage, chunk: unknown, encoding?: BufferEncoding) {
    if (chunk === null) ticket.resize(writeCharge(Math.min(bytes, route.maxBodyBytes), route.maxEvents));
    else if (chunk instanceof Uint8Array) bytes += chunk.byteLength;
    return push.call(this, chunk, encoding);
  };
}

/** The write budget's use, as gauges: read when metrics are scraped (observability/scrape.ts), not on every request. */
export function writeBudgetGauges(): void {
  const budget = writeBudget();
  metrics().writeBytesInFlight.set(budget.bytes);
  metrics().writeRequestsInFlight.set(budget.requests);
}

/**
 * Answers 503 at once and discards the body as it arrives (no memory is kept
 * for it). The connection is kept open until the client has sent its body or
 * closes it, even when the client asked for `Connection: close`: a socket
 * closed with body bytes unread is reset, and the client can lose the answer.
 * A body beyond what the endpoint accepts ends the connection.
 */
function refuse(req: IncomingMessage, res: ServerResponse, route: WriteRoute): void {
  metrics().ingestBatches.inc({ path: route.path, outcome: 'unavailable' });
  const { status, headers, body } = errorParts(atCapacity());
  const json = JSON.stringify(body);
  res.shouldKeepAlive = true;
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(json) });
  res.end(json);
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > route.maxBodyBytes) req.socket.destroy();
  });
  req.resume();
}

/**
 * Charges a write request until its response is finished. Returns false when
 * the request was refused (and answered 503) because the budget cannot take it.
 */
export function admitWrite(req: IncomingMessage, res: ServerResponse): boolean {
  const route = writeRouteOf(req.method, req.url);
  if (!route) return true;
  const declared = declaredLength(req);
  // A body declared larger than the endpoint accepts is refused (413) by the endpoint before it is read.
  const expected = Math.min(declared ?? route.maxBodyBytes, route.maxBodyBytes);
  const budget = writeBudget();
  const ticket = budget.admit(writeCharge(expected, route.maxEvents));
  if (!ticket) {
    refuse(req, res, route);
    return false;
  }
  (res as AdmittedResponse)[TICKET] = ticket;
  res.on('close', releaseTicket);
  if (declared === null) whenBodyReceived(req, ticket, route);
  return true;
}
