/**
 * The two ways to the server: the audit-logger edge function through
 * supabase-js `functions.invoke`, and the tRPC API through @trpc/client typed
 * by the server's AppRouter. Both report failures as AuditClientError.
 */
import { createClient, FunctionsFetchError, FunctionsHttpError, FunctionsRelayError, type SupabaseClient } from '@supabase/supabase-js';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import type { AppRouter } from '../server/routers/_app.ts';
import type { AuditEvent, AuditEventRequest, IngestResult } from '../supabase/functions/_shared/contract.ts';
import type { ListEventsRequest } from '../supabase/functions/_shared/filters.ts';
import type { FieldIssue } from '../supabase/functions/_shared/errors.ts';
import { SERVER_TIMING_HEADER, SERVER_TIMING_METRIC } from '../supabase/functions/_shared/clock.ts';
import { AuditClientError } from './errors.ts';

export interface TransportOptions {
  baseUrl: string;
  functionsUrl?: string;
  apiKey: string;
  timeoutMs: number;
  fetch?: typeof fetch;
  headers?: Record<string, string>;
}

export interface EventPage {
  events: AuditEvent[];
  next_cursor: string | null;
}

/** supabase-js always builds a realtime client; this SDK never opens it. Runtimes without WebSocket (Node 20) get a stand-in. */
class NoRealtime {
  constructor() {
    throw new Error('oms-audit does not use Supabase Realtime');
  }
}

const trailingSlash = (url: string) => url.replace(/\/+$/, '');

/** Sent with each request: the network round trip of the previous one (docs/clock.md, "Network delay"). */
export const ROUND_TRIP_HEADER = 'x-audit-round-trip-ms';

/**
 * The server's own time on a request, in ms, from its answer's Server-Timing
 * header (W3C Server Timing: `oms-audit;dur=1.234`, among any other metrics a
 * proxy added); null when the answer has none (an older server, a proxy that
 * dropped it) or it is malformed.
 */
