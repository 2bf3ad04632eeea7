/**
 * Fast loading for benchmarks: realistic events, stamped and hashed exactly as the
 * write path does, numbered per tenant, written with COPY into audit_events and
 * audit_ledger. Minutes for millions of events instead of hours through the API.
 */
import { parseBatch, type AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import type { Sql, TxSql } from '@/supabase/functions/_shared/db.ts';
import { ensureMonthPartitions, stampEvents, type StampedEvent } from '@/supabase/functions/_shared/ingest.ts';
import { fromMicros, monthOf } from '@/supabase/functions/_shared/timestamps.ts';
import { generateDemoEvents } from '@/server/services/demo-data.ts';

const EVENT_COLUMNS =
  'id, tenant_id, seq, occurred_at, received_at, schema_version, actor_type, actor_id, object_type, object_id, event_type, outcome, source, request_id, ip_address, user_agent, device_fingerprint, observed_ip, observed_user_agent, context, written_by';

function escapeCopy(v: string | number | null): string {
  if (v === null) return '\\N';
  const s = String(v);
  return /[\\\t\n\r]/.test(s) ? s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r') : s;
}

/**
 * `count` order-lifecycle events of one tenant ending before `monthEndMicros`, stamped and
 * hashed as the write path does, copied in seq order from seq 1 (ledger included); in
 * slices of 5,000 orders (about 30,000 events), so the generated events never all sit in
 * memory. The month's partition must exist.
 */
export async function loadMonthEvents(sql: Sql, tenantId: string, count: number, monthEndMicros: number): Promise<number> {
  let loaded = 0;
  for (let slice = 0; loaded < count; slice++) {
    const raw = generateDemoEvents(5000, monthEndMicros, 7 + slice).slice(0, count - loaded);
    for (let at = 0; at < raw.length; at += 5000) {
      const { rows } = stampEvents(tenantId, parseBatch({ events: raw.slice(at, at + 5000) }, 5000), { ip: '10.0.0.1', userAgent: 'bench' }, { kind: 'operator', name: 'bench' });
      await copyEvents(sql, copyPayload(tenantId, rows, loaded + 1));
      loaded += rows.length;
    }
  }
  return loaded;
}

/** COPY text for audit_events and audit_ledger. */
export interface CopyPayload {
  events: string;
  ledger: string;
}

/** COPY text of stamped events of a tenant, numbered from `firstSeq`. */
export function copyPayload(tenantId: string, rows: readonly StampedEvent[], firstSeq: number): CopyPayload {
  let events = '';
  let ledger = '';
  rows.forEach((r, i) => {
    const seq = firstSeq + i;
    events +=
      [r.id, tenantId, seq, r.occurred_at, r.received_at, r.schema_version, r.actor_type, r.actor_id, r.object_type, r.object_id, r.event_type, r.outcome, r.source, r.request_id, r.ip_address, r.user_agent, r.device_fingerprint, r.observed_ip, r.observed_user_agent, r.contextJson, r.written_by]
        .map(escapeCopy)
        .join('\t') + '\n';
    ledger += `${tenantId}\t${seq}\t${r.id}\t${r.occurred_at}\t\\\\x${r.hash}\n`;
  });
  return { events, ledger };
}

/** Writes `data` to a COPY … FROM STDIN stream; fails instead of hanging if PostgreSQL refuses the data. */
async function copyIn(tx: TxSql, statement: string, data: string): Promise<void> {
  const stream = await tx.unsafe(statement).writable();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`COPY did not complete: ${statement}`)), 120_000);
    stream.end(data, (err?: Error | null) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    });
  });
}

/** Events and their ledger rows in one transaction, as the write path commits them. */
export async function copyEvents(sql: Sql, payload: CopyPayload): Promise<void> {
  await sql.begin(async (tx) => {
    await copyIn(tx, `copy public.audit_events (${EVENT_COLUMNS}) from stdin`, payload.events);
    await copyIn(tx, 'copy public.audit_ledger (tenant_id, seq, id, occurred_at, event_hash) from stdin', payload.ledger);
  });
}

