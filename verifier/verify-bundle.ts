/**
 * oms-audit bundle verifier. Checks an export bundle offline, with only the
 * operator's public key, obtained out of band:
 *
 *   node verify.mjs --public-key operator.pem  path/to/bundle-directory
 *   node verify.mjs --fingerprint <sha256 hex> path/to/bundle-directory
 *   … --known-checkpoint FILE   (a signed checkpoint, or an oms-audit monitor state file)
 *
 * It proves that every exported row is unmodified and part of the operator's
 * signed chain of checkpoints, that the file is the one the operator signed
 * (no row added, dropped or reordered), and, for a complete export, that no
 * event of the covered range is missing. With a checkpoint known from before
 * (kept by a monitor, or from an earlier bundle), it also proves the bundle's
 * chain is the same history: the bundle's checkpoint of that number must be it,
 * else the operator re-signed a different history. Exit code 0: verified; 1: not.
 *
 * Built into one dependency-free file (verifier/oms-audit-verify.mjs) by
 * `npm run build:verifier`; the bundle carries that file as verify.mjs.
 */
import { createHash, createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parse as parseCsv } from 'csv-parse';
import { canonicalJson } from '../supabase/functions/_shared/canonical-json.ts';
import { checkpointBytes, checkpointHash, GENESIS_HASH, keyIdOf, type SignedCheckpoint } from '../supabase/functions/_shared/checkpoint.ts';
import { eventHash, isHashVersion, type HashableEvent } from '../supabase/functions/_shared/event-hash.ts';
import { fromHex, merkleRoot, rootFromProof, toHex } from '../supabase/functions/_shared/merkle.ts';
import { CLOCK_FLAG_COLUMN, clockFlagOf, eventValues, exportFormat, PERSONAL_OPENED_COLUMN, type ClockFlagLimits, type CsvCell, type ExportFormatSpec } from '../lib/export-formats.ts';
import { PersonalOpenedCheck, readSubjectKeys } from './personal-opened.ts';
import { BUNDLE_FILES, type BundleManifest, type LeavesLine, type ProofLine } from './bundle-format.ts';

export interface VerifyResult {
  ok: boolean;
  rows: number;
  checkpoints: number;
  problems: string[];
}

/** The seqs seen, one bit each over the manifest's seq range (a set for seqs outside it). */
class SeqSet {
  private readonly bits: Uint8Array;
  private readonly outside = new Set<number>();
  constructor(
    private readonly from: number | null,
    to: number | null,
  ) {
    this.bits = new Uint8Array(from !== null && to !== null && to >= from ? Math.ceil((to - from + 1) / 8) : 0);
  }
  private at(seq: number): number {
    return this.from === null ? -1 : seq - this.from;
  }
  has(seq: number): boolean {
    const i = this.at(seq);
    return i >= 0 && i < this.bits.length * 8 ? (this.bits[i >> 3]! & (1 << (i & 7))) !== 0 : this.outside.has(seq);
  }
  add(seq: number): void {
    const i = this.at(seq);
    if (i >= 0 && i < this.bits.length * 8) this.bits[i >> 3]! |= 1 << (i & 7);
    else this.outside.add(seq);
  }
}

class Failures {
  readonly list: string[] = [];
  add(message: string) {
    if (this.list.length < 50) this.list.push(message);
    else if (this.list.length === 50) this.list.push('… further problems not listed');
  }
}

function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}

/**
 * Reads the data file record by record, in file order, each as the event's
 * values and its clock flag (lib/export-formats.ts). `columns`: the file's, from
 * its manifest (files written before clock_flag existed lack that column).
 */
export async function* readRows(file: string, spec: ExportFormatSpec, columns: readonly string[] = spec.columns): AsyncGenerator<Record<string, unknown>> {
  if (spec.framing === 'jsonl') {
    const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
    for await (const line of lines) if (line) yield eventValues(spec, JSON.parse(line) as Record<string, unknown>, columns);
    return;
  }
  if (spec.framing !== 'csv') throw new Error(`${spec.label} files cannot be verified`);
  const parser = createReadStream(file).pipe(
    parseCsv({
      bom: spec.bom,
      delimiter: spec.delimiter,
      record_delimiter: spec.recordEnd,
      relax_column_count: false,
      // Whether a cell was quoted tells an empty string ("") from an absent value (nothing).
      cast: (value: string, context: { header: boolean; quoting: boolean }) => (context.header ? value : ({ text: value, quoted: context.quoting } satisfies CsvCell)),
      columns: (header: string[]) => {
        if (header.join() !== columns.join()) throw new Error(`the header is not the manifest's columns (${columns.join(spec.delimiter)})`);
        return header;
      },
    }),
  );
  for await (const record of parser as AsyncIterable<Record<string, CsvCell>>) yield eventValues(spec, record, columns);
}

