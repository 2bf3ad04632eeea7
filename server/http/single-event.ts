/**
 * POST /api/v1/audit/event — one event, the same contract as each event of a
 * batch; concurrent events of a tenant are committed together (group commit)
 * and each request is answered once its event is committed.
 *
 * Served by the Node server itself, ahead of Next.js's router: a single event
 * is a few hundred bytes, and the framework's per-request work would cost
 * more than storing it. Same credential, permission, rate limit, service and
 * error shape as every other endpoint.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { LIMITS, parseEvent } from '@/supabase/functions/_shared/contract.ts';
import type { HeaderReader } from '@/supabase/functions/_shared/credentials.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { bodyTooLarge, errorParts, parseJsonBody } from '@/supabase/functions/_shared/http.ts';
import { requirePermission, writerOf } from '@/server/auth/caller.ts';
import { observedClient, resolveCaller } from '@/server/auth/credentials.ts';
import { db } from '@/server/db/client.ts';
import { chargeRate } from '@/server/http/rest.ts';
import { logEvent } from '@/server/services/ingest.ts';
import { recordIngestFailure } from '@/server/observability/ingest-metrics.ts';

export const SINGLE_EVENT_PATH = '/api/v1/audit/event';

/**
 * The request's headers as the credential parser reads them (HeaderReader):
 * Node has already parsed, lower-cased and joined them, so nothing is copied
 * (a Fetch Headers object costs several µs per request). Like Headers built
 * from them, a header Node keeps as a list (set-cookie) is not read.
 */
class NodeHeaders implements HeaderReader {
  constructor(private readonly headers: IncomingHttpHeaders) {}

  get(name: string): string | null {
    const value = this.headers[name.toLowerCase()];
    return typeof value === 'string' ? value : null;
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': String(Buffer.byteLength(json)), ...headers });
  res.end(json);
}

function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  if (Number(req.headers['content-length'] ?? NaN) > maxBytes) return Promise.reject(bodyTooLarge(maxBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.removeAllListeners('data');
        req.resume();
        reject(bodyTooLarge(maxBytes));
      } else chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      // A single event's body mostly arrives in one chunk: no copy then.
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      if (!body.length) return reject(new AuditError('malformed_json', 'The request has no body; send JSON'));
      try {
        resolve(parseJsonBody(body));
      } catch (err) {
        reject(err);
      }
    });
  });
}

async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const headers = new NodeHeaders(req.headers);
    const caller = await resolveCaller(headers);
    requirePermission(caller, 'events:write');
    const event = parseEvent(await readJson(req, LIMITS.eventBodyBytes));
    chargeRate(caller, 'write', 1);
    send(res, 201, await logEvent(db(), writerOf(caller), event, observedClient(headers)));
  } catch (err) {
    recordIngestFailure('single', err);
    // Whatever of the body was not read is discarded, so the connection stays usable.
    req.resume();
    const { status, headers, body } = errorParts(err);
    send(res, status, body, headers);
  }
}

/** Serves the request if it is for this endpoint; false otherwise. */
export function serveSingleEvent(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.url?.split('?')[0] !== SINGLE_EVENT_PATH) return false;
  if (req.method !== 'POST') {
    req.resume();
    const { status, headers, body } = errorParts(new AuditError('method_not_allowed', 'Send one event with POST'));
    send(res, status, body, { ...headers, allow: 'POST' });
    return true;
  }
  void serve(req, res);
  return true;
}
