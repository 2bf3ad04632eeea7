/**
 * RFC 8785 (JSON Canonicalization Scheme) for the JSON values events carry:
 * object keys sorted by UTF-16 code units, no whitespace, numbers and strings
 * as ECMAScript's JSON.stringify writes them. A direct recursive writer: the
 * ingest path calls it for every event, and it is several times faster than a
 * general-purpose library (canonical-json.test.ts checks it against one).
 */
// Printable ASCII other than the quote and the backslash is written as itself between quotes; anything else as JSON.stringify writes it.
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const quoted = (s: string) => (PLAIN.test(s) ? '"' + s + '"' : JSON.stringify(s));

/**
 * Up to 8 members are appended one by one; more are joined. Appending builds a
 * tree of string pieces (a V8 "rope", 32 bytes a piece) that stays in memory
 * until the string is first read whole — about 100 times the text for an array
 * of small numbers — while join writes one flat string; for a few members
 * appending is faster and its tree is small.
 */
const skipped = (item: unknown) => item === undefined || typeof item === 'function' || typeof item === 'symbol';

export function canonicalJson(value: unknown): string {
  if (typeof value === 'string') return quoted(value);
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error('JSON cannot hold NaN or Infinity');
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) {
    if (value.length > 8) {
      // A loop, not map: a hole in a sparse array is written as null, as JSON.stringify writes it.
      const items = new Array<string>(value.length);
      for (let i = 0; i < value.length; i++) items[i] = skipped(value[i]) ? 'null' : canonicalJson(value[i]);
      return '[' + items.join(',') + ']';
    }
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + (skipped(value[i]) ? 'null' : canonicalJson(value[i]));
    return out + ']';
  }
  const record = value as Record<string, unknown>;
  // Default sort compares UTF-16 code units, which is what RFC 8785 asks for.
  const keys = Object.keys(record).sort();
  if (keys.length > 8) {
    const members: string[] = [];
    for (const key of keys) if (!skipped(record[key])) members.push(quoted(key) + ':' + canonicalJson(record[key]));
    return '{' + members.join(',') + '}';
  }
  let out = '{';
  for (const key of keys) {
    const item = record[key];
    if (skipped(item)) continue;
    out += (out.length > 1 ? ',' : '') + quoted(key) + ':' + canonicalJson(item);
  }
  return out + '}';
}
