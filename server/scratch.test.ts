/**
 * Scratch space for audit data is private to oms-audit's OS user, lives under
 * the data directory, and what a killed process left there is removed at the
 * next start, while work of processes still running is kept.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scratchDir, scratchRoot, sweepScratch, withScratchDir } from './scratch.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'oms-audit-scratch-'));
  dirs.push(dir);
  return dir;
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

const mode = async (p: string) => (await stat(p)).mode & 0o777;

describe('scratch space', () => {
  it('is a 0700 folder under the data directory, and each piece of work gets its own, removed afterwards', async () => {
    const env = { OMS_AUDIT_DATA_DIR: await dataDir() };
    const root = scratchRoot(env);
    expect(root).toBe(path.join(env.OMS_AUDIT_DATA_DIR, 'scratch'));
    let seen = '';
    await expect(
      withScratchDir(root, 'export-2025-01', async (dir) => {
        seen = dir;
        expect(path.basename(dir)).toMatch(new RegExp(`^export-2025-01\\.${process.pid}\\.`));
        expect(await mode(root)).toBe(0o700);
        expect(await mode(dir)).toBe(0o700);
        await writeFile(path.join(dir, 'part.parquet'), 'rows');
        throw new Error('the upload failed');
      }),
    ).rejects.toThrow('the upload failed');
    expect(existsSync(seen)).toBe(false);
    expect(await readdir(root)).toEqual([]);
  });

  it('is made private again if it was not', async () => {
    const env = { OMS_AUDIT_DATA_DIR: await dataDir() };
    await mkdir(scratchRoot(env), { mode: 0o777 });
    await chmod(scratchRoot(env), 0o777);
    await scratchDir(scratchRoot(env), 'verify');
    expect(await mode(scratchRoot(env))).toBe(0o700);
  });

  it("sweeps what stopped processes left at the next start, and keeps a live process's work", async () => {
    const env = { OMS_AUDIT_DATA_DIR: await dataDir() };
    const root = scratchRoot(env);
    const gone = await deadPid();
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      const left = path.join(root, `export-2025-01.${gone}.aB3dE9`);
      await mkdir(path.join(left, 'parquet'), { recursive: true });
      await writeFile(path.join(left, 'parquet', 'tenant.parquet'), 'a month of events');
      const live = path.join(root, `restore.${sleeper.pid}.x1Y2z3`);
      await mkdir(live);
      // An earlier process with this very pid (a container restarting) cannot be running any more.
      const mine = path.join(root, `verify.${process.pid}.q7W8e9`);
      await mkdir(mine);

      const removed = await sweepScratch(env);
      expect(removed.sort()).toEqual([path.basename(left), path.basename(mine)].sort());
      expect(await readdir(root)).toEqual([path.basename(live)]);
      expect(await mode(root)).toBe(0o700);
    } finally {
      sleeper.kill();
    }
  });

  it('sweeps nothing and creates nothing harmful when there is no scratch folder yet', async () => {
    const env = { OMS_AUDIT_DATA_DIR: await dataDir() };
    expect(await sweepScratch(env)).toEqual([]);
    expect(await mode(scratchRoot(env))).toBe(0o700);
  });
});
