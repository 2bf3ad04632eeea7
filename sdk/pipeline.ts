/**
 * log(): fire-and-forget that does not lose events.
 *
 * Events wait in a bounded memory buffer and go out in batches in the
 * background (edge function for large batches, tRPC otherwise). A batch that
 * gets no answer, a 429 or a 5xx is sent again, unchanged: the
 * client-assigned ids make that idempotent. Such a failure starts an outage:
 * sending pauses (exponential, jittered, at most retry.maxMs, never less than
 * Retry-After), then one request at a time probes the server; the requests
 * that were already in flight when it began fail with it and count once. The
 * first answer ends the outage and every batch flows again.
 * Events the server refuses as invalid are handed to onError and never sent
 * again; the rest of their batch is. When the buffer is full, log() waits for
 * room (backpressure), or, with a spill store, puts events there and sends
 * them when there is room again.
 */
import { LIMITS, type AuditEventRequest } from '../supabase/functions/_shared/contract.ts';
import { backoffDelay, type BackoffOptions } from './backoff.ts';
import { chunk, utf8Bytes } from './chunk.ts';
import { AuditClientError } from './errors.ts';
import type { SpillStore } from './spill.ts';
import type { Transport } from './transport.ts';

interface Pending {
  /** Order of entry into the pipeline; flush() waits for everything up to a seq. */
  seq: number;
  event: AuditEventRequest;
  /** The event as JSON, serialized once. */
  json: string;
  bytes: number;
  enqueuedAt: number;
  /** The spill segment it was read from, removed once all its events are stored. */
  segment?: string;
}

interface SpillChunk {
  firstSeq: number;
  count: number;
  /** In memory (not yet written, or the write failed); null once on disk. */
  events: Pending[] | null;
  name: string | null;
  writing: Promise<void> | null;
  sealed: boolean;
}

export interface PipelineOptions {
  maxBufferedEvents: number;
  flushIntervalMs: number;
  maxConcurrentRequests: number;
  edgeThreshold: number;
  retry: BackoffOptions;
  /** After the edge function fails, batches go through tRPC for this long. */
  edgeCooldownMs: number;
  spill?: SpillStore;
  spillSegmentEvents: number;
  onError: (error: AuditClientError, events: AuditEventRequest[]) => void;
  onRetry?: (error: AuditClientError, delayMs: number) => void;
}

export interface PipelineStats {
  /** Waiting in memory. */
  buffered: number;
  /** In requests that have not been answered. */
  inFlight: number;
  /** In the spill store (or on their way there). */
  spilled: number;
  /** log() calls waiting for room. */
  waiting: number;
}

export class LogPipeline {
  private queue: Pending[] = [];
  private readonly inFlight = new Set<Pending[]>();
  private inFlightEvents = 0;
  private lastSeq = 0;
  private spillChunks: SpillChunk[] = [];
  private readonly segmentsOutstanding = new Map<string, number>();
  private loadingSpill = false;
  private readonly removals = new Set<Promise<void>>();
  private spillRetryAt = 0;
  private spaceWaiters: (() => void)[] = [];
  private flushWaiters: { target: number; resolve: () => void }[] = [];
  /** Failed probes of the current outage (0: no outage). */
  private failures = 0;
  private pausedUntil = 0;
  /** Requests started so far; those numbered up to outageStart were in flight when the outage began. */
  private dispatched = 0;
  private outageStart = 0;
  private probing = false;
  private edgeDownUntil = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Infinity;
  private sealTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly ready: Promise<void>;

  constructor(
    private readonly transport: Transport,
    private readonly options: PipelineOptions,
  ) {
    this.ready = this.recoverSpill();
  }

  /** Accepts a complete event (id and occurred_at set); resolves once it is buffered or spilled. */
  async add(event: AuditEventRequest): Promise<void> {
    const { spill } = this.options;
    if (spill) await this.ready;
    for (;;) {
      if (spill && (this.spillChunks.length > 0 || this.isFull())) {
        await this.spillOne(this.pending(event));
        return;
      }
      if (!this.isFull()) {
        this.queue.push(this.pending(event));
        this.pump();
        return;
      }
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
    }
  }