/** The verified evidence of a bundle: leaf hashes of whole checkpoints, and audit paths of single rows. */
interface Evidence {
  leaves: Map<number, Buffer>;
  proofs: Map<number, { checkpoint: number; leaf_index: number; audit_path: string[] }>;
}

/** Evidence of a version 2 bundle: proofs.jsonl, one line per checkpoint's leaves or per row's audit path. */
async function readEvidence(dir: string, manifest: BundleManifest, byNumber: Map<number, SignedCheckpoint>, failures: Failures): Promise<Evidence> {
  const evidence: Evidence = { leaves: new Map(), proofs: new Map() };
  const addLeaves = (number: number, data: Buffer) => {
    const c = byNumber.get(number);
    const list = Array.from({ length: data.length / 32 }, (_, i) => data.subarray(i * 32, i * 32 + 32));
    if (!c) failures.add(`the leaves of checkpoint ${number} have no checkpoint in the bundle`);
    else if (data.length % 32 || list.length !== c.count || toHex(merkleRoot(list)) !== c.merkle_root) failures.add(`the leaves of checkpoint ${number} do not give its signed Merkle root`);
    else evidence.leaves.set(number, data);
  };
  if (manifest.bundle.version === 1) {
    for (const number of manifest.bundle.leaves as number[]) {
      const file = path.join(dir, BUNDLE_FILES.leavesDir, `${number}.hashes`);
      if (existsSync(file)) addLeaves(number, readFileSync(file));
      else failures.add(`the leaves of checkpoint ${number} are missing`);
    }
  }
  const file = path.join(dir, BUNDLE_FILES.proofs);
  if (!existsSync(file)) return evidence;
  let leafLines = 0;
  for await (const line of createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity })) {
    if (!line) continue;
    const entry = JSON.parse(line) as LeavesLine | ProofLine | Omit<ProofLine, 'type'>;
    if ('type' in entry && entry.type === 'leaves') {
      leafLines++;
      addLeaves(entry.checkpoint, Buffer.concat(entry.hashes.map((h) => Buffer.from(fromHex(h)))));
    } else {
      const p = entry as ProofLine;
      evidence.proofs.set(p.seq, p);
    }
  }
  if (manifest.bundle.version === 2 && (leafLines !== manifest.bundle.leaves || evidence.proofs.size !== manifest.bundle.proofs)) {
    failures.add(`proofs.jsonl holds ${leafLines} leaf sets and ${evidence.proofs.size} audit paths; the signed manifest says ${String(manifest.bundle.leaves)} and ${String(manifest.bundle.proofs)}`);
  }
  return evidence;
}

/** A checkpoint from a file: a signed checkpoint's JSON, or the checkpoint an oms-audit monitor state file remembers. */
export function readKnownCheckpoint(file: string): SignedCheckpoint {
  const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  return (json.format === 'oms-audit-monitor-state' ? json.checkpoint : json) as SignedCheckpoint;
}

