/**
 * The filter tree (supabase/functions/_shared/filter-tree.ts) compiled for
 * PostgreSQL, once, into SQL text with numbered values. Two ways to run it:
 *
 * - pages and counts: a postgres.js fragment with bound parameters
 *   (`wherePostgres`), composable into any statement;
 * - exports: COPY takes no bind parameters, so the values travel as one JSON
 *   array in a transaction-local setting and the text reads them back
 *   (`whereCopy`); no value is ever spliced into SQL.
 *
 * Index-friendly forms are kept: the tenant condition first, `=` and
 * `= any(…)` on plain columns, and for a context containment of an indexed
 * field (context_symbol, …) the equality on its generated column beside the
 * containment that defines the match (see context-filter.ts).
 */
import type { Sql, TxSql } from '@/supabase/functions/_shared/db.ts';
import { ASCII_LOWER, ASCII_UPPER, foldAscii, isContextPath, isIpColumn, isNumberColumn, isTimeColumn, type Bounds, type ContextPath, type FilterExpr, type Predicate } from '@/supabase/functions/_shared/filter-tree.ts';
import { indexedStringFields, INDEXED_CONTEXT_FIELDS, textOnlyFromString } from '../context-filter.ts';

/**
 * A value of the compiled text: a string or a list of strings, sent as text
 * (JSON values as their text: `$1::text::jsonb`, so no driver re-encodes them).
 */
export type SqlValue = string | string[];

/** SQL text split around its values, as a tagged template sees it. */
export interface CompiledSql {
  strings: string[];
  values: SqlValue[];
}

class Builder {
  readonly strings: string[] = [''];
  readonly values: SqlValue[] = [];
  constructor(
    private readonly alias: string,
    readonly tokenLookup: boolean,
  ) {}
  text(s: string): this {
    this.strings[this.strings.length - 1] += s;
    return this;
  }
  value(v: SqlValue, cast = ''): this {
    this.values.push(v);
    this.strings.push(cast);
    return this;
  }
  column(name: string): this {
    return this.text(this.alias ? `${this.alias}.${name}` : name);
  }
}

const RANGE_OPS: [keyof Bounds<unknown>, string][] = [
  ['gte', '>='],
  ['gt', '>'],
  ['lte', '<='],
  ['lt', '<'],
];

/** `context -> k1 -> k2 …`: object keys only (`->` with a text key is null on arrays). */
function contextValue(b: Builder, path: ContextPath): Builder {
  b.text('(').column('context');
  for (const key of path.context) b.text(' -> ').value(key, '::text');
  return b.text(')');
}

function predicate(b: Builder, p: Predicate): void {
  switch (p.op) {
    case 'eq':
      if (isContextPath(p.field)) {
        if (typeof p.value === 'string' && p.field.context.length === 1) indexedEquality(b, p.field.context[0]!, p.value);
        contextValue(b, p.field).text(' = ').value(JSON.stringify(p.value), '::text::jsonb');
      } else if (isNumberColumn(p.field)) {
        b.column(p.field).text(' = ').value(String(p.value), '::numeric');
      } else {
        b.column(p.field).text(' = ').value(p.value as string, p.field === 'id' ? '::uuid' : isIpColumn(p.field) ? '::inet' : '');
      }
      return;
    case 'in':
      if (isContextPath(p.field)) {
        contextValue(b, p.field).text(' = any(').value(p.values.map((v) => JSON.stringify(v)), '::text[]::jsonb[])');
      } else {
        b.column(p.field).text(' = any(').value(p.values as string[], p.field === 'id' ? '::uuid[])' : isIpColumn(p.field) ? '::inet[])' : '::text[])');
      }
      return;
    case 'prefix': {
      const test = (text: () => void) => {
        b.text('starts_with(');
        text();
        b.text(', ').value(p.value).text(')');
      };
      if (isContextPath(p.field)) stringAt(b, p.field, test);
      else test(() => b.column(p.field as string));
      return;
    }
    case 'ieq':
    case 'iprefix': {
      const test = (text: () => void) => {
        b.text(p.op === 'iprefix' ? 'starts_with(translate(' : 'translate(');
        text();
        b.text(`, '${ASCII_UPPER}', '${ASCII_LOWER}')`);
        if (p.op === 'iprefix') b.text(', ').value(foldAscii(p.value)).text(')');
        else b.text(' = ').value(foldAscii(p.value));
      };
      if (isContextPath(p.field)) stringAt(b, p.field, test);
      else test(() => b.column(p.field as string));
      return;
    }
    case 'exists':
      if (isContextPath(p.field)) contextValue(b, p.field).text(' is not null');
      else b.column(p.field).text(' is not null');
      return;
    case 'range': {
      const bounds = Object.entries(p).filter(([k, v]) => RANGE_OPS.some(([op]) => op === k) && v !== undefined) as [keyof Bounds<unknown>, string | number][];
      if (!bounds.length) return void b.text('true');
      if (isContextPath(p.field)) {
        // A number at the path, compared by value; anything else at the path does not match.
        b.text('case when jsonb_typeof(');
        contextValue(b, p.field).text(") = 'number' then ");
        bounds.forEach(([op, v], i) => {
          if (i) b.text(' and ');
          contextValue(b, p.field as ContextPath).text(`::numeric ${RANGE_OPS.find(([k]) => k === op)![1]} `).value(String(v), '::numeric');
        });
        b.text(' end');
        return;
      }
      const cast = isTimeColumn(p.field) ? '::timestamptz' : '::numeric';
      bounds.forEach(([op, v], i) => {
        if (i) b.text(' and ');
        b.column(p.field as string).text(` ${RANGE_OPS.find(([k]) => k === op)![1]} `).value(String(v), cast);
      });
      return;
    }
    case 'contains': {
      const indexed = indexedStringFields(p.value);
      for (const [field, value] of indexed) indexedEquality(b, field, value);
      // Every member an indexed string no other type shares: the equalities are the whole test (context-filter.ts).
      if (indexed.length && indexed.length === Object.keys(p.value).length && indexed.every(([, value]) => textOnlyFromString(value))) return void b.text('true');
      b.column('context').text(' @> ').value(JSON.stringify(p.value), '::text::jsonb');
      return;
    }
    case 'sealed':
      // Only a sealing tenant's tokens find a sealed value (rewritten before compiling); as such it matches nothing.
      b.text('false');
      return;
    case 'tokens':
      if (b.tokenLookup) {
        // Under row-level security the GIN index serves no ?| test: the positions come from it through the lookup function.
        b.text('(').column('occurred_at').text(', ').column('seq').text(') in (select t.occurred_at, t.seq from oms_audit.events_with_tokens(').value(p.values, '::text[]').text(') as t)');
        return;
      }
      // The partial GIN index audit_events_personal_tokens_idx: its predicate first, then any of the tokens.
      b.column('personal').text(" ? 'tokens' and (").column('personal').text(" -> 'tokens') ?| ").value(p.values, '::text[]');
      return;
  }
}

