/**
 * The oms-audit client for apps, in Node and in the browser.
 *
 *   const audit = createAuditClient({ baseUrl, functionsUrl, apiKey });
 *   await audit.logBulk(events);       // routed by size, split to the limits, per-call results
 *   void audit.log(event);             // buffered, batched, retried; never dropped
 *   await audit.flush();               // everything logged so far is stored
 *   for await (const page of audit.query({ object_type: 'ORDER', object_id: 'O-1' })) …
 */
import { v7 as uuidv7 } from 'uuid';
import { LIMITS, parseBatch, type AuditEventRequest, type IngestResult } from '../supabase/functions/_shared/contract.ts';
import { AuditError } from '../supabase/functions/_shared/errors.ts';
import type { ListEventsRequest } from '../supabase/functions/_shared/filters.ts';
import { chunk, sizeOf } from './chunk.ts';
import { AuditBulkError, AuditClientError } from './errors.ts';
import { creationEvent, statusChangeEvent, updateEvent, type CreationInput, type StatusChangeInput, type UpdateInput } from './helpers.ts';
import { asClientError, LogPipeline, type PipelineStats } from './pipeline.ts';
import type { SpillStore } from './spill.ts';
import { Transport, type EventPage } from './transport.ts';

export interface AuditClientOptions {
  /** The oms-audit server, e.g. http://localhost:3000. */
  baseUrl: string;
  /**
   * Where the edge functions live: the Supabase project URL (https://<ref>.supabase.co),
   * or http://localhost:54321 under npm start. Without it everything goes through tRPC.
   */
  functionsUrl?: string;
  /** A tenant API key with the events:write scope (and events:read for query()). */
  apiKey: string;
  /** Batches larger than this go to the edge function. Default 50. */
  edgeThreshold?: number;
  /** Per request. Default 30 s. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  headers?: Record<string, string>;

  // log()
  /** Events held in memory (buffered and in flight); beyond, log() waits or spills. Default 10,000. */
  maxBufferedEvents?: number;
  /** How long a partial batch waits for more events. Default 50 ms. */
  flushIntervalMs?: number;
  /** Requests in flight at once. Default 4. */
  maxConcurrentRequests?: number;
  /**
   * Pauses while the server cannot be reached or answers 429/5xx: random up to
   * min(maxMs, baseMs · 2ⁿ) after the n-th failed probe, never less than its
   * Retry-After. One request at a time probes the server meanwhile, so a short
   * pause costs it nothing. Default 100 ms … 1 s.
   */
  retry?: { baseMs?: number; maxMs?: number };
  /** After the edge function fails, use tRPC for this long. Default 30 s. */
  edgeCooldownMs?: number;
  /** Where events go when the buffer is full (Node: fileSpill(dir) from ./node.ts). */
  spill?: SpillStore;
  /** Events per spill segment. Default 1000. */
  spillSegmentEvents?: number;
  /** Events the server refused (invalid, forbidden) or log() could not accept. Default: console.error. */
  onError?: (error: AuditClientError, events: AuditEventRequest[]) => void;
  /** Each failed attempt that will be retried. */
  onRetry?: (error: AuditClientError, delayMs: number) => void;
}

/** One request of logBulk. `method` says which way it went. */
export interface CallResult extends IngestResult {
  events: number;
  /** Why the edge function was not used for these events, when it failed. */
  fallback_reason?: string;
}

export interface LogBulkResult {
  created_count: number;
  duplicate_count: number;
  /** Every event's id, in order. */
  ids: string[];
  calls: CallResult[];
}

export interface ShutdownResult {
  /** Everything was stored (or reported to onError). */
  drained: boolean;
  /** Events written to the spill store for the next run, when the time ran out. */
  spilled: number;
  /** Events neither stored nor spilled (no spill store, time ran out). */
  undelivered: number;
}

export type QueryFilters = Omit<ListEventsRequest, 'cursor'>;

export interface AuditClient {
  logBulk(events: readonly AuditEventRequest[]): Promise<LogBulkResult>;
  /**
   * Buffers one event; resolves with its id once buffered (or null after shutdown).
   * Events the server refuses as invalid are handed to onError, never sent again.
   */
  log(event: AuditEventRequest): Promise<string | null>;
  logCreation(input: CreationInput): Promise<string | null>;
  logUpdate(input: UpdateInput): Promise<string | null>;
  logStatusChange(input: StatusChangeInput): Promise<string | null>;
  /** Resolves when every event logged so far is stored (or reported to onError). */
  flush(): Promise<void>;
  /** Refuses new events and drains the buffer; after `timeoutMs`, spills what is left (if it can). */
  shutdown(options?: { timeoutMs?: number }): Promise<ShutdownResult>;
  /** Pages of events matching the filters, following the cursor. */
  query(filters?: QueryFilters): AsyncIterable<EventPage>;
  stats(): PipelineStats;
}

function defaultOnError(error: AuditClientError, events: AuditEventRequest[]): void {
  console.error(`[oms-audit] ${events.length} event(s) not stored: ${error.message}`);
}

/** logBulk checks the whole array first: one invalid event refuses all of it, as a single request would. */
function invalid(err: unknown): never {
  if (err instanceof AuditError) throw new AuditClientError(err.message, err.code, err.status, err.issues);
  throw err;
}