/** Problems relating the bundle's chain to a checkpoint known from before (none when consistent). */
function knownCheckpointProblems(checkpoints: SignedCheckpoint[], known: SignedCheckpoint, trusted: KeyObject, tenantId: string): string[] {
  if (known.tenant_id !== tenantId) return [`the known checkpoint ${known.number} belongs to another tenant`];
  if (checkpointHash(known) !== known.hash || known.key_id !== keyIdOf(trusted) || !verifySignature(null, checkpointBytes(known), trusted, Buffer.from(known.signature, 'base64'))) {
    return [`the known checkpoint ${known.number} is not a checkpoint signed by the trusted key`];
  }
  const first = checkpoints[0];
  const last = checkpoints[checkpoints.length - 1];
  if (!first || !last) return [`the bundle holds no checkpoint to compare with the known checkpoint ${known.number}`];
  const same = checkpoints.find((c) => c.number === known.number);
  if (same) {
    return same.hash === known.hash
      ? []
      : [`the bundle's checkpoint ${known.number} (hash ${same.hash}) is not the known checkpoint ${known.number} (hash ${known.hash}): the bundle comes from a different, re-signed history`];
  }
  if (first.number === known.number + 1) {
    return first.prev_hash === known.hash ? [] : [`the bundle's checkpoint ${first.number} does not follow the known checkpoint ${known.number}: the bundle comes from a different history`];
  }
  return [
    known.number > last.number
      ? `the bundle's chain ends at checkpoint ${last.number}, before the known checkpoint ${known.number}: it cannot be shown to be the same history (export again, or use an earlier known checkpoint)`
      : `the bundle's chain starts at checkpoint ${first.number}, after the known checkpoint ${known.number}: it cannot be shown to be the same history`,
  ];
}

