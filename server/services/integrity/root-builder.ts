/**
 * Incremental RFC 6962 Merkle root: push leaves in order, read the root at the
 * end, in O(log n) memory. Verification pushes one leaf per event, so the stack
 * is one flat buffer (32 bytes per level) and a leaf is copied in, not kept.
 */
import { nodeHash, type Hash } from '@/supabase/functions/_shared/merkle.ts';

/** Levels of the stack: enough for 2^64 leaves. */
const LEVELS = 64;

export class RootBuilder {
  /** Subtree roots, largest first; entry k is 32 bytes at 32·k. */
  private readonly hashes = new Uint8Array(32 * LEVELS);
  /** log2 of each entry's leaf count. */
  private readonly heights = new Uint8Array(LEVELS);
  private depth = 0;
  count = 0;
  /** The next leaf: an event hash (already the RFC 6962 leaf hash), the 32 bytes of `source` from `at`. */
  push(source: Uint8Array, at = 0) {
    this.count++;
    const hashes = this.hashes;
    if (this.depth === 0 || this.heights[this.depth - 1] !== 0) {
      // No neighbour to merge with (every other leaf): copied onto the stack.
      const to = 32 * this.depth;
      for (let i = 0; i < 32; i++) hashes[to + i] = source[at + i]!;
      this.heights[this.depth++] = 0;
      return;
    }
    // Equal neighbours merge: SHA-256(0x01 ‖ left ‖ right).
    this.depth--;
    let node = nodeHash(hashes.subarray(32 * this.depth, 32 * this.depth + 32), source.subarray(at, at + 32));
    let height = 1;
    while (this.depth > 0 && this.heights[this.depth - 1] === height) {
      this.depth--;
      node = nodeHash(hashes.subarray(32 * this.depth, 32 * this.depth + 32), node);
      height++;
    }
    hashes.set(node, 32 * this.depth);
    this.heights[this.depth++] = height;
  }
  root(): Hash {
    let acc: Uint8Array = this.hashes.slice(32 * (this.depth - 1), 32 * this.depth);
    for (let i = this.depth - 2; i >= 0; i--) acc = nodeHash(this.hashes.subarray(32 * i, 32 * i + 32), acc);
    return acc;
  }
}
