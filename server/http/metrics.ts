/**
 * GET /api/metrics — Prometheus text format, served by the Node server itself.
 * With METRICS_TOKEN set, only `Authorization: Bearer <METRICS_TOKEN>` gets in
 * (compared in constant time). Unset, only clients on this machine do: the
 * socket's own address must be loopback and no proxy may have forwarded the
 * request (a reverse proxy on this machine would otherwise open it to the world).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { db } from '@/server/db/client.ts';
import { env } from '@/server/env.ts';
import { metrics } from '@/server/observability/metrics.ts';
import { refreshScrapeMetrics } from '@/server/observability/scrape.ts';

export const METRICS_PATH = '/api/metrics';

const FORWARDING_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip'];

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  return plain === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(plain);
}

/** Constant-time: both sides hashed to the same length first. */
export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function refuse(res: ServerResponse, status: number, message: string, extra: Record<string, string> = {}): void {
  const body = JSON.stringify({ error: { code: status === 401 ? 'unauthorized' : 'forbidden', message } });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...extra });
  res.end(body);
}

export function metricsAccess(req: IncomingMessage, token: string | undefined): { ok: true } | { ok: false; status: number; message: string } {
  if (token) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (match && tokenMatches(match[1]!, token)) return { ok: true };
    return { ok: false, status: 401, message: 'Send Authorization: Bearer <METRICS_TOKEN>' };
  }
  const forwarded = FORWARDING_HEADERS.some((h) => req.headers[h] !== undefined);
  if (isLoopback(req.socket.remoteAddress) && !forwarded) return { ok: true };
  return { ok: false, status: 403, message: 'Metrics are served to this machine only; set METRICS_TOKEN to scrape from elsewhere' };
}

async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const access = metricsAccess(req, env().METRICS_TOKEN);
  if (!access.ok) return refuse(res, access.status, access.message, access.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
  await refreshScrapeMetrics(db());
  const registry = metrics().registry;
  const body = await registry.metrics();
  res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Serves the request if it is for this endpoint; false otherwise. */
export function serveMetrics(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.url?.split('?')[0] !== METRICS_PATH) return false;
  req.resume();
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ error: { code: 'method_not_allowed', message: 'Read metrics with GET' } }));
    return true;
  }
  serve(req, res).catch(() => {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ error: { code: 'internal', message: 'Internal server error' } }));
  });
  return true;
}
