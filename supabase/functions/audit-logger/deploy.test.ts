/**
 * What `supabase functions deploy audit-logger` uploads is complete: the
 * files the Supabase CLI would send (its import map, the function's
 * deno.json, and every file reached by following relative imports from the
 * entrypoint, as the CLI's upload does) are copied into an empty folder
 * outside the repository, where Deno type-checks them and serves the function
 * against the database, with its npm imports resolved through the function's
 * own deno.json from a node_modules holding only those packages (no network,
 * no cache). An import of anything else from the repository fails here.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { event, newTenant, testSql } from '@/test/fixtures.ts';
import { copyInstalledPackages } from '@/test/installed-packages.ts';
import { freePort } from '@/test/ports.ts';

const root = path.resolve(import.meta.dirname, '../../..');
const FUNCTION_DIR = 'supabase/functions/audit-logger';
const deno = path.join(root, 'node_modules', '.bin', 'deno');

/** The function's settings in supabase/config.toml (entrypoint and import map default to the function's folder). */
async function functionConfig(): Promise<{ verifyJwt: boolean; entrypoint: string; importMap: string; staticFiles: string[] }> {
  const toml = await readFile(path.join(root, 'supabase', 'config.toml'), 'utf8');
  const section = /^\[functions\.audit-logger\]\s*$([\s\S]*?)(?=^\[|(?![\s\S]))/m.exec(toml)?.[1] ?? '';
  const value = (key: string) => new RegExp(`^\\s*${key}\\s*=\\s*(.+)$`, 'm').exec(section)?.[1]?.trim();
  const unquote = (v: string | undefined) => v?.replace(/^"(.*)"$/, '$1');
  // Paths in config.toml are relative to the supabase/ folder.
  const inSupabase = (v: string | undefined) => (v ? path.posix.join('supabase', unquote(v)!) : undefined);
  return {
    verifyJwt: value('verify_jwt') !== 'false',
    entrypoint: inSupabase(value('entrypoint')) ?? `${FUNCTION_DIR}/index.ts`,
    importMap: inSupabase(value('import_map')) ?? `${FUNCTION_DIR}/deno.json`,
    staticFiles: value('static_files') ? (JSON.parse(value('static_files')!) as string[]) : [],
  };
}

// The CLI's rule (internal/functions/deploy/upload.go): from the entrypoint, follow every
// import/export … from '…' and import('…') whose target, after the import map, is a relative
// path with an extension; upload each file reached, plus the import map and static files.
const IMPORT = /(?:import|export)\s+(?:{[^{}]+}|.*?)\s*(?:from)?\s*['"](.*?)['"]|import\(\s*['"](.*?)['"]\)/gi;

async function uploadedFiles(entrypoint: string, importMap: Record<string, string>): Promise<string[]> {
  const seen = new Set<string>();
  const queue = [entrypoint];
  while (queue.length) {
    const current = queue.pop()!;
    if (seen.has(current)) continue;
    seen.add(current);
    const source = await readFile(path.join(root, current), 'utf8');
    for (const match of source.matchAll(IMPORT)) {
      let target = (match[1] || match[2] || '').trim();
      for (const [prefix, mapped] of Object.entries(importMap)) if (target.startsWith(prefix)) target = mapped + target.slice(prefix.length);
      if (!target.startsWith('./') && !target.startsWith('../')) continue;
      const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(current), target));
      if (path.posix.extname(resolved)) queue.push(resolved);
    }
  }
  return [...seen].sort();
}

let work: string;
let functionProcess: ChildProcess | undefined;
let files: string[];
let npmPackages: string[];

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'oms-audit-deploy-'));
  const config = await functionConfig();
  const importMap = JSON.parse(await readFile(path.join(root, config.importMap), 'utf8')) as { imports: Record<string, string> };
  files = [config.importMap, ...(await uploadedFiles(config.entrypoint, importMap.imports))];
  for (const file of files) {
    await mkdir(path.join(work, path.dirname(file)), { recursive: true });
    await copyFile(path.join(root, file), path.join(work, file));
  }
  // Supabase resolves npm: imports itself; here a node_modules beside the function's deno.json holds exactly them.
  npmPackages = Object.values(importMap.imports)
    .filter((spec) => spec.startsWith('npm:'))
    .map((spec) => /^npm:((?:@[^/]+\/)?[^@/]+)/.exec(spec)![1]!);
  // Deno's type check also reads Node's types for npm packages (postgres.js declares streams and sockets).
  copyInstalledPackages([...npmPackages, '@types/node'], path.join(work, FUNCTION_DIR));
});

