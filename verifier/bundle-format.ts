/**
 * What an export bundle holds, shared by the server that writes it and the
 * verifier that checks it. docs/export-format.md is the normative
 * description, byte for byte.
 */

export const BUNDLE_VERSION = 2;

export const BUNDLE_FILES = {
  manifest: 'manifest.json',
  manifestSignature: 'manifest.sig',
  checkpoints: 'checkpoints.json',
  /** Version 1 only: leaves/<checkpoint>.hashes. */
  leavesDir: 'leaves',
  proofs: 'proofs.jsonl',
  publicKey: 'public-key.pem',
  verifier: 'verify.mjs',
  readme: 'README.txt',
} as const;

/** A line of proofs.jsonl: every leaf hash of a checkpoint, in seq order. */
export interface LeavesLine {
  type: 'leaves';
  checkpoint: number;
  /** Lower-case hex SHA-256, one per event of the checkpoint. */
  hashes: string[];
}

/** A line of proofs.jsonl: the audit path of one exported row. */
export interface ProofLine {
  type: 'proof';
  seq: number;
  checkpoint: number;
  /** seq - the checkpoint's seq_from. */
  leaf_index: number;
  /** Lower-case hex sibling hashes, from the leaf up (RFC 9162 §2.1.3). */
  audit_path: string[];
}

/** The export manifest as the bundle carries it (signed), with what the verifier needs. */
export interface BundleManifest {
  tenant_id: string;
  format: 'csv' | 'jsonl';
  excel: boolean;
  file_name: string;
  row_count: number;
  sha256: string;
  /** Row order: by occurred_at, then seq; `desc` newest first. */
  order?: 'asc' | 'desc';
  bundle: {
    version: 1 | 2;
    key_id: string;
    /**
     * Version 2: how many checkpoints have all their leaf hashes in proofs.jsonl.
     * Version 1: the numbers of the checkpoints whose leaves are in leaves/<number>.hashes.
     */
    leaves: number | number[];
    /** Version 2: how many audit paths proofs.jsonl holds. */
    proofs?: number;
    /** Version 2: checkpoints.json holds checkpoints first..last (null when the export is empty). */
    checkpoints?: { first: number | null; last: number | null };
    /** True when the export holds every event of seq_from..seq_to (no filters, nothing expired). */
    complete: boolean;
    seq_from: number | null;
    seq_to: number | null;
  };
  [key: string]: unknown;
}
