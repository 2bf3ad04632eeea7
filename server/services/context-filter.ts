/**
 * Context filters (`context.symbol=AAPL`, `context={"symbol":"AAPL"}`) keep
 * jsonb containment as their meaning. For the fields with an indexed column
 * (migration *_query_indexes.sql: context_symbol = context->>'symbol')
 * a string value also gets `context_symbol = value`: implied by the
 * containment, so results are the same, but the planner can then walk that
 * index in (occurred_at, seq) order. Numbers, booleans, null, arrays and
 * objects are containment only: their text form would also match a string
 * ("150" vs 150) or miss an equal number (150 vs 150.0). The filter compiler
 * (filters/postgres.ts) adds the equalities.
 *
 * A string whose text no other JSON type has (not a number's digits, not
 * true/false/null, not an array's or object's text) is equal to the column
 * only where the field holds exactly that string, which is what containment
 * means for it: then the equality alone is the whole test, and a count can be
 * answered from the index without reading each row.
 */
/** Context fields with an indexed column, and that column. */
export const INDEXED_CONTEXT_FIELDS = {
  symbol: 'context_symbol',
  account: 'context_account',
  client_order_id: 'context_client_order_id',
  order_id: 'context_order_id',
  parent_order_id: 'context_parent_order_id',
} as const;

type IndexedField = keyof typeof INDEXED_CONTEXT_FIELDS;

const isIndexed = (field: string): field is IndexedField => Object.hasOwn(INDEXED_CONTEXT_FIELDS, field);

/** The indexed fields of a context filter whose value is a string, with that value. */
export function indexedStringFields(context: Record<string, unknown>): [IndexedField, string][] {
  return Object.entries(context).filter((entry): entry is [IndexedField, string] => isIndexed(entry[0]) && typeof entry[1] === 'string');
}

/**
 * Whether `context->>field = value` can only hold where the field is the JSON
 * string `value`: `->>` gives a number's digits, `true`/`false`, an array's or
 * object's JSON text, and SQL null for JSON null.
 */
export function textOnlyFromString(value: string): boolean {
  return !(/^-?[0-9]/.test(value) || value === 'true' || value === 'false' || value === 'null' || value.startsWith('[') || value.startsWith('{'));
}