afterAll(async () => {
  if (functionProcess && functionProcess.exitCode === null) {
    const exited = new Promise((resolve) => functionProcess!.once('exit', resolve));
    functionProcess.kill('SIGTERM');
    await exited;
  }
  if (work) await rm(work, { recursive: true, force: true });
});

/** Deno in the copied folder: its config is the function's own deno.json, its cache empty, no network. */
function denoArgs(command: 'check' | 'run'): string[] {
  return [command, '--config', path.join(work, FUNCTION_DIR, 'deno.json'), '--node-modules-dir=manual', '--no-lock'];
}
function denoEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: work, DENO_DIR: path.join(work, '.deno'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1', ...extra } as unknown as NodeJS.ProcessEnv;
}

describe('the audit-logger function as supabase functions deploy uploads it', () => {
  it('is the function folder’s code, its deno.json and the shared contract, nothing else of the repository', async () => {
    const config = await functionConfig();
    expect(config.verifyJwt).toBe(false);
    expect(files).toContain(`${FUNCTION_DIR}/deno.json`);
    expect(files).toContain(`${FUNCTION_DIR}/index.ts`);
    expect(files).toContain('supabase/functions/_shared/contract.ts');
    expect(files.filter((f) => !f.startsWith('supabase/functions/'))).toEqual([]);
    // Tests and the local runner are not part of the deployment.
    expect(files.filter((f) => /\.test\.ts$|\/local\.ts$/.test(f))).toEqual([]);
    expect(npmPackages.sort()).toEqual(['jose', 'postgres', 'uuid', 'zod']);
  });

  it('type-checks there under Deno', { timeout: 180_000 }, () => {
    const check = spawnSync(deno, [...denoArgs('check'), path.join(work, FUNCTION_DIR, 'index.ts')], { cwd: work, env: denoEnv(), encoding: 'utf8' });
    expect(check.status, `${check.stdout}\n${check.stderr}`).toBe(0);
    // Nothing was downloaded into Deno's (empty) cache.
    expect(existsSync(path.join(work, '.deno', 'npm')) ? readdirSync(path.join(work, '.deno', 'npm')) : []).toEqual([]);
  });

  it('serves events there, into the database', { timeout: 120_000 }, async () => {
    const t = await newTenant('deployed-function');
    const port = await freePort();
    let output = '';
    functionProcess = spawn(deno, [...denoArgs('run'), '--allow-net', '--allow-env', path.join(work, FUNCTION_DIR, 'index.ts')], {
      cwd: work,
      env: denoEnv({ DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`, SUPABASE_DB_URL: inject('databaseUrl'), TRUST_PROXY: 'false', API_KEY_CACHE_SECONDS: '0' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    functionProcess.stdout!.on('data', (d) => (output += d));
    functionProcess.stderr!.on('data', (d) => (output += d));
    const url = `http://127.0.0.1:${port}/functions/v1/audit-logger`;
    const deadline = Date.now() + 90_000;
    let res: Response | null = null;
    const events = Array.from({ length: 3 }, () => event({ id: randomUUID() }));
    while (!res) {
      if (functionProcess.exitCode !== null) throw new Error(`the function exited:\n${output}`);
      if (Date.now() > deadline) throw new Error(`the function did not answer:\n${output}`);
      res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' }, body: JSON.stringify({ events }) }).catch(() => null);
      if (!res) await new Promise((r) => setTimeout(r, 200));
    }
    expect(res.status, output).toBe(201);
    expect(await res.json()).toMatchObject({ created_count: 3, method: 'edge_function', ids: events.map((e) => e.id) });
    const stored = await testSql()`select id from public.audit_events where tenant_id = ${t.id}`;
    expect(new Set(stored.map((r) => r.id))).toEqual(new Set(events.map((e) => e.id)));
  });
});
