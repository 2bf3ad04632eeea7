/** Request and response schemas of the related-keys router (the whole order's keys per tenant). */
import { z } from 'zod';
import { relatedKeyList } from '@/supabase/functions/_shared/filters.ts';

export const relatedKeysOutput = z.object({
  keys: z.array(z.string()),
  updated_at: z.string().nullable(),
  updated_by: z.string().nullable(),
});

export const setRelatedKeysInput = z.strictObject({
  /** Context field names, in the order they are listed; duplicates are removed. */
  keys: relatedKeyList,
});

export type RelatedKeysOutput = z.infer<typeof relatedKeysOutput>;
