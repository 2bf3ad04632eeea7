/**
 * Builds the @oms-audit/sdk package into dist/ (run by `npm pack` through
 * prepack, or `npm run build -w @oms-audit/sdk`):
 *
 * - JavaScript: ES modules for the browser entry (index.ts), the Node
 *   entry (index.node.ts) and the outbox (outbox/index.ts, Node only), with the shared event contract
 *   (supabase/functions/_shared) compiled in and the package's dependencies
 *   left as imports. No TypeScript loader is needed to use them.
 * - CommonJS for `require()` (dist/*.cjs, one bundle per entry, all sharing
 *   dist/errors.cjs so their error classes are one), so CommonJS
 *   code on every supported Node loads it without require(esm); uuid, whose
 *   package is ES modules only, is compiled into these bundles.
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

// CommonJS: no code splitting in this format, so each entry is one bundle. The error classes are the
// exception: they are built once (dist/errors.cjs) and every entry requires that file, so an error
// thrown by `@oms-audit/sdk/outbox` is an `instanceof` the AuditClientError of `@oms-audit/sdk/node`.
const sharedErrors = path.join(here, 'errors.ts');
const requireSharedErrors = {
  name: 'require-shared-errors',
  setup(b) {
    b.onResolve({ filter: /errors\.ts$/ }, (args) => {
      if (args.kind === 'entry-point' || path.resolve(args.resolveDir, args.path) !== sharedErrors) return undefined;
      return { path: './errors.cjs', external: true };
    });
  },
};
await build({
  entryPoints: { ...entries, errors: sharedErrors },
  plugins: [requireSharedErrors],
  outdir: dist,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: [...dependencies.filter((d) => d !== 'uuid'), ...dependencies.filter((d) => d !== 'uuid').map((d) => `${d}/*`), ...peers, 'node:*'],
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
// The same declarations for the `require` condition (TypeScript reads .d.cts as CommonJS).
await types.write({ dir: dist, format: 'es', entryFileNames: '[name].d.cts', chunkFileNames: '[name]-[hash].d.cts' });
await types.close();

// The declarations may import only what an installed package has: its dependencies and its own files.
const problems = [];
for (const file of (await readdir(dist)).filter((f) => f.endsWith('.d.ts') || f.endsWith('.d.cts'))) {
  const text = await readFile(path.join(dist, file), 'utf8');
  for (const [, specifier] of text.matchAll(/(?:from|import)\s*['"]([^'"]+)['"]/g)) {
    if (specifier.startsWith('./')) continue;
    if (!dependencies.some((d) => specifier === d || specifier.startsWith(`${d}/`))) problems.push(`${file} imports ${specifier}`);
  }
  if (/reference types=/.test(text)) problems.push(`${file} references ambient types`);
}
if (problems.length) throw new Error(`The SDK's declarations reach outside the package:\n  ${problems.join('\n  ')}`);