export async function verifyBundle(dir: string, trusted: KeyObject, options: { known?: SignedCheckpoint; subjectKeys?: Map<string, Buffer> } = {}): Promise<VerifyResult> {
  const failures = new Failures();
  const read = (name: string) => readFileSync(path.join(dir, name), 'utf8');
  const trustedId = keyIdOf(trusted);

  // 1. The manifest, signed by the operator: what was exported, and the file's hash.
  const manifest = JSON.parse(read(BUNDLE_FILES.manifest)) as BundleManifest;
  const manifestSignature = read(BUNDLE_FILES.manifestSignature).trim();
  if (!verifySignature(null, Buffer.from(canonicalJson(manifest)), trusted, Buffer.from(manifestSignature, 'base64'))) {
    failures.add(`manifest.json is not signed by the trusted key ${trustedId.slice(0, 16)}… (changed, or signed by another key)`);
    return { ok: false, rows: 0, checkpoints: 0, problems: failures.list };
  }

  if (manifest.bundle?.version !== 1 && manifest.bundle?.version !== 2) {
    failures.add(`bundle version ${String(manifest.bundle?.version)} is not one this verifier reads (1, 2)`);
    return { ok: false, rows: 0, checkpoints: 0, problems: failures.list };
  }

  // 2. The data file is the one the manifest describes.
  const dataFile = path.join(dir, manifest.file_name);
  if (!existsSync(dataFile)) failures.add(`the data file ${manifest.file_name} is missing`);
  else if ((await sha256File(dataFile)) !== manifest.sha256) failures.add(`${manifest.file_name} does not match the SHA-256 in the signed manifest (a row was edited, added, removed or moved)`);

  // 3. The checkpoints: each unchanged, signed by the trusted key, linked to the one before.
  const checkpoints = JSON.parse(read(BUNDLE_FILES.checkpoints)) as SignedCheckpoint[];
  checkpoints.forEach((c, i) => {
    if (c.tenant_id !== manifest.tenant_id) failures.add(`checkpoint ${c.number} belongs to another tenant`);
    if (checkpointHash(c) !== c.hash) failures.add(`checkpoint ${c.number} was changed: it no longer hashes to its recorded hash`);
    if (c.key_id !== trustedId || !verifySignature(null, checkpointBytes(c), trusted, Buffer.from(c.signature, 'base64'))) {
      failures.add(`checkpoint ${c.number} is not signed by the trusted key`);
    }
    const prev = checkpoints[i - 1];
    if (prev && (c.number !== prev.number + 1 || c.seq_from !== prev.seq_to + 1 || c.prev_hash !== prev.hash)) {
      failures.add(`checkpoint ${c.number} does not follow checkpoint ${prev.number}`);
    }
    if (!prev && c.number === 1 && c.prev_hash !== GENESIS_HASH) failures.add('checkpoint 1 does not start the chain');
  });
  if (options.known) for (const problem of knownCheckpointProblems(checkpoints, options.known, trusted, manifest.tenant_id)) failures.add(problem);
  const byNumber = new Map(checkpoints.map((c) => [c.number, c]));
  const covering = (seq: number) => {
    let lo = 0;
    let hi = checkpoints.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = checkpoints[mid]!;
      if (seq < c.seq_from) hi = mid - 1;
      else if (seq > c.seq_to) lo = mid + 1;
      else return c;
    }
    return null;
  };

  if (manifest.bundle.version === 2 && checkpoints.length && (checkpoints[0]!.number !== manifest.bundle.checkpoints?.first || checkpoints[checkpoints.length - 1]!.number !== manifest.bundle.checkpoints?.last)) {
    failures.add(`checkpoints.json does not hold checkpoints ${manifest.bundle.checkpoints?.first} to ${manifest.bundle.checkpoints?.last} as the signed manifest says`);
  }

  // 4. The evidence: whole checkpoints' leaves (checked against their signed roots once) and rows' audit paths.
  const { leaves, proofs } = await readEvidence(dir, manifest, byNumber, failures);

  // 5. Every row, in file order: its hash, recomputed from its cells, is a leaf of a signed checkpoint at its seq;
  //    rows follow (occurred_at, seq) in the manifest's order; no seq twice.
  let rows = 0;
  const seen = new SeqSet(manifest.bundle.seq_from, manifest.bundle.seq_to);
  const descending = manifest.order === 'desc';
  let previous: { occurred_at: string; seq: number } | null = null;
  if (existsSync(dataFile)) {
    let spec: ExportFormatSpec;
    try {
      spec = exportFormat(manifest.format, manifest.excel);
    } catch {
      failures.add(`the format ${manifest.format} cannot be verified`);
      return { ok: false, rows: 0, checkpoints: checkpoints.length, problems: failures.list };
    }
    const columns = Array.isArray(manifest.columns) ? (manifest.columns as string[]) : spec.columns;
    const clock = columns.includes(CLOCK_FLAG_COLUMN) ? (manifest.clock as ClockFlagLimits | undefined) : undefined;
    if (columns.includes(CLOCK_FLAG_COLUMN) && !clock) failures.add(`the file has a ${CLOCK_FLAG_COLUMN} column, but the signed manifest states no clock tolerance`);
    // Opened or masked personal data: a column beside the stored ones, checked against them and the manifest (never hashed).
    const personal = columns.includes(PERSONAL_OPENED_COLUMN) ? new PersonalOpenedCheck(manifest.tenant_id, manifest.personal as object | undefined, options.subjectKeys) : null;
    for await (const values of readRows(dataFile, spec, columns)) {
      rows++;
      const event = values as unknown as HashableEvent;
      const seq = values.seq as number;
      if (typeof seq !== 'number' || typeof event.occurred_at !== 'string') {
        failures.add(`row ${rows} cannot be read as an event`);
        continue;
      }
      if (event.tenant_id !== manifest.tenant_id) failures.add(`row ${rows} (seq ${seq}) belongs to another tenant`);
      if (seen.has(seq)) failures.add(`row ${rows}: seq ${seq} appears twice`);
      seen.add(seq);
      if (previous) {
        const after = event.occurred_at > previous.occurred_at || (event.occurred_at === previous.occurred_at && seq > previous.seq);
        if (after === descending) failures.add(`row ${rows} (seq ${seq}) is out of order: rows must follow (occurred_at, seq) ${descending ? 'descending' : 'ascending'}`);
      }
      previous = { occurred_at: event.occurred_at, seq };
      // The clock flag is not hashed: it must be what the row's times give under the manifest's tolerance.
      if (clock) {
        const expected = clockFlagOf(event.occurred_at, event.received_at, clock);
        if (values[CLOCK_FLAG_COLUMN] !== expected) {
          failures.add(`row ${rows} (seq ${seq}): ${CLOCK_FLAG_COLUMN} is ${JSON.stringify(values[CLOCK_FLAG_COLUMN])}, but its times under the manifest's tolerance give ${JSON.stringify(expected)}`);
        }
      }
      personal?.check(rows, values);
      if (!isHashVersion(event.schema_version)) {
        failures.add(`row ${rows} (seq ${seq}, event ${event.id}) claims schema version ${String(values.schema_version)}, which no event was written under`);
        continue;
      }
      const hash = fromHex(eventHash(event));
      const c = covering(seq);
      if (!c) {
        failures.add(`row ${rows} (seq ${seq}): no checkpoint in the bundle covers it`);
        continue;
      }
      const index = seq - c.seq_from;
      const all = leaves.get(c.number);
      if (all) {
        if (!all.subarray(index * 32, index * 32 + 32).equals(Buffer.from(hash))) failures.add(`row ${rows} (seq ${seq}, event ${event.id}) was modified: its hash is not the signed one`);
        continue;
      }
      const proof = proofs.get(seq);
      const root = proof && proof.checkpoint === c.number && proof.leaf_index === index ? rootFromProof(hash, index, c.count, proof.audit_path.map(fromHex)) : null;
      if (!root || toHex(root) !== c.merkle_root) failures.add(`row ${rows} (seq ${seq}, event ${event.id}) was modified or is not in checkpoint ${c.number}`);
    }
    for (const problem of personal?.finish() ?? []) failures.add(problem);
  }
  if (rows !== manifest.row_count) failures.add(`the file has ${rows} rows; the signed manifest says ${manifest.row_count}`);

  // 6. A complete export holds every event of its seq range.
  if (manifest.bundle.complete && manifest.bundle.seq_from !== null && manifest.bundle.seq_to !== null) {
    let missing = 0;
    for (let seq = manifest.bundle.seq_from; seq <= manifest.bundle.seq_to; seq++) {
      if (!seen.has(seq)) {
        if (missing++ < 10) failures.add(`seq ${seq} is missing from this complete export`);
      }
    }
    if (missing > 10) failures.add(`… ${missing} events missing in all`);
  }

  return { ok: failures.list.length === 0, rows, checkpoints: checkpoints.length, problems: failures.list };
}

