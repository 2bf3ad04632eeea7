import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inclusionProof, inclusionProofs, leafHash, merkleRoot, nodeHash, rootFromProof, sameBytes, sha256 } from './merkle.ts';

const hashes = (n: number) => Array.from({ length: n }, (_, i) => leafHash(new TextEncoder().encode(`event ${i}`)));

/** RFC 6962 §2.1 written as the recursive definition (over leaf hashes), to check the iterative code against. */
function mth(d: Uint8Array[]): Uint8Array {
  if (d.length === 0) return sha256(new Uint8Array(0));
  if (d.length === 1) return d[0]!;
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return nodeHash(mth(d.slice(0, k)), mth(d.slice(k)));
}

describe('Merkle tree (RFC 6962)', () => {
  it('hashes leaves and nodes with the RFC 6962 prefixes', () => {
    const data = new TextEncoder().encode('x');
    expect(Buffer.from(leafHash(data)).toString('hex')).toBe(createHash('sha256').update(Buffer.from([0])).update(data).digest('hex'));
    const [a, b] = hashes(2) as [Uint8Array, Uint8Array];
    expect(Buffer.from(nodeHash(a, b)).toString('hex')).toBe(createHash('sha256').update(Buffer.from([1])).update(a).update(b).digest('hex'));
  });

  it('builds the same root as the recursive definition for every size', () => {
    for (let n = 1; n <= 70; n++) expect(sameBytes(merkleRoot(hashes(n)), mth(hashes(n))), `n=${n}`).toBe(true);
  });

  it('gives inclusion proofs that verify for every leaf, and only for that leaf and root', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.nat(), (n, pick) => {
        const leaves = hashes(n);
        const index = pick % n;
        const root = merkleRoot(leaves);
        const path = inclusionProof(leaves, index);
        expect(path.length).toBeLessThanOrEqual(Math.ceil(Math.log2(n)));
        expect(sameBytes(rootFromProof(leaves[index]!, index, n, path)!, root)).toBe(true);
        const other = (index + 1) % n;
        if (other !== index) {
          const wrong = rootFromProof(leaves[other]!, index, n, path);
          expect(wrong && sameBytes(wrong, root)).toBeFalsy();
        }
      }),
      { numRuns: 200 },
    );
  });

  it('gives the same audit paths for many leaves at once as one by one', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.array(fc.nat(), { minLength: 1, maxLength: 20 }), (size, picks) => {
        const leaves = Array.from({ length: size }, (_, i) => leafHash(new TextEncoder().encode(`event ${i}`)));
        const indices = picks.map((p) => p % size);
        const all = inclusionProofs(leaves, indices);
        const root = merkleRoot(leaves);
        for (const index of indices) {
          expect(all.get(index)!.map((h) => Buffer.from(h).toString('hex'))).toEqual(inclusionProof(leaves, index).map((h) => Buffer.from(h).toString('hex')));
          expect(sameBytes(rootFromProof(leaves[index]!, index, size, all.get(index)!)!, root)).toBe(true);
        }
      }),
      { numRuns: 60, seed: 6962 },
    );
  });

  it('rejects a proof for the wrong position or tree size', () => {
    const leaves = hashes(11);
    const root = merkleRoot(leaves);
    const path = inclusionProof(leaves, 4);
    expect(sameBytes(rootFromProof(leaves[4]!, 5, 11, path) ?? new Uint8Array(), root)).toBe(false);
    // The same path checked against a 12-leaf tree does not reach that tree's root.
    expect(sameBytes(rootFromProof(leaves[4]!, 4, 12, path) ?? new Uint8Array(), merkleRoot([...leaves, leaves[0]!]))).toBe(false);
    expect(rootFromProof(leaves[4]!, 11, 11, path)).toBeNull();
  });
});
