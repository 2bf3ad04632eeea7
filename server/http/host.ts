/**
 * The server's front door: one Node HTTP server in front of Next.js. Every
 * request passes, in order: the client address as our socket saw it, its
 * request id and log line, /metrics, write admission (bytes in flight), the
 * single-event endpoint (served here, outside Next.js, for its speed), then
 * Next.js (console, tRPC, REST).
 *
 * It also knows which requests are in flight, so a shutdown (server/main.ts)
 * lets them finish while every request that arrives afterwards, on a
 * connection that was already open, is answered 503 with Retry-After: no
 * client sees a request cut off, and the SDK simply retries elsewhere or later.
 */
import http from 'node:http';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { errorParts } from '@/supabase/functions/_shared/http.ts';
import { OBSERVED_IP_HEADER } from '@/server/auth/credentials.ts';
import { admitWrite } from '@/server/http/admission.ts';
import { serveMetrics } from '@/server/http/metrics.ts';
import { observeRequest } from '@/server/http/request-log.ts';
import { serveSingleEvent } from '@/server/http/single-event.ts';
import { log as logger } from '@/server/observability/log.ts';

/** What serves whatever the pipeline does not answer itself (Next.js's request handler). */
export type AppHandler = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;

export interface Host {
  server: http.Server;
  listen(port: number, hostname: string): Promise<void>;
  /** Requests being answered now. */
  inFlight(): number;
  /**
   * Stops accepting connections, answers new requests 503, waits up to
   * `graceMs` for the requests in flight, then closes every connection.
   * Resolves with how many requests were still unfinished when it gave up.
   */
  close(graceMs: number): Promise<{ unfinished: number }>;
}

/** IPv4 clients arrive as ::ffff:a.b.c.d on a dual-stack socket. */
function socketAddress(req: http.IncomingMessage): string {
  const address = req.socket.remoteAddress ?? '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function shuttingDown(req: http.IncomingMessage, res: http.ServerResponse): void {
  const { status, headers, body } = errorParts(new AuditError('unavailable', 'The server is shutting down; retry shortly', [], 1));
  const json = JSON.stringify(body);
  res.writeHead(status, { ...headers, connection: 'close', 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(json) });
  res.end(json);
  req.resume();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createHost(app: AppHandler): Host {
  let draining = false;
  let active = 0;
  // One listener for every response (made once, not per request).
  const finished = () => active--;

  const server = http.createServer((req, res) => {
    if (draining) return shuttingDown(req, res);
    active++;
    res.on('close', finished);
    // The client address as our socket saw it; a client cannot supply this header.
    req.headers[OBSERVED_IP_HEADER] = socketAddress(req);
    const requestId = observeRequest(req, res);
    if (serveMetrics(req, res)) return;
    if (!admitWrite(req, res)) return;
    if (serveSingleEvent(req, res)) return;
    app(req, res).catch((err: unknown) => {
      logger().error({ request_id: requestId, err: (err as Error)?.message }, 'request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'internal', message: 'Internal server error' } }));
    });
  });
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 120_000;

  return {
    server,
    inFlight: () => active,
    listen: (port, hostname) =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, hostname, () => {
          server.off('error', reject);
          resolve();
        });
      }),
    async close(graceMs) {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const deadline = Date.now() + graceMs;
      // Connections that finished their last answer are closed as they become idle.
      while (active > 0 && Date.now() < deadline) {
        server.closeIdleConnections();
        await sleep(25);
      }
      const unfinished = active;
      server.closeAllConnections();
      await closed;
      return { unfinished };
    },
  };
}
