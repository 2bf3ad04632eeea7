// Entry point of the standalone verifier (bundled into oms-audit-verify.mjs).
import { main } from './verify-bundle.ts';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`FAILED: ${(err as Error).message}`);
    process.exit(1);
  },
);
