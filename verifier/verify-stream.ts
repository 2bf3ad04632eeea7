/**
 * Stream mode of the standalone verifier: checks a receiver's copy of a log
 * stream (a folder of stored deliveries, any stream format) with only the
 * operator's public key:
 *
 *   node verify.mjs stream --public-key operator.pem  path/to/deliveries
 *   node verify.mjs stream --fingerprint <sha256 hex> path/to/deliveries
 *
 * It proves that every seq from the stream's start to the last one delivered
 * is present, that each event's hash is a leaf of a signed checkpoint, that
 * the checkpoints link into one chain, and that the batch headers are the
 * operator's. Duplicates (at-least-once delivery) are allowed when they are
 * the same event (same id, same hash). Exit code 0: verified; 1: not; 2: usage.
 */
import { createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { canonicalJson } from '../supabase/functions/_shared/canonical-json.ts';
import { checkpointBytes, checkpointHash, GENESIS_HASH, keyIdOf, type SignedCheckpoint } from '../supabase/functions/_shared/checkpoint.ts';
import { eventHash, type HashableEvent } from '../supabase/functions/_shared/event-hash.ts';
import { fromHex, merkleRoot, rootFromProof, toHex } from '../supabase/functions/_shared/merkle.ts';
import { decodeDelivery, statementOf, type BatchHeader, type EventProof } from './stream-format.ts';

export interface StreamVerifyResult {
  ok: boolean;
  stream_id: string | null;
  tenant_id: string | null;
  /** Every seq from `from_seq` to `to_seq` was found (null when nothing was delivered). */
  from_seq: number | null;
  to_seq: number | null;
  files: number;
  batches: number;
  /** Distinct events; `duplicates` counts further copies of them. */
  events: number;
  duplicates: number;
  checkpoints: number;
  /** The last checkpoint delivered, and whether all its events are in the copy. */
  last_checkpoint: { number: number; seq_from: number; seq_to: number; complete: boolean } | null;
  problems: string[];
}

class Problems {
  readonly list: string[] = [];
  add(message: string) {
    if (this.list.length < 50) this.list.push(message);
    else if (this.list.length === 50) this.list.push('… further problems not listed');
  }
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...filesUnder(full));
    else out.push(full);
  }
  return out;
}

