// Entry point of the standalone verifier (bundled into oms-audit-verify.mjs):
// `verify.mjs … BUNDLE_DIR` checks an export bundle, `verify.mjs stream … DIR` a log stream's deliveries.
import { main as verifyBundle } from './verify-bundle.ts';
import { main as verifyStream } from './verify-stream.ts';

const argv = process.argv.slice(2);
const run = argv[0] === 'stream' ? verifyStream(argv.slice(1)) : verifyBundle(argv);

run.then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`FAILED: ${(err as Error).message}`);
    process.exit(1);
  },
);
