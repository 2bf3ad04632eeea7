/**
 * The one write path. Every entry point (tRPC, REST, the edge function, single
 * events, the CLI's demo data) ends here with events already parsed by the
 * contract. Each batch is stamped (ids, received_at, observed client) and
 * hashed, then committed for its tenant in one transaction:
 *
 *   1. lock the tenant's sequence row (writers of one tenant are serialized,
 *      so `seq` follows commit order and has no gaps);
 *   2. one INSERT … SELECT FROM unnest(…) that skips ids the tenant already
 *      has, numbers the fresh events and writes them to the ledger and to
 *      the month partitions of audit_events.
 *
 * Group commit: while a tenant's transaction runs, batches arriving for that
 * tenant wait and are then committed together, so a busy tenant pays the lock
 * and the commit flush once per group instead of once per request. A request
 * is answered only after the transaction holding its events has committed.
 *
 * A statement trigger on audit_ledger checks that the new seqs continue the
 * tenant's sequence, so the database itself refuses gaps and overlaps.
 */
import { v7 as uuidv7 } from 'uuid';
import type { AuditEventInput, IngestMethod, IngestResult } from './contract.ts';
import { SCHEMA_VERSION } from './limits.ts';
import { AuditError, databaseUnavailable, invalid, isConnectionError, type FieldIssue } from './errors.ts';
import { eventHash } from './event-hash.ts';
import { canonicalJson } from './canonical-json.ts';
import { monthOf, nowTimestamp } from './timestamps.ts';
import { jsonArray, pgArray, releaseReserved, type Sql, type TxSql } from './db.ts';
import { forgetSealingKeys, forgetSealingSettings, hasUnsealedRows, SEALED_KEY_DESTROYED, SEALING_DECLARED, sealedKeyIds, sealPersonalData } from './personal-seal.ts';
import { CLOCK_SKEW_CTES, checkClockSyncRecords, reportedRoundTripMicros } from './clock.ts';
import { CONSOLE_SOURCE, mayWriteConsoleRecords, RESERVED_EVENT_TYPE_PREFIX, writtenBy, type WriteCaller, type Writer } from './writers.ts';

export type { WriteCaller, Writer } from './writers.ts';

/** What the server saw of the connection that delivered the batch. */
export interface ObservedClient {
  ip: string | null;
  userAgent: string | null;
  /** The request's id (x-request-id): the request_id of events that bring none. */
  requestId?: string | null;
  /** The client's X-Audit-Round-Trip-Ms header as sent (clock evidence, clock.ts), validated when events are stamped. */
  roundTrip?: string | null;
}

/**
 * Optional observer of the write path: a host process registers one to count
 * what happens here (the Node server feeds its Prometheus metrics with it);
 * without one nothing is recorded, so this module stays free of any metrics library.
 */
export interface IngestObserver {
  /** A batch handed to appendEvents finished: stored (ok) or failed, with its timing. */
  batch(report: { method: IngestMethod; ok: boolean; error?: unknown; events: number; created: number; duplicates: number; seconds: number }): void;
  /** One group-commit transaction: how many events it carried, and how many wait behind it. */
  groupCommitted(report: { events: number; queued: number }): void;
}

const observerHolder = globalThis as typeof globalThis & { __omsAuditIngestObserver?: IngestObserver };

export function setIngestObserver(observer: IngestObserver | undefined): void {
  observerHolder.__omsAuditIngestObserver = observer;
}

function observer(): IngestObserver | undefined {
  return observerHolder.__omsAuditIngestObserver;
}

