/**
 * Delivers log streams (docs/streams.md). A round claims due streams with
 * FOR UPDATE SKIP LOCKED and a lease, so each stream has one worker across all
 * server processes; a crashed worker's lease runs out and another takes over.
 * Per stream, batches go out in seq order from the cursor in the database:
 * the range is recorded before it is sent (a retry resends exactly it), and
 * the cursor moves only after the receiver acknowledged it — at least once,
 * never skipping. Failures are retried with exponential backoff and jitter;
 * a run of failures older than STREAM_FAILING_AFTER_SECONDS shows as failing.
 */
import { randomUUID } from 'node:crypto';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import type { Env } from '@/server/env.ts';
import { metrics } from '@/server/observability/metrics.ts';
import type { Signer } from '@/server/services/integrity/signing-key.ts';
import { STREAM_FORMATS, type StreamFormatName } from '@/verifier/stream-format.ts';
import { buildBatch, planRange, sealedThrough, type LeafCache } from './batch.ts';
import { sendBatch, type DeliveryOutcome } from './destination.ts';
import type { StreamSettings } from './settings.ts';
import { streamCredentials } from './streams.ts';

export interface StreamWorkerSettings {
  /** Streams this process delivers at once. */
  workers: number;
  requestTimeoutMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  maxBatchBytes: number;
  allowPrivateNetworks: boolean;
  /** How long a claimed stream stays this worker's without news (renewed after each batch). */
  leaseSeconds: number;
  /** A stream hands its turn back after this long, so others get theirs. */
  runBudgetMs: number;
}

export function workerSettings(env: Env): StreamWorkerSettings {
  const requestTimeoutMs = env.STREAM_REQUEST_TIMEOUT_SECONDS * 1000;
  return {
    workers: env.STREAM_WORKERS,
    requestTimeoutMs,
    retryBaseMs: env.STREAM_RETRY_BASE_MS,
    retryMaxMs: env.STREAM_RETRY_MAX_SECONDS * 1000,
    maxBatchBytes: env.STREAM_MAX_BATCH_BYTES,
    allowPrivateNetworks: env.STREAM_ALLOW_PRIVATE_NETWORKS,
    leaseSeconds: Math.ceil((2 * requestTimeoutMs) / 1000) + 30,
    runBudgetMs: 30_000,
  };
}

interface ClaimedStream {
  id: string;
  tenant_id: string;
  format: StreamFormatName;
  settings: StreamSettings;
  secret: Uint8Array;
  previous_secret: Uint8Array | null;
  previous_secret_valid: boolean;
  batch_size: number;
  start_seq: number;
  delivered_seq: number;
  inflight_seq_from: number | null;
  inflight_seq_to: number | null;
  attempts: number;
}

export interface StreamRunResult {
  stream_id: string;
  batches: number;
  events: number;
  /** Set when the run ended on a failed attempt. */
  error: string | null;
  delivered_seq: number;
}

/** Exponential backoff with jitter: half of base·2^(n-1) fixed, half random, capped; at least Retry-After. */
export function retryDelayMs(attempt: number, settings: Pick<StreamWorkerSettings, 'retryBaseMs' | 'retryMaxMs'>, retryAfterSeconds?: number, random = Math.random): number {
  const ceiling = Math.min(settings.retryMaxMs, settings.retryBaseMs * 2 ** Math.min(attempt - 1, 30));
  const jittered = ceiling / 2 + random() * (ceiling / 2);
  return Math.min(settings.retryMaxMs, Math.max(jittered, (retryAfterSeconds ?? 0) * 1000));
}

/** Claims up to `limit` due streams (active, not leased, with sealed events to send) for this worker. */
async function claim(sql: Sql, token: string, limit: number, settings: StreamWorkerSettings, only?: string[]): Promise<ClaimedStream[]> {
  const rows = await sql`
    with due as (
      select s.id from oms_audit.log_streams s
      where s.state = 'active' and s.next_attempt_at <= now()
        and (s.lease_expires_at is null or s.lease_expires_at < now())
        and s.delivered_seq < (select coalesce(max(c.seq_to), 0) from oms_audit.checkpoints c where c.tenant_id = s.tenant_id)
        ${only ? sql`and s.id = any(${only}::uuid[])` : sql``}
      order by s.next_attempt_at
      limit ${limit}
      for update of s skip locked
    )
    update oms_audit.log_streams s
    set lease_token = ${token}, lease_expires_at = now() + make_interval(secs => ${settings.leaseSeconds})
    from due where s.id = due.id
    returning s.id, s.tenant_id, s.format, s.settings, s.secret, s.previous_secret,
      coalesce(s.previous_secret_until > now(), false) as previous_secret_valid,
      s.batch_size, s.start_seq, s.delivered_seq, s.inflight_seq_from, s.inflight_seq_to, s.attempts`;
  return rows as unknown as ClaimedStream[];
}

async function recordFailure(sql: Sql, stream: ClaimedStream, token: string, outcome: Extract<DeliveryOutcome, { ok: false }>, settings: StreamWorkerSettings): Promise<void> {
  const attempt = stream.attempts + 1;
  const delay = retryDelayMs(attempt, settings, outcome.retryAfterSeconds);
  // 410 Gone: the receiver asks not to be sent more. The stream pauses, keeping its cursor.
  const pause = outcome.gone === true;
  await sql`
    update oms_audit.log_streams
    set attempts = ${attempt}, last_error = ${outcome.message}, last_attempt_at = now(),
        failing_since = coalesce(failing_since, now()),
        next_attempt_at = now() + make_interval(secs => ${delay / 1000}),
        state = case when ${pause} then 'paused' else state end,
        paused_reason = case when ${pause} then 'the receiver answered 410 Gone' else paused_reason end
    where id = ${stream.id} and lease_token = ${token}`;
  stream.attempts = attempt;
}

