/**
 * Whether a process named by a pid file is still running. A process that has
 * exited but not been reaped by its parent (a zombie) still answers signal 0,
 * and a pid can be reused by an unrelated process after a crash: on Linux both
 * are told apart through /proc, so a dead server never blocks the next start.
 */
import { readFileSync } from 'node:fs';

/** Fields of /proc/<pid>/stat after the command name: state is the first, start time (clock ticks since boot) the 20th. */
function procStat(pid: number): { state: string; startTime: string } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name is in parentheses and may itself hold spaces or parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', startTime: fields[19] ?? '' };
}

const hasProc = (() => {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
})();

/** When the process started (Linux: clock ticks since boot), or null where this cannot be told. */
export function processStartTime(pid: number): string | null {
  return hasProc ? (procStat(pid)?.startTime ?? null) : null;
}

/** Whether a process is still running: exited-but-unreaped (zombie) processes count as gone. */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it runs, as another user (PostgreSQL as the OS user postgres).
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (!hasProc) return true;
  const stat = procStat(pid);
  return stat !== null && stat.state !== 'Z' && stat.state !== 'X';
}

/** Whether `pid` is still the very process that was started at `startTime` (not a reuse of its pid). */
export function isSameProcess(pid: number, startTime: string | null): boolean {
  if (!isAlive(pid)) return false;
  if (!startTime || !hasProc) return true;
  return processStartTime(pid) === startTime;
}
