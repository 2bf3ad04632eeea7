// Entry point of the standalone verifier (bundled into oms-audit-verify.mjs): `verify.mjs … BUNDLE_DIR` checks an
// export bundle, `verify.mjs stream … DIR` a log stream's deliveries, `verify.mjs --test-vectors DIR` this verifier
// against the published test vectors.
import { main as verifyBundle } from './verify-bundle.ts';
import { main as verifyStream } from './verify-stream.ts';
import { checkTestVectors } from './test-vectors.ts';

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
const run =
  at !== -1 ? Promise.resolve().then(() => testVectors(argv[at + 1] ?? '.')) : argv[0] === 'stream' ? verifyStream(argv.slice(1)) : verifyBundle(argv);

run.then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`FAILED: ${(err as Error).message}`);
    process.exit(1);
  },
);