  /** Resolves when every event added so far (and every spilled one found at start) is stored or reported to onError. */
  async flush(): Promise<void> {
    await this.ready;
    const target = this.lastSeq;
    if (this.minUnsettled() <= target) {
      await new Promise<void>((resolve) => {
        this.flushWaiters.push({ target, resolve });
        // Nothing waits for a fuller batch now; a pause for a failing server still holds.
        this.pump();
        this.loadSpill();
      });
    }
    // Stored events leave the spill store before flush() returns, so they are not sent again.
    await Promise.all(this.removals);
  }

  stats(): PipelineStats {
    return {
      buffered: this.queue.length,
      inFlight: this.inFlightEvents,
      spilled: this.spillChunks.reduce((n, c) => n + c.count, 0),
      waiting: this.spaceWaiters.length,
    };
  }

  /**
   * Writes every event not yet stored to the spill store, in one segment, for
   * the next run to send (at shutdown, when the server cannot be reached in
   * time). Events in requests still unanswered are included: their ids make a
   * second delivery harmless. Returns how many were written.
   */
  async evacuate(): Promise<number> {
    const { spill } = this.options;
    if (!spill) return 0;
    await Promise.all(this.spillChunks.map((c) => c.writing));
    const fresh = (batch: Pending[]) => batch.filter((p) => !p.segment);
    const events = [...[...this.inFlight].flatMap(fresh), ...fresh(this.queue), ...this.spillChunks.flatMap((c) => (c.events ? fresh(c.events) : []))];
    if (events.length) await spill.write(events.map((p) => p.event));
    return events.length;
  }

  /** Stops timers (after shutdown). */
  close(): void {
    clearTimeout(this.timer);
    clearTimeout(this.sealTimer);
    this.timer = this.sealTimer = undefined;
  }

  private pending(event: AuditEventRequest): Pending {
    return { seq: ++this.lastSeq, ...serialized(event), enqueuedAt: Date.now() };
  }

  private isFull(): boolean {
    return this.queue.length + this.inFlightEvents >= this.options.maxBufferedEvents;
  }

  private minUnsettled(): number {
    let min = this.queue[0]?.seq ?? Infinity;
    for (const batch of this.inFlight) min = Math.min(min, batch[0]!.seq);
    if (this.spillChunks[0]) min = Math.min(min, this.spillChunks[0].firstSeq);
    return min;
  }