export const APPEND_EVENTS_SQL = `
with input as (
  select *
  -- The contexts come as one JSON array ($15): its elements are jsonb values already, so neither side
  -- writes or reads each context a second time as an escaped array element.
  from rows from (
    unnest($2::uuid[]), unnest($3::timestamptz[]), unnest($4::text[]), unnest($5::text[]), unnest($6::text[]),
    unnest($7::text[]), unnest($8::text[]), unnest($9::text[]), unnest($10::text[]), unnest($11::text[]),
    unnest($12::inet[]), unnest($13::text[]), unnest($14::text[]), jsonb_array_elements($15::text::jsonb), unnest($16::text[]),
    unnest($17::timestamptz[]), unnest($18::inet[]), unnest($19::text[]), unnest($21::text[]), unnest($20::smallint[]),
    unnest($22::jsonb[]), unnest($23::bigint[])
  ) with ordinality as t(id, occurred_at, actor_type, actor_id, object_type, object_id, event_type,
                         outcome, source, request_id, ip_address, user_agent, device_fingerprint, context, event_hash,
                         received_at, observed_ip, observed_user_agent, written_by, schema_version, personal, round_trip_us, ord)
),
-- Ids the tenant already has, among the ids to probe ($24): one probe of the ledger's (tenant_id, id)
-- index per id (LATERAL … LIMIT 1 keeps that plan whatever the statistics say). A first attempt probes
-- none: the ledger's unique (tenant_id, id) refuses a stored id, and the retry probes them all.
existing as materialized (
  select c.id
  from unnest($24::uuid[]) as c(id)
  cross join lateral (select 1 from public.audit_ledger l where l.tenant_id = $1 and l.id = c.id limit 1) as hit
),
-- Numbered from the tenant's last seq, read under the sequence lock (held until commit).
fresh as (
  select i.*, (select oms_audit.lock_tenant_sequence()) + row_number() over (order by i.ord) as seq
  from input i
  where i.id not in (select id from existing)
),
ledger as (
  insert into public.audit_ledger (tenant_id, seq, id, occurred_at, event_hash)
  select $1, seq, id, occurred_at, decode(event_hash, 'hex') from fresh
),
inserted as (
  insert into public.audit_events (
    id, tenant_id, seq, occurred_at, received_at, schema_version, actor_type, actor_id, object_type, object_id,
    event_type, outcome, source, request_id, ip_address, user_agent, device_fingerprint, observed_ip,
    observed_user_agent, context, written_by, personal)
  select id, $1, seq, occurred_at, received_at, schema_version, actor_type, actor_id, object_type, object_id,
    event_type, outcome, source, request_id, ip_address, user_agent, device_fingerprint, observed_ip,
    observed_user_agent, context, written_by, personal
  from fresh
  returning id
),
${CLOCK_SKEW_CTES}
select id from inserted`;

/** Months known to have a partition, per process. Cleared when an insert finds one missing. */
const knownPartitions = new Set<string>();

export async function ensureMonthPartitions(sql: Sql, months: Iterable<string>): Promise<void> {
  for (const month of months) {
    if (knownPartitions.has(month)) continue;
    await sql`select oms_audit.ensure_month_partition(${month}::date)`;
    knownPartitions.add(month);
  }
}

export function forgetKnownPartitions(): void {
  knownPartitions.clear();
}

/** An event ready to store: validated, stamped and hashed. */
export interface StampedEvent {
  id: string;
  tenant_id: string;
  schema_version: number;
  occurred_at: string;
  received_at: string;
  actor_type: string;
  actor_id: string;
  object_type: string;
  object_id: string;
  event_type: string;
  outcome: string;
  source: string | null;
  request_id: string | null;
  ip_address: string | null;
  user_agent: string | null;
  device_fingerprint: string | null;
  observed_ip: string | null;
  observed_user_agent: string | null;
  context: Record<string, unknown>;
  /** The credential that wrote the event (writers.ts). */
  written_by: string;
  /** Schema version 3: references of the IP addresses and subject id, and the seals (personal-data.ts); null otherwise. */
  personal: Record<string, unknown> | null;
  /** canonicalJson(personal), where the sealer wrote it: hashed, and what is stored. */
  personalJson?: string;
  /** The data subject the event names (sealed into `personal` by the server; never stored as sent). */
  subject_id: string | null;
  /** canonicalJson(context): hashed, and what is stored (jsonb ignores key order). */
  contextJson: string;
  hash: string;
  /** The network round trip the client reported with the request (µs), for the clock evidence; not stored in the event. */
  round_trip_us?: number | null;
}

// Random bytes for ids: calls to the system's random source cost more than the ids themselves, so small
// batches (single events) take theirs from a pool refilled 4 KiB at a time; large batches get their own.
const randomPool = new Uint8Array(4096);
let randomPoolUsed = randomPool.length;

