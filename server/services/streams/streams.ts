/**
 * Log streams as tenant admins manage them (console, CLI): create (a webhook
 * secret is shown once), list with each stream's delivery status, pause,
 * resume, remove, replace the credential. Credentials are encrypted at rest
 * and never returned. Every change is also an event of the tenant's own trail
 * (AUDIT_STREAM_*), so a stream added to carry the trail elsewhere is on record.
 */
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { parseBatch, type IngestMethod } from '@/supabase/functions/_shared/contract.ts';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { AuditError, invalid, issuesFromZod } from '@/supabase/functions/_shared/errors.ts';
import type { ObservedClient, Writer } from '@/supabase/functions/_shared/ingest.ts';
import { env } from '@/server/env.ts';
import { logEvents } from '@/server/services/ingest.ts';
import type { StreamFormatName } from '@/verifier/stream-format.ts';
import { decryptSecret, encryptSecret } from './secrets.ts';
import { checkSettings, createStreamInput, destinationLabel, splitInput, type StreamCredential, type StreamSettings } from './settings.ts';
import { generateWebhookSecret, isWebhookSecret } from './webhook-signature.ts';

/** How long the previous webhook secret keeps signing after a rotation. */
export const SECRET_OVERLAP_HOURS = 24;

export type StreamStatus = 'up_to_date' | 'delivering' | 'retrying' | 'failing' | 'paused';

export interface StreamInfo {
  id: string;
  tenant_id: string;
  name: string;
  format: StreamFormatName;
  /** Where it delivers (scheme, host, path; never a query string or credential). */
  destination: string;
  /** Settings other than the URL (index, host, service, tags, bucket, prefix, region, endpoint, path style). */
  settings: Omit<StreamSettings, 'url'>;
  batch_size: number;
  state: 'active' | 'paused';
  status: StreamStatus;
  paused_reason: string | null;
  start_seq: number;
  /** Last seq the receiver acknowledged (start_seq - 1: none yet). */
  delivered_seq: number;
  /** Last seq under a signed checkpoint: what may be delivered. */
  sealed_seq: number;
  pending_events: number;
  inflight: { seq_from: number; seq_to: number } | null;
  attempts: number;
  next_attempt_at: string;
  failing_since: string | null;
  last_error: string | null;
  last_attempt_at: string | null;
  last_success_at: string | null;
  delivered_events: number;
  created_at: string;
  created_by: string;
  secret_set_at: string;
  previous_secret_until: string | null;
}

/** Who changes a stream, as recorded in the tenant's trail. */
export interface StreamActor {
  actorType: 'USER' | 'SERVICE';
  actorId: string;
  /** Recorded in created_by. */
  principal: string;
  /** Who writes the stream's records in the trail (`written_by`). */
  writer: Writer;
  source: string;
  method: IngestMethod;
  observed: ObservedClient;
  context?: Record<string, unknown>;
}

export const STREAM_EVENT_TYPES = {
  create: 'AUDIT_STREAM_CREATE',
  pause: 'AUDIT_STREAM_PAUSE',
  resume: 'AUDIT_STREAM_RESUME',
  remove: 'AUDIT_STREAM_REMOVE',
  secret: 'AUDIT_STREAM_SECRET_CHANGE',
} as const;

const SELECT = `s.*, coalesce(c.sealed, 0)::bigint as sealed_seq, extract(epoch from now() - s.failing_since)::float8 as failing_for_seconds`;
const FROM = `oms_audit.log_streams s left join lateral (select max(seq_to) as sealed from oms_audit.checkpoints where tenant_id = s.tenant_id) c on true`;

export function statusOf(row: { state: string; failing_for_seconds: number | null; pending: number }, failingAfterSeconds: number): StreamStatus {
  if (row.state === 'paused') return 'paused';
  if (row.failing_for_seconds !== null) return row.failing_for_seconds >= failingAfterSeconds ? 'failing' : 'retrying';
  return row.pending > 0 ? 'delivering' : 'up_to_date';
}