function usage(): never {
  console.error('usage: node verify.mjs (--public-key FILE | --fingerprint SHA256HEX) [--known-checkpoint FILE] [--subject-keys FILE] BUNDLE_DIRECTORY\n       node verify.mjs stream (--public-key FILE | --fingerprint SHA256HEX) DELIVERIES_DIRECTORY\n       node verify.mjs --test-vectors TEST_VECTOR_DIRECTORY');
  process.exit(2);
}

export async function main(argv: string[]): Promise<number> {
  let keyFile: string | undefined;
  let fingerprint: string | undefined;
  let dir: string | undefined;
  let knownFile: string | undefined;
  let subjectKeysFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--public-key') keyFile = argv[++i];
    else if (argv[i] === '--known-checkpoint') knownFile = argv[++i];
    else if (argv[i] === '--subject-keys') subjectKeysFile = argv[++i];
    else if (argv[i] === '--fingerprint') fingerprint = argv[++i]?.toLowerCase().replace(/[^0-9a-f]/g, '');
    else dir = argv[i];
  }
  if (!dir || (!keyFile && !fingerprint)) usage();
  let key: KeyObject;
  if (keyFile) {
    key = createPublicKey(readFileSync(keyFile, 'utf8'));
  } else {
    // The bundle's copy of the key is used only if it is the one the fingerprint names.
    key = createPublicKey(readFileSync(path.join(dir, BUNDLE_FILES.publicKey), 'utf8'));
    if (keyIdOf(key) !== fingerprint) {
      console.error(`FAILED: the bundle's public key (${keyIdOf(key)}) is not the one with fingerprint ${fingerprint}`);
      return 1;
    }
  }
  const started = performance.now();
  const known = knownFile ? readKnownCheckpoint(knownFile) : undefined;
  const subjectKeys = subjectKeysFile ? readSubjectKeys(readFileSync(subjectKeysFile, 'utf8')) : undefined;
  const result = await verifyBundle(dir, key, { known, subjectKeys });
  const seconds = (performance.now() - started) / 1000;
  if (result.ok) {
    console.log(
      `VERIFIED: ${result.rows} rows against ${result.checkpoints} signed checkpoints (key ${keyIdOf(key).slice(0, 16)}…)` +
        (known ? `, consistent with the known checkpoint ${known.number}` : '') +
        ` in ${seconds.toFixed(1)} s`,
    );
    return 0;
  }
  console.log(`FAILED: ${result.problems.length} problem(s)`);
  for (const p of result.problems) console.log(`  - ${p}`);
  return 1;
}
