// Entry point of the standalone verifier (bundled into oms-audit-verify.mjs).
import { main } from './verify-bundle.ts';
import { checkTestVectors } from './test-vectors.ts';

/** `--test-vectors DIR`: checks this verifier against the published test vectors instead of a bundle. */
function testVectors(dir: string): number {
  const { checks, failures } = checkTestVectors(dir);
  if (!failures.length) {
    console.log(`TEST VECTORS OK: ${checks} checks`);
    return 0;
  }
  console.log(`FAILED: ${failures.length} of ${checks} test vector checks`);
  for (const f of failures) console.log(`  - ${f}`);
  return 1;
}

const argv = process.argv.slice(2);
const at = argv.indexOf('--test-vectors');
(at !== -1 ? Promise.resolve().then(() => testVectors(argv[at + 1] ?? '.')) : main(argv)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`FAILED: ${(err as Error).message}`);
    process.exit(1);
  },
);
