/**
 * The query contract: filters for listing and exporting events, shared by
 * tRPC, REST, the SDK, the console and the CLI.
 */
import { z } from 'zod';
import { LIMITS } from './limits.ts';
import { outcome, typeName, utf8Length } from './contract.ts';
import { parseTimeBound } from './timestamps.ts';
import { invalid, issuesFromZod } from './errors.ts';
import { and, or, type FilterExpr } from './filter-tree.ts';

// deno-lint-ignore no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

const identifier = z
  .string()
  .min(1, 'must not be empty')
  .max(LIMITS.identifierLength, `must be at most ${LIMITS.identifierLength} characters`)
  .refine((s) => !CONTROL_CHARS.test(s) && s.isWellFormed(), 'must not contain control characters');

function timeBound(endOfDay: boolean) {
  return z.string().transform((s, ctx) => {
    const parsed = parseTimeBound(s, endOfDay);
    if (!parsed.ok) {
      ctx.addIssue({ code: 'custom', message: parsed.message.replace('must be', 'must be a date (2025-01-31) or') });
      return z.NEVER;
    }
    return parsed.value.iso;
  });
}

const typeList = z
  .union([typeName, z.array(typeName).min(1).max(50, 'at most 50 values')])
  .transform((v) => (Array.isArray(v) ? [...new Set(v)] : [v]));

/** Containment filter on context, e.g. {"symbol":"AAPL"}: events whose context includes it. */
const contextFilter = z
  .record(z.string(), z.unknown(), { error: 'must be a JSON object, e.g. {"symbol":"AAPL"}' })
  .refine((v) => Object.keys(v).length > 0, 'must name at least one field')
  .refine((v) => utf8Length(JSON.stringify(v)) <= 4096, 'must be at most 4096 bytes as JSON')
  .refine((v) => !JSON.stringify(v).includes('\\u0000'), 'must not contain NUL characters');

/** One contract filter: how it is validated, and what it means as a filter tree. */
function filter<S extends z.ZodType>(schema: S, toExpr: (value: z.output<S>) => FilterExpr) {
  return { schema: schema.optional(), toExpr: toExpr as (value: unknown) => FilterExpr };
}

/**
 * The contract's filters, each declared once: its validation and its meaning
 * as a filter tree. Every back end compiles the tree (server/services/filters/),
 * so a new filter is one line here plus its test.
 */
const FILTERS = {
  object_type: filter(typeName, (v) => ({ op: 'eq', field: 'object_type', value: v })),
  object_id: filter(identifier, (v) => ({ op: 'eq', field: 'object_id', value: v })),
  actor_id: filter(identifier, (v) => ({ op: 'eq', field: 'actor_id', value: v })),
  actor_type: filter(typeName, (v) => ({ op: 'eq', field: 'actor_type', value: v })),
  event_type: filter(typeList, (v) => (v.length === 1 ? { op: 'eq', field: 'event_type', value: v[0]! } : { op: 'in', field: 'event_type', values: v })),
  outcome: filter(outcome, (v) => ({ op: 'eq', field: 'outcome', value: v })),
  source: filter(identifier, (v) => ({ op: 'eq', field: 'source', value: v })),
  request_id: filter(identifier, (v) => ({ op: 'eq', field: 'request_id', value: v })),
  /** Inclusive. A bare date means midnight UTC. */
  from: filter(timeBound(false), (v) => ({ op: 'range', field: 'occurred_at', gte: v })),
  /** Exclusive. A bare date includes that whole day. */
  to: filter(timeBound(true), (v) => ({ op: 'range', field: 'occurred_at', lt: v })),
  context: filter(contextFilter, (v) => ({ op: 'contains', value: v })),
};

type FilterShape = { [K in keyof typeof FILTERS]: (typeof FILTERS)[K]['schema'] };

export const eventFilters = z.strictObject(Object.fromEntries(Object.entries(FILTERS).map(([name, f]) => [name, f.schema])) as FilterShape);

