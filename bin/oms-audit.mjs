#!/usr/bin/env node
// The oms-audit command. Runs the TypeScript CLI through tsx, from any directory.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tsImport } from 'tsx/esm/api';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.env.OMS_AUDIT_ROOT ??= root;
const { main } = await tsImport('../cli/index.ts', { parentURL: import.meta.url, tsconfig: join(root, 'tsconfig.json') });
// Exit explicitly with the command's status, whatever connections or timers are still open.
process.exit(await main(process.argv.slice(2)));
