/** Runs the oms-audit command as a real process (bin/oms-audit.mjs) against the test database. */
import { spawn } from 'node:child_process';
import { inject } from 'vitest';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function runOmsAudit(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/oms-audit.mjs', ...args], { env: { ...process.env, DATABASE_URL: inject('databaseUrl'), ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