function randomBytes(n: number): Uint8Array {
  if (n > 1024) {
    const bytes = new Uint8Array(n);
    // getRandomValues fills at most 64 KiB per call.
    for (let at = 0; at < n; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));
    return bytes;
  }
  if (randomPoolUsed + n > randomPool.length) {
    crypto.getRandomValues(randomPool);
    randomPoolUsed = 0;
  }
  // Used at once (before the pool can be refilled), and each byte only once.
  return randomPool.subarray(randomPoolUsed, (randomPoolUsed += n));
}

/**
 * Event types beginning AUDIT_ and the console's source are the console's
 * records of its own use: refused (400, naming every such event and field)
 * from any writer but the console and the operator's tools.
 */
export function checkReservedRecords(writer: Writer, events: readonly AuditEventInput[]): void {
  if (mayWriteConsoleRecords(writer)) return;
  const issues: FieldIssue[] = [];
  events.forEach((e, index) => {
    if (e.event_type.startsWith(RESERVED_EVENT_TYPE_PREFIX)) {
      issues.push({ index, field: 'event_type', message: `event types beginning ${RESERVED_EVENT_TYPE_PREFIX} are reserved for the console's own records` });
    }
    if (e.source?.trim().toLowerCase() === CONSOLE_SOURCE) {
      issues.push({ index, field: 'source', message: `the source ${CONSOLE_SOURCE} is reserved for the console's own records` });
    }
  });
  if (issues.length) throw invalid(issues.slice(0, 100), 'batch');
}

/**
 * Stamps a parsed batch: ids, received_at, the observed client, the writer, the
 * event hash. With `hash: false` the hash and the context's canonical JSON are
 * left empty (''), for the write path to compute once after sealing personal
 * data, which changes both (completeRows).
 */
export function stampEvents(
  tenantId: string,
  events: readonly AuditEventInput[],
  observed: ObservedClient,
  writer: Writer,
  options: { hash?: boolean } = {},
): { ids: string[]; rows: StampedEvent[]; batchDuplicates: string[] } {
  checkReservedRecords(writer, events);
  checkClockSyncRecords(events);
  const roundTripUs = reportedRoundTripMicros(observed.roundTrip);
  const writtenByText = writtenBy(writer);
  const mismatch = events.findIndex((e) => e.tenant_id != null && e.tenant_id !== tenantId);
  if (mismatch !== -1) {
    throw new AuditError('tenant_mismatch', `Event ${mismatch} names tenant ${events[mismatch]!.tenant_id}, but the credential belongs to another tenant. Nothing was stored.`, [
      { index: mismatch, field: 'tenant_id', message: 'differs from the tenant of the credential' },
    ]);
  }
  const received = nowTimestamp().iso;
  const random = randomBytes(16 * events.length);
  const ids: string[] = [];
  const batchDuplicates: string[] = [];
  const seen = new Set<string>();
  const rows: StampedEvent[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const id = e.id ?? uuidv7({ random: random.subarray(i * 16, i * 16 + 16) });
    ids.push(id);
    if (seen.has(id)) {
      batchDuplicates.push(id);
      continue;
    }
    seen.add(id);
    const row: StampedEvent = {
      id,
      tenant_id: tenantId,
      schema_version: SCHEMA_VERSION,
      occurred_at: e.occurred_at ?? received,
      received_at: received,
      actor_type: e.actor_type,
      actor_id: e.actor_id,
      object_type: e.object_type,
      object_id: e.object_id,
      event_type: e.event_type,
      outcome: e.outcome ?? 'success',
      source: e.source ?? null,
      request_id: e.request_id ?? observed.requestId ?? null,
      ip_address: e.ip_address ?? observed.ip,
      user_agent: e.user_agent ?? observed.userAgent,
      device_fingerprint: e.device_fingerprint ?? null,
      observed_ip: observed.ip,
      observed_user_agent: observed.userAgent,
      context: e.context,
      written_by: writtenByText,
      personal: null,
      subject_id: e.subject_id ?? null,
      contextJson: options.hash === false ? '' : canonicalJson(e.context),
      hash: '',
      round_trip_us: roundTripUs,
    };
    if (options.hash !== false) row.hash = eventHash(row, row.contextJson);
    rows.push(row);
  }
  return { ids, rows, batchDuplicates };
}

