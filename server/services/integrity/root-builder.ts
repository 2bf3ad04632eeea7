/** Incremental RFC 6962 Merkle root: push leaves in order, read the root at the end, in O(log n) memory. */
import { nodeHash, type Hash } from '@/supabase/functions/_shared/merkle.ts';

export class RootBuilder {
  private readonly stack: { hash: Hash; size: number }[] = [];
  count = 0;
  /** The next leaf: an event hash (already the RFC 6962 leaf hash). */
  push(leaf: Uint8Array) {
    let node = { hash: leaf, size: 1 };
    this.count++;
    while (this.stack.length && this.stack[this.stack.length - 1]!.size === node.size) {
      const left = this.stack.pop()!;
      // nodeHash returns a fresh buffer each time; keep it, the stack outlives the call.
      node = { hash: nodeHash(left.hash, node.hash), size: left.size * 2 };
    }
    this.stack.push(node);
  }
  root(): Hash {
    let acc = this.stack[this.stack.length - 1]!.hash;
    for (let i = this.stack.length - 2; i >= 0; i--) acc = nodeHash(this.stack[i]!.hash, acc);
    return acc;
  }
}