/** For a string at an indexed top-level context field: `context_symbol = value and …` (implied; lets the planner use the index). */
function indexedEquality(b: Builder, field: string, value: string): void {
  if (!Object.hasOwn(INDEXED_CONTEXT_FIELDS, field)) return;
  b.column(INDEXED_CONTEXT_FIELDS[field as keyof typeof INDEXED_CONTEXT_FIELDS]).text(' = ').value(value).text(' and ');
}

/** `case when the path holds a string then <test of its text> end` (null otherwise). */
function stringAt(b: Builder, path: ContextPath, test: (text: () => void) => void): void {
  b.text('case when jsonb_typeof(');
  contextValue(b, path).text(") = 'string' then ");
  test(() => contextValue(b, path).text(" #>> '{}'"));
  b.text(' end');
}

function expression(b: Builder, e: FilterExpr): void {
  if (e.op === 'and' || e.op === 'or') {
    if (!e.args.length) return void b.text(e.op === 'and' ? 'true' : 'false');
    b.text('(');
    e.args.forEach((arg, i) => {
      if (i) b.text(` ${e.op} `);
      expression(b, arg);
    });
    b.text(')');
    return;
  }
  if (e.op === 'not') {
    // A test on a missing value is false, so its negation is true (SQL's null would drop the row).
    b.text('not coalesce(');
    expression(b, e.arg);
    b.text(', false)');
    return;
  }
  if (e.op === 'clear') {
    // Only the listed actors' events, through the actor index (beside the value tokens' GIN index in a BitmapOr).
    if (e.actors === null) return expression(b, e.arg);
    if (!e.actors.length) return void b.text('false');
    b.text('(').column('actor_id').text(' = any(').value([...e.actors], '::text[]) and ');
    expression(b, e.arg);
    b.text(')');
    return;
  }
  b.text('(');
  predicate(b, e);
  b.text(')');
}

export interface CompileOptions {
  /** Columns as `<alias>.<column>`. */
  alias?: string;
  /**
   * Value tokens through oms_audit.events_with_tokens (its GIN index), for
   * public.audit_events read as `authenticated` with the tenant's claims; else
   * tested on each row (restored months, or without claims).
   */
  tokenLookup?: boolean;
}

/** The WHERE condition of a tenant's events matching `expr`: the tenant first, so every plan starts inside the tenant. */
export function compilePostgres(tenantId: string, expr: FilterExpr, options: CompileOptions = {}): CompiledSql {
  const b = new Builder(options.alias ?? '', options.tokenLookup ?? false);
  b.column('tenant_id').text(' = ').value(tenantId, '::uuid');
  const conjuncts = expr.op === 'and' ? expr.args : [expr];
  for (const c of conjuncts) {
    b.text(' and ');
    expression(b, c);
  }
  return { strings: b.strings, values: b.values };
}

/** The compiled condition as a postgres.js fragment with bound parameters. */
export function wherePostgres(tx: TxSql | Sql, tenantId: string, expr: FilterExpr, options: CompileOptions = {}) {
  const { strings, values } = compilePostgres(tenantId, expr, options);
  return tx(Object.assign([...strings], { raw: [...strings] }) as unknown as TemplateStringsArray, ...values);
}

/**
 * The compiled condition for a COPY statement: each value is read once per
 * statement (an InitPlan) from the transaction-local setting `setting`,
 * which holds `settingValue` (set with a bound parameter).
 */
export function whereCopy(tenantId: string, expr: FilterExpr, options: CompileOptions & { setting?: string } = {}): { sql: string; settingValue: string } {
  const { strings, values } = compilePostgres(tenantId, expr, options);
  const setting = `current_setting('${options.setting ?? COPY_PARAMS_SETTING}')::jsonb`;
  let sql = strings[0]!;
  values.forEach((v, i) => {
    sql += Array.isArray(v) ? `array(select jsonb_array_elements_text(${setting} -> ${i}))` : `(select ${setting} ->> ${i})`;
    sql += strings[i + 1]!;
  });
  return { sql, settingValue: JSON.stringify(values) };
}

/** The setting that carries a COPY statement's filter values. */
export const COPY_PARAMS_SETTING = 'oms_export.params';
