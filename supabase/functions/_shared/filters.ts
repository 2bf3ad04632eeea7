/**
 * The query contract: filters for listing and exporting events, shared by
 * tRPC, REST, the SDK, the console and the CLI.
 */
import { z } from 'zod';
import { LIMITS } from './limits.ts';
import { outcome, typeName, utf8Length } from './contract.ts';
import { parseTimeBound } from './timestamps.ts';
import { invalid, issuesFromZod } from './errors.ts';
import { and, isContextPath, isIpColumn, or, type FilterExpr, type JsonScalar } from './filter-tree.ts';
import { canonicalIp } from './ip.ts';
import { ENVELOPE_PREFIX, tokenInput } from './personal-data.ts';
import { describeQueryError, parseQuery, QUERY_MAX_LENGTH } from './query-language.ts';

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

/** An IP address, compared in its canonical form (ip.ts). */
const ipAddress = z.string().transform((s, ctx) => {
  const ip = canonicalIp(s);
  if (ip === null) {
    ctx.addIssue({ code: 'custom', message: 'must be an IP address, e.g. 192.0.2.10 or 2001:db8::1' });
    return z.NEVER;
  }
  return ip;
});

/** Containment filter on context, e.g. {"symbol":"AAPL"}: events whose context includes it. */
const contextFilter = z
  .record(z.string(), z.unknown(), { error: 'must be a JSON object, e.g. {"symbol":"AAPL"}' })
  .refine((v) => Object.keys(v).length > 0, 'must name at least one field')
  .refine((v) => utf8Length(JSON.stringify(v)) <= 4096, 'must be at most 4096 bytes as JSON')
  .refine((v) => !JSON.stringify(v).includes('\\u0000'), 'must not contain NUL characters');

/** A query in the search language (query-language.ts): valid, or refused with the place and reason. */
const queryText = z
  .string()
  .max(QUERY_MAX_LENGTH, `must be at most ${QUERY_MAX_LENGTH} characters`)
  .superRefine((s, ctx) => {
    const parsed = parseQuery(s);
    if (!parsed.ok) ctx.addIssue({ code: 'custom', message: describeQueryError(parsed) });
  });

function queryExpr(text: string): FilterExpr {
  const parsed = parseQuery(text);
  if (!parsed.ok) throw new Error(`unvalidated query: ${describeQueryError(parsed)}`);
  return parsed.expr;
}

/**
 * Context keys under which an event names the order it is about: a fill
 * (EXECUTION) or an allocation carries its order's id as `order_id`, a child
 * order its parent's as `parent_order_id`, any event the client's id as
 * `client_order_id`. The default keys of a tenant that set none.
 */
export const RELATED_CONTEXT_KEYS = ['order_id', 'parent_order_id', 'client_order_id'] as const;

const contextKey = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'must be a context field name of letters, digits and underscores');
/** A tenant's related keys as an admin sets them (server/services/related-keys.ts): 1 to 10 field names. */
export const relatedKeyList = z
  .array(contextKey)
  .min(1, 'must name at least one key')
  .max(10, 'at most 10 keys')
  .transform((v) => [...new Set(v)]);
const keyList = z.union([contextKey.transform((v) => [v]), relatedKeyList]);

/** The keys an `about` filter looks under: its about_keys (the services fill in the tenant's), or the default. */
export function aboutKeysOf(filters: Pick<EventFilters, 'about_keys'>): readonly string[] {
  return filters.about_keys ?? RELATED_CONTEXT_KEYS;
}

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
  /** Equality; a sealing tenant's sealed addresses are found by their value tokens (docs/personal-data.md). */
  ip_address: filter(ipAddress, (v) => ({ op: 'eq', field: 'ip_address', value: v })),
  /** The data subject an event names besides its actor (sealed: found by its value token only). */
  subject_id: filter(identifier, (v) => ({ op: 'sealed', pointer: '/subject_id', value: v })),
  /** Inclusive. A bare date means midnight UTC. */
  from: filter(timeBound(false), (v) => ({ op: 'range', field: 'occurred_at', gte: v })),
  /** Exclusive. A bare date includes that whole day. */
  to: filter(timeBound(true), (v) => ({ op: 'range', field: 'occurred_at', lt: v })),
  context: filter(contextFilter, (v) => ({ op: 'contains', value: v })),
  /** The query language: `symbol = AAPL OR symbol = MSFT`, `last_px > 400`, `actor ~ trader*` (docs/query-language.md). */
  q: filter(queryText, queryExpr),
};