function toInfo(row: Record<string, unknown>): StreamInfo {
  const format = row.format as StreamFormatName;
  const settings = row.settings as StreamSettings;
  const { url: _url, ...shown } = settings;
  const delivered = Number(row.delivered_seq);
  const sealed = Number(row.sealed_seq);
  const pending = Math.max(0, sealed - delivered);
  const failingFor = row.failing_for_seconds === null ? null : Number(row.failing_for_seconds);
  return {
    id: row.id as string,
    tenant_id: row.tenant_id as string,
    name: row.name as string,
    format,
    destination: destinationLabel(format, settings),
    settings: Object.fromEntries(Object.entries(shown).filter(([, v]) => v !== undefined && v !== null)),
    batch_size: Number(row.batch_size),
    state: row.state as 'active' | 'paused',
    status: statusOf({ state: row.state as string, failing_for_seconds: failingFor, pending }, env().STREAM_FAILING_AFTER_SECONDS),
    paused_reason: (row.paused_reason as string | null) ?? null,
    start_seq: Number(row.start_seq),
    delivered_seq: delivered,
    sealed_seq: sealed,
    pending_events: pending,
    inflight: row.inflight_seq_from === null ? null : { seq_from: Number(row.inflight_seq_from), seq_to: Number(row.inflight_seq_to) },
    attempts: Number(row.attempts),
    next_attempt_at: row.next_attempt_at as string,
    failing_since: (row.failing_since as string | null) ?? null,
    last_error: (row.last_error as string | null) ?? null,
    last_attempt_at: (row.last_attempt_at as string | null) ?? null,
    last_success_at: (row.last_success_at as string | null) ?? null,
    delivered_events: Number(row.delivered_events),
    created_at: row.created_at as string,
    created_by: row.created_by as string,
    secret_set_at: row.secret_set_at as string,
    previous_secret_until: (row.previous_secret_until as string | null) ?? null,
  };
}

async function record(sql: Sql, tenantId: string, actor: StreamActor, eventType: string, streamId: string, context: Record<string, unknown>): Promise<void> {
  const events = parseBatch(
    {
      events: [
        {
          actor_type: actor.actorType,
          actor_id: actor.actorId,
          object_type: 'LOG_STREAM',
          object_id: streamId,
          event_type: eventType,
          outcome: 'success',
          source: actor.source,
          context: { ...actor.context, ...context },
        },
      ],
    },
    1,
  );
  await logEvents(sql, { tenantId, writer: actor.writer }, events, actor.observed, actor.method);
}

function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw invalid(issuesFromZod(parsed.error, { batch: false }), 'stream');
}

export async function getStream(sql: Sql, tenantId: string, id: string): Promise<StreamInfo> {
  const [row] = await sql`select ${sql.unsafe(SELECT)} from ${sql.unsafe(FROM)} where s.tenant_id = ${tenantId} and s.id = ${id}`;
  if (!row) throw new AuditError('not_found', `No stream ${id}`);
  return toInfo(row);
}

export async function listStreams(sql: Sql, tenantId: string): Promise<StreamInfo[]> {
  const rows = await sql`select ${sql.unsafe(SELECT)} from ${sql.unsafe(FROM)} where s.tenant_id = ${tenantId} order by s.created_at, s.name`;
  return rows.map(toInfo);
}

/** Creates a stream. `secret` is the generated webhook secret: returned here once, never again. */
export async function createStream(sql: Sql, tenantId: string, input: unknown, actor: StreamActor): Promise<{ stream: StreamInfo; secret: string | null }> {
  const parsed = parseInput(createStreamInput, input);
  const generated = parsed.format === 'webhook' && !parsed.secret ? generateWebhookSecret() : null;
  const { format, settings, credential } = splitInput(parsed, parsed.format === 'webhook' ? (parsed.secret ?? generated!) : '');
  checkSettings(format, settings, env().STREAM_ALLOW_PRIVATE_NETWORKS);
  const id = randomUUID();
  const secret = encryptSecret(JSON.stringify(credential), id);
  try {
    await sql`
      insert into oms_audit.log_streams (id, tenant_id, name, format, settings, secret, batch_size, start_seq, delivered_seq, created_by)
      select ${id}, t.id, ${parsed.name}, ${format}, ${sql.json(JSON.parse(JSON.stringify(settings)))}, ${secret}, ${parsed.batch_size}, start.seq, start.seq - 1, ${actor.principal}
      from oms_audit.tenants t
      cross join lateral (
        select ${parsed.start === 'beginning' ? 1 : parsed.start === 'now' ? null : parsed.start}::bigint as fixed
      ) given
      cross join lateral (
        select coalesce(given.fixed, coalesce((select last_seq from oms_audit.tenant_sequences where tenant_id = t.id), 0) + 1) as seq
      ) start
      where t.id = ${tenantId}`;
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw new AuditError('invalid_request', `name: this tenant already has a stream named "${parsed.name}"`, [{ field: 'name', message: 'already used by another stream of this tenant' }]);
    throw err;
  }
  const stream = await getStream(sql, tenantId, id).catch(() => null);
  if (!stream) throw new AuditError('not_found', `No tenant ${tenantId}`);
  await record(sql, tenantId, actor, STREAM_EVENT_TYPES.create, id, { name: stream.name, format, destination: stream.destination, start_seq: stream.start_seq });
  return { stream, secret: generated };
}