export interface LoadOptions {
  tenantId: string;
  events: number;
  /** occurred_at spread over this many months back from now. */
  months: number;
  /** First seq to assign minus one (the tenant's current last_seq). */
  lastSeq?: number;
  seed?: number;
  chunk?: number;
  /** Event content for the i-th event of the tenant (occurred_at is assigned by the loader); default: demo order flow. */
  make?: (i: number) => AuditEventRequest;
  onProgress?: (loaded: number) => void;
}

/** Loads `events` events for one tenant. Returns the last seq written. */
export async function loadTenantEvents(sql: Sql, options: LoadOptions): Promise<number> {
  const chunk = options.chunk ?? 10_000;
  const now = Date.now() * 1000;
  const span = options.months * 30 * 86_400_000_000;
  // A pool of realistic order-lifecycle events whose content is reused; times and ids are fresh.
  const pool: AuditEventRequest[] = options.make ? [] : generateDemoEvents(3000, now, options.seed ?? 11).map(({ occurred_at: _o, ...e }) => e);
  const make = options.make ?? ((i: number) => pool[i % pool.length]!);
  // PostgreSQL writes one chunk while the next is prepared here: two cores busy instead of one.
  let writing: Promise<void> | null = null;
  let seq = options.lastSeq ?? 0;
  let rng = options.seed ?? 11;
  const random = () => ((rng = (rng * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let done = 0; done < options.events; done += chunk) {
    const n = Math.min(chunk, options.events - done);
    // Time runs forward through the load (later seq, later time), with some backfilled stragglers.
    const base = now - span + Math.floor((span * done) / options.events);
    const requests = Array.from({ length: n }, (_, i) => ({
      ...make(done + i),
      occurred_at: fromMicros(random() < 0.02 ? now - Math.floor(random() * span) : base + Math.floor((i * span) / options.events)).iso,
    }));
    const { rows } = stampEvents(options.tenantId, parseBatch({ events: requests }, n), { ip: '10.0.0.9', userAgent: 'oms-audit-loader' }, { kind: 'operator', name: 'bench' });
    await ensureMonthPartitions(sql, new Set(rows.map((r) => monthOf(r.occurred_at))));
    const payload = copyPayload(options.tenantId, rows, seq + 1);
    seq += rows.length;
    await writing;
    writing = copyEvents(sql, payload).then(() => options.onProgress?.(done + n));
    // Surface a failure at the next await, not as an unhandled rejection.
    writing.catch(() => {});
  }
  await writing;
  return seq;
}

/** Columns of the naive schema: the event without seq, schema version and provenance. */
export const NAIVE_COLUMNS =
  'id, tenant_id, occurred_at, received_at, actor_type, actor_id, object_type, object_id, event_type, outcome, source, request_id, ip_address, user_agent, device_fingerprint, observed_ip, observed_user_agent, context';

/** The naive schema the stored shape is compared with: one plain table, uuid primary key, the three obvious indexes. */
export async function createNaiveTable(sql: Sql): Promise<void> {
  await sql.unsafe(`
    create table public.naive_events (
      id uuid primary key, tenant_id uuid not null, occurred_at timestamptz not null, received_at timestamptz not null,
      actor_type text not null, actor_id text not null, object_type text not null, object_id text not null, event_type text not null,
      outcome text not null, source text, request_id text, ip_address inet, user_agent text, device_fingerprint text,
      observed_ip inet, observed_user_agent text, context jsonb not null);
    create index naive_events_tenant_time on public.naive_events (tenant_id, occurred_at desc);
    create index naive_events_object on public.naive_events (tenant_id, object_type, object_id, occurred_at desc);
    create index naive_events_actor on public.naive_events (tenant_id, actor_id, occurred_at desc);`);
}

/** The naive table's COPY text for the same events: the columns it has, from the events' COPY text. */
export function naiveText(payload: CopyPayload): string {
  const all = EVENT_COLUMNS.split(', ');
  const keep = NAIVE_COLUMNS.split(', ').map((c) => all.indexOf(c));
  let out = '';
  for (const line of payload.events.split('\n')) {
    if (!line) continue;
    const f = line.split('\t');
    out += keep.map((k) => f[k]).join('\t') + '\n';
  }
  return out;
}
