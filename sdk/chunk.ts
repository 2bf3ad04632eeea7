/**
 * Splits events into requests that each fit the endpoint's limits: at most
 * `maxEvents` events and about `maxBytes` of JSON body (with headroom).
 */
export interface Sized<T> {
  item: T;
  bytes: number;
}

export function sizeOf(value: unknown): number {
  // JSON text length in UTF-16 units; a UTF-8 body may be up to 3× that for non-ASCII text.
  const json = JSON.stringify(value);
  let bytes = json.length;
  for (let i = 0; i < json.length; i++) if (json.charCodeAt(i) > 0x7f) bytes += 2;
  return bytes;
}

export function chunk<T>(items: readonly Sized<T>[], maxEvents: number, maxBytes: number): T[][] {
  const budget = Math.floor(maxBytes * 0.9) - 64;
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const { item, bytes: size } of items) {
    if (current.length && (current.length >= maxEvents || bytes + size + 1 > budget)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size + 1;
  }
  if (current.length) out.push(current);
  return out;
}
