/**
 * The row-chunk COPY reader against the generic one: the same rows, byte for
 * byte, cut only at rows' ends, whatever the chunk size; no rows at all; rows
 * larger than a chunk; and an error in the middle of the COPY reaches the caller.
 */
import { describe, expect, it } from 'vitest';
import { connectionUrl } from '@/supabase/functions/_shared/db.ts';
import { testSql } from '@/test/fixtures.ts';
import { copyOut } from './copy-out.ts';
import { copyOutRows } from './copy-rows.ts';
import { headerEnd, rowEnd } from './copy-binary.ts';

const concat = (chunks: Uint8Array[]) => Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of chunks) out.push(c);
  return out;
}

/** Each chunk is whole rows: walking it row by row ends exactly at its end. */
function wholeRows(chunk: Uint8Array): number {
  const b = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  let rows = 0;
  for (let p = 0; p < b.length; rows++) {
    const end = rowEnd(b, p);
    expect(end).toBeGreaterThan(p);
    p = end;
  }
  return rows;
}

describe('COPY out in chunks of whole rows', () => {
  const url = () => connectionUrl(testSql());
  const statement = (n: number, width: number) =>
    `copy (select g as n, repeat(chr(65 + g % 26), ${width} + g % 50) as text, case when g % 7 = 0 then null else g::text end as maybe from generate_series(1, ${n}) g) to stdout (format binary)`;

  it('yields the rows the generic reader yields, cut only at rows\' ends, for small and large chunks', async () => {
    // The whole stream from the generic reader, without its header and its trailer (0xFFFF).
    const whole = concat(await collect(await copyOut(url(), statement(3000, 100))));
    const reference = whole.subarray(headerEnd(whole), whole.length - 2);
    expect(whole.subarray(whole.length - 2).equals(Buffer.from([0xff, 0xff]))).toBe(true);
    for (const target of [1, 64, 4096, 1 << 20]) {
      const chunks = await collect(await copyOutRows(url(), statement(3000, 100), {}, target));
      expect(concat(chunks).equals(reference), `target ${target}`).toBe(true);
      expect(chunks.reduce((n, c) => n + wholeRows(c), 0)).toBe(3000);
      // Each chunk is memory of its own (a worker thread can take it).
      expect(new Set(chunks.map((c) => c.buffer)).size).toBe(chunks.length);
    }
  });

  it('no rows at all, and rows larger than a chunk', async () => {
    expect(await collect(await copyOutRows(url(), statement(0, 10), {}, 64))).toEqual([]);
    const big = await collect(await copyOutRows(url(), statement(5, 200_000), {}, 1024));
    expect(big.reduce((n, c) => n + wholeRows(c), 0)).toBe(5);
  });

  it('an error in the middle of the COPY fails the read', async () => {
    const failing = `copy (select 1 / (2000 - g) from generate_series(1, 5000) g) to stdout (format binary)`;
    await expect(collect(await copyOutRows(url(), failing, {}, 256))).rejects.toThrow(/division by zero/);
  });
});
