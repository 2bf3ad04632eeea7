/**
 * Reads PostgreSQL's binary COPY format (COPY … TO STDOUT (FORMAT binary)) as a
 * stream of rows of raw field buffers — far cheaper than building row objects
 * when millions of rows are read only to be hashed. Decoders turn fields of the
 * types we store into the same values the rest of oms-audit uses.
 */
import type { Readable } from 'node:stream';
import { fromMicros } from '@/supabase/functions/_shared/timestamps.ts';
import { canonicalIp } from '@/supabase/functions/_shared/ip.ts';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/** rowEnd's answers besides an offset. */
export const INCOMPLETE = -1;
export const TRAILER = -2;

/** Where the stream's header ends (its first row starts), INCOMPLETE if not all in `buf` yet. */
export function headerEnd(buf: Buffer): number {
  if (buf.length < 19) return INCOMPLETE;
  if (!buf.subarray(0, 11).equals(SIGNATURE)) throw new Error('not a binary COPY stream');
  return 19 + buf.readInt32BE(15);
}

/** Where the row starting at `pos` ends, INCOMPLETE if it is not all in `buf` yet, TRAILER at the stream's end mark. */
export function rowEnd(buf: Uint8Array, pos: number): number {
  const size = buf.length;
  if (size - pos < 2) return INCOMPLETE;
  const count = (buf[pos]! << 8) | buf[pos + 1]!;
  if (count === 0xffff) return TRAILER;
  let p = pos + 2;
  for (let i = 0; i < count; i++) {
    if (size - p < 4) return INCOMPLETE;
    // Field length, big-endian int32; -1 (NULL) has no bytes.
    const len = (buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!;
    p += 4 + (len > 0 ? len : 0);
    if (p > size) return INCOMPLETE;
  }
  return p;
}

/** Yields arrays of rows; each row is its fields (null for SQL NULL). */
export async function* binaryCopyRows(stream: Readable): AsyncGenerator<(Buffer | null)[][]> {
  let buf: Buffer = Buffer.alloc(0);
  let headerDone = false;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    let pos = 0;
    if (!headerDone) {
      const end = headerEnd(buf);
      if (end === INCOMPLETE) continue;
      pos = end;
      headerDone = true;
    }
    const rows: (Buffer | null)[][] = [];
    for (;;) {
      const end = rowEnd(buf, pos);
      if (end === TRAILER) {
        pos += 2;
        break;
      }
      if (end === INCOMPLETE) break;
      const count = buf.readInt16BE(pos);
      const row: (Buffer | null)[] = new Array(count);
      let p = pos + 2;
      for (let i = 0; i < count; i++) {
        const len = buf.readInt32BE(p);
        p += 4;
        if (len < 0) row[i] = null;
        else {
          row[i] = buf.subarray(p, p + len);
          p += len;
        }
      }
      rows.push(row);
      pos = p;
    }
    buf = buf.subarray(pos);
    if (rows.length) yield rows;
  }
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function decodeUuid(b: Buffer): string {
  let s = '';
  for (let i = 0; i < 16; i++) {
    s += HEX[b[i]!];
    if (i === 3 || i === 5 || i === 7 || i === 9) s += '-';
  }
  return s;
}

export const decodeInt8 = (b: Buffer): number => b.readInt32BE(0) * 4294967296 + b.readUInt32BE(4);
export const decodeInt2 = (b: Buffer): number => b.readInt16BE(0);
export const decodeText = (b: Buffer): string => b.toString('utf8');

/** PostgreSQL epoch (2000-01-01) in microseconds since the Unix epoch. */
const PG_EPOCH_MICROS = 946_684_800_000_000;
export function decodeTimestamptz(b: Buffer): string {
  const micros = b.readInt32BE(0) * 4294967296 + b.readUInt32BE(4) + PG_EPOCH_MICROS;
  return fromMicros(micros).iso;
}

export function decodeInet(b: Buffer): string {
  const family = b[0];
  const bytes = b.subarray(4, 4 + b[3]!);
  if (family === 2) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return canonicalIp(groups.join(':')) ?? groups.join(':');
}

/** jsonb: a version byte (1), then the JSON text. */
export const decodeJsonbText = (b: Buffer): string => b.toString('utf8', 1);