/** The canonical context and the hash of rows stamped with `hash: false` that no sealer completed. */
export function completeRows(rows: StampedEvent[]): void {
  for (const row of rows) {
    if (row.hash) continue;
    if (!row.contextJson) row.contextJson = canonicalJson(row.context);
    row.hash = eventHash(row, row.contextJson);
  }
}

interface Job {
  rows: StampedEvent[];
  resolve: (created: Set<string>) => void;
  reject: (err: unknown) => void;
}

interface TenantQueue {
  jobs: Job[];
  queuedRows: number;
  /** Transactions of this tenant in flight from this process. */
  inFlight: number;
  /** While a small group waits for company: until when, and the timer that ends the wait. */
  lingerUntil?: number;
  lingerTimer?: ReturnType<typeof setTimeout>;
}

export interface AppenderOptions {
  /** Most events committed in one transaction. */
  maxGroupEvents?: number;
  /** Events waiting per tenant before new batches are refused (503 + Retry-After). */
  maxQueuedEvents?: number;
  /**
   * Transactions per tenant in flight at once. The database runs them one after
   * the other (the sequence lock), but with two in flight the next one is already
   * waiting there when the current one commits, so PostgreSQL never waits for us.
   */
  maxInFlight?: number;
  /**
   * While a transaction of the tenant is already in flight, a further group of
   * fewer than lingerEvents waits up to lingerMs for more events before it starts
   * (it would only wait for the tenant's lock anyway). With nothing in flight a
   * group starts at once, so a lone request never waits. 0 turns lingering off.
   */
  lingerMs?: number;
  lingerEvents?: number;
}

/**
 * Per-tenant group commit. At most maxInFlight transactions per tenant; batches
 * that arrive meanwhile are committed together in the next one. Bounded: past
 * maxQueuedEvents waiting, new batches are shed with 503 instead of piling up.
 */
export class TenantAppender {
  private readonly queues = new Map<string, TenantQueue>();
  private readonly maxGroupEvents: number;
  private readonly maxQueuedEvents: number;
  private readonly maxInFlight: number;
  private readonly lingerMs: number;
  private readonly lingerEvents: number;

  constructor(
    private readonly sql: Sql,
    options: AppenderOptions = {},
  ) {
    this.maxGroupEvents = options.maxGroupEvents ?? 5000;
    this.maxQueuedEvents = options.maxQueuedEvents ?? 50_000;
    this.maxInFlight = options.maxInFlight ?? 2;
    this.lingerMs = options.lingerMs ?? 0;
    this.lingerEvents = options.lingerEvents ?? 100;
  }

  /** Events waiting (not yet in a running transaction), over all tenants. */
  queuedEvents(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.queuedRows;
    return n;
  }

  /** Resolves with the ids of `rows` that this call stored (the rest were stored before). */
  append(tenantId: string, rows: StampedEvent[]): Promise<Set<string>> {
    let queue = this.queues.get(tenantId);
    if (!queue) this.queues.set(tenantId, (queue = { jobs: [], queuedRows: 0, inFlight: 0 }));
    if (queue.queuedRows + rows.length > this.maxQueuedEvents && queue.queuedRows > 0) {
      return Promise.reject(new AuditError('unavailable', 'Too many events are waiting to be written for this tenant; retry shortly', [], 1));
    }
    const q = queue;
    return new Promise((resolve, reject) => {
      q.jobs.push({ rows, resolve, reject });
      q.queuedRows += rows.length;
      this.pump(tenantId, q);
    });
  }

  /** Starts transactions while there is work and room in flight. */
  private pump(tenantId: string, queue: TenantQueue): void {
    while (queue.jobs.length && queue.inFlight < this.maxInFlight) {
      if (this.shouldLinger(queue)) {
        queue.lingerTimer ??= setTimeout(() => {
          queue.lingerTimer = undefined;
          this.pump(tenantId, queue);
        }, queue.lingerUntil! - performance.now());
        return;
      }
      clearTimeout(queue.lingerTimer);
      queue.lingerTimer = queue.lingerUntil = undefined;
      const group: Job[] = [];
      let size = 0;
      while (queue.jobs.length && (group.length === 0 || size + queue.jobs[0]!.rows.length <= this.maxGroupEvents)) {
        const job = queue.jobs.shift()!;
        size += job.rows.length;
        group.push(job);
      }
      queue.queuedRows -= size;
      queue.inFlight++;
      void this.commitGroup(tenantId, group).finally(() => {
        queue.inFlight--;
        if (queue.jobs.length) this.pump(tenantId, queue);
        else if (queue.inFlight === 0) this.queues.delete(tenantId);
      });
    }
  }

