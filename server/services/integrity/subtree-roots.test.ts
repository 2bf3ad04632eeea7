/** Merkle roots combined from perfect subtree roots (as the hashing threads return them) against the reference tree (merkle.ts). */
import * as crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { merkleRoot, toHex } from '@/supabase/functions/_shared/merkle.ts';
import { RootBuilder } from './root-builder.ts';
import { subtreeRootsFactory } from './subtree-roots.ts';
import { rowCheckPool } from './hash-pool.ts';

const { nextHeight, subtreeRoots } = subtreeRootsFactory(crypto as never);
const STRIDE = 82;
const HASH_AT = 38;

/** Leaves in rows of STRIDE bytes after `pad` bytes, as a ledger chunk holds them. */
function rowsOf(leaves: Uint8Array[], pad: number): Uint8Array {
  const rows = new Uint8Array(pad + STRIDE * leaves.length);
  crypto.randomFillSync(rows);
  leaves.forEach((l, i) => rows.set(l, pad + STRIDE * i + HASH_AT));
  return rows;
}

/** The root of `leaves` cut into runs at `cuts` (leaf indexes), each run's subtree roots computed apart, then combined. */
function combined(leaves: Uint8Array[], cuts: number[]): string {
  const builder = new RootBuilder();
  const bounds = [0, ...cuts.filter((c) => c > 0 && c < leaves.length), leaves.length];
  for (let b = 0; b + 1 < bounds.length; b++) {
    const [first, end] = [bounds[b]!, bounds[b + 1]!];
    const pad = 5 + b;
    const roots = subtreeRoots(rowsOf(leaves.slice(first, end), pad), Float64Array.from([pad, end - first, first]), STRIDE, HASH_AT);
    let k = 0;
    for (let at = first, n = end - first; n > 0; k++) {
      const height = nextHeight(at, n);
      builder.pushSubtree(roots, 32 * k, height);
      at += 2 ** height;
      n -= 2 ** height;
    }
    expect(roots.length).toBe(32 * k);
  }
  expect(builder.count).toBe(leaves.length);
  return toHex(builder.root());
}

describe('Merkle roots from subtree roots', () => {
  const leaves = Array.from({ length: 2100 }, () => new Uint8Array(crypto.randomBytes(32)));

  it('equal the reference root however the leaves are cut into runs', () => {
    for (const n of [1, 2, 3, 5, 7, 8, 9, 31, 33, 100, 255, 256, 257, 1023, 1024, 1025, 2100]) {
      const expected = toHex(merkleRoot(leaves.slice(0, n)));
      expect(combined(leaves.slice(0, n), []), `${n} leaves in one run`).toBe(expected);
      expect(combined(leaves.slice(0, n), [1, 3, 4, 11, 64, 500, 1500]), `${n} leaves in runs`).toBe(expected);
      const random = Array.from({ length: 6 }, () => Math.floor(Math.random() * n)).sort((a, b) => a - b);
      expect(combined(leaves.slice(0, n), random), `${n} leaves cut at ${random}`).toBe(expected);
    }
  });

  it('take several segments of one chunk in order, and a changed leaf changes the root', () => {
    const rows = rowsOf(leaves.slice(0, 300), 0);
    const segments = Float64Array.from([0, 100, 0, 100 * STRIDE, 120, 100, 220 * STRIDE, 80, 220]);
    const roots = subtreeRoots(rows, segments, STRIDE, HASH_AT);
    const builder = new RootBuilder();
    let k = 0;
    for (let s = 0; s < segments.length; s += 3) {
      for (let at = segments[s + 2]!, n = segments[s + 1]!; n > 0; k++) {
        const height = nextHeight(at, n);
        builder.pushSubtree(roots, 32 * k, height);
        at += 2 ** height;
        n -= 2 ** height;
      }
    }
    expect(roots.length).toBe(32 * k);
    expect(toHex(builder.root())).toBe(toHex(merkleRoot(leaves.slice(0, 300))));
    rows[150 * STRIDE + HASH_AT + 7]! ^= 1;
    expect(toHex(subtreeRoots(rows, segments, STRIDE, HASH_AT))).not.toBe(toHex(roots));
  });

  it('are the same from the hashing threads, in the order asked, and the chunks come back whole', async () => {
    const pool = rowCheckPool(2);
    try {
      const chunks = [0, 1, 2, 3].map((c) => rowsOf(leaves.slice(500 * c, 500 * c + 500), c));
      const segments = chunks.map((_, c) => Float64Array.from([c, 200, 500 * c, c + 200 * STRIDE, 300, 500 * c + 200]));
      const expected = chunks.map((rows, c) => toHex(subtreeRoots(rows, segments[c]!, STRIDE, HASH_AT)));
      const copies = chunks.map((rows) => rows.slice());
      const back: Uint8Array[] = [];
      const roots = await Promise.all(chunks.map((rows, c) => pool.subtreeRoots(rows, segments[c]!, STRIDE, HASH_AT, (b) => (back[c] = b))));
      expect(roots.map(toHex)).toEqual(expected);
      expect(back.every((b, c) => Buffer.from(b).equals(copies[c]!))).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it('refuses a subtree where the tree has none (not aligned to its size)', () => {
    const builder = new RootBuilder();
    builder.push(leaves[0]!);
    expect(() => builder.pushSubtree(leaves[1]!, 0, 1)).toThrow(/cannot follow 1 leaves/);
  });
});
