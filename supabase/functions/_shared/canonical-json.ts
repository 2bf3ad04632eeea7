/**
 * RFC 8785 (JSON Canonicalization Scheme) for the JSON values events carry:
 * object keys sorted by UTF-16 code units, no whitespace, numbers and strings
 * as ECMAScript's JSON.stringify writes them. A direct recursive writer: the
 * ingest path calls it for every event, and it is several times faster than a
 * general-purpose library (canonical-json.test.ts checks it against one).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error('JSON cannot hold NaN or Infinity');
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) {
    const items = new Array<string>(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      items[i] = item === undefined || typeof item === 'function' || typeof item === 'symbol' ? 'null' : canonicalJson(item);
    }
    return '[' + joined(items) + ']';
  }
  const record = value as Record<string, unknown>;
  // Default sort compares UTF-16 code units, which is what RFC 8785 asks for.
  const keys = Object.keys(record).sort();
  const members: string[] = [];
  for (const key of keys) {
    const item = record[key];
    if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
    members.push(JSON.stringify(key) + ':' + canonicalJson(item));
  }
  return '{' + joined(members) + '}';
}

/**
 * Members separated by commas. Many are joined, not appended one by one:
 * appending builds a tree of string pieces (a V8 "rope", 32 bytes a piece)
 * that stays in memory until the string is first read whole — about 100
 * times the text for an array of small numbers. join writes one flat string;
 * for a few members appending is faster and its tree is small.
 */
function joined(parts: string[]): string {
  if (parts.length > 8) return parts.join(',');
  let out = parts.length ? parts[0]! : '';
  for (let i = 1; i < parts.length; i++) out += ',' + parts[i];
  return out;
}