  private wakeAt(at: number): void {
    if (this.timer && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.pump();
      this.loadSpill();
    }, Math.max(0, at - Date.now()));
  }

  private routeFor(waiting: number, now: number): 'edge' | 'trpc' {
    return this.transport.hasEdge && now >= this.edgeDownUntil && waiting > this.options.edgeThreshold ? 'edge' : 'trpc';
  }

  /** Starts requests while there are events, room in flight, and no pause after a failure. */
  private pump(): void {
    while (this.queue.length && this.inFlight.size < this.options.maxConcurrentRequests) {
      const now = Date.now();
      if (now < this.pausedUntil) return this.wakeAt(this.pausedUntil);
      // During an outage a single request at a time finds out whether the server is back.
      if (this.failures > 0 && this.probing) return;
      const route = this.routeFor(this.queue.length, now);
      const maxEvents = route === 'edge' ? LIMITS.edgeBatch : LIMITS.apiBatch;
      const lingerEnds = this.queue[0]!.enqueuedAt + this.options.flushIntervalMs;
      if (this.queue.length < maxEvents && !this.flushWaiters.length && now < lingerEnds) return this.wakeAt(lingerEnds);
      const batch = this.take(maxEvents, route === 'edge' ? LIMITS.edgeBodyBytes : LIMITS.apiBodyBytes);
      void this.dispatch(batch, route);
    }
  }

  private take(maxEvents: number, maxBytes: number): Pending[] {
    const [first] = chunk(
      this.queue.slice(0, maxEvents).map((p) => ({ item: p, bytes: p.bytes })),
      maxEvents,
      maxBytes,
    );
    this.queue = this.queue.slice(first!.length);
    return first!;
  }

  private async dispatch(batch: Pending[], route: 'edge' | 'trpc'): Promise<void> {
    const request = ++this.dispatched;
    const probe = this.failures > 0;
    if (probe) this.probing = true;
    this.inFlight.add(batch);
    this.inFlightEvents += batch.length;
    try {
      if (route === 'edge') await this.viaEdge(batch, request);
      else await this.viaTrpc([batch], request);
    } finally {
      if (probe) this.probing = false;
      this.inFlight.delete(batch);
      this.inFlightEvents -= batch.length;
      this.settled();
    }
  }

  private async viaEdge(batch: Pending[], request: number): Promise<void> {
    try {
      await this.transport.edge(`{"events":[${batch.map((p) => p.json).join(',')}]}`);
      this.stored(batch);
    } catch (err) {
      const error = asClientError(err);
      if (!error.retryable && error.status !== 404) return this.refused(batch, error);
      // The function is down, overloaded or not deployed: the server's API takes the batch now.
      this.edgeDownUntil = Date.now() + this.options.edgeCooldownMs;
      await this.viaTrpc(chunk(batch.map((p) => ({ item: p, bytes: p.bytes })), LIMITS.apiBatch, LIMITS.apiBodyBytes), request);
    }
  }

  private async viaTrpc(batches: Pending[][], request: number): Promise<void> {
    for (let i = 0; i < batches.length; i++) {
      const batch = batches[i]!;
      try {
        await this.transport.logBulk(batch.map((p) => p.event));
        this.stored(batch);
      } catch (err) {
        const error = asClientError(err);
        if (!error.retryable) {
          this.refused(batch, error);
          continue;
        }
        this.retryLater(batches.slice(i).flat(), error, request);
        return;
      }
    }
  }

  private stored(batch: Pending[]): void {
    // The server answered: the outage, if any, is over.
    this.failures = 0;
    this.pausedUntil = 0;
    this.release(batch);
  }

  /**
   * No answer, 429 or 5xx: everything goes back in order, and sending pauses.
   * A request that was in flight when the outage began says nothing new (it
   * only adds the wait its Retry-After asks for); a failed probe lengthens the pause.
   */
  private retryLater(batch: Pending[], error: AuditClientError, request: number): void {
    const now = Date.now();
    if (this.failures === 0 || request > this.outageStart) {
      this.pausedUntil = Math.max(this.pausedUntil, now + backoffDelay(this.failures++, this.options.retry, error.retryAfter));
      this.outageStart = this.dispatched;
    } else if (error.retryAfter !== undefined) {
      this.pausedUntil = Math.max(this.pausedUntil, now + error.retryAfter * 1000);
    }
    this.requeue(batch);
    this.options.onRetry?.(error, Math.max(0, this.pausedUntil - now));
  }

  /** A 4xx: the events it names go to onError; the others of the batch are sent again. */
  private refused(batch: Pending[], error: AuditClientError): void {
    const named = new Set(error.issues.map((i) => i.index).filter((i): i is number => i !== undefined));
    const bad = named.size ? batch.filter((_, i) => named.has(i)) : batch;
    const good = named.size ? batch.filter((_, i) => !named.has(i)) : [];
    this.release(bad);
    this.requeue(good);
    this.report(error, bad);
  }

  private report(error: AuditClientError, batch: Pending[]): void {
    try {
      this.options.onError(error, batch.map((p) => p.event));
    } catch (err) {
      console.error('[oms-audit] onError failed:', err);
    }
  }

  private requeue(batch: Pending[]): void {
    if (!batch.length) return;
    // Merge by seq: the queue stays in entry order.
    const merged: Pending[] = [];
    let i = 0;
    let j = 0;
    while (i < batch.length || j < this.queue.length) {
      if (j >= this.queue.length || (i < batch.length && batch[i]!.seq < this.queue[j]!.seq)) merged.push(batch[i++]!);
      else merged.push(this.queue[j++]!);
    }
    this.queue = merged;
  }

  /** Events that are done (stored or reported): their spill segments may go. */
  private release(batch: Pending[]): void {
    for (const p of batch) {
      if (!p.segment) continue;
      const left = (this.segmentsOutstanding.get(p.segment) ?? 1) - 1;
      if (left > 0) {
        this.segmentsOutstanding.set(p.segment, left);
      } else {
        this.segmentsOutstanding.delete(p.segment);
        const removal = this.options.spill!.remove(p.segment).catch((err: unknown) => console.warn('[oms-audit] could not remove spill segment', p.segment, err));
        this.removals.add(removal);
        void removal.finally(() => this.removals.delete(removal));
      }
    }
  }

  private settled(): void {
    const min = this.minUnsettled();
    this.flushWaiters = this.flushWaiters.filter((w) => (w.target < min ? (w.resolve(), false) : true));
    while (this.spaceWaiters.length && !this.isFull()) this.spaceWaiters.shift()!();
    this.loadSpill();
    this.pump();
  }

  // ——— spill ———

  private async recoverSpill(): Promise<void> {
    const { spill } = this.options;
    if (!spill) return;
    for (const segment of await spill.list()) {
      this.spillChunks.push({ firstSeq: this.lastSeq + 1, count: segment.count, events: null, name: segment.name, writing: null, sealed: true });
      this.lastSeq += segment.count;
    }
    this.loadSpill();
  }

  private async spillOne(p: Pending): Promise<void> {
    let open = this.spillChunks.at(-1);
    if (!open || open.sealed) {
      open = { firstSeq: p.seq, count: 0, events: [], name: null, writing: null, sealed: false };
      this.spillChunks.push(open);
    }
    open.events!.push(p);
    open.count++;
    // A segment never holds more than the buffer, so it can always be taken back in.
    if (open.count >= Math.min(this.options.spillSegmentEvents, this.options.maxBufferedEvents)) {
      await this.seal(open);
    } else if (!this.sealTimer) {
      // A partial segment reaches the disk soon too.
      this.sealTimer = setTimeout(() => {
        this.sealTimer = undefined;
        const last = this.spillChunks.at(-1);
        if (last && !last.sealed) void this.seal(last);
      }, 200);
    }
    this.loadSpill();
  }

  private seal(chunk: SpillChunk): Promise<void> {
    chunk.sealed = true;
    const events = chunk.events!;
    chunk.writing = this.options.spill!.write(events.map((p) => p.event)).then(
      (segment) => {
        chunk.name = segment.name;
        chunk.events = null;
        chunk.writing = null;
        this.loadSpill();
      },
      (err: unknown) => {
        // Kept in memory instead; it is sent from there.
        console.warn('[oms-audit] could not write a spill segment; keeping its events in memory:', err);
        chunk.writing = null;
        this.loadSpill();
      },
    );
    return chunk.writing;
  }

  /** Moves the oldest spilled events into the buffer when they fit. */
  private loadSpill(): void {
    const head = this.spillChunks[0];
    if (!head || this.loadingSpill || head.writing) return;
    if (Date.now() < this.spillRetryAt) return this.wakeAt(this.spillRetryAt);
    const held = this.queue.length + this.inFlightEvents;
    if (held > 0 && held + head.count > this.options.maxBufferedEvents) return;
    if (head.events) {
      this.spillChunks.shift();
      this.queue.push(...head.events.map((p) => ({ ...p, enqueuedAt: Date.now() })));
      this.pump();
      return;
    }
    this.loadingSpill = true;
    void this.options
      .spill!.read(head.name!)
      .then((events) => {
        this.spillChunks.shift();
        const now = Date.now();
        this.segmentsOutstanding.set(head.name!, events.length);
        this.queue.push(...events.map((event, i) => ({ seq: head.firstSeq + i, ...serialized(event), enqueuedAt: now, segment: head.name! })));
        if (!events.length) this.options.spill!.remove(head.name!).catch(() => {});
      })
      .catch((err: unknown) => {
        console.warn('[oms-audit] could not read spill segment', head.name, err);
        this.spillRetryAt = Date.now() + 1000;
      })
      .finally(() => {
        this.loadingSpill = false;
        this.settled();
      });
  }
}

function serialized(event: AuditEventRequest): { event: AuditEventRequest; json: string; bytes: number } {
  const json = JSON.stringify(event);
  return { event, json, bytes: utf8Bytes(json) };
}

export function asClientError(err: unknown): AuditClientError {
  if (err instanceof AuditClientError) return err;
  return new AuditClientError((err as Error)?.message ?? String(err), 'network', undefined, [], undefined, { cause: err });
}
