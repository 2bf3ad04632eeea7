/**
 * The seed's convenience calls, as event builders: a creation, an update with
 * its before/after values and the fields that changed, a status change. The
 * context follows the shapes the console shows (after; changed + before +
 * after; before.status → after.status + reason).
 */
import type { AuditEventRequest } from '../supabase/functions/_shared/contract.ts';
import { canonicalJson } from '../supabase/functions/_shared/canonical-json.ts';

type Json = Record<string, unknown>;

/** Who did it to what; event_type is set by the helper. */
export type EventSubject = Omit<AuditEventRequest, 'event_type' | 'context'> & {
  /** Extra context, merged with what the helper records. */
  context?: Json;
  /** Defaults to CREATE / UPDATE / STATUS_CHANGE. */
  event_type?: string;
};

export interface CreationInput extends EventSubject {
  /** The created object's state. */
  data: Json;
}

export interface UpdateInput extends EventSubject {
  before: Json;
  after: Json;
}

export interface StatusChangeInput extends EventSubject {
  from: string | null;
  to: string;
  reason?: string;
}

/** Top-level fields whose values differ (added and removed fields included), sorted. */
export function changedFields(before: Json, after: Json): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const value = (o: Json, k: string) => (o[k] === undefined ? undefined : canonicalJson(o[k]));
  return [...keys].filter((k) => value(before, k) !== value(after, k)).sort();
}

const pick = (o: Json, keys: string[]) => Object.fromEntries(keys.map((k) => [k, o[k] ?? null]));

export function creationEvent({ data, context, event_type, ...subject }: CreationInput): AuditEventRequest {
  return { ...subject, event_type: event_type ?? 'CREATE', context: { ...context, after: data } };
}

/** Records only what changed: `changed`, and `before`/`after` restricted to those fields. */
export function updateEvent({ before, after, context, event_type, ...subject }: UpdateInput): AuditEventRequest {
  const changed = changedFields(before, after);
  return { ...subject, event_type: event_type ?? 'UPDATE', context: { ...context, changed, before: pick(before, changed), after: pick(after, changed) } };
}

export function statusChangeEvent({ from, to, reason, context, event_type, ...subject }: StatusChangeInput): AuditEventRequest {
  return {
    ...subject,
    event_type: event_type ?? 'STATUS_CHANGE',
    context: { ...context, before: { status: from }, after: { status: to }, ...(reason !== undefined ? { reason } : {}) },
  };
}
