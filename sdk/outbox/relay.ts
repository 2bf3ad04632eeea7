/**
 * The relay: ships the outbox's events to the oms-audit server, in order, in
 * batches, with their ids, and removes them once the server acknowledged them.
 * Runs as `oms-audit relay` or inside the OMS process (startRelay()).
 *
 * One leader per outbox. A relay leads while its database session holds the
 * outbox's advisory lock (oms_audit_outbox.try_lead()); other relays on the
 * same outbox wait as standbys and try the lock every standbyPollMs, so a
 * second relay never sends a row the leader is sending, and the trail's seq
 * follows the outbox's order. A leader that dies releases the lock with its
 * session (kill -9 included); a standby takes over.
 *
 * The leader reads the oldest rows (position order), posts them as one
 * request, and deletes them after the server's acknowledgement. One request
 * is in flight at a time (order); the next batch is read, and the last one
 * deleted, while it is on its way. After a crash anywhere, rows that were
 * sent but not deleted are sent again: their ids make the server store
 * nothing twice.
 *
 * The server's answer decides each event's fate:
 * - 201: stored (or already stored): the rows go.
 * - 4xx naming events (400 invalid, 403 tenant mismatch): those events are
 *   parked (moved to audit_outbox_parked with the server's answer, reported
 *   through onParked and the metrics), the others are sent again at once.
 * - 400/413 naming none: the batch is halved until the event that cannot be
 *   sent is alone, then parked.
 * - no answer, 408, 429, 5xx, or a refusal of the relay itself (401, 403,
 *   404: key or URL wrong): nothing is dropped; the same rows are sent again
 *   after a pause (backoff with jitter, never less than Retry-After).
 */
import { LIMITS, type IngestResult } from '../../supabase/functions/_shared/contract.ts';
import type { FieldIssue } from '../../supabase/functions/_shared/errors.ts';
import { backoffDelay, type BackoffOptions } from '../backoff.ts';
import { chunk, utf8Bytes } from '../chunk.ts';
import { AuditClientError } from '../errors.ts';
import { asClientError } from '../pipeline.ts';
import { openDatabase, type OutboxDatabase, type OutboxSource, type Query, type Session } from './database.ts';
import { OUTBOX_SCHEMA_VERSION } from './schema.ts';
import { eventSender, type Send } from './sender.ts';

export interface RelayOptions {
  /** The OMS database holding the outbox: a connection string, postgres.js `sql` or a pg Pool. */
  source: OutboxSource;
  /** The oms-audit server, e.g. https://audit.example.com. */
  baseUrl: string;
  /** A tenant API key with the events:write scope. */
  apiKey: string;
  /** Events per request, at most 500 (the API's limit). Default 500. */
  batchSize?: number;
  /** How long the leader waits before looking again when the outbox is empty. Default 200 ms. */
  idleDelayMs?: number;
  /** How often a standby tries to become the leader. Default 1 s. */
  standbyPollMs?: number;
  /** How often the lag (pending rows, oldest row's age, parked rows) is read. Default 1 s. */
  statsIntervalMs?: number;
  /** Per request. Default 30 s. */
  timeoutMs?: number;
  /** Pauses after failures: random up to min(maxMs, baseMs · 2ⁿ). Default 200 ms … 10 s. */
  retry?: Partial<BackoffOptions>;
  fetch?: typeof fetch;
  headers?: Record<string, string>;
  /** The database session's application_name (connection strings only). */
  applicationName?: string;
  /** Events the server refused, now parked. */
  onParked?: (events: ParkedEvent[]) => void;
  /** A failed attempt (request or database); the relay keeps trying. */
  onError?: (error: Error) => void;
  onRoleChange?: (role: RelayRole) => void;
}

/** connecting: no database session yet (or lost); standby: another relay leads; leader: this one sends. */
export type RelayRole = 'connecting' | 'standby' | 'leader' | 'stopped';

export interface ParkedEvent {
  id: string;
  /** Its place in the outbox's order. */
  position: string;
  error: ParkedError;
}

/** The server's answer, as kept with a parked event. */
export interface ParkedError {
  status: number | null;
  code: string;
  message: string;
  /** The issues about this event (field and message). */
  issues: FieldIssue[];
}

export interface RelayStats {
  role: RelayRole;
  /** Events in the outbox not yet acknowledged (those on their way included), at the last check; null before it. */
  pendingRows: number | null;
  /** Age of the oldest of them, in seconds, now (0 when none); null before the first check. */
  oldestPendingSeconds: number | null;
  /** Events parked in this outbox (by any relay), at the last check. */
  parkedRows: number | null;
  checkedAt: Date | null;
  /** Since this relay started: events the server acknowledged (created + duplicates). */
  sentEvents: number;
  createdEvents: number;
  /** Acknowledged as already stored (sent before, the acknowledgement lost). */
  duplicateEvents: number;
  parkedEvents: number;
  requests: number;
  failedRequests: number;
  lastAckAt: Date | null;
  lastError: string | null;
  lastErrorAt: Date | null;
}

