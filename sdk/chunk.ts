/**
 * Splits events into requests that each fit the endpoint's limits: at most
 * `maxEvents` events and about `maxBytes` of JSON body (with headroom).
 */
export interface Sized<T> {
  item: T;
  bytes: number;
}

/** An upper bound of the UTF-8 size of a string (3 bytes for every non-ASCII UTF-16 unit). */
export function utf8Bytes(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) bytes += 2;
  return bytes;
}

/** Size of a value as JSON. */
export function sizeOf(value: unknown): number {
  return utf8Bytes(JSON.stringify(value));
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
