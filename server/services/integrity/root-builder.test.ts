/** The incremental Merkle root against the reference tree (merkle.ts) for every size around the powers of two. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { merkleRoot, toHex } from '@/supabase/functions/_shared/merkle.ts';
import { RootBuilder } from './root-builder.ts';

describe('the incremental Merkle root', () => {
  it('equals the reference root for 1 to 300 leaves and around 1024, leaves given in place or on their own', () => {
    const leaves = Array.from({ length: 1030 }, () => new Uint8Array(randomBytes(32)));
    const packed = new Uint8Array(32 * leaves.length + 7);
    leaves.forEach((l, i) => packed.set(l, 7 + 32 * i));
    for (const n of [...Array.from({ length: 300 }, (_, i) => i + 1), 1023, 1024, 1025, 1030]) {
      const own = new RootBuilder();
      const inPlace = new RootBuilder();
      for (let i = 0; i < n; i++) {
        own.push(leaves[i]!);
        inPlace.push(packed, 7 + 32 * i);
      }
      const expected = toHex(merkleRoot(leaves.slice(0, n)));
      expect(toHex(own.root()), `${n} leaves`).toBe(expected);
      expect(toHex(inPlace.root()), `${n} leaves in place`).toBe(expected);
      expect(own.count).toBe(n);
    }
  });
});