export interface Relay {
  /** Current numbers (lag and counters). */
  stats(): RelayStats;
  /** Resolves when this relay, as leader, has found the outbox empty: every committed event is stored or parked. */
  drain(options?: { timeoutMs?: number }): Promise<void>;
  /** Looks at the outbox now instead of after idleDelayMs (e.g. right after a commit). */
  wake(): void;
  /** Finishes the request in flight, removes what it stored, releases the leadership and the database. */
  stop(): Promise<void>;
}

interface OutboxRow {
  position: string;
  id: string;
  event: string;
}

// Ordered by the column, not by the text alias of the same name (which would put 10 before 9).
const SELECT_SQL = `
select q.position::text as position, q.id::text as id, q.event::text as event
from oms_audit_outbox.audit_outbox q
where q.position <> all (string_to_array($1::text, ',')::bigint[])
order by q.position
limit $2::int`;

const DELETE_SQL = `delete from oms_audit_outbox.audit_outbox where position = any (string_to_array($1::text, ',')::bigint[])`;

const PARK_SQL = `
with parked as (
  delete from oms_audit_outbox.audit_outbox q
  using jsonb_to_recordset($1::text::jsonb) as p(position bigint, error jsonb)
  where q.position = p.position
  returning q.position, q.id, q.event, q.created_at, p.error
)
insert into oms_audit_outbox.audit_outbox_parked (position, id, event, created_at, error)
select position, id, event, created_at, error from parked`;

const STATS_SQL = `
select count(*)::float8 as pending,
       coalesce(extract(epoch from clock_timestamp() - min(created_at)), 0)::float8 as oldest,
       (select count(*) from oms_audit_outbox.audit_outbox_parked)::float8 as parked
from oms_audit_outbox.audit_outbox`;

/** The outbox is missing or was installed by a newer SDK: the relay says so and keeps trying. */
export class OutboxNotReadyError extends Error {
  override name = 'OutboxNotReadyError';
}

/** Checks that the outbox is installed in a version this SDK knows. */
export async function checkOutboxInstalled(query: Query): Promise<void> {
  let version: number;
  try {
    const [row] = await query('select max(version)::int as version from oms_audit_outbox.schema_version');
    version = row!.version as number;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === '42P01' || code === '3F000') throw new OutboxNotReadyError('The outbox is not installed in this database: run `oms-audit outbox init --database-url …` (or installOutbox()) first');
    throw err;
  }
  if (version > OUTBOX_SCHEMA_VERSION) throw new OutboxNotReadyError(`The outbox in this database is of version ${version}; this SDK knows version ${OUTBOX_SCHEMA_VERSION}: upgrade @oms-audit/sdk`);
}

/** A sleep that wake() or stop() ends early. */
class Waker {
  private wakeUp: (() => void) | null = null;
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wakeUp === done) this.wakeUp = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }
  wake(): void {
    this.wakeUp?.();
  }
}

/** Which events of a batch a 4xx names (indexes within the batch). */
function namedEvents(error: AuditClientError, size: number): Set<number> {
  return new Set(error.issues.map((i) => i.index).filter((i): i is number => i !== undefined && i >= 0 && i < size));
}

/**
 * A 201 acknowledges the batch only if it names exactly the ids sent, in their
 * order: anything else (a proxy's cached answer, a server of another kind) is
 * treated as no answer, and the batch is sent again.
 */
function checkAcknowledgement(result: IngestResult, batch: readonly OutboxRow[]): void {
  const ids = Array.isArray(result.ids) ? result.ids : [];
  if (ids.length !== batch.length || batch.some((row, i) => ids[i]?.toLowerCase() !== row.id)) {
    throw new AuditClientError(`The server's answer does not name the ${batch.length} events sent (it names ${ids.length}): not taken as an acknowledgement`, 'http_error', 502);
  }
}

/** 400/413/422: the request's content was refused (the relay's key and URL are fine). */
const refusesContent = (error: AuditClientError) => error.status === 400 || error.status === 413 || error.status === 422;

const parkedError = (error: AuditClientError, issues: FieldIssue[]): ParkedError => ({
  status: error.status ?? null,
  code: error.code,
  message: error.message,
  issues: issues.map(({ index: _index, ...issue }) => issue),
});

