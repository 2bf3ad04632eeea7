/**
 * The one filter structure. Every way of selecting events — the contract's
 * filters today, the console's query language later — becomes this small
 * expression tree, and the tree alone is compiled for each back end:
 * PostgreSQL pages and counts, PostgreSQL COPY (exports) and DuckDB over
 * Parquet archives (server/services/filters/). So hot and archived months
 * answer the same question the same way, and a new filter is one mapping to
 * the tree, not three WHERE clauses.
 *
 * Semantics (two-valued; a missing value never matches, and `not` of a
 * predicate on a missing value matches):
 * - text columns compare exactly (code points); `ieq` and `iprefix` fold
 *   ASCII A–Z only, so every back end and database locale agrees;
 * - `contains` is PostgreSQL's jsonb containment (`@>`) of the context;
 * - context paths walk object keys only (never array indexes); `eq` on a path
 *   compares JSON values (numbers by value: 150 equals 150.00), `range` on a
 *   path matches numbers only, `exists` matches a present key (JSON null too).
 */

import { EVENT_FIELDS, type EventField } from './fields.ts';

/** Fields that are not text columns: the tenant (implied by the caller), times, numbers, addresses, the context. */
const NOT_TEXT = ['tenant_id', 'seq', 'occurred_at', 'received_at', 'ip_address', 'observed_ip', 'context', 'schema_version', 'personal'] as const;

/** Text columns (identifiers and free text): every field of the contract that is not in NOT_TEXT. */
export type TextColumn = Exclude<EventField, (typeof NOT_TEXT)[number]>;
export const TEXT_COLUMNS = EVENT_FIELDS.filter((f): f is TextColumn => !(NOT_TEXT as readonly string[]).includes(f));

/** Text columns that may be absent (null). */
export const NULLABLE_TEXT_COLUMNS = ['source', 'request_id', 'user_agent', 'device_fingerprint', 'observed_user_agent'] as const satisfies readonly TextColumn[];
export type NullableTextColumn = (typeof NULLABLE_TEXT_COLUMNS)[number];

/** IP address columns (inet): equality only, on the canonical text (ip.ts canonicalIp). */
export const IP_COLUMNS = ['ip_address', 'observed_ip'] as const;
export type IpColumn = (typeof IP_COLUMNS)[number];

export const TIME_COLUMNS = ['occurred_at', 'received_at'] as const;
export type TimeColumn = (typeof TIME_COLUMNS)[number];

export const NUMBER_COLUMNS = ['seq', 'schema_version'] as const;
export type NumberColumn = (typeof NUMBER_COLUMNS)[number];

/** A place inside `context`, as object keys from its root. */
export interface ContextPath {
  context: readonly string[];
}

export type JsonScalar = string | number | boolean | null;

export interface Bounds<T> {
  gte?: T;
  gt?: T;
  lte?: T;
  lt?: T;
}

