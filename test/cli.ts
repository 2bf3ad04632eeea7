/** The oms-audit command as a real process against the test database. */
import { spawn } from 'node:child_process';
import { inject } from 'vitest';

export function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/oms-audit.mjs', ...args], { env: { ...process.env, DATABASE_URL: inject('databaseUrl'), ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