function signatureValid(data: Buffer, key: KeyObject | undefined, signature: string): boolean {
  if (!key) return false;
  try {
    return verifySignature(null, data, key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

export async function verifyStream(dir: string, trusted: Map<string, KeyObject>, options: { streamId?: string; fromSeq?: number } = {}): Promise<StreamVerifyResult> {
  const problems = new Problems();
  const result: StreamVerifyResult = {
    ok: false, stream_id: options.streamId ?? null, tenant_id: null, from_seq: null, to_seq: null, files: 0, batches: 0,
    events: 0, duplicates: 0, checkpoints: 0, last_checkpoint: null, problems: problems.list,
  };
  let startSeq: number | null = null;
  const checkpoints = new Map<number, SignedCheckpoint>();
  const proofs = new Map<number, EventProof[]>();
  const events = new Map<number, { id: string; hash: string }>();
  const batchIds = new Set<string>();
  /** Each tenant named by an event, with the first event naming it. */
  const eventTenants = new Map<string, string>();

  // 1. Every delivery, in any stream format: headers and events.
  for (const file of filesUnder(dir)) {
    result.files++;
    const name = path.relative(dir, file);
    let decoded;
    try {
      decoded = decodeDelivery(readFileSync(file, 'utf8'));
    } catch (err) {
      problems.add(`${name}: cannot be read (${(err as Error).message})`);
      continue;
    }
    for (const where of decoded.unknown) problems.add(`${name}, ${where}: neither a batch header nor an audit event`);
    for (const header of decoded.headers) checkHeader(name, header);
    for (const event of decoded.events) {
      if (!eventTenants.has(event.tenant_id)) eventTenants.set(event.tenant_id, `${name}: event ${event.id} (seq ${event.seq})`);
      let hash: string;
      try {
        // The event as delivered, every field: the hash covers exactly what was stored.
        hash = eventHash(event as unknown as HashableEvent);
      } catch {
        problems.add(`${name}: event ${event.id} (seq ${event.seq}) cannot be read as an audit event`);
        continue;
      }
      const seen = events.get(event.seq);
      if (!seen) events.set(event.seq, { id: event.id, hash });
      else if (seen.id === event.id && seen.hash === hash) result.duplicates++;
      else if (seen.id !== event.id) problems.add(`${name}: seq ${event.seq} was delivered as two different events (${seen.id} and ${event.id})`);
      else problems.add(`${name}: event ${event.id} (seq ${event.seq}) was delivered twice with different contents`);
    }
  }

  function checkHeader(name: string, h: BatchHeader) {
    if (!batchIds.has(h.batch_id)) {
      batchIds.add(h.batch_id);
      result.batches++;
    }
    if (!signatureValid(Buffer.from(canonicalJson(statementOf(h))), trusted.get(h.key_id), h.signature)) {
      problems.add(`${name}: batch ${h.batch_id} is not signed by a trusted key (changed, or signed by another key)`);
      return;
    }
    result.stream_id ??= h.stream_id;
    if (h.stream_id !== result.stream_id) problems.add(`${name}: batch ${h.batch_id} belongs to stream ${h.stream_id}, not ${result.stream_id}`);
    result.tenant_id ??= h.tenant_id;
    if (h.tenant_id !== result.tenant_id) problems.add(`${name}: batch ${h.batch_id} belongs to another tenant`);
    startSeq ??= h.start_seq;
    if (h.start_seq !== startSeq) problems.add(`${name}: batch ${h.batch_id} says the stream starts at seq ${h.start_seq}, others say ${startSeq}`);
    for (const c of h.checkpoints) {
      const known = checkpoints.get(c.number);
      if (!known) checkpoints.set(c.number, c);
      else if (known.hash !== c.hash || canonicalJson(known) !== canonicalJson(c)) problems.add(`${name}: checkpoint ${c.number} differs from another copy of it`);
    }
    for (const p of h.proofs) proofs.set(p.seq, [...(proofs.get(p.seq) ?? []), p]);
  }

  result.events = events.size;
  for (const [tenant, first] of eventTenants) if (tenant !== result.tenant_id) problems.add(`${first} belongs to another tenant than the stream's batches`);
  if (events.size === 0) {
    if (result.batches === 0) problems.add('no delivery found: nothing to verify');
    result.ok = problems.list.length === 0 && result.batches > 0;
    return result;
  }

  // 2. The checkpoints: each unchanged, signed by a trusted key, linked to the one before, none missing.
  const chain = [...checkpoints.values()].sort((a, b) => a.number - b.number);
  result.checkpoints = chain.length;
  chain.forEach((c, i) => {
    if (c.tenant_id !== result.tenant_id) problems.add(`checkpoint ${c.number} belongs to another tenant`);
    if (checkpointHash(c) !== c.hash) problems.add(`checkpoint ${c.number} was changed: it no longer hashes to its recorded hash`);
    if (!signatureValid(checkpointBytes(c), trusted.get(c.key_id), c.signature)) problems.add(`checkpoint ${c.number} is not signed by a trusted key`);
    const prev = chain[i - 1];
    if (prev && c.number !== prev.number + 1) problems.add(`checkpoints ${prev.number + 1}–${c.number - 1} are missing`);
    else if (prev && (c.seq_from !== prev.seq_to + 1 || c.prev_hash !== prev.hash)) problems.add(`checkpoint ${c.number} does not follow checkpoint ${prev.number}`);
    if (c.number === 1 && c.prev_hash !== GENESIS_HASH) problems.add('checkpoint 1 does not start the chain');
  });
  const covering = (seq: number) => chain.find((c) => c.seq_from <= seq && seq <= c.seq_to) ?? null;

  // 3. Completeness: every seq from the stream's start to the last one delivered.
  const seqs = [...events.keys()].sort((a, b) => a - b).filter((seq) => options.fromSeq === undefined || seq >= options.fromSeq);
  const from = options.fromSeq ?? startSeq ?? seqs[0]!;
  const to = seqs.length ? seqs[seqs.length - 1]! : from - 1;
  result.from_seq = from;
  result.to_seq = to;
  let missing = 0;
  for (let seq = from; seq <= to; seq++) {
    if (!events.has(seq) && missing++ < 10) problems.add(`seq ${seq} is missing`);
  }
  if (missing > 10) problems.add(`… ${missing} events missing in all between seq ${from} and ${to}`);
  for (const seq of seqs) if (startSeq !== null && seq < startSeq) problems.add(`seq ${seq} precedes the stream's start (seq ${startSeq})`);

  // 4. Every event is a leaf of its checkpoint: a checkpoint whose events are all here must give
  //    its signed root from their recomputed hashes; other events need their audit path.
  const leafChecked = new Set<number>();
  for (const c of chain) {
    let all = true;
    for (let seq = c.seq_from; seq <= c.seq_to && all; seq++) all = events.has(seq);
    if (!all) continue;
    const leaves = [];
    for (let seq = c.seq_from; seq <= c.seq_to; seq++) leaves.push(fromHex(events.get(seq)!.hash));
    if (toHex(merkleRoot(leaves)) === c.merkle_root) {
      for (let seq = c.seq_from; seq <= c.seq_to; seq++) leafChecked.add(seq);
    }
  }
  for (const seq of seqs) {
    if (leafChecked.has(seq)) continue;
    const { id, hash } = events.get(seq)!;
    const c = covering(seq);
    if (!c) {
      problems.add(`seq ${seq} (event ${id}): no delivered checkpoint covers it`);
      continue;
    }
    const index = seq - c.seq_from;
    const proven = (proofs.get(seq) ?? []).some((p) => {
      if (p.checkpoint !== c.number || p.leaf_index !== index) return false;
      const root = rootFromProof(fromHex(hash), index, c.count, p.audit_path.map(fromHex));
      return root !== null && toHex(root) === c.merkle_root;
    });
    if (!proven) problems.add(`seq ${seq} (event ${id}) was modified or is not in checkpoint ${c.number}: its hash is not a leaf of the signed root`);
  }

  const last = chain[chain.length - 1];
  if (last) {
    let complete = true;
    for (let seq = Math.max(last.seq_from, from); seq <= last.seq_to && complete; seq++) complete = events.has(seq);
    result.last_checkpoint = { number: last.number, seq_from: last.seq_from, seq_to: last.seq_to, complete };
  }
  result.ok = problems.list.length === 0;
  return result;
}

function usage(): never {
  console.error('usage: node verify.mjs stream (--public-key FILE | --fingerprint SHA256HEX)... [--stream-id ID] [--from-seq N] [--json] DELIVERIES_DIRECTORY');
  process.exit(2);
}

/** The trusted keys: files given, or keys carried by the deliveries whose fingerprint was given. */
function trustedKeys(keyFiles: string[], fingerprints: string[], dir: string): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  for (const file of keyFiles) {
    const key = createPublicKey(readFileSync(file, 'utf8'));
    keys.set(keyIdOf(key), key);
  }
  if (fingerprints.length) {
    for (const file of filesUnder(dir)) {
      let decoded;
      try {
        decoded = decodeDelivery(readFileSync(file, 'utf8'));
      } catch {
        continue;
      }
      for (const h of decoded.headers) {
        if (keys.has(h.key_id) || !fingerprints.includes(h.key_id)) continue;
        try {
          const key = createPublicKey(h.public_key);
          if (keyIdOf(key) === h.key_id) keys.set(h.key_id, key);
        } catch {
          // A header whose key does not parse: its batch fails the signature check.
        }
      }
    }
  }
  return keys;
}

export async function main(argv: string[]): Promise<number> {
  const keyFiles: string[] = [];
  const fingerprints: string[] = [];
  let dir: string | undefined;
  let streamId: string | undefined;
  let fromSeq: number | undefined;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--public-key') keyFiles.push(argv[++i] ?? usage());
    else if (a === '--fingerprint') fingerprints.push((argv[++i] ?? usage()).toLowerCase().replace(/[^0-9a-f]/g, ''));
    else if (a === '--stream-id') streamId = argv[++i] ?? usage();
    else if (a === '--from-seq') {
      fromSeq = Number(argv[++i]);
      if (!Number.isInteger(fromSeq) || fromSeq < 1) usage();
    } else if (a === '--json') json = true;
    else if (a.startsWith('--') || dir) usage();
    else dir = a;
  }
  if (!dir || (!keyFiles.length && !fingerprints.length)) usage();
  const keys = trustedKeys(keyFiles, fingerprints, dir);
  const missingKeys = fingerprints.filter((f) => !keys.has(f));
  if (missingKeys.length) {
    console.log(`FAILED: no delivery carries the public key with fingerprint ${missingKeys.join(', ')}`);
    return 1;
  }
  const started = performance.now();
  const result = await verifyStream(dir, keys, { streamId, fromSeq });
  const seconds = (performance.now() - started) / 1000;
  if (json) {
    console.log(JSON.stringify(result));
    return result.ok ? 0 : 1;
  }
  if (!result.ok) {
    console.log(`FAILED: ${result.problems.length} problem(s)`);
    for (const p of result.problems) console.log(`  - ${p}`);
    return 1;
  }
  const last = result.last_checkpoint;
  const range = result.from_seq === null ? 'no events yet' : `every event of seq ${result.from_seq} to ${result.to_seq}`;
  console.log(
    `VERIFIED: stream ${result.stream_id}: ${range} present and unmodified (${result.events} events, ${result.duplicates} duplicate copies by id) ` +
      `under ${result.checkpoints} signed, linked checkpoints, in ${result.files} files, ${seconds.toFixed(1)} s.` +
      (last ? ` Last checkpoint ${last.number} (seq ${last.seq_from}–${last.seq_to}) ${last.complete ? 'delivered in full' : `delivered up to seq ${result.to_seq}`}.` : ''),
  );
  return 0;
}