  /** A small group waits (once, at most lingerMs) while another transaction of the tenant runs. */
  private shouldLinger(queue: TenantQueue): boolean {
    if (this.lingerMs <= 0 || queue.inFlight === 0 || queue.queuedRows >= this.lingerEvents) return false;
    const now = performance.now();
    queue.lingerUntil ??= now + this.lingerMs;
    return now < queue.lingerUntil;
  }

  private async commitGroup(tenantId: string, group: Job[]): Promise<void> {
    // The first batch to carry an id stores it; a later batch of the same group sees a duplicate.
    const seen = new Set<string>();
    const owned = group.map((job) => job.rows.filter((r) => !seen.has(r.id) && (seen.add(r.id), true)));
    try {
      const rows = owned.flat();
      observer()?.groupCommitted({ events: rows.length, queued: this.queuedEvents() });
      const created = await commitRows(this.sql, tenantId, rows);
      group.forEach((job, i) => job.resolve(new Set(owned[i]!.filter((r) => created.has(r.id)).map((r) => r.id))));
    } catch (err) {
      if (group.length > 1 && !(err instanceof AuditError)) {
        // One batch must not fail the others: commit them one by one.
        for (const job of group) await this.commitGroup(tenantId, [job]);
        return;
      }
      for (const job of group) job.reject(err);
    }
  }
}

// On globalThis: a process that loads this module twice (Next.js's bundle and the Node server) keeps one queue per pool.
const holder = globalThis as typeof globalThis & { __omsAuditAppenders?: WeakMap<Sql, TenantAppender> };
const appenders = (holder.__omsAuditAppenders ??= new WeakMap<Sql, TenantAppender>());

export function appenderFor(sql: Sql, options?: AppenderOptions): TenantAppender {
  let appender = appenders.get(sql);
  if (!appender) appenders.set(sql, (appender = new TenantAppender(sql, options)));
  return appender;
}

/**
 * How long a transaction may go unanswered. When the database goes away in the
 * middle of a pipeline, postgres.js can leave its last queries waiting forever;
 * the batch is then answered 503 and the client's retry (same ids) is safe.
 */
const COMMIT_TIMEOUT_MS = 10_000;

