/**
 * The filter tree compiled for DuckDB over the Parquet archives
 * (server/archive/format.ts: the event columns with plain types, `context` as
 * the JSON text PostgreSQL stored). Same meaning as the PostgreSQL form
 * (postgres.ts), written with DuckDB's functions:
 *
 * - jsonb containment becomes a walk of the needle: objects key by key
 *   (JSON Pointer paths, so any key is addressable), arrays element by
 *   element (some element of the haystack contains each needle element),
 *   scalars by type and value (numbers compared as doubles, which every
 *   number the contract stores is);
 * - every value is a numbered parameter (`$1`, …).
 *
 * The property test (backends.property.test.ts) holds the two forms to the same answers.
 */
import type { DuckDBValue } from '@duckdb/node-api';
import { ASCII_LOWER, ASCII_UPPER, foldAscii, isContextPath, isTimeColumn, type Bounds, type ContextPath, type FilterExpr, type JsonScalar, type Predicate } from '@/supabase/functions/_shared/filter-tree.ts';

export interface CompiledDuck {
  where: string;
  params: DuckDBValue[];
}

const NUMBER_TYPES = `('UBIGINT', 'BIGINT', 'HUGEINT', 'DOUBLE')`;

const RANGE_OPS: [keyof Bounds<unknown>, string][] = [
  ['gte', '>='],
  ['gt', '>'],
  ['lte', '<='],
  ['lt', '<'],
];

/** RFC 6901 JSON Pointer of one object key. */
const pointer = (key: string) => '/' + key.replace(/~/g, '~0').replace(/\//g, '~1');

class Compiler {
  readonly params: DuckDBValue[] = [];
  private lambdas = 0;

  /** A numbered parameter (`$n`): an expression may be written out more than once. */
  value(v: DuckDBValue): string {
    this.params.push(v);
    return `$${this.params.length}`;
  }

  /** A number, sent as its text (the client would bind an integral 1e21 as an out-of-range BIGINT). */
  number(v: number): string {
    return `${this.value(String(v))}::DOUBLE`;
  }

  /** The member `key` of JSON `x` when `x` is an object (null otherwise: arrays are not walked). */
  member(x: string, key: string): string {
    return `(case when json_type(${x}) = 'OBJECT' then json_extract(${x}, ${this.value(pointer(key))}) end)`;
  }

  at(path: ContextPath): string {
    return path.context.reduce((x, key) => this.member(x, key), 'context');
  }

  /** JSON `x` equals the scalar `v` (numbers by value). */
  scalar(x: string, v: JsonScalar): string {
    if (v === null) return `json_type(${x}) = 'NULL'`;
    if (typeof v === 'string') return `(json_type(${x}) = 'VARCHAR' and (${x} ->> '$') = ${this.value(v)})`;
    if (typeof v === 'number') return `(json_type(${x}) in ${NUMBER_TYPES} and try_cast(${x} as DOUBLE) = ${this.number(v)})`;
    return `(json_type(${x}) = 'BOOLEAN' and try_cast(${x} as BOOLEAN) = ${this.value(v)})`;
  }

  /** JSON `x` contains `needle` as jsonb `@>` does below the top level. */
  contains(x: string, needle: unknown): string {
    if (Array.isArray(needle)) {
      const parts = [`json_type(${x}) = 'ARRAY'`];
      for (const element of needle) {
        const h = `h${this.lambdas++}`;
        parts.push(`len(list_filter(json_extract(${x}, '$[*]'), ${h} -> ${this.contains(h, element)})) > 0`);
      }
      return `(${parts.join(' and ')})`;
    }
    if (needle !== null && typeof needle === 'object') {
      const parts = [`json_type(${x}) = 'OBJECT'`];
      for (const [key, v] of Object.entries(needle)) parts.push(this.contains(`json_extract(${x}, ${this.value(pointer(key))})`, v));
      return `(${parts.join(' and ')})`;
    }
    return this.scalar(x, needle as JsonScalar);
  }

  predicate(p: Predicate): string {
    switch (p.op) {
      case 'eq':
        if (isContextPath(p.field)) return this.scalar(this.at(p.field), p.value as JsonScalar);
        if (typeof p.value === 'number') return `${p.field} = ${this.number(p.value)}`;
        return `${p.field} = ${this.value(p.value)}`;
      case 'in':
        if (isContextPath(p.field)) {
          const x = this.at(p.field);
          return `(${p.values.map((v) => this.scalar(x, v)).join(' or ') || 'false'})`;
        }
        return `${p.field} in (${(p.values as string[]).map((v) => this.value(v)).join(', ')})`;
      case 'prefix':
        return this.text(p.field, (t) => `starts_with(${t}, ${this.value(p.value)})`);
      case 'ieq':
        return this.text(p.field, (t) => `translate(${t}, '${ASCII_UPPER}', '${ASCII_LOWER}') = ${this.value(foldAscii(p.value))}`);
      case 'iprefix':
        return this.text(p.field, (t) => `starts_with(translate(${t}, '${ASCII_UPPER}', '${ASCII_LOWER}'), ${this.value(foldAscii(p.value))})`);
      case 'exists':
        return `${isContextPath(p.field) ? this.at(p.field) : p.field} is not null`;
      case 'range': {
        const bounds = RANGE_OPS.filter(([k]) => (p as Bounds<unknown>)[k] !== undefined);
        if (!bounds.length) return 'true';
        if (isContextPath(p.field)) {
          const x = this.at(p.field);
          const tests = bounds.map(([k, op]) => `try_cast(${x} as DOUBLE) ${op} ${this.number((p as Bounds<number>)[k]!)}`);
          return `(json_type(${x}) in ${NUMBER_TYPES} and ${tests.join(' and ')})`;
        }
        const bound = (v: unknown) => (isTimeColumn(p.field) ? `${this.value(v as string)}::TIMESTAMPTZ` : this.number(v as number));
        return `(${bounds.map(([k, op]) => `${p.field} ${op} ${bound((p as Bounds<unknown>)[k])}`).join(' and ')})`;
      }
      case 'contains':
        return this.contains('context', p.value);
      case 'sealed':
        return 'false';
      case 'tokens':
        // `personal` is the JSON text PostgreSQL stored; parts written before value tokens have none.
        return `list_has_any(coalesce(json_extract_string(personal, '$.tokens[*]'), []::VARCHAR[]), [${p.values.map((v) => this.value(v)).join(', ')}]::VARCHAR[])`;
    }
  }

  /** A test of a text column, or of a string at a context path. */
  private text(field: string | ContextPath, test: (text: string) => string): string {
    if (!isContextPath(field)) return test(field);
    const x = this.at(field);
    return `(json_type(${x}) = 'VARCHAR' and ${test(`(${x} ->> '$')`)})`;
  }

  expression(e: FilterExpr): string {
    if (e.op === 'and' || e.op === 'or') return e.args.length ? `(${e.args.map((a) => this.expression(a)).join(` ${e.op} `)})` : e.op === 'and' ? 'true' : 'false';
    if (e.op === 'not') return `(not coalesce(${this.expression(e.arg)}, false))`;
    // The clear actor list names hot months' actors: an archive tests the condition itself (the same events).
    if (e.op === 'clear') return this.expression(e.arg);
    return `(${this.predicate(e)})`;
  }
}

/** The WHERE condition of a tenant's archived events matching `expr`. */
export function compileDuck(tenantId: string, expr: FilterExpr): CompiledDuck {
  const c = new Compiler();
  const where = `tenant_id = ${c.value(tenantId)} and ${c.expression(expr)}`;
  return { where, params: c.params };
}