/** The filter tree of a filter set: the conjunction of its filters (no filter: every event). */
export function filterExpr(filters: EventFilters): FilterExpr {
  const args: FilterExpr[] = [];
  const sealed = (filters as SealedFilters).sealed_actor_prefixes;
  for (const [name, f] of Object.entries(FILTERS)) {
    const value = filters[name as keyof EventFilters];
    if (value === undefined) continue;
    const expr = f.toExpr(value);
    // A sealed actor id is found by its blind index: the envelope prefix of each of the subject's readable keys.
    args.push(name === 'actor_id' && sealed ? or(expr, ...sealed.map((p): FilterExpr => ({ op: 'prefix', field: 'actor_id', value: p }))) : expr);
  }
  return and(...args);
}

/**
 * Filters of a tenant that seals personal data, with what the server resolved
 * for them (server/services/personal/search.ts): never part of the contract.
 */
export type SealedFilters = EventFilters & { sealed_actor_prefixes?: string[] };

export type EventFilters = z.output<typeof eventFilters>;
export type EventFiltersInput = z.input<typeof eventFilters>;

export const SORT_ORDERS = ['desc', 'asc'] as const;
export type SortOrder = (typeof SORT_ORDERS)[number];

export const listEventsInput = eventFilters
  .extend({
    /** Opaque; from the previous page's next_cursor. */
    cursor: z.string().max(512).optional(),
    limit: z.coerce.number().int('must be a whole number').min(1).max(LIMITS.maxPageSize, `must be at most ${LIMITS.maxPageSize}`).default(LIMITS.defaultPageSize),
    /** desc: newest first (default); asc: oldest first. */
    order: z.enum(SORT_ORDERS, { error: 'must be "desc" or "asc"' }).default('desc'),
  })
  .refine((v) => !v.from || !v.to || v.from < v.to, { message: '"from" must be before "to"', path: ['from'] });

export type ListEventsInput = z.output<typeof listEventsInput>;
export type ListEventsRequest = z.input<typeof listEventsInput>;

/** The filter part of a list input (what a cursor and an export are bound to). */
export function filtersOf(input: ListEventsInput): EventFilters {
  const { cursor: _c, limit: _l, order: _o, ...filters } = input;
  return filters;
}

const MULTI_VALUED = new Set(['event_type']);

/**
 * Query-string form of the list input, as REST clients send it:
 * `event_type=FILL&event_type=CANCEL` or `event_type=FILL,CANCEL`;
 * `context={"symbol":"AAPL"}` or `context.symbol=AAPL`.
 */
export function filtersFromSearchParams(params: URLSearchParams, options: { allow?: string[] } = {}): ListEventsInput {
  const raw: Record<string, unknown> = {};
  const context: Record<string, unknown> = {};
  const allow = new Set(options.allow ?? []);
  for (const [key, value] of params) {
    if (key.startsWith('context.')) {
      context[key.slice('context.'.length)] = value;
    } else if (key === 'context') {
      try {
        Object.assign(context, JSON.parse(value));
      } catch {
        throw invalid([{ field: 'context', message: 'must be a JSON object, e.g. {"symbol":"AAPL"}' }], 'query');
      }
    } else if (MULTI_VALUED.has(key)) {
      const values = value.split(',').filter(Boolean);
      raw[key] = [...((raw[key] as string[] | undefined) ?? []), ...values];
    } else if (allow.has(key)) {
      continue;
    } else if (key in raw) {
      throw invalid([{ field: key, message: 'may be given only once' }], 'query');
    } else {
      raw[key] = value;
    }
  }
  if (Object.keys(context).length) raw.context = context;
  const result = listEventsInput.safeParse(raw);
  if (!result.success) throw invalid(issuesFromZod(result.error, { batch: false }), 'query');
  return result.data;
}

export function parseListInput(input: unknown): ListEventsInput {
  const result = listEventsInput.safeParse(input);
  if (!result.success) throw invalid(issuesFromZod(result.error, { batch: false }), 'query');
  return result.data;
}