function settleWithin<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(databaseUnavailable()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The parameters of APPEND_EVENTS_SQL for a tenant's stamped and hashed rows. */
export function appendEventsParams(tenantId: string, rows: readonly StampedEvent[], probe = true): unknown[] {
  const ids = pgArray(rows, (r) => r.id);
  return [
    tenantId,
    ids,
    pgArray(rows, (r) => r.occurred_at),
    pgArray(rows, (r) => r.actor_type),
    pgArray(rows, (r) => r.actor_id),
    pgArray(rows, (r) => r.object_type),
    pgArray(rows, (r) => r.object_id),
    pgArray(rows, (r) => r.event_type),
    pgArray(rows, (r) => r.outcome),
    pgArray(rows, (r) => r.source),
    pgArray(rows, (r) => r.request_id),
    pgArray(rows, (r) => r.ip_address),
    pgArray(rows, (r) => r.user_agent),
    pgArray(rows, (r) => r.device_fingerprint),
    jsonArray(rows, (r) => r.contextJson),
    pgArray(rows, (r) => r.hash),
    pgArray(rows, (r) => r.received_at),
    pgArray(rows, (r) => r.observed_ip),
    pgArray(rows, (r) => r.observed_user_agent),
    pgArray(rows, (r) => String(r.schema_version)),
    pgArray(rows, (r) => r.written_by),
    pgArray(rows, (r) => (r.personal ? (r.personalJson ?? JSON.stringify(r.personal)) : null)),
    pgArray(rows, (r) => (r.round_trip_us == null ? null : String(r.round_trip_us))),
    probe ? ids : '{}',
  ];
}

/**
 * One transaction, sent as a single pipeline (BEGIN, claims, the insert, COMMIT)
 * so the tenant's sequence lock is held only while PostgreSQL executes, never
 * while this process is busy with other requests. Returns the ids inserted.
 */
async function commitRows(sql: Sql, tenantId: string, rows: StampedEvent[]): Promise<Set<string>> {
  // Stored ids are rare (a client's retry): the first attempt skips the probe for them.
  let params = appendEventsParams(tenantId, rows, false);
  const months = new Set(rows.map((r) => monthOf(r.occurred_at)));
  const claims = JSON.stringify({ tenant_id: tenantId, sub: 'oms-audit-ingest', role: 'authenticated' });
  // Sealed rows: their keys must still be live once the insert holds the tenant's sequence lock (see the migration
  // of oms_audit.require_live_subject_keys): an erasure that destroyed one meanwhile rolls the batch back.
  const keyIds = sealedKeyIds(rows);
  // Unsealed rows: the tenant must not have declared its personal data before the insert took the sequence lock
  // (oms_audit.require_sealing_undeclared): a process that has not noticed a declaration yet seals the batch again.
  const unsealed = hasUnsealedRows(rows);
  for (let attempt = 1; ; attempt++) {
    try {
      await ensureMonthPartitions(sql, months);
      const conn = await sql.reserve();
      // Prepared where the connection allows it (not through a transaction pooler): parsed and planned once.
      const prepare = (sql as unknown as { options: { prepare: boolean } }).options.prepare;
      const pipeline = Promise.allSettled([
        conn`begin`,
        conn`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${claims}, true)`,
        conn.unsafe(APPEND_EVENTS_SQL, params as never[], { prepare }),
        keyIds.length ? conn`select oms_audit.require_live_subject_keys(${keyIds}::uuid[])` : Promise.resolve([]),
        unsealed ? conn`select oms_audit.require_sealing_undeclared()` : Promise.resolve([]),
        conn`commit`,
      ]);
      // The connection goes back to the pool once the pipeline settles, unless it was lost.
      void pipeline.then(([, , insert, live, undeclared, commit]) => {
        const failed = [insert, live, undeclared, commit].find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
        releaseReserved(conn, failed?.reason);
      });
      const [, , insert, live, undeclared, commit] = await settleWithin(pipeline, COMMIT_TIMEOUT_MS);
      if (insert.status === 'rejected') throw insert.reason;
      if (live.status === 'rejected') throw live.reason;
      if (undeclared.status === 'rejected') throw undeclared.reason;
      if (commit.status === 'rejected') throw commit.reason;
      return new Set(insert.value.map((r) => r.id as string));
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === SEALED_KEY_DESTROYED || code === SEALING_DECLARED) throw new ResealNeeded(tenantId, code === SEALED_KEY_DESTROYED ? 'keys' : 'settings', (err as Error).message);
      // A month partition dropped by retention since we cached it: recreate it and retry.
      if (attempt <= 2 && isMissingPartition(err)) {
        forgetKnownPartitions();
        continue;
      }
      // An id the tenant already has (or another process committed one of these ids meanwhile): retry
      // with every id probed, so that it counts as a duplicate.
      if (attempt <= 4 && code === '23505') {
        params = appendEventsParams(tenantId, rows, true);
        continue;
      }
      if (isConnectionError(err)) throw databaseUnavailable();
      throw err;
    }
  }
}

/**
 * Stamps a parsed batch, seals its personal data and completes each row's
 * canonical context and hash: what every write path does before storing, once
 * (sealing serialises and hashes the rows it seals; completeRows the rest).
 */
async function preparedRows(sql: Sql, caller: WriteCaller, events: readonly AuditEventInput[], observed: ObservedClient): Promise<ReturnType<typeof stampEvents>> {
  const stamped = stampEvents(caller.tenantId, events, observed, caller.writer, { hash: false });
  await sealPersonalData(sql, caller.tenantId, stamped.rows);
  completeRows(stamped.rows);
  return stamped;
}