export type FilterExpr =
  | { op: 'and'; args: FilterExpr[] }
  | { op: 'or'; args: FilterExpr[] }
  | { op: 'not'; arg: FilterExpr }
  | { op: 'eq'; field: TextColumn; value: string }
  | { op: 'eq'; field: NumberColumn; value: number }
  | { op: 'eq'; field: ContextPath; value: JsonScalar }
  | { op: 'eq'; field: IpColumn; value: string }
  | { op: 'in'; field: TextColumn | IpColumn; values: string[] }
  | { op: 'in'; field: ContextPath; values: JsonScalar[] }
  | { op: 'prefix'; field: TextColumn | ContextPath; value: string }
  /** Equal ignoring the case of ASCII letters. */
  | { op: 'ieq'; field: TextColumn | ContextPath; value: string }
  /** Starts with this value, ignoring the case of ASCII letters. */
  | { op: 'iprefix'; field: TextColumn | ContextPath; value: string }
  | { op: 'exists'; field: NullableTextColumn | ContextPath }
  /** Timestamps as canonical UTC strings with microseconds (2025-01-31T00:00:00.000000Z). */
  | ({ op: 'range'; field: TimeColumn } & Bounds<string>)
  | ({ op: 'range'; field: NumberColumn | ContextPath } & Bounds<number>)
  /** The context contains this JSON object (jsonb `@>`). */
  | { op: 'contains'; value: Record<string, unknown> }
  /**
   * The personal value sealed at this JSON pointer equals `value`: matches
   * nothing as such; a sealing tenant's search replaces it by the value's
   * tokens (filters.ts withSealedValues). The subject_id filter.
   */
  | { op: 'sealed'; pointer: string; value: JsonScalar }
  /** The event carries any of these value tokens (personal.tokens; docs/personal-data.md). */
  | { op: 'tokens'; values: string[] }
  /**
   * `arg`, a condition that only an event whose actor is stored in clear can
   * meet (a sealed value compared with its column: a sealed event holds a
   * reference or nothing there). `actors`: every clear actor id the tenant's
   * hot months hold, so PostgreSQL reads only their events (the actor index)
   * instead of testing the others; an archive, or `actors: null`, tests `arg`
   * alone. The same events either way (filters.ts withSealedValues).
   */
  | { op: 'clear'; arg: FilterExpr; actors: readonly string[] | null };

export type Predicate = Exclude<FilterExpr, { op: 'and' | 'or' | 'not' | 'clear' }>;

export const isContextPath = (field: unknown): field is ContextPath => typeof field === 'object' && field !== null && 'context' in field;
export const isTimeColumn = (field: unknown): field is TimeColumn => (TIME_COLUMNS as readonly unknown[]).includes(field);
export const isIpColumn = (field: unknown): field is IpColumn => (IP_COLUMNS as readonly unknown[]).includes(field);
export const isNumberColumn = (field: unknown): field is NumberColumn => (NUMBER_COLUMNS as readonly unknown[]).includes(field);

export const and = (...args: FilterExpr[]): FilterExpr => ({ op: 'and', args });
export const or = (...args: FilterExpr[]): FilterExpr => ({ op: 'or', args });
export const not = (arg: FilterExpr): FilterExpr => ({ op: 'not', arg });
export const MATCH_ALL: FilterExpr = and();

/** ASCII-only lower case: the fold of `ieq`, identical in JavaScript, PostgreSQL and DuckDB. */
export function foldAscii(value: string): string {
  return value.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}
export const ASCII_UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
export const ASCII_LOWER = 'abcdefghijklmnopqrstuvwxyz';

/**
 * The occurred_at interval every match lies in, read from the top-level
 * conjunction (null: unbounded). Back ends use it to skip months.
 */
export function occurredAtBounds(expr: FilterExpr): { from: string | null; to: string | null } {
  let from: string | null = null;
  let to: string | null = null;
  const visit = (e: FilterExpr) => {
    if (e.op === 'and') return e.args.forEach(visit);
    if (e.op !== 'range' || e.field !== 'occurred_at') return;
    const r = e as Bounds<string>;
    for (const lower of [r.gte, r.gt]) if (lower !== undefined && (from === null || lower > from)) from = lower;
    for (const upper of [r.lt, r.lte]) {
      // An inclusive upper bound still needs its own microsecond: the next one is exclusive.
      const exclusive = upper === undefined ? undefined : upper === r.lte ? nextMicrosecond(upper) : upper;
      if (exclusive !== undefined && (to === null || exclusive < to)) to = exclusive;
    }
  };
  visit(expr);
  return { from, to };
}

/** The canonical timestamp one microsecond later. */
export function nextMicrosecond(iso: string): string {
  const millis = Date.parse(iso.slice(0, 23) + 'Z');
  const micros = Number(iso.slice(23, 26) || '0') + 1;
  const d = new Date(millis + Math.floor(micros / 1000));
  return `${d.toISOString().slice(0, 23)}${String(micros % 1000).padStart(3, '0')}Z`;
}
