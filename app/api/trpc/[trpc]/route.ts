import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { appRouter } from '@/server/routers/_app.ts';
import { createContext } from '@/server/context.ts';
import { errorResponse } from '@/server/http/rest.ts';
import { bodyTooLarge } from '@/supabase/functions/_shared/http.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { LIMITS } from '@/supabase/functions/_shared/limits.ts';
import { REQUEST_ID_HEADER } from '@/server/http/request-id.ts';
import { log } from '@/server/observability/log.ts';

export const dynamic = 'force-dynamic';

/** A body sent without Content-Length (chunked), read up to the limit: more is refused (413) as soon as it is seen. */
async function withBoundedBody(req: Request): Promise<Request> {
  if (!req.body || req.headers.has('content-length')) return req;
  let size = 0;
  const bounded = req.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        size += chunk.byteLength;
        if (size > LIMITS.apiBodyBytes) controller.error(bodyTooLarge(LIMITS.apiBodyBytes));
        else controller.enqueue(chunk);
      },
    }),
  );
  return new Request(req, { body: await new Response(bounded).arrayBuffer() });
}

async function handler(request: Request) {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > LIMITS.apiBodyBytes) return errorResponse(bodyTooLarge(LIMITS.apiBodyBytes));
  let req: Request;
  try {
    req = await withBoundedBody(request);
  } catch (err) {
    return errorResponse(err);
  }
  return fetchRequestHandler({
    endpoint: '/api/trpc',
    req,
    router: appRouter,
    createContext: () => createContext({ req }),
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
