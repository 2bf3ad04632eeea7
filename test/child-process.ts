/**
 * Stopping a process a test started (server, edge function, example
 * receiver): one signal, resolved once it has exited — at once if it already has.
 */
import type { ChildProcess } from 'node:child_process';

export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}