class OutboxRelay implements Relay {
  private readonly send: Send;
  private readonly batchSize: number;
  private readonly idleDelayMs: number;
  private readonly standbyPollMs: number;
  private readonly retry: BackoffOptions;
  private readonly waker = new Waker();
  private db: OutboxDatabase | null = null;
  private session: Session | null = null;
  private stopping = false;
  private readonly running: Promise<void>;
  private readonly statsTimer: ReturnType<typeof setInterval>;
  private refreshing = false;
  /**
   * Callers of drain(), each with how many reads of the outbox had started when it
   * called: only an empty read started after that proves its rows were all shipped.
   */
  private drainWaiters: [resolve: () => void, reject: (err: Error) => void, readsBefore: number][] = [];
  /** Reads of the outbox started so far (numbering them for drain()). */
  private readsStarted = 0;
  private oldestAtCheck = 0;
  private readonly counters: RelayStats;

  constructor(private readonly options: RelayOptions) {
    this.batchSize = Math.min(LIMITS.apiBatch, Math.max(1, Math.floor(options.batchSize ?? LIMITS.apiBatch)));
    this.idleDelayMs = options.idleDelayMs ?? 200;
    this.standbyPollMs = options.standbyPollMs ?? 1000;
    this.retry = { baseMs: options.retry?.baseMs ?? 200, maxMs: options.retry?.maxMs ?? 10_000 };
    this.send = eventSender({ baseUrl: options.baseUrl, apiKey: options.apiKey, timeoutMs: options.timeoutMs ?? 30_000, fetch: options.fetch, headers: options.headers });
    this.counters = {
      role: 'connecting',
      pendingRows: null,
      oldestPendingSeconds: null,
      parkedRows: null,
      checkedAt: null,
      sentEvents: 0,
      createdEvents: 0,
      duplicateEvents: 0,
      parkedEvents: 0,
      requests: 0,
      failedRequests: 0,
      lastAckAt: null,
      lastError: null,
      lastErrorAt: null,
    };
    this.statsTimer = setInterval(() => void this.refreshStats(), options.statsIntervalMs ?? 1000);
    this.running = this.run();
  }

  stats(): RelayStats {
    const s = { ...this.counters };
    if (s.checkedAt && s.pendingRows) s.oldestPendingSeconds = this.oldestAtCheck + (Date.now() - s.checkedAt.getTime()) / 1000;
    return s;
  }

