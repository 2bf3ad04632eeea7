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
import { associatedData, openedPersonalData, openValues, parseReference, personalOpenedCell, referencesOf, sealsOf, subjectRef, type PersonalOpenedCell } from '../supabase/functions/_shared/personal-data.ts';
import { PERSONAL_OPENED_COLUMN } from '../lib/export-formats.ts';
import { PersonalOpenedCheck, readSubjectKeys } from './personal-opened.ts';
import { canonicalJson } from '../supabase/functions/_shared/canonical-json.ts';

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

export interface PersonalDataVectors {
  description: string;
  tenant_id: string;
  index_key_hex: string;
  /** key_hex is null for an erased subject: its key was destroyed. */
  subjects: { subject_id: string; subject_ref: string; key_id: string; key_hex: string | null }[];
  /** One per subject and event: the values sealed together ({JSON pointer: value}), the AAD, the nonce, and the seal as stored. */
  seals: { event_id: string; subject_id: string; key_id: string; reference: string; values: Record<string, unknown>; plaintext: string; associated_data: string; nonce_hex: string; sealed: string }[];
}

export interface PersonalExportVectors {
  description: string;
  tenant_id: string;
  /** Key id → base64 data key of each subject not erased. */
  subject_keys: Record<string, string>;
  /** opened, masked: the personal_opened value (column version 2: {erased, values}). */
  rows: { event_id: string; seq: number; opened: PersonalOpenedCell; masked: PersonalOpenedCell; erased: string[]; csv_tail: string; jsonl_tail: string }[];
  manifest_opened: Record<string, unknown>;
  manifest_masked: Record<string, unknown>;
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

  // Personal data (version 3): subject refs, seals that open to their values, and the events holding each reference and seal.
  const personal = read<PersonalDataVectors>('personal-data.json');
  const indexKey = Buffer.from(personal.index_key_hex, 'hex');
  const subjects = new Map(personal.subjects.map((s) => [s.subject_id, s]));
  for (const s of personal.subjects) check(subjectRef(indexKey, s.subject_id) === s.subject_ref, `personal-data.json subject ${s.subject_id}: subject_ref differs`);
  const eventById = new Map(events.map((v) => [v.event.id, v.event]));
  for (const e of personal.seals) {
    const label = `personal-data.json ${e.event_id} ${e.subject_id}`;
    const subject = subjects.get(e.subject_id);
    const parsed = parseReference(e.reference);
    check(!!subject && !!parsed && parsed.subjectRef === subject.subject_ref && parsed.keyId === subject.key_id && e.key_id === subject.key_id, `${label}: the reference does not name its subject's ref and key`);
    check(associatedData(personal.tenant_id, e.event_id, e.key_id).toString('utf8') === e.associated_data, `${label}: associated data differs`);
    check(canonicalJson(e.values) === e.plaintext, `${label}: the plaintext is not the canonical JSON of the values`);
    check(Buffer.from(e.sealed, 'base64url').subarray(0, 12).toString('hex') === e.nonce_hex, `${label}: the seal does not begin with its nonce`);
    if (subject?.key_hex) {
      let opened: unknown;
      try {
        opened = openValues(e.sealed, Buffer.from(subject.key_hex, 'hex'), personal.tenant_id, e.event_id, e.key_id);
      } catch {
        opened = undefined;
      }
      check(opened !== undefined && canonicalJson(opened) === e.plaintext, `${label}: does not open to its values`);
    }
    const stored = eventById.get(e.event_id);
    check(!!stored && sealsOf(stored.personal)[e.key_id] === e.sealed, `${label}: events.json does not hold this seal in personal.sealed`);
    // Every place of the event holding this reference is a value of the seal, and only those.
    const places = stored ? referencesOf(stored).filter((r) => r.reference.keyId === e.key_id).map((r) => r.pointer).sort() : [];
    check(JSON.stringify(places) === JSON.stringify(Object.keys(e.values).sort()), `${label}: events.json holds the reference at ${places.join(', ')}, the seal has ${Object.keys(e.values).join(', ')}`);
  }

  // Opened and masked exports: each version 3 event's personal_opened value, and the rows as the verifier checks a bundle's.
  const exports = read<PersonalExportVectors>('personal-exports.json');
  const keys = readSubjectKeys(JSON.stringify(exports.subject_keys));
  const keyOf = (id: string) => keys.get(id) ?? null;
  for (const mode of ['opened', 'masked'] as const) {
    const rowCheck = new PersonalOpenedCheck(exports.tenant_id, mode === 'opened' ? exports.manifest_opened : exports.manifest_masked, keys);
    for (const [i, v] of events.entries()) {
      const opened = openedPersonalData(v.event, exports.tenant_id, keyOf, mode === 'masked');
      const row = exports.rows.find((r) => r.event_id === v.event.id);
      const label = `personal-exports.json ${v.event.id} (${mode})`;
      const cell = opened ? personalOpenedCell(opened) : null;
      check(row ? cell !== null && canonicalJson(cell) === canonicalJson(row[mode]) && canonicalJson(cell.erased) === canonicalJson(row.erased) : cell === null, `${label}: personal_opened differs`);
      if (row) check(row.csv_tail === `,"${canonicalJson(row.opened).replace(/"/g, '""')}"\r\n` && row.jsonl_tail === `,"personal_opened":${canonicalJson(row.opened)}}\n`, `${label}: the record tails differ`);
      rowCheck.check(i + 1, { ...v.event, [PERSONAL_OPENED_COLUMN]: cell });
    }
    for (const problem of rowCheck.finish()) check(false, `personal-exports.json (${mode}): ${problem}`);
  }
  return { checks, failures };
}
