/**
 * The search page's URL: every filter, the time range, sort order and
 * columns live in the query string, so a search is a permalink and
 * back/forward walk through earlier searches. Shared by the page (nuqs),
 * the export links, saved searches and server components.
 */
import { createSerializer, parseAsArrayOf, parseAsBoolean, parseAsString, parseAsStringLiteral } from 'nuqs/server';
import type { EventFiltersInput } from '@/supabase/functions/_shared/filters.ts';
import { andCondition, parseQuery } from '@/supabase/functions/_shared/query-language.ts';
import { CALENDAR_PRESETS, calendarRange, type CalendarPreset } from './time.ts';

export const TIME_PRESETS = [
  { value: '15m', label: 'Last 15 minutes', seconds: 15 * 60 },
  { value: '1h', label: 'Last hour', seconds: 3600 },
  { value: '24h', label: 'Last 24 hours', seconds: 86400 },
  { value: '7d', label: 'Last 7 days', seconds: 7 * 86400 },
  { value: '30d', label: 'Last 30 days', seconds: 30 * 86400 },
  { value: '90d', label: 'Last 90 days', seconds: 90 * 86400 },
  // Calendar periods in the person's time zone (lib/time.ts calendarRange).
  { value: 'today', label: 'Today', seconds: null },
  { value: 'yesterday', label: 'Yesterday', seconds: null },
  { value: 'this_week', label: 'This week', seconds: null },
  { value: 'last_week', label: 'Last week', seconds: null },
  { value: 'this_month', label: 'This month', seconds: null },
  { value: 'last_month', label: 'Last month', seconds: null },
  { value: 'all', label: 'All time', seconds: null },
  { value: 'custom', label: 'Custom range', seconds: null },
] as const;
export type TimePreset = (typeof TIME_PRESETS)[number]['value'];

export const COLUMNS = [
  { key: 'occurred_at', label: 'Time (UTC)', width: 'minmax(15rem, 1.2fr)' },
  { key: 'event_type', label: 'Event type', width: 'minmax(8rem, 0.8fr)' },
  { key: 'object', label: 'Object', width: 'minmax(10rem, 1fr)' },
  { key: 'actor', label: 'Actor', width: 'minmax(12rem, 1.3fr)' },
  { key: 'actor_type', label: 'Actor type', width: 'minmax(6rem, 0.5fr)' },
  { key: 'outcome', label: 'Outcome', width: 'minmax(5rem, 0.5fr)' },
  { key: 'source', label: 'Source', width: 'minmax(8rem, 0.8fr)' },
  { key: 'request_id', label: 'Request ID', width: 'minmax(8rem, 0.8fr)' },
  { key: 'ip_address', label: 'IP address', width: 'minmax(8rem, 0.7fr)' },
  { key: 'seq', label: 'Seq', width: 'minmax(4rem, 0.4fr)' },
  { key: 'received_at', label: 'Received (UTC)', width: 'minmax(15rem, 1.2fr)' },
  { key: 'context', label: 'Context', width: 'minmax(16rem, 2fr)' },
] as const;
export type ColumnKey = (typeof COLUMNS)[number]['key'];
export const DEFAULT_COLUMNS: ColumnKey[] = ['occurred_at', 'event_type', 'object', 'actor', 'outcome', 'source'];

export const searchParsers = {
  object_type: parseAsString,
  object_id: parseAsString,
  actor_id: parseAsString,
  actor_type: parseAsString,
  event_type: parseAsArrayOf(parseAsString).withDefault([]),
  outcome: parseAsStringLiteral(['success', 'failure'] as const),
  source: parseAsString,
  request_id: parseAsString,
  /** The query language (docs/query-language.md), e.g. `symbol = AAPL OR symbol = MSFT`. */
  q: parseAsString,
  /** Show the console's own AUDIT_* events (hidden unless asked for). */
  console: parseAsBoolean.withDefault(false),
  /** Everything about one order: its own events and those naming it (fills, allocations). */
  about: parseAsString,
  range: parseAsStringLiteral(TIME_PRESETS.map((p) => p.value)).withDefault('all'),
  /** Custom range bounds (ISO 8601, UTC); `to` is exclusive (shown as "before"). */
  from: parseAsString,
  to: parseAsString,
  order: parseAsStringLiteral(['desc', 'asc'] as const).withDefault('desc'),
  cols: parseAsArrayOf(parseAsStringLiteral(COLUMNS.map((c) => c.key))).withDefault(DEFAULT_COLUMNS),
};