type FilterShape = { [K in keyof typeof FILTERS]: (typeof FILTERS)[K]['schema'] };

/**
 * Everything about one object (the whole order): its own events (object_id,
 * of object type about_type when given) and every event whose context holds
 * this id as a string under one of about_keys (default RELATED_CONTEXT_KEYS),
 * such as its fills and allocations. The three combine into one condition, so
 * they are declared beside FILTERS rather than one filter each.
 */
const ABOUT = {
  about: identifier.optional(),
  about_type: typeName.optional(),
  about_keys: keyList.optional(),
};

export const eventFilters = z.strictObject({
  ...(Object.fromEntries(Object.entries(FILTERS).map(([name, f]) => [name, f.schema])) as FilterShape),
  ...ABOUT,
});

/** The `about` condition as a filter tree: the object's own events, or a related key naming it. */
function aboutExpr(filters: EventFilters): FilterExpr {
  const about = filters.about!;
  const own: FilterExpr = filters.about_type
    ? and({ op: 'eq', field: 'object_id', value: about }, { op: 'eq', field: 'object_type', value: filters.about_type })
    : { op: 'eq', field: 'object_id', value: about };
  return or(own, ...aboutKeysOf(filters).map((key): FilterExpr => ({ op: 'eq', field: { context: [key] }, value: about })));
}

/** The filter tree of a filter set: the conjunction of its filters (no filter: every event). */
export function filterExpr(filters: EventFilters): FilterExpr {
  const args: FilterExpr[] = [];
  for (const [name, f] of Object.entries(FILTERS)) {
    const value = filters[name as keyof typeof FILTERS];
    if (value !== undefined) args.push(f.toExpr(value));
  }
  if (filters.about !== undefined) args.push(aboutExpr(filters));
  let expr = and(...args);
  const { sealed_actors, sealed_values } = filters as SealedFilters;
  if (sealed_actors) expr = withSealedActors(expr, sealed_actors);
  if (sealed_values) expr = withSealedValues(expr, sealed_values, (filters as SealedFilters).clear_actors);
  return expr;
}

/**
 * Filters of a tenant that seals personal data, with what the server resolved
 * for them (server/services/personal/search.ts): for each actor id the filters
 * compare for equality (actor_id, or `actor = …` in q), the references
 * (`pd2:<subject ref>:<key id>`) its sealed events hold instead, one per
 * readable key of the subject. Never part of the contract.
 */
export type SealedFilters = EventFilters & {
  sealed_actors?: Readonly<Record<string, readonly string[]>>;
  /**
   * For each equality on a sealed place (personalEqualities), by its token
   * input: the value's tokens under every live key that holds it (none: no
   * sealed event has it).
   */
  sealed_values?: Readonly<Record<string, readonly string[]>>;
  /**
   * Where a sealed value can be stored in clear: `pointers` are the sealed
   * places whose value an event with a sealed actor never holds in clear (the
   * actor's IP addresses, user agent and device fingerprint; the context
   * members declared in every declaration since the tenant's first), and
   * `actors` the actor ids the tenant's hot months hold in clear (null: too
   * many to list). An equality on such a place compares its column on those
   * actors' events only (filter-tree.ts `clear`).
   */
  clear_actors?: { readonly actors: readonly string[] | null; readonly pointers: readonly string[] };
};

/** Columns whose values a sealing tenant seals under a human actor's key (besides actor_id, found by its reference). */
const SEALED_TEXT_COLUMNS = new Set<string>(['user_agent', 'device_fingerprint', 'observed_user_agent']);

