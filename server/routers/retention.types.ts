/** Request and response schemas of the retention router. */
import { z } from 'zod';
import { LIMITS, typeName, uuid } from '@/supabase/functions/_shared/contract.ts';
import { parseTimeBound } from '@/supabase/functions/_shared/timestamps.ts';

const month = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'must be a month, e.g. 2025-01');

function timeBound(endOfDay: boolean) {
  return z.string().transform((s, ctx) => {
    const parsed = parseTimeBound(s, endOfDay);
    if (!parsed.ok) {
      ctx.addIssue({ code: 'custom', message: parsed.message });
      return z.NEVER;
    }
    return parsed.value.iso;
  });
}

export const policyOutput = z.object({
  tenant_id: z.string(),
  hot_months: z.number().int(),
  total_years: z.number().int(),
  is_default: z.boolean(),
  min_total_years: z.number().int(),
  updated_at: z.string().nullable(),
  updated_by: z.string().nullable(),
});

export const setPolicyInput = z
  .strictObject({
    hot_months: z.number().int().min(1).max(600).optional(),
    total_years: z.number().int().min(1).max(100).optional(),
  })
  .refine((v) => v.hot_months !== undefined || v.total_years !== undefined, { message: 'set hot_months, total_years or both' });

export const holdOutput = z.object({
  id: z.string(),
  tenant_id: z.string(),
  object_type: z.string().nullable(),
  object_id: z.string().nullable(),
  from: z.string().nullable(),
  to: z.string().nullable(),
  reason: z.string(),
  created_at: z.string(),
  created_by: z.string(),
  released_at: z.string().nullable(),
  released_by: z.string().nullable(),
  release_reason: z.string().nullable(),
  active: z.boolean(),
});

export const listHoldsInput = z.strictObject({ include_released: z.boolean().default(false) }).default({ include_released: false });

export const addHoldInput = z
  .strictObject({
    reason: z.string().trim().min(1, 'must not be empty').max(2000),
    object_type: typeName.optional(),
    object_id: z.string().min(1).max(LIMITS.identifierLength).optional(),
    /** Inclusive; a bare date means midnight UTC. */
    from: timeBound(false).optional(),
    /** Exclusive; a bare date includes that day. */
    to: timeBound(true).optional(),
  })
  .refine((v) => !v.object_id || v.object_type, { message: 'object_type is required with object_id', path: ['object_type'] })
  .refine((v) => !v.from || !v.to || v.from < v.to, { message: '"from" must be before "to"', path: ['from'] });

/** A release needs a written reason (the console asks for it with a confirmation). */
export const releaseHoldInput = z.strictObject({ id: uuid, reason: z.string().trim().min(1, 'a release needs a reason').max(2000) });

export const monthInput = z.strictObject({ month, reason: z.string().trim().max(2000).optional() });

const partOutput = z.object({
  part: z.number().int(),
  state: z.string(),
  rows: z.number().int().nullable(),
  sha256: z.string().nullable(),
  bytes: z.number().int().nullable(),
  storage_url: z.string(),
  key: z.string(),
  verified_at: z.string().nullable(),
  problem: z.string().nullable(),
});

export const monthOutput = z.object({
  month: z.string(),
  state: z.enum(['hot', 'archived', 'verified', 'restored', 'expired']),
  events_ledger: z.number().int(),
  events_hot: z.number().int(),
  events_archived: z.number().int(),
  events_restored: z.number().int(),
  events_expired: z.number().int(),
  events_unaccounted: z.number().int(),
  parts: z.array(partOutput),
  verified_at: z.string().nullable(),
  retain_until: z.string().nullable(),
  holds: z.array(z.string()),
});

export const reportOutput = z.object({
  tenant_id: z.string(),
  tenant_name: z.string(),
  policy: policyOutput,
  seq: z.object({ first: z.number().int().nullable(), last: z.number().int().nullable(), events: z.number().int(), gaps: z.number().int() }),
  holds: z.array(holdOutput),
  months: z.array(monthOutput),
});

export const restoreOutput = z.object({
  id: z.string(),
  tenant_id: z.string(),
  month: z.string(),
  row_count: z.number().int(),
  reason: z.string().nullable(),
  restored_at: z.string(),
  restored_by: z.string(),
  released_at: z.string().nullable(),
  released_by: z.string().nullable(),
});
