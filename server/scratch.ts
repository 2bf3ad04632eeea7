/**
 * Scratch space for work on audit data that does not fit in memory (a month's
 * CSV stream and Parquet files while archiving, downloads for a restore or an
 * expiry check). It lives in <data dir>/scratch, mode 0700, never in the
 * shared temporary folder: other local users must not read a month of events.
 * Each piece of work gets its own folder named after the process, removed when
 * the work ends however it ends; folders left by a process that was killed
 * are removed at the next start of the server or the CLI.
 */
import { chmod, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { isAlive } from '@/server/pids.ts';
import type { Env } from '@/server/env.ts';
import { fromRoot } from '@/server/paths.ts';

export function scratchRoot(env: Pick<Env, 'OMS_AUDIT_DATA_DIR'>): string {
  return fromRoot(env.OMS_AUDIT_DATA_DIR, 'scratch');
}

/** The scratch root, created private (0700), and made private if it was not. */
async function privateRoot(root: string): Promise<string> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  await chmod(root, 0o700);
  return root;
}

/** A new private folder under `root` for one piece of work: `<label>.<pid>.<random>`. */
export async function scratchDir(root: string, label: string): Promise<string> {
  return mkdtemp(path.join(await privateRoot(root), `${label}.${process.pid}.`));
}

/** Runs `fn` with a private folder of its own, removed afterwards whatever happens. */
export async function withScratchDir<T>(root: string, label: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await scratchDir(root, label);
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const OWNER_PID = /^[a-z-]+\.(\d+)\./;

/**
 * Removes what processes that are gone left in the scratch folder (a killed
 * archive run's named pipe and Parquet files). Work of live processes (a CLI
 * beside the server) stays; so does anything of this process's pid, which at
 * start can only be left by an earlier process that had the same pid (in a
 * container, every start may get the same one) — it is removed too.
 */
export async function sweepScratch(env: Pick<Env, 'OMS_AUDIT_DATA_DIR'>, log: (line: string) => void = () => {}): Promise<string[]> {
  const root = scratchRoot(env);
  const entries = await readdir(root).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  await privateRoot(root);
  const removed: string[] = [];
  for (const entry of entries) {
    const pid = Number(OWNER_PID.exec(entry)?.[1] ?? 0);
    if (pid && pid !== process.pid && isAlive(pid)) continue;
    await rm(path.join(root, entry), { recursive: true, force: true });
    removed.push(entry);
  }
  if (removed.length) log(`removed scratch data left by stopped runs: ${removed.join(', ')}`);
  return removed;
}
