/** Whether a process is still running, for files named or marked with the pid of the process that made them. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, as another user (PostgreSQL as the OS user postgres).
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
