/**
 * Merkle trees as Certificate Transparency defines them (RFC 6962 §2.1, RFC 9162 §2.1):
 *   leaf  = SHA-256(0x00 ‖ leaf data)      — for us, the event hash (event-hash.ts)
 *   node  = SHA-256(0x01 ‖ left ‖ right)
 * For n leaves the left subtree holds the largest power of two below n. Any RFC 9162
 * implementation checks our roots and inclusion proofs, the leaf data being the
 * event's canonical JSON; the domain separation bytes keep a leaf from passing for a node.
 */
import * as crypto from 'node:crypto';

export type Hash = Uint8Array;

const oneShot = (crypto as { hash?: (alg: string, data: Uint8Array, enc: 'buffer') => Buffer }).hash;

export function sha256(...parts: Uint8Array[]): Hash {
  if (oneShot) return oneShot('sha256', parts.length === 1 ? parts[0]! : Buffer.concat(parts), 'buffer');
  const h = crypto.createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** SHA-256(0x00 ‖ data): a leaf over arbitrary leaf data. */
export const leafHash = (data: Uint8Array): Hash => sha256(new Uint8Array([0]), data);

const nodeInput = Buffer.alloc(65, 1);
/** SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Hash {
  nodeInput.set(left, 1);
  nodeInput.set(right, 33);
  return sha256(nodeInput);
}

/**
 * Root over leaf hashes (event hashes), bottom-up: pair neighbours, carry an odd last
 * node up unchanged. This builds exactly the RFC 6962 tree.
 */
export function merkleRoot(leaves: readonly Uint8Array[]): Hash {
  if (leaves.length === 0) return sha256(new Uint8Array(0));
  let level: readonly Hash[] = leaves;
  while (level.length > 1) {
    const next: Hash[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? nodeHash(level[i]!, level[i + 1]!) : level[i]!);
    level = next;
  }
  return level[0]!;
}

/** Inclusion proof (audit path) of leaf `index` among the leaf hashes, from the leaf up. */
export function inclusionProof(leaves: readonly Uint8Array[], index: number): Hash[] {
  if (index < 0 || index >= leaves.length) throw new RangeError(`leaf ${index} outside a tree of ${leaves.length}`);
  const path: Hash[] = [];
  let level: readonly Hash[] = leaves;
  let i = index;
  while (level.length > 1) {
    const sibling = i % 2 === 1 ? i - 1 : i + 1;
    if (sibling < level.length) path.push(level[sibling]!);
    const next: Hash[] = [];
    for (let j = 0; j < level.length; j += 2) next.push(j + 1 < level.length ? nodeHash(level[j]!, level[j + 1]!) : level[j]!);
    level = next;
    i = Math.floor(i / 2);
  }
  return path;
}

/**
 * Audit paths of several leaves of one tree: the levels are built once, then
 * each path is read in O(log n) (an export proves thousands of rows per tree).
 */
export function inclusionProofs(leaves: readonly Uint8Array[], indices: Iterable<number>): Map<number, Hash[]> {
  const levels: (readonly Hash[])[] = [leaves];
  while (levels[levels.length - 1]!.length > 1) {
    const level = levels[levels.length - 1]!;
    const next: Hash[] = [];
    for (let j = 0; j < level.length; j += 2) next.push(j + 1 < level.length ? nodeHash(level[j]!, level[j + 1]!) : level[j]!);
    levels.push(next);
  }
  const proofs = new Map<number, Hash[]>();
  for (const index of indices) {
    if (index < 0 || index >= leaves.length) throw new RangeError(`leaf ${index} outside a tree of ${leaves.length}`);
    const path: Hash[] = [];
    let i = index;
    for (let l = 0; l < levels.length - 1; l++) {
      const sibling = i % 2 === 1 ? i - 1 : i + 1;
      if (sibling < levels[l]!.length) path.push(levels[l]![sibling]!);
      i = Math.floor(i / 2);
    }
    proofs.set(index, path);
  }
  return proofs;
}

/** RFC 9162 §2.1.3.2: recomputes the root from a leaf hash and its audit path. */
export function rootFromProof(leaf: Uint8Array, index: number, treeSize: number, path: readonly Uint8Array[]): Hash | null {
  if (index < 0 || index >= treeSize) return null;
  let fn = index;
  let sn = treeSize - 1;
  let r: Hash = leaf;
  for (const p of path) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

export const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
export const fromHex = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'));

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
