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
