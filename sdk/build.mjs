/**
 * Builds the @oms-audit/sdk package into dist/ (run by `npm pack` through
 * prepack, or `npm run build -w @oms-audit/sdk`):
 *
 * - JavaScript: ES modules for the browser entry (index.ts), the Node
 *   entry (index.node.ts) and the outbox (outbox/index.ts, Node only), with the shared event contract
 *   (supabase/functions/_shared) compiled in and the package's dependencies
 *   left as imports. No TypeScript loader is needed to use them.
 * - Types: the declarations of both entries, bundled by rollup-plugin-dts,
 *   including the server's tRPC AppRouter. Its server-side context mentions
 *   the database client; that type is replaced by an opaque stand-in
 *   (server-only.d.ts), so nothing of the server is shipped or needed.
 *
 * Afterwards it checks that the declarations import nothing but the package's
 * own dependencies.
 */
import { build } from 'esbuild';
import { readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rollup } from 'rollup';
import { dts } from 'rollup-plugin-dts';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const dist = path.join(here, 'dist');
const pkg = JSON.parse(await readFile(path.join(here, 'package.json'), 'utf8'));
const dependencies = Object.keys(pkg.dependencies);
// PostgreSQL clients the outbox opens a connection string with, whichever the OMS installed: never bundled.
const peers = Object.keys(pkg.peerDependencies ?? {});
const entries = { index: path.join(here, 'index.ts'), 'index.node': path.join(here, 'index.node.ts'), outbox: path.join(here, 'outbox', 'index.ts') };

await rm(dist, { recursive: true, force: true });

await build({
  entryPoints: entries,
  outdir: dist,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  // Dependencies are installed beside the package; Node built-ins come from the runtime.
  external: [...dependencies, ...dependencies.map((d) => `${d}/*`), ...peers, 'node:*'],
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const serverOnlyTypes = {
  name: 'server-only-types',
  resolveId: (id) => (id === 'postgres' ? path.join(here, 'server-only.d.ts') : null),
};
const types = await rollup({
  input: entries,
  plugins: [
    serverOnlyTypes,
    dts({
      tsconfig: path.join(root, 'tsconfig.json'),
      compilerOptions: { noEmit: false, declaration: true, emitDeclarationOnly: true, incremental: false, skipLibCheck: true, plugins: [] },
    }),
  ],
  // The server's own modules import Node built-ins; none of them reach the declarations (checked below).
  onwarn(warning, warn) {
    if (warning.code === 'UNRESOLVED_IMPORT' && warning.exporter?.startsWith('node:')) return;
    warn(warning);
  },
});
await types.write({ dir: dist, format: 'es', entryFileNames: '[name].d.ts', chunkFileNames: '[name]-[hash].d.ts' });
await types.close();

// The declarations may import only what an installed package has: its dependencies and its own files.
const problems = [];
for (const file of (await readdir(dist)).filter((f) => f.endsWith('.d.ts'))) {
  const text = await readFile(path.join(dist, file), 'utf8');
  for (const [, specifier] of text.matchAll(/(?:from|import)\s*['"]([^'"]+)['"]/g)) {
    if (specifier.startsWith('./')) continue;
    if (!dependencies.some((d) => specifier === d || specifier.startsWith(`${d}/`))) problems.push(`${file} imports ${specifier}`);
  }
  if (/reference types=/.test(text)) problems.push(`${file} references ambient types`);
}
if (problems.length) throw new Error(`The SDK's declarations reach outside the package:\n  ${problems.join('\n  ')}`);