/**
 * A batch the database refused as sealed (nothing was stored), to seal again from the events as sent: it was sealed
 * under a subject key an erasure destroyed before it committed (`keys`), or it was unsealed and the tenant declared
 * its personal data before it committed (`settings`). `stale` names what this process must read again.
 */
class ResealNeeded extends Error {
  constructor(
    readonly tenantId: string,
    readonly stale: 'keys' | 'settings',
    message: string,
  ) {
    super(message);
  }
}

/** How many times a batch is sealed again after an erasure destroyed a key it was sealed under, or a declaration. */
const RESEALS = 3;

/**
 * Prepares and commits a batch through the tenant's group commit. A batch whose
 * subject key an erasure destroyed between sealing and commit is rolled back by
 * the database and sealed again from the events as sent (the caller's objects
 * are never changed by sealing), under the subject's new key; so is an
 * unsealed batch of a tenant that declared its personal data before it
 * committed, once this process has read the declaration.
 */
async function sealedAndStored(sql: Sql, caller: WriteCaller, events: readonly AuditEventInput[], observed: ObservedClient) {
  for (let attempt = 1; ; attempt++) {
    const prepared = await preparedRows(sql, caller, events, observed);
    try {
      const created = prepared.rows.length ? await appenderFor(sql).append(caller.tenantId, prepared.rows) : new Set<string>();
      return { ...prepared, created };
    } catch (err) {
      if (!(err instanceof ResealNeeded) || attempt > RESEALS) throw err;
      if (err.stale === 'settings') forgetSealingSettings(caller.tenantId);
      else forgetSealingKeys(caller.tenantId);
    }
  }
}

/**
 * Stores a parsed batch for the caller's tenant. Idempotent by event id: an id
 * the tenant already has is counted as a duplicate, stored once, and consumes
 * no seq. Resolves after the events are committed.
 */
export async function appendEvents(
  sql: Sql,
  caller: WriteCaller,
  events: readonly AuditEventInput[],
  observed: ObservedClient,
  method: IngestMethod,
): Promise<IngestResult> {
  const started = performance.now();
  let result: IngestResult;
  try {
    const { ids, rows, batchDuplicates, created } = await sealedAndStored(sql, caller, events, observed);
    const duplicateIds = [...rows.filter((r) => !created.has(r.id)).map((r) => r.id), ...batchDuplicates];
    result = {
      created_count: created.size,
      duplicate_count: ids.length - created.size,
      ids,
      duplicate_ids: duplicateIds,
      duration_ms: Math.round((performance.now() - started) * 100) / 100,
      method,
    };
  } catch (error) {
    const seconds = (performance.now() - started) / 1000;
    observer()?.batch({ method, ok: false, error, events: events.length, created: 0, duplicates: 0, seconds });
    throw error;
  }
  observer()?.batch({ method, ok: true, events: events.length, created: result.created_count, duplicates: result.duplicate_count, seconds: result.duration_ms / 1000 });
  return result;
}

/**
 * Stores a parsed batch inside the caller's open transaction `tx`, which runs as
 * `authenticated` with the tenant's claims: the events commit or roll back with
 * the caller's other changes, and the tenant's sequence lock is held from here
 * to the end of `tx` (keep what follows short). For a record that must commit
 * together with the change it records (an erasure and its key destruction).
 * Sealing reads and creates subject keys through the pool `sql`. Returns the
 * ids stored (an id the tenant already has is not stored again).
 */
export async function appendEventsWithin(sql: Sql, tx: TxSql, caller: WriteCaller, events: readonly AuditEventInput[], observed: ObservedClient): Promise<Set<string>> {
  const { rows } = await preparedRows(sql, caller, events, observed);
  await ensureMonthPartitions(sql, new Set(rows.map((r) => monthOf(r.occurred_at))));
  const inserted = await tx.unsafe(APPEND_EVENTS_SQL, appendEventsParams(caller.tenantId, rows) as never[]);
  if (hasUnsealedRows(rows)) await tx`select oms_audit.require_sealing_undeclared()`;
  return new Set(inserted.map((r) => r.id as string));
}

function isMissingPartition(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === '23514' && /no partition of relation/.test(e.message ?? '');
}
