/** What an export bundle holds, shared by the server that writes it and the verifier that checks it. */

export const BUNDLE_FILES = {
  manifest: 'manifest.json',
  manifestSignature: 'manifest.sig',
  checkpoints: 'checkpoints.json',
  leavesDir: 'leaves',
  proofs: 'proofs.jsonl',
  publicKey: 'public-key.pem',
  verifier: 'verify.mjs',
  readme: 'README.txt',
} as const;

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
    version: 1;
    key_id: string;
    /** Checkpoints whose every leaf hash is in leaves/<number>.hashes (32 bytes each, in seq order). */
    leaves: number[];
    /** True when the export holds every event of seq_from..seq_to (no filters). */
    complete: boolean;
    seq_from: number | null;
    seq_to: number | null;
  };
  [key: string]: unknown;
}
