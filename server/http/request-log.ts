/**
 * Every request through the Node server: a request id (the client's
 * `x-request-id` when it is short and plain, otherwise a fresh one) passed on
 * to the handlers and echoed in the response, the server's own time in the
 * response's Server-Timing header (the SDK takes it off the round trip it
 * reports, docs/clock.md), one JSON log line when the response ends, and the
 * HTTP request metrics. Logged: method, route pattern
 * (never the raw path or query, which can carry actor ids or emails), status,
 * duration and request id; no headers, bodies or addresses.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import onHeaders from 'on-headers';
import { SERVER_TIMING_HEADER, serverTiming } from '@/supabase/functions/_shared/clock.ts';
import { requestLog } from '@/server/observability/log.ts';
import { metrics } from '@/server/observability/metrics.ts';
import { REQUEST_ID_HEADER, validRequestId } from './request-id.ts';

const API_ROUTES: [RegExp, string][] = [
  [/^\/api\/trpc\/.*/, '/api/trpc'],
  [/^\/api\/v1\/audit\/events\/export$/, '/api/v1/audit/events/export'],
  [/^\/api\/v1\/audit\/events\/[^/]+\/proof$/, '/api/v1/audit/events/[id]/proof'],
  [/^\/api\/v1\/audit\/events\/[^/]+$/, '/api/v1/audit/events/[id]'],
  [/^\/api\/v1\/audit\/exports\/[^/]+\/manifest$/, '/api/v1/audit/exports/[id]/manifest'],
];
const EXACT_ROUTES = new Set([
  '/api/v1/audit/events',
  '/api/v1/audit/event',
  '/api/v1/audit/checkpoints',
  '/api/v1/retention/report',
  '/api/metrics',
  '/api/health',
  '/api/auth/sign-in',
  '/api/auth/sign-out',
  '/api/auth/tenant',
  '/api/auth/invitation',
  '/api/auth/invitation/accept',
  '/api/integrity/public-key',
]);

/** A bounded set of route labels: known API routes by pattern, everything else by kind. */
export function routeOf(url: string | undefined): string {
  const path = (url ?? '/').split('?')[0]!;
  if (EXACT_ROUTES.has(path)) return path;
  for (const [pattern, route] of API_ROUTES) if (pattern.test(path)) return route;
  if (path.startsWith('/api/')) return '/api/other';
  if (path.startsWith('/_next/')) return '/_next';
  return 'page';
}

/** What the request log keeps of a request until its response ends. */
interface Observed {
  started: number;
  requestId: string;
  done: boolean;
}

const OBSERVED = Symbol('oms-audit request log');
type ObservedResponse = ServerResponse & { [OBSERVED]?: Observed };

// Listeners shared by every request (no closures per request): `this` is the response.
function stampServerTiming(this: ObservedResponse): void {
  this.setHeader(SERVER_TIMING_HEADER, serverTiming(this[OBSERVED]!.started));
}

function finishRequest(this: ObservedResponse): void {
  const observed = this[OBSERVED]!;
  if (observed.done) return;
  observed.done = true;
  const req = this.req;
  const route = routeOf(req.url);
  const seconds = (performance.now() - observed.started) / 1000;
  const status = this.writableFinished ? this.statusCode : 499; // 499: the client went away first
  const m = metrics();
  m.httpRequests.inc({ route, status: String(status) });
  m.httpRequestSeconds.observe({ route }, seconds);
  requestLog().info({ request_id: observed.requestId, method: req.method, route, status, duration_ms: Math.round(seconds * 100_000) / 100 }, 'request');
}

/** Call first for every request; returns the request id. */
export function observeRequest(req: IncomingMessage, res: ServerResponse): string {
  const started = performance.now();
  const given = req.headers[REQUEST_ID_HEADER];
  const requestId = typeof given === 'string' && validRequestId(given) ? given : randomUUID();
  // Handlers (Next.js routes, tRPC, single events) read the id from the request, as validated here.
  req.headers[REQUEST_ID_HEADER] = requestId;
  res.setHeader(REQUEST_ID_HEADER, requestId);
  (res as ObservedResponse)[OBSERVED] = { started, requestId, done: false };
  onHeaders(res, stampServerTiming);
  // on, not once: once wraps each listener in a closure per request; finishRequest runs its work once anyway.
  res.on('finish', finishRequest);
  res.on('close', finishRequest);
  return requestId;
}
