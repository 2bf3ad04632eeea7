/**
 * Export bundles a regulator checks offline (docs/integrity.md): one zip with
 * the exported file, its manifest signed with the operator's key, the signed
 * checkpoints covering the exported rows, what proves each row is a leaf of
 * them (all leaf hashes of a densely exported checkpoint, audit paths for
 * sparse rows), the public key, the standalone verifier and instructions.
 *
 * The data file is the export exactly as streamed (same bytes, same SHA-256 as
 * the export's manifest); its rows are read back once for their seqs.
 */
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse as parseCsv } from 'csv-parse';
import yazl from 'yazl';
import { canonicalJson } from '@/supabase/functions/_shared/canonical-json.ts';
import type { SignedCheckpoint } from '@/supabase/functions/_shared/checkpoint.ts';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { inclusionProofs, toHex } from '@/supabase/functions/_shared/merkle.ts';
import { fromRoot } from '@/server/paths.ts';
import type { ExportManifest, StartedExport } from '@/server/services/export.ts';
import { BUNDLE_FILES, type BundleManifest } from '@/verifier/bundle-format.ts';
import { ledgerHashes, listCheckpoints, sealTenant } from './checkpoints.ts';
import type { Signer } from './signing-key.ts';

/** A checkpoint ships all its leaf hashes when at least this share of its events is exported. */
const DENSE_SHARE = 1 / 8;

export interface Bundle {
  fileName: string;
  /** The zip's bytes; the temporary files are removed when it ends or is destroyed. */
  stream: Readable;
  manifest: BundleManifest;
}

/** The seqs of the exported rows, in file order. */
async function exportedSeqs(file: string, manifest: ExportManifest): Promise<number[]> {
  const seqs: number[] = [];
  if (manifest.format === 'jsonl') {
    const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
    for await (const line of lines) if (line) seqs.push(Number((JSON.parse(line) as { seq: number }).seq));
    return seqs;
  }
  const parser = createReadStream(file).pipe(parseCsv({ bom: true, delimiter: manifest.excel ? ';' : ',', columns: true }));
  for await (const record of parser as AsyncIterable<Record<string, string>>) seqs.push(Number(record.seq));
  return seqs;
}

