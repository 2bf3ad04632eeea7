/**
 * Named pipes between PostgreSQL's COPY, DuckDB and Node: data flows as it is
 * produced, with no temporary file. Opening one end of a pipe blocks until
 * the other end is opened, so whoever gives up must let a blocked peer go —
 * now, or later if the peer had not reached its open() yet.
 */
import { spawnSync } from 'node:child_process';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** A named pipe at `file`; false where the OS has none (Windows) or mkfifo is missing. */
export function makeFifo(file: string): boolean {
  if (process.platform === 'win32') return false;
  return spawnSync('mkfifo', ['-m', '600', file], { stdio: 'ignore' }).status === 0;
}

/** Opens and closes the pipe's reading end: a writer blocked in open() proceeds, then fails with EPIPE. */
export async function releasePipe(file: string): Promise<void> {
  const reader = await open(file, constants.O_RDONLY | constants.O_NONBLOCK).catch(() => null);
  await reader?.close();
}

/** Opens and closes the pipe's writing end: a reader blocked in open() proceeds and reads the end. */
export async function releaseReader(file: string): Promise<void> {
  const writer = await open(file, constants.O_WRONLY | constants.O_NONBLOCK).catch(() => null);
  await writer?.close();
}

/** Lets the peer of `file` go, as often as needed, until `settled` (the peer's work) settles. */
export async function releaseUntil(file: string, peer: 'writer' | 'reader', settled: Promise<unknown>): Promise<void> {
  let done = false;
  const watched = settled.then(
    () => (done = true),
    () => (done = true),
  );
  while (!done) {
    await (peer === 'writer' ? releasePipe(file) : releaseReader(file));
    await Promise.race([watched, sleep(50)]);
  }
}
