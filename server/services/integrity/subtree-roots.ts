/**
 * Roots of perfect Merkle subtrees over runs of leaves that sit at a fixed
 * stride in a chunk of rows (the ledger's binary COPY rows, an event hash in
 * each), so that verification's hashing threads build the Merkle roots of the
 * checkpoints while the main thread only combines a few subtree roots per chunk
 * (RootBuilder.pushSubtree). Each run of leaves [first, first + n) of a tree is
 * cut into the largest subtrees aligned to their own size — exactly the
 * subtrees RFC 6962's tree has there — so that the combined root is the one
 * merkle.ts computes (subtree-roots.test.ts checks it).
 *
 * `subtreeRootsFactory` is self-contained (no imports, no module-level helpers):
 * hash-pool.ts ships its source text to the worker threads.
 */
interface CryptoLike {
  hash?: (algorithm: string, data: Uint8Array, encoding: 'latin1') => string;
  createHash: (algorithm: string) => { update(data: Uint8Array): { digest(encoding: 'latin1'): string } };
}

/** A segment of a chunk, three numbers in `segments`: byte offset of its first row, rows, the first row's leaf index in its tree. */
export const SEGMENT_FIELDS = 3;

export function subtreeRootsFactory(crypto: CryptoLike) {
  const oneShot = crypto.hash;
  const sha256 = (data: Uint8Array): string => (oneShot ? oneShot('sha256', data, 'latin1') : crypto.createHash('sha256').update(data).digest('latin1'));
  /** 0x01 ‖ left ‖ right. */
  const input = new Uint8Array(65);
  input[0] = 1;
  let level = new Uint8Array(32 * 1024);

  /** Height of the largest subtree that starts at leaf `first`, is aligned to its size and holds at most `n` leaves. */
  function nextHeight(first: number, n: number): number {
    let h = 0;
    while (2 ** (h + 1) <= n && first % 2 ** (h + 1) === 0) h++;
    return h;
  }

  /** How many subtrees the segments are cut into. */
  function subtreeCount(segments: Float64Array): number {
    let total = 0;
    for (let s = 0; s < segments.length; s += 3) {
      for (let first = segments[s + 2]!, n = segments[s + 1]!; n > 0; total++) {
        const size = 2 ** nextHeight(first, n);
        first += size;
        n -= size;
      }
    }
    return total;
  }

  /** Root of the perfect subtree over `size` leaves (a power of two) from byte `p`, `stride` apart, into out[outAt, outAt + 32). */
  function perfectRoot(bytes: Uint8Array, p: number, stride: number, size: number, out: Uint8Array, outAt: number) {
    if (size === 1) {
      for (let i = 0; i < 32; i++) out[outAt + i] = bytes[p + i]!;
      return;
    }
    if (level.length < 16 * size) level = new Uint8Array(16 * size);
    // The lowest nodes, straight from the rows.
    for (let k = 0, q = p; k < size / 2; k++, q += 2 * stride) {
      for (let i = 0; i < 32; i++) input[1 + i] = bytes[q + i]!;
      for (let i = 0, r = q + stride; i < 32; i++) input[33 + i] = bytes[r + i]!;
      const node = sha256(input);
      for (let i = 0, to = 32 * k; i < 32; i++) level[to + i] = node.charCodeAt(i);
    }
    // Then level by level, in place.
    for (let width = size / 2; width > 1; width /= 2) {
      for (let k = 0; k < width / 2; k++) {
        for (let i = 0, from = 64 * k; i < 64; i++) input[1 + i] = level[from + i]!;
        const node = sha256(input);
        for (let i = 0, to = 32 * k; i < 32; i++) level[to + i] = node.charCodeAt(i);
      }
    }
    for (let i = 0; i < 32; i++) out[outAt + i] = level[i]!;
  }

  /**
   * The subtree roots of each segment in order, 32 bytes each: leaf j of a
   * segment is the 32 bytes at segment offset + j·stride + hashAt.
   */
  function subtreeRoots(bytes: Uint8Array, segments: Float64Array, stride: number, hashAt: number): Uint8Array {
    const out = new Uint8Array(32 * subtreeCount(segments));
    let k = 0;
    for (let s = 0; s < segments.length; s += 3) {
      let p = segments[s]! + hashAt;
      for (let first = segments[s + 2]!, n = segments[s + 1]!; n > 0; k++) {
        const size = 2 ** nextHeight(first, n);
        perfectRoot(bytes, p, stride, size, out, 32 * k);
        p += size * stride;
        first += size;
        n -= size;
      }
    }
    return out;
  }

  return { nextHeight, subtreeRoots };
}
