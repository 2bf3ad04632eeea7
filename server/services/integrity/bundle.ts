/**
 * Export bundles a regulator checks offline (docs/export-format.md): one zip
 * with the exported file, the evidence that each row is a leaf of the
 * operator's signed checkpoints, those checkpoints, the export's manifest
 * signed with the operator's key, the public key, the standalone verifier and
 * instructions.
 *
 * The bundle streams. Its first entry is the data file, zipped as the export
 * produces it (the zip's first bytes leave at once); meanwhile the tenant is
 * sealed. Then the export's rows are walked again in seq order from the same
 * snapshot beside the tenant's checkpoints, one checkpoint at a time: all its
 * leaf hashes where that is smaller, else the audit path of each exported row
 * (proofs.jsonl). The checkpoints, the manifest and its signature close the
 * zip. Memory holds at most one checkpoint's leaves and rows, whatever the
 * export's size; nothing is written to disk.
 */
import { readFileSync } from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import yazl from 'yazl';
import { canonicalJson } from '@/supabase/functions/_shared/canonical-json.ts';
import type { SignedCheckpoint } from '@/supabase/functions/_shared/checkpoint.ts';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { inclusionProofs, toHex } from '@/supabase/functions/_shared/merkle.ts';
import { nowTimestamp } from '@/supabase/functions/_shared/timestamps.ts';
import { fromRoot } from '@/server/paths.ts';
import type { ExportEvidence, StartedExport } from '@/server/services/export.ts';
import { BUNDLE_FILES, BUNDLE_VERSION, type BundleManifest, type LeavesLine, type ProofLine } from '@/verifier/bundle-format.ts';
import { ledgerHashes, listCheckpoints, sealTenant } from './checkpoints.ts';
import type { Signer } from './signing-key.ts';

export interface Bundle {
  fileName: string;
  /** The zip's bytes. */
  stream: Readable;
  /** The signed manifest, once the zip is complete. */
  manifest: Promise<BundleManifest>;
}

/** Checkpoints read from the database at a time while walking. */
const CHECKPOINT_PAGE = 256;

/** Ships every leaf of a checkpoint when that is no larger than the rows' audit paths. */
export function shipsAllLeaves(exportedRows: number, checkpointSize: number): boolean {
  return exportedRows * Math.max(1, Math.ceil(Math.log2(checkpointSize))) >= checkpointSize;
}

/** The tenant's checkpoints from the one covering `fromSeq` on, in order, a page at a time. */
async function* checkpointsFrom(sql: Sql, tenantId: string, fromSeq: number): AsyncGenerator<SignedCheckpoint> {
  const [first] = await sql`select number from oms_audit.checkpoints where tenant_id = ${tenantId} and seq_to >= ${fromSeq} order by number limit 1`;
  if (!first) return;
  for (let number = Number(first.number); ; number += CHECKPOINT_PAGE) {
    const page = await listCheckpoints(sql, tenantId, { fromNumber: number, toNumber: number + CHECKPOINT_PAGE - 1 });
    yield* page;
    if (page.length < CHECKPOINT_PAGE) return;
  }
}

interface Walk {
  leaves: number;
  proofs: number;
  first: SignedCheckpoint | null;
  last: SignedCheckpoint | null;
  /** The chain in checkpoints.json ends at the tenant's newest checkpoint, so a checkpoint the recipient knows from before (a monitor's) is found in it. */
  chainEnd: number | null;
  minSeq: number | null;
  maxSeq: number | null;
  rows: number;
}

/** proofs.jsonl: for each checkpoint holding exported rows, its leaves or the rows' audit paths. */
async function* evidenceLines(sql: Sql, tenantId: string, evidence: ExportEvidence, lastSeq: number, walk: Walk): AsyncGenerator<Buffer> {
  const line = (value: LeavesLine | ProofLine) => Buffer.from(JSON.stringify(value) + '\n');
  async function* emit(c: SignedCheckpoint, inside: number[]): AsyncGenerator<Buffer> {
    walk.first ??= c;
    walk.last = c;
    const hashes = (await ledgerHashes(sql, tenantId, c.seq_from, c.seq_to)).map((l) => l.hash);
    if (hashes.length !== c.count) throw new Error(`checkpoint ${c.number} covers ${c.count} events but the ledger has ${hashes.length}`);
    if (evidence.complete || shipsAllLeaves(inside.length, c.count)) {
      walk.leaves++;
      yield line({ type: 'leaves', checkpoint: c.number, hashes: hashes.map(toHex) });
      return;
    }
    const paths = inclusionProofs(hashes, inside.map((seq) => seq - c.seq_from));
    for (const seq of inside) {
      walk.proofs++;
      yield line({ type: 'proof', seq, checkpoint: c.number, leaf_index: seq - c.seq_from, audit_path: paths.get(seq - c.seq_from)!.map(toHex) });
    }
  }

  if (evidence.complete) {
    // Every event of 1..lastSeq is in the file: every checkpoint up to lastSeq ships all its leaves.
    if (lastSeq > 0) {
      walk.minSeq = 1;
      walk.maxSeq = lastSeq;
      for await (const c of checkpointsFrom(sql, tenantId, 1)) {
        if (c.seq_from > lastSeq) break;
        yield* emit(c, []);
      }
      if (!walk.last || walk.last.seq_to < lastSeq) throw new Error(`no checkpoint covers seq ${lastSeq}: sealing did not complete`);
    }
    return;
  }

  let checkpoints: AsyncGenerator<SignedCheckpoint> | null = null;
  let current: SignedCheckpoint | null = null;
  let inside: number[] = [];
  for await (const batch of evidence.seqs()) {
    for (const seq of batch) {
      walk.rows++;
      walk.minSeq ??= seq;
      walk.maxSeq = seq;
      if (!current || seq > current.seq_to) {
        if (current && inside.length) yield* emit(current, inside);
        inside = [];
        checkpoints ??= checkpointsFrom(sql, tenantId, seq);
        // Checkpoints between two exported rows stay in the chain (checkpoints.json), with no evidence of their own.
        do {
          const next = await checkpoints.next();
          if (next.done) throw new Error(`no checkpoint covers seq ${seq}: sealing did not complete`);
          current = next.value;
        } while (current.seq_to < seq);
      }
      inside.push(seq);
    }
  }
  if (current && inside.length) yield* emit(current, inside);
}

