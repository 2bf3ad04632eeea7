import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { appRouter } from '@/server/routers/_app.ts';
import { createContext } from '@/server/context.ts';
import { errorResponse } from '@/server/http/rest.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { LIMITS } from '@/supabase/functions/_shared/limits.ts';
import { REQUEST_ID_HEADER } from '@/server/http/request-id.ts';
import { log } from '@/server/observability/log.ts';

export const dynamic = 'force-dynamic';

function handler(req: Request) {
  const declared = Number(req.headers.get('content-length') ?? NaN);
  if (declared > LIMITS.apiBodyBytes) {
    return errorResponse(new AuditError('body_too_large', `The request body exceeds ${LIMITS.apiBodyBytes} bytes. Nothing was stored.`));
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
