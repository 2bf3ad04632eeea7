/**
 * Every benchmark in sequence — ingest, query, export, verify, retention, ingest
 * cost per index, write memory — each as its own process (as `npm run bench:<part>` runs it), then one
 * Markdown report with machine details, the sizes used, tables and SVG charts:
 * bench/results/<date>-report.md and bench/results/latest.md.
 *
 *   npm run bench                      full size (10M-event query load: allow an hour)
 *   npm run bench -- --quick           tiny sizes, no goals judged, a minute or two: CI runs it (.ci/run)
 *                                      so the benchmark code keeps working; results in bench/results/quick/
 *   npm run bench -- --only query,export
 *   npm run bench -- --report-only     rebuild the report from the newest results
 */
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PARTS, writeCombinedReport, type Part } from './report.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: process.env.BENCH_QUICK === '1' },
    only: { type: 'string' },
    'report-only': { type: 'boolean', default: false },
  },
});

const FULL: Record<Part, string[]> = {
  ingest: ['--seconds', '12'],
  query: ['--events', '10000000', '--queries', '200'],
  export: ['--rows', '1000000', '--rounds', '2'],
  verify: ['--events', '1000000'],
  retention: ['--events', '300000', '--queries', '200'],
  'ingest-cost': ['--batch', '1000', '--rounds', '12', '--preload', '200000'],
  'write-memory': [],
};
// Small enough that every code path runs in seconds; the figures mean nothing.
const QUICK: Record<Part, string[]> = {
  ingest: ['--seconds', '0.3'],
  query: ['--events', '20000', '--tenants', '4', '--queries', '3', '--naive-rows', '5000'],
  export: ['--rows', '5000', '--rounds', '1'],
  verify: ['--events', '5000'],
  retention: ['--events', '4000', '--queries', '3'],
  'ingest-cost': ['--batch', '200', '--rounds', '1', '--preload', '2000'],
  'write-memory': ['--shapes', '2'],
};
/** Node options a part needs. */
const NODE_OPTIONS: Partial<Record<Part, string[]>> = { 'write-memory': ['--expose-gc'] };

function run(part: Part, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(NODE_OPTIONS[part] ?? []), '--import', 'tsx', path.join('bench', `${part}.ts`), ...args], { stdio: 'inherit', env });
    child.on('error', reject);
    child.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`bench:${part} failed (${signal ?? `exit ${code}`})`))));
  });
}

async function main() {
  const dir = values.quick ? path.join('bench', 'results', 'quick') : path.join('bench', 'results');
  await mkdir(dir, { recursive: true });
  const parts = values.only ? (values.only.split(',') as Part[]) : [...PARTS];
  const unknown = parts.filter((p) => !PARTS.includes(p));
  if (unknown.length) throw new Error(`unknown part(s): ${unknown.join(', ')}; parts are ${PARTS.join(', ')}`);
  const sizes = values.quick ? QUICK : FULL;
  const started = performance.now();
  if (!values['report-only']) {
    for (const part of parts) {
      console.log(`\n=== bench:${part} ${sizes[part].join(' ')} ===`);
      await run(part, sizes[part], { ...process.env, BENCH_RESULTS_DIR: dir });
    }
  }
  const command = values['report-only'] ? 'npm run bench -- --report-only' : `npm run bench${values.quick ? ' -- --quick' : ''}${values.only ? ` -- --only ${values.only}` : ''}`;
  const used = Object.fromEntries(parts.map((p) => [p, sizes[p]]));
  const file = await writeCombinedReport(dir, command, values['report-only'] ? undefined : used);
  console.log(`\nreport: ${file} (${((performance.now() - started) / 60_000).toFixed(1)} min)`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