/** A place and value an equality compares, as a JSON pointer (RFC 6901) of the event. */
export interface PersonalEquality {
  pointer: string;
  value: JsonScalar;
}

/** The JSON pointer of a context path. */
const pathPointer = (path: readonly string[]) => '/context' + path.map((k) => '/' + k.replace(/~/g, '~0').replace(/\//g, '~1')).join('');

/** The scalar members of a containment's needle at sealed places (`isSealed`), and the rest of the needle (null: nothing). */
function splitNeedle(needle: Record<string, unknown>, isSealed: (q: PersonalEquality) => boolean, at: readonly string[] = []): { rest: Record<string, unknown> | null; sealed: PersonalEquality[] } {
  const rest: Record<string, unknown> = {};
  const sealed: PersonalEquality[] = [];
  for (const [k, v] of Object.entries(needle)) {
    const path = [...at, k];
    const q = { pointer: pathPointer(path), value: v as JsonScalar };
    if ((v === null || typeof v !== 'object') && isSealed(q)) sealed.push(q);
    else if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const inner = splitNeedle(v as Record<string, unknown>, isSealed, path);
      sealed.push(...inner.sealed);
      if (inner.rest) rest[k] = inner.rest;
    } else rest[k] = v;
  }
  return { rest: Object.keys(rest).length ? rest : null, sealed };
}

/**
 * Every equality of a filter set on a place a sealing tenant seals: the IP
 * addresses, user agents and device fingerprint, the subject id, and the
 * context members the tenant declares personal (`declared`: their JSON
 * pointers), whether compared with =, IN or a containment.
 */
export function personalEqualities(filters: EventFilters, declared: ReadonlySet<string>): PersonalEquality[] {
  const found: PersonalEquality[] = [];
  const visit = (e: FilterExpr): void => {
    if (e.op === 'and' || e.op === 'or') e.args.forEach(visit);
    else if (e.op === 'not') visit(e.arg);
    else if (e.op === 'sealed') found.push({ pointer: e.pointer, value: e.value });
    else if (e.op === 'contains') found.push(...splitNeedle(e.value, (q) => declared.has(q.pointer)).sealed);
    else if (e.op === 'eq' || e.op === 'in') {
      const pointer = isContextPath(e.field) ? pathPointer(e.field.context) : isIpColumn(e.field) || SEALED_TEXT_COLUMNS.has(e.field as string) ? '/' + (e.field as string) : null;
      if (pointer === null || (isContextPath(e.field) && !declared.has(pointer))) return;
      for (const value of e.op === 'eq' ? [e.value] : (e.values as JsonScalar[])) found.push({ pointer, value });
    }
  };
  visit(filterExpr(filters));
  return found;
}

/**
 * Each equality on a sealed place also matches the sealed events holding the
 * value, by its tokens. With `clear`, the column's own comparison is confined
 * to the events whose actor is stored in clear where only those can hold the
 * value in clear: every compared value is a sealed place's (resolved), not
 * null (a null member is never sealed) and not reference-like; a containment
 * qualifies through one such member, which a sealed-actor event cannot hold.
 * So the column side reads the clear actors' events and the token side its
 * index, instead of one test of both on every event (docs/personal-data.md,
 * "Search cost").
 */
function withSealedValues(expr: FilterExpr, sealed: Readonly<Record<string, readonly string[]>>, clear?: SealedFilters['clear_actors']): FilterExpr {
  const tokensOf = (equalities: PersonalEquality[]): FilterExpr | null => {
    const tokens = equalities.flatMap((q) => sealed[tokenInput(q.pointer, q.value)] ?? []);
    return tokens.length ? { op: 'tokens', values: [...new Set(tokens)] } : null;
  };
  const has = (q: PersonalEquality) => Object.hasOwn(sealed, tokenInput(q.pointer, q.value));
  const confinable = (q: PersonalEquality) =>
    !!clear && has(q) && clear.pointers.includes(q.pointer) && q.value !== null && !(typeof q.value === 'string' && q.value.startsWith(ENVELOPE_PREFIX));
  const inClear = (e: FilterExpr, confined: boolean): FilterExpr => (confined ? { op: 'clear', arg: e, actors: clear!.actors } : e);
  const rewrite = (e: FilterExpr): FilterExpr => {
    if (e.op === 'and') return and(...e.args.map(rewrite));
    if (e.op === 'or') return or(...e.args.map(rewrite));
    if (e.op === 'not') return { op: 'not', arg: rewrite(e.arg) };
    if (e.op === 'sealed') return tokensOf([e]) ?? e;
    if (e.op === 'eq' || e.op === 'in') {
      const pointer = isContextPath(e.field) ? pathPointer(e.field.context) : '/' + (e.field as string);
      const compared = (e.op === 'eq' ? [e.value] : (e.values as JsonScalar[])).map((value) => ({ pointer, value }));
      const equalities = compared.filter(has);
      const more = equalities.length ? tokensOf(equalities) : null;
      const column = inClear(e, compared.length > 0 && compared.every(confinable));
      return more ? or(column, more) : column;
    }
    if (e.op === 'contains') {
      // Every sealed member of the needle holds its value (by its tokens), and the context contains the rest.
      const split = splitNeedle(e.value, has);
      if (!split.sealed.length) return e;
      const column = inClear(e, split.sealed.some(confinable));
      const each = split.sealed.map((m) => tokensOf([m]));
      if (each.some((t) => t === null)) return column;
      return or(column, and(...(split.rest ? [{ op: 'contains', value: split.rest } as FilterExpr] : []), ...(each as FilterExpr[])));
    }
    return e;
  };
  return rewrite(expr);
}

/** The actor ids a filter set compares actor_id with for equality (eq and in, anywhere in the tree). */
export function actorEqualityValues(filters: EventFilters): string[] {
  const values = new Set<string>();
  const visit = (e: FilterExpr): void => {
    if (e.op === 'and' || e.op === 'or') e.args.forEach(visit);
    else if (e.op === 'not') visit(e.arg);
    else if (e.op === 'eq' && e.field === 'actor_id') values.add(e.value as string);
    else if (e.op === 'in' && e.field === 'actor_id') for (const v of e.values) values.add(v as string);
  };
  visit(filterExpr(filters));
  return [...values];
}

/** Each equality on actor_id also matches that actor's sealed events, by their references: a blind index. */
function withSealedActors(expr: FilterExpr, sealed: Readonly<Record<string, readonly string[]>>): FilterExpr {
  const references = (values: readonly string[]): FilterExpr[] => {
    const refs = values.flatMap((v) => sealed[v] ?? []);
    return refs.length ? [{ op: 'in', field: 'actor_id', values: [...refs] }] : [];
  };
  const rewrite = (e: FilterExpr): FilterExpr => {
    if (e.op === 'and') return and(...e.args.map(rewrite));
    if (e.op === 'or') return or(...e.args.map(rewrite));
    if (e.op === 'not') return { op: 'not', arg: rewrite(e.arg) };
    if (e.op === 'eq' && e.field === 'actor_id') {
      const more = references([e.value as string]);
      return more.length ? or(e, ...more) : e;
    }
    if (e.op === 'in' && e.field === 'actor_id') {
      const more = references(e.values as string[]);
      return more.length ? or(e, ...more) : e;
    }
    return e;
  };
  return rewrite(expr);
}

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
  .refine((v) => !v.from || !v.to || v.from < v.to, { message: '"from" must be before "to"', path: ['from'] })
  .refine((v) => v.about !== undefined || (v.about_type === undefined && v.about_keys === undefined), { message: 'is given only with "about"', path: ['about'] });

export type ListEventsInput = z.output<typeof listEventsInput>;
export type ListEventsRequest = z.input<typeof listEventsInput>;

/** The filter part of a list input (what a cursor and an export are bound to). */
export function filtersOf(input: ListEventsInput): EventFilters {
  const { cursor: _c, limit: _l, order: _o, ...filters } = input;
  return filters;
}

const MULTI_VALUED = new Set(['event_type', 'about_keys']);

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