/** Delivers one claimed stream until it is caught up, an attempt fails, or its turn is over. */
async function runStream(sql: Sql, stream: ClaimedStream, token: string, settings: StreamWorkerSettings, signer: Signer): Promise<StreamRunResult> {
  const m = metrics();
  const result: StreamRunResult = { stream_id: stream.id, batches: 0, events: 0, error: null, delivered_seq: Number(stream.delivered_seq) };
  const leafCache: LeafCache = new Map();
  const deadline = Date.now() + settings.runBudgetMs;
  const fail = async (outcome: Extract<DeliveryOutcome, { ok: false }>) => {
    result.error = outcome.message;
    m.streamDeliveries.inc({ stream: stream.id, format: stream.format, outcome: outcome.kind });
    await recordFailure(sql, stream, token, outcome, settings);
  };
  let credentials;
  try {
    credentials = streamCredentials(stream);
  } catch (err) {
    await fail({ ok: false, status: null, kind: 'refused', message: (err as Error).message });
    return result;
  }
  while (Date.now() < deadline) {
    const delivered = Number(stream.delivered_seq);
    let batch;
    let range: { from: number; to: number } | null;
    try {
      const inflight = stream.inflight_seq_from === null ? null : { from: Number(stream.inflight_seq_from), to: Number(stream.inflight_seq_to) };
      range = inflight ?? (await planRange(sql, stream, delivered, await sealedThrough(sql, stream.tenant_id)));
      if (!range) break;
      batch = await buildBatch(sql, stream, range, { maxBytes: settings.maxBatchBytes, exact: inflight !== null, signer, leafCache });
      if (!inflight) {
        // The range is fixed before it is sent: every retry resends these events, under the same batch id.
        const [kept] = await sql`
          update oms_audit.log_streams set inflight_seq_from = ${batch.header.seq_from}, inflight_seq_to = ${batch.header.seq_to}
          where id = ${stream.id} and lease_token = ${token} and delivered_seq = ${delivered} returning id`;
        if (!kept) break;
        stream.inflight_seq_from = batch.header.seq_from;
        stream.inflight_seq_to = batch.header.seq_to;
      }
    } catch (err) {
      await fail({ ok: false, status: null, kind: 'refused', message: `could not build the batch: ${(err as Error).message}` });
      break;
    }
    const started = performance.now();
    const outcome = await sendBatch(
      {
        format: stream.format,
        settings: stream.settings,
        credential: credentials.credential,
        webhookSecrets: stream.format === 'webhook' ? [(credentials.credential as { secret: string }).secret, ...(credentials.previousWebhookSecret ? [credentials.previousWebhookSecret] : [])] : [],
        streamId: stream.id,
        batchId: batch.header.batch_id,
        seqFrom: batch.header.seq_from,
        seqTo: batch.header.seq_to,
        body: STREAM_FORMATS[stream.format].encode(batch, stream.settings),
      },
      { timeoutMs: settings.requestTimeoutMs, allowPrivateNetworks: settings.allowPrivateNetworks },
    );
    m.streamDeliverySeconds.observe({ format: stream.format }, (performance.now() - started) / 1000);
    if (!outcome.ok) {
      await fail(outcome);
      break;
    }
    const count = batch.events.length;
    // Acknowledged: the cursor moves, only if this worker still holds the stream and nobody moved it meanwhile.
    const [moved] = await sql`
      update oms_audit.log_streams
      set delivered_seq = ${batch.header.seq_to}, inflight_seq_from = null, inflight_seq_to = null, attempts = 0,
          failing_since = null, last_error = null, last_attempt_at = now(), last_success_at = now(),
          delivered_events = delivered_events + ${count}, next_attempt_at = now(),
          lease_expires_at = now() + make_interval(secs => ${settings.leaseSeconds})
      where id = ${stream.id} and lease_token = ${token} and delivered_seq = ${delivered}
      returning id`;
    m.streamDeliveries.inc({ stream: stream.id, format: stream.format, outcome: 'ok' });
    if (!moved) break;
    m.streamEvents.inc({ stream: stream.id, format: stream.format }, count);
    stream.delivered_seq = batch.header.seq_to;
    stream.inflight_seq_from = null;
    stream.inflight_seq_to = null;
    stream.attempts = 0;
    result.batches++;
    result.events += count;
    result.delivered_seq = batch.header.seq_to;
  }
  return result;
}

/**
 * One delivery round: claims due streams (at most `workers`), delivers each,
 * and hands them back. `only` restricts the round to some streams.
 */
export async function deliverStreams(sql: Sql, settings: StreamWorkerSettings, signer: Signer, only?: string[]): Promise<StreamRunResult[]> {
  const token = randomUUID();
  const claimed = await claim(sql, token, settings.workers, settings, only);
  return Promise.all(
    claimed.map(async (stream) => {
      try {
        return await runStream(sql, stream, token, settings, signer);
      } finally {
        await sql`update oms_audit.log_streams set lease_token = null, lease_expires_at = null where id = ${stream.id} and lease_token = ${token}`.catch(() => {
          // The database went away: the lease runs out by itself.
        });
      }
    }),
  );
}

let round: Promise<unknown> | null = null;

/** The background job: one round at a time per process (a tick while a round runs is skipped). */
export async function deliverStreamsInBackground(sql: Sql, env: Env, signer: Signer): Promise<void> {
  if (round) return;
  round = deliverStreams(sql, workerSettings(env), signer);
  try {
    await round;
  } finally {
    round = null;
  }
}
