/**
 * The `about` filter (the whole order) in SQL: the object's own events, or
 * an event whose context holds the id as a string under one of the keys.
 * Keys with an indexed column (client_order_id, order_id, parent_order_id;
 * migrations *_query_indexes.sql and *_related_order_ids.sql) also test that
 * column, so each branch of the OR is a short range of its partial index; the
 * JSON test beside it keeps the meaning exact (a number 100625 is not the
 * string "100625"). An unindexed key is a JSON test alone.
 */
import type { Sql, TxSql } from '@/supabase/functions/_shared/db.ts';
import { aboutKeysOf, type EventFilters } from '@/supabase/functions/_shared/filters.ts';

/** Context keys with an indexed generated column, and that column. */
export const INDEXED_RELATED_KEYS: Record<string, string> = {
  order_id: 'context_order_id',
  parent_order_id: 'context_parent_order_id',
  client_order_id: 'context_client_order_id',
};

/** The condition for postgres.js pages and counts. */
export function aboutCondition(tx: TxSql | Sql, f: EventFilters) {
  const about = f.about!;
  const own = f.about_type ? tx`(object_type = ${f.about_type} and object_id = ${about})` : tx`object_id = ${about}`;
  const named = aboutKeysOf(f).map((key) => {
    const json = tx`context -> ${key}::text = to_jsonb(${about}::text)`;
    const column = INDEXED_RELATED_KEYS[key];
    return column ? tx`(${tx(column)} = ${about} and ${json})` : json;
  });
  return tx`(${[own, ...named].reduce((all, c) => tx`${all} or ${c}`)})`;
}

/**
 * The condition for COPY (exports), whose values are read from the
 * transaction's filter setting by `param`: nothing from the request is
 * spliced into SQL (keys given in the request are referenced by position).
 */
export function aboutCopySql(f: EventFilters, param: (path: string) => string, settingJson: string): string {
  const about = param('about');
  const own = f.about_type ? `(e.object_type = ${param('about_type')} and e.object_id = ${about})` : `e.object_id = ${about}`;
  const named = aboutKeysOf(f).map((key, i) => {
    const keySql = f.about_keys ? `(${settingJson} -> 'about_keys' ->> ${i})` : `'${key}'`;
    const json = `e.context -> ${keySql} = to_jsonb(${about})`;
    const column = INDEXED_RELATED_KEYS[key];
    return column ? `(e.${column} = ${about} and ${json})` : json;
  });
  return `(${[own, ...named].join(' or ')})`;
}

/** The same test on an event in memory (archived months read through DuckDB). */
export function isAbout(f: EventFilters, e: { object_type: string; object_id: string; context: Record<string, unknown> }): boolean {
  if (e.object_id === f.about && (!f.about_type || e.object_type === f.about_type)) return true;
  return aboutKeysOf(f).some((key) => Object.hasOwn(e.context, key) && e.context[key] === f.about);
}
