/**
 * Checks the published test vectors (docs/test-vectors/) against this
 * implementation of the integrity format: every event's canonical JSON and
 * hash, every tree's root and inclusion proofs, every checkpoint's canonical
 * body, hash, signature, key id and link, and each event's proof up to its
 * signed root. The standalone verifier runs it too:
 *
 *   node verify.mjs --test-vectors docs/test-vectors
 *
 * so whoever relies on the verifier can see it agree with the published format.
 */
import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { checkpointBytes, checkpointHash, GENESIS_HASH, keyIdOf, type SignedCheckpoint } from '../supabase/functions/_shared/checkpoint.ts';
import { canonicalEventJson, eventHash, type HashableEvent } from '../supabase/functions/_shared/event-hash.ts';
import { fromHex, merkleRoot, rootFromProof, toHex } from '../supabase/functions/_shared/merkle.ts';

export interface EventVectors {
  description: string;
  vectors: { name: string; event: HashableEvent & { seq: number }; canonical_json: string; event_hash: string }[];
}

export interface TreeVectors {
  description: string;
  trees: { size: number; leaves: string[]; root: string; proofs: { leaf_index: number; audit_path: string[] }[] }[];
}

export interface CheckpointVectors {
  description: string;
  test_key: { seed_hex: string; public_key_pem: string; key_id: string };
  checkpoints: {
    canonical_json: string;
    checkpoint: SignedCheckpoint;
    inclusion: { seq: number; leaf_index: number; tree_size: number; audit_path: string[] }[];
  }[];
}

export interface VectorReport {
  checks: number;
  failures: string[];
}

export function checkTestVectors(dir: string): VectorReport {
  const read = <T>(name: string) => JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as T;
  const failures: string[] = [];
  let checks = 0;
  const check = (ok: boolean, what: string) => {
    checks++;
    if (!ok) failures.push(what);
  };

  const events = read<EventVectors>('events.json').vectors;
  for (const v of events) {
    check(canonicalEventJson(v.event) === v.canonical_json, `events.json "${v.name}": canonical JSON differs`);
    check(eventHash(v.event) === v.event_hash, `events.json "${v.name}": event hash differs`);
  }

  for (const tree of read<TreeVectors>('trees.json').trees) {
    const leaves = tree.leaves.map(fromHex);
    check(tree.leaves.length === tree.size && toHex(merkleRoot(leaves)) === tree.root, `trees.json size ${tree.size}: root differs`);
    for (const p of tree.proofs) {
      const root = rootFromProof(leaves[p.leaf_index]!, p.leaf_index, tree.size, p.audit_path.map(fromHex));
      check(root !== null && toHex(root) === tree.root, `trees.json size ${tree.size}: the proof of leaf ${p.leaf_index} does not lead to the root`);
    }
  }

  const vectors = read<CheckpointVectors>('checkpoints.json');
  const key = createPublicKey(vectors.test_key.public_key_pem);
  check(keyIdOf(key) === vectors.test_key.key_id, 'checkpoints.json: key_id is not the SHA-256 of the public key');
  const hashOf = new Map(events.map((v) => [v.event.seq, v.event_hash]));
  let prev: SignedCheckpoint | null = null;
  for (const { canonical_json: canonical, checkpoint: c, inclusion } of vectors.checkpoints) {
    const label = `checkpoints.json #${c.number}`;
    check(checkpointBytes(c).toString('utf8') === canonical, `${label}: canonical body differs`);
    check(checkpointHash(c) === c.hash, `${label}: hash differs`);
    check(verifySignature(null, Buffer.from(canonical, 'utf8'), key, Buffer.from(c.signature, 'base64')), `${label}: signature does not verify`);
    check(c.key_id === vectors.test_key.key_id, `${label}: signed by another key`);
    check(c.prev_hash === (prev ? prev.hash : GENESIS_HASH) && c.number === (prev?.number ?? 0) + 1 && c.seq_from === (prev?.seq_to ?? 0) + 1, `${label}: does not follow the checkpoint before`);
    const leaves = Array.from({ length: c.count }, (_, i) => fromHex(hashOf.get(c.seq_from + i) ?? ''));
    check(toHex(merkleRoot(leaves)) === c.merkle_root, `${label}: the event hashes of seq ${c.seq_from}–${c.seq_to} do not give its merkle_root`);
    for (const p of inclusion) {
      const root = rootFromProof(fromHex(hashOf.get(p.seq) ?? ''), p.leaf_index, p.tree_size, p.audit_path.map(fromHex));
      check(p.leaf_index === p.seq - c.seq_from && root !== null && toHex(root) === c.merkle_root, `${label}: the proof of seq ${p.seq} does not lead to its merkle_root`);
    }
    prev = c;
  }
  return { checks, failures };
}