export function createAuditClient(options: AuditClientOptions): AuditClient {
  const transport = new Transport({
    baseUrl: options.baseUrl,
    functionsUrl: options.functionsUrl,
    apiKey: options.apiKey,
    timeoutMs: options.timeoutMs ?? 30_000,
    fetch: options.fetch,
    headers: options.headers,
  });
  const edgeThreshold = options.edgeThreshold ?? 50;
  const onError = options.onError ?? defaultOnError;
  const pipeline = new LogPipeline(transport, {
    maxBufferedEvents: options.maxBufferedEvents ?? 10_000,
    flushIntervalMs: options.flushIntervalMs ?? 50,
    maxConcurrentRequests: options.maxConcurrentRequests ?? 4,
    edgeThreshold,
    retry: { baseMs: options.retry?.baseMs ?? 100, maxMs: options.retry?.maxMs ?? 1_000 },
    edgeCooldownMs: options.edgeCooldownMs ?? 30_000,
    spill: options.spill,
    spillSegmentEvents: options.spillSegmentEvents ?? 1000,
    onError,
    onRetry: options.onRetry,
  });
  let closing = false;
  let entering = 0;

  // A page being left is the browser's last chance to send what is buffered.
  const onPageHide = () => void pipeline.flush();
  if (typeof window !== 'undefined') window.addEventListener('pagehide', onPageHide);

  async function logBulk(events: readonly AuditEventRequest[]): Promise<LogBulkResult> {
    if (!events.length) return { created_count: 0, duplicate_count: 0, ids: [], calls: [] };
    // Ids are assigned here, so a request sent again (after a timeout, or to the fallback) stores nothing twice.
    const prepared = events.map((e) => (e.id ? e : { ...e, id: uuidv7() }));
    try {
      parseBatch({ events: prepared }, prepared.length);
    } catch (err) {
      invalid(err);
    }
    const sized = prepared.map((item) => ({ item, bytes: sizeOf(item) }));
    const calls: CallResult[] = [];
    const viaTrpc = async (batch: AuditEventRequest[], fallback?: AuditClientError) => {
      for (const part of chunk(batch.map((item) => ({ item, bytes: sizeOf(item) })), LIMITS.apiBatch, LIMITS.apiBodyBytes)) {
        const result = await transport.logBulk(part);
        calls.push({ ...result, events: part.length, ...(fallback ? { fallback_reason: fallback.message } : {}) });
      }
    };
    try {
      if (transport.hasEdge && prepared.length > edgeThreshold) {
        for (const batch of chunk(sized, LIMITS.edgeBatch, LIMITS.edgeBodyBytes)) {
          try {
            const result = await transport.edge(JSON.stringify({ events: batch }));
            calls.push({ ...result, events: batch.length });
          } catch (err) {
            const error = asClientError(err);
            if (!error.retryable && error.status !== 404) throw error;
            await viaTrpc(batch, error);
          }
        }
      } else {
        await viaTrpc(prepared);
      }
    } catch (err) {
      const error = asClientError(err);
      const done = new Set(calls.flatMap((c) => c.ids));
      throw new AuditBulkError(error, calls, prepared.map((e) => e.id!).filter((id) => !done.has(id)));
    }
    return {
      created_count: calls.reduce((n, c) => n + c.created_count, 0),
      duplicate_count: calls.reduce((n, c) => n + c.duplicate_count, 0),
      ids: prepared.map((e) => e.id!),
      calls,
    };
  }

  async function log(event: AuditEventRequest): Promise<string | null> {
    if (closing) {
      onError(new AuditClientError('The audit client is shut down; the event was not logged', 'closed', undefined), [event]);
      return null;
    }
    if (typeof event !== 'object' || event === null || Array.isArray(event)) {
      onError(new AuditClientError('An event must be an object', 'invalid_request', 400, [{ field: '(event)', message: 'must be a JSON object' }]), [event]);
      return null;
    }
    // Stamped now: the event may be sent much later (retries), and its time is when it happened.
    // The contract is checked by the server (once, not twice); what it refuses goes to onError.
    const complete = { ...event, id: event.id ?? uuidv7(), occurred_at: event.occurred_at ?? new Date().toISOString() };
    entering++;
    try {
      await pipeline.add(complete);
    } finally {
      entering--;
    }
    return complete.id;
  }

  async function drain(): Promise<void> {
    for (;;) {
      await pipeline.flush();
      const s = pipeline.stats();
      if (entering === 0 && s.buffered + s.inFlight + s.spilled + s.waiting === 0) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async function shutdown({ timeoutMs = Infinity }: { timeoutMs?: number } = {}): Promise<ShutdownResult> {
    closing = true;
    if (typeof window !== 'undefined') window.removeEventListener('pagehide', onPageHide);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const drained = await Promise.race([
      drain().then(() => true),
      ...(Number.isFinite(timeoutMs) ? [new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)))] : []),
    ]);
    clearTimeout(timer);
    if (drained) {
      pipeline.close();
      return { drained, spilled: 0, undelivered: 0 };
    }
    const s = pipeline.stats();
    const left = s.buffered + s.inFlight + s.spilled;
    const spilled = await pipeline.evacuate();
    pipeline.close();
    return { drained, spilled, undelivered: options.spill ? 0 : left };
  }

  async function* query(filters: QueryFilters = {}): AsyncIterable<EventPage> {
    let cursor: string | undefined;
    do {
      const page = await transport.list({ ...filters, ...(cursor ? { cursor } : {}) });
      yield page;
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
  }

  return {
    logBulk,
    log,
    logCreation: (input) => log(creationEvent(input)),
    logUpdate: (input) => log(updateEvent(input)),
    logStatusChange: (input) => log(statusChangeEvent(input)),
    flush: () => pipeline.flush(),
    shutdown,
    query,
    stats: () => pipeline.stats(),
  };
}
