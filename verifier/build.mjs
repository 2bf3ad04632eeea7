// Builds verifier/oms-audit-verify.mjs: one dependency-free file a regulator runs with Node.
import { build } from 'esbuild';

const outfile = process.argv[2] ?? 'verifier/oms-audit-verify.mjs';

await build({
  entryPoints: ['verifier/cli.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node18',
  legalComments: 'inline',
  banner: {
    js: '#!/usr/bin/env node\n// oms-audit export bundle verifier. Usage: node verify.mjs (--public-key FILE | --fingerprint SHA256) BUNDLE_DIR\n// Log stream deliveries: node verify.mjs stream (--public-key FILE | --fingerprint SHA256) DELIVERIES_DIR\n// Generated from verifier/verify-bundle.ts and verifier/verify-stream.ts; no dependencies beyond Node.js 18+.',
  },
  logLevel: 'warning',
});
