/**
 * Incremental RFC 6962 Merkle root: push leaves in order, read the root at the
 * end, in O(log n) memory. Verification pushes the roots of the perfect
 * subtrees its hashing threads computed (pushSubtree, subtree-roots.ts), the
 * retention records one leaf per event, so nothing is allocated per leaf or
 * subtree: the stack is one flat buffer (32 bytes per level), a
 * leaf is copied in, and a node's SHA-256(0x01 ‖ left ‖ right) is taken from
 * one reused input buffer as a one-byte-per-character string (the cheapest
 * form Node returns) straight onto the stack. merkle.ts stays the reference
 * (root-builder.test.ts checks this against merkleRoot).
 */
import * as crypto from 'node:crypto';
import type { Hash } from '@/supabase/functions/_shared/merkle.ts';

/** Levels of the stack: enough for 2^64 leaves. */
const LEVELS = 64;

const oneShot = (crypto as unknown as { hash?: (alg: string, data: Uint8Array, enc: 'latin1') => string }).hash;
const sha256Latin1 = (data: Uint8Array): string => (oneShot ? oneShot('sha256', data, 'latin1') : crypto.createHash('sha256').update(data).digest('latin1' as 'base64'));

export class RootBuilder {
  /** Subtree roots, largest first; entry k is 32 bytes at 32·k. */
  private readonly hashes = new Uint8Array(32 * LEVELS);
  /** log2 of each entry's leaf count. */
  private readonly heights = new Uint8Array(LEVELS);
  /** 0x01 ‖ left ‖ right. */
  private readonly input = new Uint8Array(65).fill(1, 0, 1);
  private depth = 0;
  count = 0;

  /** The next leaf: an event hash (already the RFC 6962 leaf hash), the 32 bytes of `source` from `at`. */
  push(source: Uint8Array, at = 0) {
    this.pushSubtree(source, at, 0);
  }

  /**
   * The root of the next 2^height leaves (a perfect subtree, subtree-roots.ts),
   * the 32 bytes of `source` from `at`; the leaves pushed so far must be a
   * multiple of 2^height, as they are where RFC 6962's tree has such a subtree.
   */
  pushSubtree(source: Uint8Array, at: number, height: number) {
    if (this.count % 2 ** height !== 0) throw new Error(`a subtree of 2^${height} leaves cannot follow ${this.count} leaves`);
    this.count += 2 ** height;
    const { hashes, heights, input } = this;
    if (this.depth === 0 || heights[this.depth - 1] !== height) {
      // No neighbour to merge with: copied onto the stack.
      const to = 32 * this.depth;
      for (let i = 0; i < 32; i++) hashes[to + i] = source[at + i]!;
      heights[this.depth++] = height;
      return;
    }
    // Equal neighbours merge, leaving the node on the stack in the left one's place.
    for (let i = 0; i < 32; i++) input[33 + i] = source[at + i]!;
    for (;;) {
      const left = 32 * --this.depth;
      for (let i = 0; i < 32; i++) input[1 + i] = hashes[left + i]!;
      const node = sha256Latin1(input);
      height++;
      if (this.depth > 0 && heights[this.depth - 1] === height) {
        for (let i = 0; i < 32; i++) input[33 + i] = node.charCodeAt(i);
        continue;
      }
      for (let i = 0; i < 32; i++) hashes[left + i] = node.charCodeAt(i);
      heights[this.depth++] = height;
      return;
    }
  }

  /** The root over the leaves pushed so far (at least one). */
  root(): Hash {
    const { hashes, input } = this;
    let acc = hashes.slice(32 * (this.depth - 1), 32 * this.depth);
    for (let k = this.depth - 2; k >= 0; k--) {
      input.set(hashes.subarray(32 * k, 32 * k + 32), 1);
      input.set(acc, 33);
      const node = sha256Latin1(input);
      acc = new Uint8Array(32);
      for (let i = 0; i < 32; i++) acc[i] = node.charCodeAt(i);
    }
    return acc;
  }
}