export function serverDurationMs(header: string | null): number | null {
  if (!header) return null;
  // Metrics are comma-separated, parameters semicolon-separated; a quoted-string (desc="…") may hold either.
  for (const metric of header.match(/(?:[^,"]|"(?:[^"\\]|\\.)*")+/g) ?? []) {
    const [name, ...params] = metric.split(';').map((part) => part.trim());
    if (name?.toLowerCase() !== SERVER_TIMING_METRIC) continue;
    for (const param of params) {
      const match = /^dur\s*=\s*"?(\d+(?:\.\d+)?)"?$/i.exec(param);
      if (match) return Number(match[1]);
    }
    return null;
  }
  return null;
}

/**
 * A fetch that measures each request's round trip on the monotonic clock
 * (from sending to the response's headers), takes off the time the server
 * says it worked on the request (its Server-Timing header), and reports the
 * last network round trip measured with the next request, so the server can
 * keep it beside the source's skew. Without a Server-Timing answer the whole
 * round trip is reported: an upper bound on the network's part.
 */
export function roundTripFetch(inner: typeof fetch): typeof fetch & { lastRoundTripMs(): number | null } {
  let last: number | null = null;
  const measured = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    if (last !== null) headers.set(ROUND_TRIP_HEADER, last.toFixed(3));
    const started = performance.now();
    const res = await inner(input, { ...init, headers });
    const roundTrip = performance.now() - started;
    const server = serverDurationMs(res.headers.get(SERVER_TIMING_HEADER));
    last = Math.min(Math.max(0, roundTrip - (server ?? 0)), 60_000);
    return res;
  }) as typeof fetch & { lastRoundTripMs(): number | null };
  measured.lastRoundTripMs = () => last;
  return measured;
}

export class Transport {
  private readonly trpc;
  private readonly supabase: SupabaseClient | null;

  constructor(private readonly options: TransportOptions) {
    const plainFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    // Not from browsers: their clocks are no evidence, and the header would need a CORS allowance older servers lack.
    const baseFetch = typeof document === 'undefined' ? roundTripFetch(plainFetch) : plainFetch;
    const timedFetch: typeof fetch = (input, init) => {
      const timeout = AbortSignal.timeout(options.timeoutMs);
      return baseFetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout });
    };
    this.trpc = createTRPCClient<AppRouter>({
      links: [
        httpLink({
          url: `${trailingSlash(options.baseUrl)}/api/trpc`,
          headers: () => ({ ...options.headers, authorization: `Bearer ${options.apiKey}` }),
          fetch: timedFetch,
        }),
      ],
    });
    this.supabase = options.functionsUrl
      ? createClient(trailingSlash(options.functionsUrl), options.apiKey, {
          // The tenant API key is both the apikey and the bearer token; no Supabase Auth session is involved.
          accessToken: async () => options.apiKey,
          realtime: { transport: (globalThis.WebSocket ?? NoRealtime) as never },
          global: { fetch: baseFetch, headers: options.headers },
        })
      : null;
  }

  get hasEdge(): boolean {
    return this.supabase !== null;
  }

  /** POST /functions/v1/audit-logger with a pre-serialized {"events":[…]} body. */
  async edge(body: string): Promise<IngestResult> {
    if (!this.supabase) throw new AuditClientError('No functionsUrl configured', 'network', undefined);
    const { data, error } = await this.supabase.functions.invoke<IngestResult>('audit-logger', {
      body,
      headers: { 'content-type': 'application/json' },
      timeout: this.options.timeoutMs,
    });
    if (error) throw await fromFunctionsError(error);
    return data as IngestResult;
  }

  async logBulk(events: AuditEventRequest[]): Promise<IngestResult> {
    try {
      return await this.trpc.events.logBulk.mutate({ events });
    } catch (err) {
      throw fromTrpcError(err);
    }
  }

  async log(event: AuditEventRequest): Promise<IngestResult> {
    try {
      return await this.trpc.events.log.mutate(event);
    } catch (err) {
      throw fromTrpcError(err);
    }
  }

  async list(input: ListEventsRequest): Promise<EventPage> {
    try {
      return await this.trpc.events.list.query(input);
    } catch (err) {
      throw fromTrpcError(err);
    }
  }
}

interface ErrorBody {
  error?: { code?: string; message?: string; issues?: FieldIssue[] };
}

async function fromFunctionsError(error: unknown): Promise<AuditClientError> {
  if (error instanceof FunctionsHttpError || error instanceof FunctionsRelayError) {
    const res = error.context as Response;
    const body = (await res.json().catch(() => ({}))) as ErrorBody;
    const retryAfter = Number(res.headers.get('retry-after') ?? NaN);
    return new AuditClientError(
      body.error?.message ?? `The edge function answered ${res.status}`,
      body.error?.code ?? (error instanceof FunctionsRelayError ? 'relay_error' : 'http_error'),
      res.status,
      body.error?.issues ?? [],
      Number.isFinite(retryAfter) ? retryAfter : undefined,
      { cause: error },
    );
  }
  const cause = error instanceof FunctionsFetchError ? error.context : error;
  return new AuditClientError(`The edge function could not be reached: ${(cause as Error)?.message ?? String(cause)}`, 'network', undefined, [], undefined, { cause: error });
}

function fromTrpcError(err: unknown): AuditClientError {
  if (err instanceof AuditClientError) return err;
  if (err instanceof TRPCClientError) {
    const e = err as TRPCClientError<AppRouter>;
    const data = e.data;
    const status = data?.httpStatus ?? (e.meta?.response as Response | undefined)?.status;
    if (status === undefined) {
      return new AuditClientError(`The server could not be reached: ${e.cause?.message ?? e.message}`, 'network', undefined, [], undefined, { cause: err });
    }
    return new AuditClientError(e.message, data?.auditCode ?? 'http_error', status, data?.issues ?? [], data?.retryAfter, { cause: err });
  }
  return new AuditClientError(`The server could not be reached: ${(err as Error)?.message ?? String(err)}`, 'network', undefined, [], undefined, { cause: err });
}
