/** Request and response schemas of the personalData router. */
import { z } from 'zod';
import { LIMITS } from '@/supabase/functions/_shared/contract.ts';

export const settingsOutput = z
  .object({ humanActorTypes: z.array(z.string()), contextPaths: z.array(z.string()), outsideRetention: z.boolean() })
  .nullable();

export const eraseInput = z.strictObject({
  subject_id: z.string().min(1).max(LIMITS.identifierLength),
  reason: z.string().min(1).max(2000),
  /** Typed by the admin: the subject id again, so an erasure is never one click away. */
  confirm: z.string().max(LIMITS.identifierLength),
});

export const eraseOutput = z.object({
  subject_ref: z.string(),
  erased: z.boolean(),
  key_ids: z.array(z.string()),
  events: z.number().int(),
  erasure_event_id: z.string().nullable(),
  erased_at: z.string().nullable(),
  erasure_anchored: z.boolean(),
});

export const previewInput = z.strictObject({ subject_id: z.string().min(1).max(LIMITS.identifierLength) });

const erasureBlock = z.object({
  holds: z.array(z.object({ id: z.string(), reason: z.string(), events: z.number().int(), archived_events: z.number().int() })),
  retention: z.array(z.object({ month: z.string(), events: z.number().int(), retained_until: z.string(), archived: z.boolean() })),
  checked: z.object({ hot_events: z.number().int(), archived_events: z.number().int() }),
});

export const previewOutput = z.object({
  status: z.enum(['not_declared', 'unknown_subject', 'erased', 'blocked', 'unreadable', 'erasable']),
  subject_ref: z.string().nullable(),
  outside_retention: z.boolean(),
  retention_total_years: z.number().int(),
  keys: z.array(z.object({ key_id: z.string(), created_at: z.string(), erased_at: z.string().nullable(), erasure_event_id: z.string().nullable() })),
  block: erasureBlock.nullable(),
  problem: z.string().nullable(),
});
export type PreviewOutput = z.output<typeof previewOutput>;
export type EraseOutput = z.output<typeof eraseOutput>;