export const serializeSearch = createSerializer(searchParsers);

export interface SearchState {
  object_type: string | null;
  object_id: string | null;
  actor_id: string | null;
  actor_type: string | null;
  event_type: string[];
  outcome: 'success' | 'failure' | null;
  source: string | null;
  request_id: string | null;
  q: string | null;
  console?: boolean;
  about?: string | null;
  range: TimePreset;
  from: string | null;
  to: string | null;
  order: 'desc' | 'asc';
}

/** The condition that hides the console's own activity (sign-ins, searches, views, exports). */
export const HIDE_CONSOLE_ACTIVITY = 'NOT event_type = AUDIT_*';

/** A query the search box cannot run: what is wrong and where (character offset and length). */
export interface QueryProblem {
  message: string;
  at: number;
  length: number;
}

/** The API filters for a search state; relative ranges are resolved against `nowMs`, calendar ones in `zone`. */
export function filtersFromSearch(state: SearchState, nowMs: number, zone = 'UTC'): { filters: EventFiltersInput; error: QueryProblem | null } {
  const filters: EventFiltersInput = {};
  const set = (key: 'object_type' | 'object_id' | 'actor_id' | 'actor_type' | 'source' | 'request_id', value: string | null) => {
    if (value && value.trim()) filters[key] = value.trim();
  };
  set('object_type', state.object_type);
  set('object_id', state.object_id);
  set('actor_id', state.actor_id);
  set('actor_type', state.actor_type);
  set('source', state.source);
  set('request_id', state.request_id);
  if (state.event_type.length) filters.event_type = state.event_type;
  if (state.outcome) filters.outcome = state.outcome;
  if (state.about && state.about.trim()) Object.assign(filters, { about: state.about.trim(), about_type: 'ORDER' });
  const preset = TIME_PRESETS.find((p) => p.value === state.range);
  if (preset?.seconds) {
    filters.from = new Date(Math.floor(nowMs / 1000) * 1000 - preset.seconds * 1000).toISOString();
  } else if ((CALENDAR_PRESETS as readonly string[]).includes(state.range)) {
    Object.assign(filters, calendarRange(state.range as CalendarPreset, nowMs, zone));
  } else if (state.range === 'custom') {
    if (state.from) filters.from = state.from;
    if (state.to) filters.to = state.to;
  }
  let error: QueryProblem | null = null;
  const q = state.q?.trim() ?? '';
  if (q) {
    const parsed = parseQuery(state.q!);
    if (parsed.ok) filters.q = q;
    else error = { message: parsed.message, at: parsed.at, length: parsed.length };
  }
  // The console's own activity stays out of sight unless asked for (the toggle, or an AUDIT_* event type picked).
  if (!error && !state.console && !state.event_type.some((t) => t.startsWith('AUDIT_'))) filters.q = andCondition(filters.q ?? '', HIDE_CONSOLE_ACTIVITY);
  return { filters, error };
}

/** Query string of the export endpoint (and the REST list endpoint) for a filter set. */
export function apiQueryString(filters: EventFiltersInput, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) {
    if (value === undefined || value === null) continue;
    if (key === 'context') params.set('context', JSON.stringify(value));
    else if (Array.isArray(value)) for (const v of value) params.append(key, String(v));
    else params.set(key, String(value));
  }
  for (const [k, v] of Object.entries(extra)) params.set(k, v);
  return params.toString();
}

const FILTER_LABELS: Record<string, string> = {
  object_type: 'object type',
  object_id: 'object',
  actor_id: 'actor',
  actor_type: 'actor type',
  event_type: 'event type',
  outcome: 'outcome',
  source: 'source',
  request_id: 'request',
  from: 'from',
  to: 'before',
  context: 'context contains',
  q: 'query',
};

/** A filter set as a person reads it, one condition per entry (the exact values the API applies). */
export function describeFilters(filters: EventFiltersInput | Record<string, unknown>): string[] {
  return Object.entries(filters)
    .filter(([, v]) => v !== undefined && v !== null && !(Array.isArray(v) && !v.length))
    .map(([key, v]) => `${FILTER_LABELS[key] ?? key} ${key === 'context' ? JSON.stringify(v) : Array.isArray(v) ? v.join(' or ') : key === 'from' || key === 'to' || key === 'q' ? String(v) : `= ${String(v)}`}`);
}