/** checkpoints.json: the chain first..last, as a JSON array, one checkpoint per line. */
async function* checkpointsJson(sql: Sql, tenantId: string, walk: Walk): AsyncGenerator<Buffer> {
  yield Buffer.from('[');
  if (walk.first && walk.chainEnd !== null) {
    let n = 0;
    for (let number = walk.first.number; number <= walk.chainEnd; number += CHECKPOINT_PAGE) {
      const page = await listCheckpoints(sql, tenantId, { fromNumber: number, toNumber: Math.min(walk.chainEnd, number + CHECKPOINT_PAGE - 1) });
      yield Buffer.from(page.map((c) => `${n++ ? ',' : ''}\n${JSON.stringify(c)}`).join(''));
    }
  }
  yield Buffer.from('\n]\n');
}

function readme(manifest: BundleManifest, keyId: string): string {
  return `oms-audit export bundle
=======================

Tenant:     ${manifest.tenant_id}
Data file:  ${manifest.file_name} (${manifest.row_count} rows, SHA-256 ${manifest.sha256})
Signed by:  Ed25519 key ${keyId}
Complete:   ${manifest.bundle.complete ? `yes: every event of seq ${manifest.bundle.seq_from} to ${manifest.bundle.seq_to}` : 'no (a filtered export: each row is proven, the set is what the filters selected)'}

Verify with Node.js 20 or later, using the operator's public key obtained out of band
(GET /api/integrity/public-key on the operator's server, or their published statement):

    node verify.mjs --public-key operator-public-key.pem .
    node verify.mjs --fingerprint ${keyId} .

Exit code 0 and "VERIFIED" mean: the manifest is signed by that key; the data file is the
one it describes; its rows are in the order the manifest states; every row recomputes to an
event hash that is a leaf of a checkpoint signed by that key; the checkpoints link into one
chain; and, for a complete export, no event of the range is missing. Do not trust
public-key.pem in this folder unless its fingerprint is the operator's.

Checks by hand, without the verifier:

    sha256sum ${manifest.file_name}                       # equals "sha256" in manifest.json
    openssl pkey -pubin -in public-key.pem -outform DER | sha256sum
                                                          # the key's fingerprint (SHA-256 of its DER form)
    # manifest.sig is the base64 Ed25519 signature (and a newline) over the RFC 8785
    # canonical JSON of manifest.json; each checkpoint's signature covers its canonical body.

With a checkpoint you know from before (an oms-audit monitor's state file, or a signed checkpoint
kept from an earlier bundle), also check that this bundle is the same history:

    node verify.mjs --public-key operator-public-key.pem --known-checkpoint monitor-state.json .

${manifest.personal && (manifest.personal as { mode?: string }).mode !== 'stored' ? `Personal data: ${(manifest.personal as { mode: string }).mode}. The column personal_opened holds each event's personal
values (or "[personal]") and, apart, its erased fields, beside the stored columns the hashes cover;
manifest.json's "personal" lists every erased field too. Given the data keys of some subjects (a JSON object of key
id to base64 key), the verifier also checks their opened values against the seals:

    node verify.mjs --public-key operator-public-key.pem --subject-keys keys.json .

` : ''}Files: manifest.json (+ manifest.sig), checkpoints.json (the signed chain), proofs.jsonl (per
checkpoint: all its leaf hashes, or the audit paths of the exported rows), public-key.pem,
verify.mjs. The byte-level format: docs/export-format.md of oms-audit.
`;
}

/**
 * Builds the bundle of a started export (started with `bundle: true`) as it
 * streams. The export's manifest is completed when the zip's last byte has
 * been produced, before the reader sees the end; any failure ends the zip
 * stream with an error and fails the manifest.
 */