async function setState(sql: Sql, tenantId: string, id: string, state: 'active' | 'paused', actor: StreamActor): Promise<StreamInfo> {
  const [row] = await sql`
    update oms_audit.log_streams
    set state = ${state}, paused_reason = ${state === 'paused' ? `paused by ${actor.actorId}` : null},
        next_attempt_at = case when ${state} = 'active' then now() else next_attempt_at end
    where tenant_id = ${tenantId} and id = ${id}
    returning id`;
  if (!row) throw new AuditError('not_found', `No stream ${id}`);
  const stream = await getStream(sql, tenantId, id);
  await record(sql, tenantId, actor, state === 'paused' ? STREAM_EVENT_TYPES.pause : STREAM_EVENT_TYPES.resume, id, { name: stream.name, delivered_seq: stream.delivered_seq });
  return stream;
}

/** Stops deliveries; the cursor stays where it is. */
export const pauseStream = (sql: Sql, tenantId: string, id: string, actor: StreamActor) => setState(sql, tenantId, id, 'paused', actor);
/** Delivers again from where the stream stopped, at once. */
export const resumeStream = (sql: Sql, tenantId: string, id: string, actor: StreamActor) => setState(sql, tenantId, id, 'active', actor);

export async function removeStream(sql: Sql, tenantId: string, id: string, actor: StreamActor): Promise<{ id: string; name: string }> {
  const [row] = await sql`delete from oms_audit.log_streams where tenant_id = ${tenantId} and id = ${id} returning id, name, delivered_seq`;
  if (!row) throw new AuditError('not_found', `No stream ${id}`);
  await record(sql, tenantId, actor, STREAM_EVENT_TYPES.remove, id, { name: row.name, delivered_seq: Number(row.delivered_seq) });
  return { id, name: row.name as string };
}

/**
 * Replaces a stream's credential. Webhook: a new secret (generated unless
 * given, returned once); the previous one also signs for SECRET_OVERLAP_HOURS,
 * so receivers switch without losing a delivery. Other formats: the new token,
 * API key or S3 keys given, used from the next attempt on.
 */
export async function changeStreamSecret(
  sql: Sql,
  tenantId: string,
  input: { id: string; secret?: string; token?: string; api_key?: string; access_key_id?: string; secret_access_key?: string },
  actor: StreamActor,
): Promise<{ stream: StreamInfo; secret: string | null }> {
  const [row] = await sql`select format, secret from oms_audit.log_streams where tenant_id = ${tenantId} and id = ${input.id}`;
  if (!row) throw new AuditError('not_found', `No stream ${input.id}`);
  const format = row.format as StreamFormatName;
  const missing = (field: string) => new AuditError('invalid_request', `${field}: required to replace the credential of a ${format} stream`, [{ field, message: 'required' }]);
  let credential: StreamCredential;
  let generated: string | null = null;
  if (format === 'webhook') {
    if (input.secret !== undefined && !isWebhookSecret(input.secret)) throw new AuditError('invalid_request', 'secret: must be whsec_ followed by base64 of 24 to 64 bytes', [{ field: 'secret', message: 'must be whsec_ followed by base64 of 24 to 64 bytes' }]);
    generated = input.secret ? null : generateWebhookSecret();
    credential = { secret: input.secret ?? generated! };
  } else if (format === 'splunk_hec') {
    if (!input.token) throw missing('token');
    credential = { token: input.token };
  } else if (format === 'datadog') {
    if (!input.api_key) throw missing('api_key');
    credential = { api_key: input.api_key };
  } else {
    if (!input.access_key_id) throw missing('access_key_id');
    if (!input.secret_access_key) throw missing('secret_access_key');
    credential = { access_key_id: input.access_key_id, secret_access_key: input.secret_access_key };
  }
  const encrypted = encryptSecret(JSON.stringify(credential), input.id);
  const overlap = format === 'webhook';
  await sql`
    update oms_audit.log_streams
    set secret = ${encrypted}, secret_set_at = now(),
        previous_secret = ${overlap ? (row.secret as Buffer) : null},
        previous_secret_until = ${overlap ? sql`now() + make_interval(hours => ${SECRET_OVERLAP_HOURS})` : null}
    where tenant_id = ${tenantId} and id = ${input.id}`;
  const stream = await getStream(sql, tenantId, input.id);
  await record(sql, tenantId, actor, STREAM_EVENT_TYPES.secret, input.id, { name: stream.name, previous_secret_until: stream.previous_secret_until });
  return { stream, secret: generated };
}

/** The stream's credential and, during a webhook rotation, the previous secret (for the worker only). */
export function streamCredentials(row: { id: string; secret: Uint8Array; previous_secret: Uint8Array | null; previous_secret_valid: boolean }): { credential: StreamCredential; previousWebhookSecret: string | null } {
  const credential = JSON.parse(decryptSecret(row.secret, row.id)) as StreamCredential;
  const previous = row.previous_secret && row.previous_secret_valid ? (JSON.parse(decryptSecret(row.previous_secret, row.id)) as { secret?: string }).secret ?? null : null;
  return { credential, previousWebhookSecret: previous };
}
