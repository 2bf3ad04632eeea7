import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { TRPCError } from '@trpc/server';
import { appRouter } from '@/server/routers/_app.ts';
import { createContext } from '@/server/context.ts';
import { errorResponse } from '@/server/http/rest.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { checkDeclaredLength, readBodyBytes, strictJsonError } from '@/supabase/functions/_shared/http.ts';
import { LIMITS } from '@/supabase/functions/_shared/limits.ts';
import { parseStrictJson } from '@/supabase/functions/_shared/strict-json.ts';
import { REQUEST_ID_HEADER } from '@/server/http/request-id.ts';
import { log } from '@/server/observability/log.ts';

export const dynamic = 'force-dynamic';

/**
 * tRPC parses the body itself, with JSON.parse, which would silently keep the
 * last of two equal keys, round a long number or repair invalid UTF-8. The body
 * is read here first and checked by the same rules as REST and the edge
 * function; tRPC then gets the same bytes. A body that breaks a rule fails
 * every call of the request with 400 naming the event index and JSON path.
 */
async function strictBody(req: Request): Promise<{ req: Request; refusal: AuditError | null }> {
  checkDeclaredLength(req, LIMITS.apiBodyBytes);
  if (req.method !== 'POST' || !req.body) return { req, refusal: null };
  const bytes = await readBodyBytes(req, LIMITS.apiBodyBytes);
  const forwarded = new Request(req.url, { method: req.method, headers: req.headers, body: bytes });
  const result = parseStrictJson(bytes);
  if (result.ok) {
    // tRPC reads a JSON body with json(): it gets the value parsed and checked here rather than parsing the bytes again.
    Object.defineProperty(forwarded, 'json', { value: () => Promise.resolve(result.value) });
    return { req: forwarded, refusal: null };
  }
  // Malformed JSON is tRPC's to report, as before.
  if (result.kind === 'malformed') return { req: forwarded, refusal: null };
  // A batched call (?batch=1) keys each call's input by its position: "0", "1", …
  const batched = new URL(req.url).searchParams.get('batch') === '1';
  const path = batched ? result.problem.path.slice(1) : result.problem.path;
  return { req: forwarded, refusal: strictJsonError({ ...result.problem, path }) };
}

async function handler(incoming: Request) {
  let checked: Awaited<ReturnType<typeof strictBody>>;
  try {
    checked = await strictBody(incoming);
  } catch (err) {
    // Too large (declared or as read): 413 before tRPC is involved.
    return errorResponse(err);
  }
  const { req, refusal } = checked;
  return fetchRequestHandler({
    endpoint: '/api/trpc',
    req,
    router: appRouter,
    // The console sends a query whose input is too long for a URL as a POST (still a query: read permission, no change).
    allowMethodOverride: true,
    createContext: () => {
      if (refusal) throw new TRPCError({ code: 'BAD_REQUEST', message: refusal.message, cause: refusal });
      return createContext({ req });
    },
    onError({ error, path }) {
      if (error.code === 'INTERNAL_SERVER_ERROR') {
        const cause = (error.cause ?? error) as Error;
        log().error({ request_id: req.headers.get(REQUEST_ID_HEADER), procedure: path ?? '?', err: { name: cause.name, message: cause.message, stack: cause.stack } }, 'tRPC procedure failed');
      }
    },
    responseMeta({ errors }) {
      const retryAfter = errors.map((e) => (e.cause instanceof AuditError ? e.cause.retryAfter : undefined)).find((v) => v !== undefined);
      return retryAfter !== undefined ? { headers: new Headers({ 'retry-after': String(retryAfter) }) } : {};
    },
  });
}

export { handler as GET, handler as POST };