export function bundleExport(sql: Sql, started: StartedExport, signer: Signer): Bundle {
  const evidence = started.evidence;
  if (!evidence) throw new Error('bundleExport needs an export started with bundle: true');
  const folder = started.fileName.replace(/\.[a-z]+$/, '-bundle');
  const zip = new yazl.ZipFile();
  const out = new PassThrough({ highWaterMark: 256 * 1024 });
  let failed = false;
  const fail = (err: unknown) => {
    if (failed) return;
    failed = true;
    void evidence.finish({ error: err });
    started.stream.destroy();
    out.destroy(err instanceof Error ? err : new Error(String(err)));
  };
  started.stream.on('error', fail);
  zip.on('error', fail);
  zip.outputStream.on('error', fail);
  out.on('close', () => {
    if (!out.readableEnded) fail(new Error('The bundle was not read to its end'));
  });
  // The zip's end reaches the reader only once the manifest is recorded complete: a reader that has every byte finds it so.
  zip.outputStream.pipe(out, { end: false });
  // Fast deflate: the data compresses well even so, and the zip keeps up with the export.
  zip.addReadStream(started.stream, `${folder}/${started.fileName}`, { compressionLevel: 1 });

  // The export's snapshot is open: sealing now covers every row it can return.
  const sealed = sealTenant(sql, started.tenantId, signer);
  sealed.catch(() => {});

  const manifest = (async (): Promise<BundleManifest> => {
    const exported = await evidence.data;
    await sealed;
    const tenantId = exported.tenant_id;
    const lastSeq = await evidence.lastSeq();
    if (evidence.complete && exported.row_count !== lastSeq) {
      throw new Error(`the export holds ${exported.row_count} rows, but the tenant's ledger has ${lastSeq} events`);
    }
    const walk: Walk = { leaves: 0, proofs: 0, first: null, last: null, chainEnd: null, minSeq: null, maxSeq: null, rows: 0 };
    const proofs = Readable.from(evidenceLines(sql, tenantId, evidence, lastSeq, walk), { objectMode: false });
    const proofsDone = new Promise<void>((resolve, reject) => proofs.once('end', resolve).once('error', reject));
    proofs.on('error', fail);
    zip.addReadStream(proofs, `${folder}/${BUNDLE_FILES.proofs}`);
    await proofsDone;
    if (!evidence.complete && walk.rows !== exported.row_count) throw new Error(`the export wrote ${exported.row_count} rows, but ${walk.rows} were proven`);
    if (walk.first) {
      const [newest] = await sql`select max(number)::bigint as n from oms_audit.checkpoints where tenant_id = ${tenantId}`;
      walk.chainEnd = Number(newest!.n);
    }
    const chain = Readable.from(checkpointsJson(sql, tenantId, walk), { objectMode: false });
    chain.on('error', fail);
    zip.addReadStream(chain, `${folder}/${BUNDLE_FILES.checkpoints}`);

    exported.status = 'complete';
    exported.completed_at = nowTimestamp().iso;
    const signed: BundleManifest = {
      ...(exported as unknown as Record<string, unknown>),
      tenant_id: tenantId,
      format: exported.format as BundleManifest['format'],
      excel: exported.excel,
      file_name: exported.file_name,
      row_count: exported.row_count!,
      sha256: exported.sha256!,
      bundle: {
        version: BUNDLE_VERSION,
        key_id: signer.keyId,
        leaves: walk.leaves,
        proofs: walk.proofs,
        checkpoints: { first: walk.first?.number ?? null, last: walk.chainEnd },
        complete: evidence.complete,
        seq_from: walk.minSeq,
        seq_to: walk.maxSeq,
      },
    };
    zip.addBuffer(Buffer.from(JSON.stringify(signed, null, 2) + '\n'), `${folder}/${BUNDLE_FILES.manifest}`);
    zip.addBuffer(Buffer.from(signer.sign(Buffer.from(canonicalJson(signed))) + '\n'), `${folder}/${BUNDLE_FILES.manifestSignature}`);
    zip.addBuffer(Buffer.from(signer.publicKeyPem), `${folder}/${BUNDLE_FILES.publicKey}`);
    zip.addBuffer(readFileSync(fromRoot('verifier', 'oms-audit-verify.mjs')), `${folder}/${BUNDLE_FILES.verifier}`);
    zip.addBuffer(Buffer.from(readme(signed, signer.keyId)), `${folder}/${BUNDLE_FILES.readme}`);
    zip.outputStream.once('end', () => {
      if (failed) return;
      void evidence.finish({ bundle: { file_name: `${folder}.zip`, key_id: signer.keyId, complete: evidence.complete, seq_from: walk.minSeq, seq_to: walk.maxSeq } }).then(() => out.end(), fail);
    });
    zip.end();
    return signed;
  })();
  manifest.catch(fail);
  return { fileName: `${folder}.zip`, stream: out, manifest };
}
