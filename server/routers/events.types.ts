/** Request and response schemas of the events router. */
import { z } from 'zod';
import { auditEventInput, batchSchema, LIMITS, OUTCOMES, typeName, uuid } from '@/supabase/functions/_shared/contract.ts';
import { eventFilters, listEventsInput } from '@/supabase/functions/_shared/filters.ts';

export const logBulkInput = batchSchema(LIMITS.apiBatch);

/** One event, the same contract as each event of a batch. */
export const logInput = auditEventInput;

export const ingestResultOutput = z.object({
  created_count: z.number().int(),
  duplicate_count: z.number().int(),
  ids: z.array(z.string()),
  duplicate_ids: z.array(z.string()),
  duration_ms: z.number(),
  method: z.enum(['rest', 'trpc', 'edge_function', 'group_commit', 'cli']),
});

export const auditEventOutput = z.object({
  id: z.string(),
  tenant_id: z.string(),
  seq: z.number().int(),
  occurred_at: z.string(),
  received_at: z.string(),
  actor_type: z.string(),
  actor_id: z.string(),
  object_type: z.string(),
  object_id: z.string(),
  event_type: z.string(),
  outcome: z.enum(OUTCOMES),
  source: z.string().nullable(),
  request_id: z.string().nullable(),
  ip_address: z.string().nullable(),
  user_agent: z.string().nullable(),
  device_fingerprint: z.string().nullable(),
  observed_ip: z.string().nullable(),
  observed_user_agent: z.string().nullable(),
  context: z.record(z.string(), z.unknown()),
  schema_version: z.number().int(),
  written_by: z.string().nullable(),
  /** Schema version 3: the sealed IP addresses and subject id as stored; null before. */
  personal: z.record(z.string(), z.unknown()).nullable(),
  /** Sealed personal data opened for the reader: the subject id, and the fields shown as "[erased]". */
  personal_data: z.object({ subject_id: z.string().nullable(), erased: z.array(z.string()) }).optional(),
  /** Present (true) on events read from a month's archive. */
  archived: z.boolean().optional(),
});

export const eventPageOutput = z.object({
  events: z.array(auditEventOutput),
  next_cursor: z.string().nullable(),
});

/** The list input plus `direction`, which TanStack infinite queries send with every page (always forward here). */
export const listInput = listEventsInput.safeExtend({ direction: z.enum(['forward', 'backward']).optional() });

export const getInput = z.object({ id: uuid });

export const objectHistoryInput = z.object({
  object_type: typeName,
  object_id: z.string().min(1).max(LIMITS.identifierLength),
  cursor: z.string().max(512).optional(),
  limit: z.number().int().min(1).max(LIMITS.maxPageSize).default(LIMITS.maxPageSize),
  order: z.enum(['asc', 'desc']).default('asc'),
  /** With the events whose context names the object (the whole order: fills, allocations, child orders). */
  related: z.boolean().default(false),
});

export const activityInput = z.object({
  cursor: z.string().max(512).optional(),
  limit: z.number().int().min(1).max(LIMITS.maxPageSize).default(100),
});

export const countInput = eventFilters.refine((v) => !v.from || !v.to || v.from < v.to, { message: '"from" must be before "to"', path: ['from'] });

export const countOutput = z.object({ count: z.number().int(), exact: z.boolean() });

export const facetsOutput = z.object({
  event_types: z.array(z.string()),
  object_types: z.array(z.string()),
  actor_types: z.array(z.string()),
  sources: z.array(z.string()),
});

const facetValues = z.array(z.object({ value: z.string().nullable(), count: z.number(), erased: z.literal(true).optional() }));

/** The search's shape for these filters; `exact`: count exactly, without the time budget ("Count exactly", in an export slot). */
export const shapeInput = countInput.and(z.object({ exact: z.boolean().default(false) }));

/** One part of the shape: counted exactly, or an estimate and how it was made. */
const partAccuracy = z.object({ label: z.enum(['exact', 'estimate']), basis: z.string().nullable() });

/** The search's shape: histogram over time and value counts (search-shape.ts). */
export const shapeOutput = z.object({
  from: z.string().nullable(),
  to: z.string().nullable(),
  bucket_seconds: z.number(),
  buckets: z.array(z.object({ start: z.string(), count: z.number(), exact: z.boolean(), short: z.boolean() })),
  facets: z.object({ event_type: facetValues, object_type: facetValues, actor_id: facetValues, source: facetValues, outcome: facetValues }),
  exact: z.boolean(),
  /** Per part: `exact`, or `estimate` with its basis (e.g. the share of pages sampled); an estimate is never labelled exact. */
  accuracy: z.object({ histogram: partAccuracy, facets: partAccuracy }),
  archived_months: z.array(z.object({ month: z.string(), counted: z.boolean() })),
  archive_error: z.string().nullable(),
  unavailable: z.string().nullable(),
});
