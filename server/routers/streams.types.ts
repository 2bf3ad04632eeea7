/** Schemas of the streams router. The create input is the service's own (server/services/streams/settings.ts). */
import { z } from 'zod';
import { STREAM_FORMAT_NAMES } from '@/verifier/stream-format.ts';

export { createStreamInput } from '@/server/services/streams/settings.ts';

export const streamIdInput = z.object({ id: z.uuid() });

const credential = z.string().trim().min(1).max(4096).optional();
export const changeSecretInput = z.object({ id: z.uuid(), secret: credential, token: credential, api_key: credential, access_key_id: credential, secret_access_key: credential });

export const streamOutput = z.object({
  id: z.string(),
  tenant_id: z.string(),
  name: z.string(),
  format: z.enum(STREAM_FORMAT_NAMES as [string, ...string[]]),
  destination: z.string(),
  settings: z.record(z.string(), z.union([z.string(), z.boolean()])),
  batch_size: z.number(),
  state: z.enum(['active', 'paused']),
  status: z.enum(['up_to_date', 'delivering', 'retrying', 'failing', 'paused']),
  paused_reason: z.string().nullable(),
  start_seq: z.number(),
  delivered_seq: z.number(),
  sealed_seq: z.number(),
  pending_events: z.number(),
  inflight: z.object({ seq_from: z.number(), seq_to: z.number() }).nullable(),
  attempts: z.number(),
  next_attempt_at: z.string(),
  failing_since: z.string().nullable(),
  last_error: z.string().nullable(),
  last_attempt_at: z.string().nullable(),
  last_success_at: z.string().nullable(),
  delivered_events: z.number(),
  created_at: z.string(),
  created_by: z.string(),
  secret_set_at: z.string(),
  previous_secret_until: z.string().nullable(),
});

/** A created stream, with the generated webhook secret: shown once, never again. */
export const streamWithSecretOutput = z.object({ stream: streamOutput, secret: z.string().nullable() });
