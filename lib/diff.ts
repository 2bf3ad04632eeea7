/** Before/after diffs of an event's context and the replay of an object's state. */

export interface FieldChange {
  field: string;
  before: unknown;
  after: unknown;
  changed: boolean;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The before/after pair of an event's context, when it carries them. */
export function beforeAfter(context: Record<string, unknown>): { before: Record<string, unknown>; after: Record<string, unknown> } | null {
  const before = context.before;
  const after = context.after;
  if (!isObject(before) && !isObject(after)) return null;
  return { before: isObject(before) ? before : {}, after: isObject(after) ? after : {} };
}

/** One row per field present on either side, in a stable order (changed fields first). */
export function diffFields(before: Record<string, unknown>, after: Record<string, unknown>): FieldChange[] {
  const fields = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  const rows = fields.map((field) => {
    const changed = JSON.stringify(before[field]) !== JSON.stringify(after[field]);
    return { field, before: before[field], after: after[field], changed };
  });
  return rows.sort((a, b) => Number(b.changed) - Number(a.changed) || a.field.localeCompare(b.field));
}

export interface ReplayEvent {
  id: string;
  occurred_at: string;
  event_type: string;
  context: Record<string, unknown>;
}

/**
 * An object's state as of `at` (canonical UTC timestamp): the `after` fields
 * of every event up to and including `at`, applied in time order.
 * Returns the state and the last event applied.
 */
export function stateAsOf(events: readonly ReplayEvent[], at: string): { state: Record<string, unknown>; applied: number; lastEvent: ReplayEvent | null } {
  const state: Record<string, unknown> = {};
  let applied = 0;
  let lastEvent: ReplayEvent | null = null;
  for (const e of events) {
    if (e.occurred_at > at) break;
    const pair = beforeAfter(e.context);
    if (pair) Object.assign(state, pair.after);
    applied++;
    lastEvent = e;
  }
  return { state, applied, lastEvent };
}

export function formatValue(v: unknown): string {
  if (v === undefined) return '—';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}
