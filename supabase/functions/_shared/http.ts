/**
 * HTTP pieces every transport shares (Next.js route handlers and the
 * audit-logger edge function): JSON responses, errors in one JSON shape with
 * the right status and headers, and bounded body reading. Web-standard
 * Request/Response only, so it runs under Node and Deno alike.
 */
import { AuditError, invalid, isConnectionError, type FieldIssue } from './errors.ts';
import { formatJsonPath, parseStrictJson, type JsonPath, type StrictJsonProblem } from './strict-json.ts';

export function jsonResponse(body: unknown, init: ResponseInit = {}): Response {
  const headers = new Headers(init.headers);
  headers.set('content-type', 'application/json; charset=utf-8');
  headers.set('cache-control', 'no-store');
  return new Response(JSON.stringify(body), { ...init, headers });
}

/**
 * Any failure as status, headers and {"error":{…}} body: AuditErrors as they
 * are, connection loss as 503, the rest as 500 without details.
 */
export function errorParts(err: unknown): { status: number; headers: Record<string, string>; body: ReturnType<AuditError['toJSON']> } {
  let audit: AuditError;
  if (err instanceof AuditError) audit = err;
  else if (isConnectionError(err)) audit = new AuditError('unavailable', 'The database is unavailable; retry shortly', [], 1);
  else {
    const id = crypto.randomUUID();
    console.error(`[oms-audit] internal error ${id}:`, err);
    audit = new AuditError('internal', `Internal server error (reference ${id})`);
  }
  const headers: Record<string, string> = {};
  if (audit.retryAfter !== undefined) headers['retry-after'] = String(audit.retryAfter);
  if (audit.status === 401) headers['www-authenticate'] = 'Bearer realm="oms-audit"';
  if (audit.status === 405) headers.allow = 'POST, OPTIONS';
  return { status: audit.status, headers, body: audit.toJSON() };
}

export function errorResponse(err: unknown, headers: HeadersInit = {}): Response {
  const parts = errorParts(err);
  const out = new Headers(headers);
  for (const [name, value] of Object.entries(parts.headers)) out.set(name, value);
  return jsonResponse(parts.body, { status: parts.status, headers: out });
}

export function bodyTooLarge(maxBytes: number): AuditError {
  return new AuditError('body_too_large', `The request body exceeds ${maxBytes} bytes. Nothing was stored.`);
}

/** 413 when the declared Content-Length is over the limit: checked before anything else is done. */
export function checkDeclaredLength(req: Request, maxBytes: number): void {
  const declared = Number(req.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) throw bodyTooLarge(maxBytes);
}

/**
 * Reads a JSON body of at most `maxBytes`. A larger body is refused (413)
 * as soon as it is seen to be larger, before it is read to the end.
 */
export async function readJsonBody(req: Request, maxBytes: number): Promise<unknown> {
  return parseJsonBody(await readBodyBytes(req, maxBytes));
}

/** How long the rest of a refused body is read and dropped before the connection is let go. */
export const DISCARD_REST_MS = 2_000;

/**
 * After a body is refused as too large, the rest of it is read and dropped (at
 * most `maxBytes` more, for at most DISCARD_REST_MS) while the 413 is sent,
 * and only then is the body cancelled. Cancelling at once closes the socket
 * with body bytes unread: the kernel answers the client's next bytes with a
 * reset, and a client still sending loses the 413 that was already on its way
 * (it sees a connection reset, and may retry the same body). Nothing read
 * here is kept.
 */
function discardRest(reader: ReadableStreamDefaultReader<Uint8Array>, maxBytes: number): void {
  const release = () => void reader.cancel().catch(() => {});
  const timer = setTimeout(release, DISCARD_REST_MS);
  void (async () => {
    let dropped = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        dropped += value.byteLength;
        if (dropped > maxBytes) break;
      }
    } catch {
      // The client went away, or the timer cancelled the body: nothing more to drop.
    } finally {
      clearTimeout(timer);
      release();
    }
  })();
}

/** The bytes of a body of at most `maxBytes` (413 as soon as it is seen to be larger). */
export async function readBodyBytes(req: Request, maxBytes: number): Promise<Uint8Array<ArrayBuffer>> {
  checkDeclaredLength(req, maxBytes);
  if (!req.body) throw new AuditError('malformed_json', 'The request has no body; send JSON');
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      discardRest(reader, maxBytes);
      throw bodyTooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}

/** Where in a request body a JSON path points: an event of a batch (index + field), or a field of the body. */
export function issueAtPath(path: JsonPath, message: string): FieldIssue {
  if (path[0] === 'events' && typeof path[1] === 'number') return { index: path[1], field: path.length > 2 ? formatJsonPath(path.slice(2)) : '(event)', message };
  return { field: formatJsonPath(path), message };
}

/** 400 naming the event index and JSON path of a value that cannot be stored exactly as sent. */
export function strictJsonError(problem: StrictJsonProblem): AuditError {
  return invalid([issueAtPath(problem.path, problem.message)], 'request');
}

/**
 * A request body as JSON, stored exactly as sent or refused (strict-json.ts):
 * UTF-8 only, each key once, numbers a double keeps exactly, no lone surrogates.
 */
export function parseJsonBody(bytes: Uint8Array): unknown {
  const result = parseStrictJson(bytes);
  if (result.ok) return result.value;
  if (result.kind === 'malformed') throw new AuditError('malformed_json', `The body is not valid JSON: ${result.message}`);
  throw strictJsonError(result.problem);
}