/** Whether the export holds the tenant's whole trail: no filter, and no month kept only in an archive. */
async function isComplete(sql: Sql, manifest: ExportManifest): Promise<boolean> {
  if (Object.values(manifest.filters).some((v) => v !== undefined)) return false;
  const [archived] = await sql`
    select count(*)::int as n from oms_audit.archive_parts
    where tenant_id = ${manifest.tenant_id} and state in ('dropped', 'expiring', 'expired')`;
  return archived!.n === 0;
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
one it describes; every row recomputes to an event hash that is a leaf of a checkpoint
signed by that key; the checkpoints link into one chain; and, for a complete export, no
event of the range is missing. Do not trust public-key.pem in this folder unless its
fingerprint is the operator's.

Checks by hand, without the verifier:

    sha256sum ${manifest.file_name}                       # equals "sha256" in manifest.json
    openssl pkey -pubin -in public-key.pem -outform DER | sha256sum
                                                          # the key's fingerprint (SHA-256 of its DER form)
    # manifest.sig is an Ed25519 signature over the RFC 8785 canonical JSON of manifest.json;
    # each checkpoint's signature covers its canonical body (see docs/integrity.md).

With a checkpoint you know from before (an oms-audit monitor's state file, or a signed checkpoint
kept from an earlier bundle), also check that this bundle is the same history:

    node verify.mjs --public-key operator-public-key.pem --known-checkpoint monitor-state.json .

Files: manifest.json (+ manifest.sig), checkpoints.json, leaves/<checkpoint>.hashes (32-byte
leaf hashes in seq order), proofs.jsonl (audit paths of the other rows), public-key.pem, verify.mjs.
`;
}

/**
 * Builds the bundle of a started export: waits for the file, seals what is
 * not yet under a checkpoint, and zips the proofs with it.
 */
export async function bundleExport(sql: Sql, started: StartedExport, signer: Signer): Promise<Bundle> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'oms-audit-bundle-'));
  try {
    const dataFile = path.join(dir, 'data');
    await pipeline(started.stream, createWriteStream(dataFile));
    const exported = await started.done;
    if (exported.status !== 'complete') throw new Error(exported.error ?? 'The export did not complete');

    const tenantId = exported.tenant_id;
    const seqs = await exportedSeqs(dataFile, exported);
    await sealTenant(sql, tenantId, signer);
    const complete = await isComplete(sql, exported);
    const maxSeq = seqs.reduce((m, s) => Math.max(m, s), 0);
    const minSeq = complete ? 1 : seqs.reduce((m, s) => Math.min(m, s), Number.MAX_SAFE_INTEGER);

    // The contiguous run of checkpoints from the one covering the lowest exported seq to the newest, so a
    // checkpoint the recipient knows from before (a monitor's) can be found in the bundle's chain.
    let checkpoints: SignedCheckpoint[] = [];
    if (seqs.length) {
      const [range] = await sql`
        select min(number)::bigint as lo from oms_audit.checkpoints
        where tenant_id = ${tenantId} and seq_to >= ${minSeq} and seq_from <= ${maxSeq}`;
      checkpoints = await listCheckpoints(sql, tenantId, { fromNumber: Number(range!.lo) });
    }

    const zip = new yazl.ZipFile();
    const folder = exported.file_name.replace(/\.(csv|jsonl)$/, '-bundle');
    const leafNumbers: number[] = [];
    const proofLines: string[] = [];
    const sorted = [...seqs].sort((a, b) => a - b);
    let at = 0;
    for (const c of checkpoints) {
      if (c.seq_from > maxSeq) break;
      const inside: number[] = [];
      while (at < sorted.length && sorted[at]! <= c.seq_to) {
        if (sorted[at]! >= c.seq_from) inside.push(sorted[at]!);
        at++;
      }
      if (!inside.length && !complete) continue;
      const leaves = (await ledgerHashes(sql, tenantId, c.seq_from, c.seq_to)).map((l) => l.hash);
      if (complete || inside.length >= c.count * DENSE_SHARE) {
        leafNumbers.push(c.number);
        zip.addBuffer(Buffer.concat(leaves), `${folder}/${BUNDLE_FILES.leavesDir}/${c.number}.hashes`);
        continue;
      }
      const paths = inclusionProofs(leaves, inside.map((seq) => seq - c.seq_from));
      for (const seq of inside) {
        const index = seq - c.seq_from;
        proofLines.push(JSON.stringify({ seq, checkpoint: c.number, leaf_index: index, audit_path: paths.get(index)!.map(toHex) }));
      }
    }

    const manifest: BundleManifest = {
      ...(exported as unknown as Record<string, unknown>),
      tenant_id: tenantId,
      format: exported.format,
      excel: exported.excel,
      file_name: exported.file_name,
      row_count: exported.row_count ?? seqs.length,
      sha256: exported.sha256!,
      bundle: { version: 1, key_id: signer.keyId, leaves: leafNumbers, complete, seq_from: seqs.length ? minSeq : null, seq_to: seqs.length ? maxSeq : null },
    };
    zip.addFile(dataFile, `${folder}/${exported.file_name}`);
    zip.addBuffer(Buffer.from(JSON.stringify(manifest, null, 2) + '\n'), `${folder}/${BUNDLE_FILES.manifest}`);
    zip.addBuffer(Buffer.from(signer.sign(Buffer.from(canonicalJson(manifest))) + '\n'), `${folder}/${BUNDLE_FILES.manifestSignature}`);
    zip.addBuffer(Buffer.from(JSON.stringify(checkpoints, null, 2) + '\n'), `${folder}/${BUNDLE_FILES.checkpoints}`);
    if (proofLines.length) zip.addBuffer(Buffer.from(proofLines.join('\n') + '\n'), `${folder}/${BUNDLE_FILES.proofs}`);
    zip.addBuffer(Buffer.from(signer.publicKeyPem), `${folder}/${BUNDLE_FILES.publicKey}`);
    zip.addBuffer(readFileSync(fromRoot('verifier', 'oms-audit-verify.mjs')), `${folder}/${BUNDLE_FILES.verifier}`);
    zip.addBuffer(Buffer.from(readme(manifest, signer.keyId)), `${folder}/${BUNDLE_FILES.readme}`);
    zip.end();

    const out = new PassThrough();
    const cleanup = () => void rm(dir, { recursive: true, force: true });
    out.once('close', cleanup);
    out.once('end', cleanup);
    zip.outputStream.on('error', (err) => out.destroy(err)).pipe(out);
    return { fileName: `${folder}.zip`, stream: out, manifest };
  } catch (err) {
    started.stream.destroy();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