  drain({ timeoutMs = Infinity }: { timeoutMs?: number } = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = Number.isFinite(timeoutMs) ? setTimeout(() => reject(new Error(`The outbox was not drained within ${timeoutMs} ms (${JSON.stringify(this.stats())})`)), timeoutMs) : undefined;
      this.drainWaiters.push([
        () => {
          clearTimeout(timer);
          resolve();
        },
        (err) => {
          clearTimeout(timer);
          reject(err);
        },
        this.readsStarted,
      ]);
      this.waker.wake();
    });
  }

  wake(): void {
    this.waker.wake();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.statsTimer);
    this.waker.wake();
    await this.running;
    await this.dropSession();
    await this.db?.end().catch(() => {});
    this.setRole('stopped');
    for (const [, reject] of this.drainWaiters.splice(0)) reject(new Error('The relay stopped before the outbox was drained'));
  }

  private setRole(role: RelayRole): void {
    if (this.counters.role === role) return;
    this.counters.role = role;
    this.options.onRoleChange?.(role);
  }

  private recordError(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.counters.lastError = error.message;
    this.counters.lastErrorAt = new Date();
    this.options.onError?.(error);
  }

  private async dropSession(): Promise<void> {
    const session = this.session;
    this.session = null;
    await session?.close().catch(() => {});
  }

  private async refreshStats(): Promise<void> {
    const session = this.session;
    if (!session || this.refreshing) return;
    this.refreshing = true;
    try {
      const [row] = await session.query(STATS_SQL);
      this.counters.pendingRows = row!.pending as number;
      this.oldestAtCheck = row!.oldest as number;
      this.counters.oldestPendingSeconds = this.oldestAtCheck;
      this.counters.parkedRows = row!.parked as number;
      this.counters.checkedAt = new Date();
    } catch {
      // The main loop sees the same failure and reports it.
    } finally {
      this.refreshing = false;
    }
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopping) {
      try {
        if (!this.session) {
          this.db ??= await openDatabase(this.options.source, this.options.applicationName ?? 'oms-audit-relay');
          this.session = await this.db.session();
          await checkOutboxInstalled(this.session.query);
          void this.refreshStats();
        }
        const [row] = await this.session.query('select oms_audit_outbox.try_lead() as lead');
        attempt = 0;
        if (!row!.lead) {
          this.setRole('standby');
          await this.waker.sleep(this.standbyPollMs);
          continue;
        }
        this.setRole('leader');
        await this.lead(this.session.query);
      } catch (err) {
        // The session (and the leadership with it) is given up; a new one starts as a standby would.
        this.recordError(err);
        await this.dropSession();
        if (this.stopping) break;
        this.setRole('connecting');
        await this.waker.sleep(backoffDelay(attempt++, this.retry));
      }
    }
  }

  private fetch(query: Query, exclude: string[], limit: number): Promise<OutboxRow[]> {
    return query(SELECT_SQL, [exclude.join(','), limit]) as Promise<unknown> as Promise<OutboxRow[]>;
  }

  /** Sends while this relay leads; returns when stopping; throws when the database fails. */
  private async lead(query: Query): Promise<void> {
    let limit = this.batchSize;
    let failures = 0;
    let next: Promise<OutboxRow[]> | null = null;
    let nextRead = 0;
    let deleting: Promise<unknown> | null = null;
    try {
      while (!this.stopping) {
        const read = next ? nextRead : ++this.readsStarted;
        const rows = await (next ?? this.fetch(query, [], limit));
        next = null;
        if (!rows.length) {
          if (deleting) await deleting;
          deleting = null;
          // Empty: nothing waits, so there is no lag (until the next check says otherwise).
          this.counters.pendingRows = 0;
          this.counters.oldestPendingSeconds = 0;
          this.oldestAtCheck = 0;
          // Drained for those who asked before this read began (a read already under way may miss rows committed since).
          const drained = this.drainWaiters.filter(([, , readsBefore]) => readsBefore < read);
          this.drainWaiters = this.drainWaiters.filter(([, , readsBefore]) => readsBefore >= read);
          for (const [resolve] of drained) resolve();
          await this.waker.sleep(this.idleDelayMs);
          continue;
        }
        const [batch] = chunk(
          rows.map((row) => ({ item: row, bytes: utf8Bytes(row.event) })),
          limit,
          LIMITS.apiBodyBytes,
        ) as [OutboxRow[]];
        const positions = batch.map((row) => row.position);
        this.counters.requests++;
        const sending = this.send(`{"events":[${batch.map((row) => row.event).join(',')}]}`);
        // While the batch is on its way: the next one is read (without this one's rows), the last one's removal finishes.
        if (limit === this.batchSize) {
          nextRead = ++this.readsStarted;
          next = this.fetch(query, positions, limit);
          next.catch(() => {});
        }
        if (deleting) await deleting;
        deleting = null;
        let result: IngestResult;
        try {
          result = await sending;
          checkAcknowledgement(result, batch);
        } catch (err) {
          const error = asClientError(err);
          // This batch (or what is left of it) goes first again: what was read after it is read again.
          if (next) await next.catch(() => {});
          next = null;
          this.counters.failedRequests++;
          this.recordError(error);
          const named = namedEvents(error, batch.length);
          if (!error.retryable && named.size) {
            await this.park(query, batch.flatMap((row, i) => (named.has(i) ? [{ row, error: parkedError(error, error.issues.filter((x) => x.index === i)) }] : [])));
          } else if (refusesContent(error) && batch.length > 1) {
            limit = Math.ceil(batch.length / 2);
          } else if (refusesContent(error)) {
            await this.park(query, [{ row: batch[0]!, error: parkedError(error, error.issues) }]);
            limit = this.batchSize;
          } else {
            await this.waker.sleep(backoffDelay(failures++, this.retry, error.retryAfter));
          }
          continue;
        }
        failures = 0;
        this.counters.sentEvents += batch.length;
        this.counters.createdEvents += result.created_count;
        this.counters.duplicateEvents += result.duplicate_count;
        this.counters.lastAckAt = new Date();
        deleting = query(DELETE_SQL, [positions.join(',')]);
        deleting.catch(() => {});
      }
    } finally {
      // Stopping (or failing): what the server acknowledged is removed before the session goes.
      if (next) await next.catch(() => {});
      if (deleting) await deleting.catch(() => {});
    }
  }

  private async park(query: Query, refused: { row: OutboxRow; error: ParkedError }[]): Promise<void> {
    await query(PARK_SQL, [JSON.stringify(refused.map(({ row, error }) => ({ position: row.position, error })))]);
    this.counters.parkedEvents += refused.length;
    this.options.onParked?.(refused.map(({ row, error }) => ({ id: row.id, position: row.position, error })));
  }
}

/** Starts a relay; it runs until stop(). */
export function startRelay(options: RelayOptions): Relay {
  if (!options.baseUrl) throw new TypeError('startRelay needs the oms-audit server’s baseUrl');
  if (!options.apiKey) throw new TypeError('startRelay needs an API key with the events:write scope');
  return new OutboxRelay(options);
}
