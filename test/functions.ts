/**
 * Starts the audit-logger edge function alone under Deno (as npm start runs it),
 * for tests that stop it or need settings of their own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { stopChild } from './child-process.ts';
import { denoCommand, denoEnv, FUNCTION_PATH } from '@/server/functions.ts';
import { freePort } from './ports.ts';
import { functionListening } from './server.ts';

export interface RunningFunction {
  /** supabase-js createClient URL. */
  baseUrl: string;
  url: string;
  process: ChildProcess;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startFunction(options: { databaseUrl: string; env?: Record<string, string>; port?: number }): Promise<RunningFunction> {
  const port = options.port ?? (await freePort());
  const { command, args } = denoCommand();
  const child = spawn(command, args, {
    env: denoEnv('127.0.0.1', port, { OMS_AUDIT_DB_URL: options.databaseUrl, TRUST_PROXY: 'false', API_KEY_CACHE_SECONDS: '0', ...options.env }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const baseUrl = `http://127.0.0.1:${port}`;
  const url = `${baseUrl}${FUNCTION_PATH}`;
  await functionListening(url, Date.now() + 60_000, child, () => output);
  return {
    baseUrl,
    url,
    process: child,
    output: () => output,
    stop: (signal: NodeJS.Signals = 'SIGTERM') => stopChild(child, signal),
  };
}
