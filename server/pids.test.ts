/**
 * A pid file names a running process only while that very process runs: an
 * exited process its parent has not reaped yet (a zombie) counts as gone.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive, isSameProcess, processStartTime } from './pids.ts';

const started: number[] = [];
afterAll(() => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** A process whose child has exited and is never reaped: `exec sleep` replaces the shell that would have waited for it. */
async function zombie(): Promise<{ zombiePid: number; parentPid: number }> {
  const parent = spawn('sh', ['-c', 'sleep 0.05 & exec sleep 60'], { stdio: 'ignore' });
  started.push(parent.pid!);
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const children = readFileSync(`/proc/${parent.pid}/task/${parent.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    const zombiePid = children.find((pid) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z'));
    if (zombiePid) return { zombiePid, parentPid: parent.pid! };
  }
  throw new Error('no zombie appeared');
}

describe('isAlive', () => {
  it('counts a running process, and neither an exited-but-unreaped one nor a pid nobody has', async () => {
    const { zombiePid, parentPid } = await zombie();
    expect(isAlive(parentPid)).toBe(true);
    // Signal 0 still reaches a zombie: only its state tells it has exited.
    expect(() => process.kill(zombiePid, 0)).not.toThrow();
    expect(isAlive(zombiePid)).toBe(false);
    expect(isAlive(0)).toBe(false);
    expect(isAlive(2 ** 22 + 1)).toBe(false);
  });

  it('tells a reused pid from the process that wrote the file, by its start time', () => {
    const mine = processStartTime(process.pid);
    expect(mine).toMatch(/^\d+$/);
    expect(isSameProcess(process.pid, mine)).toBe(true);
    expect(isSameProcess(process.pid, String(Number(mine) + 1))).toBe(false);
  });
});
