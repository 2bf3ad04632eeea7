/**
 * Starts the real oms-audit server (server/main.ts: Next.js production build,
 * real HTTP, and the audit-logger edge function under Deno on its own free
 * port) as a child process against a given database.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { stopChild } from './child-process.ts';
import { freePort } from './ports.ts';
import { heapFlag } from '@/server/heap-limit.ts';

export interface RunningServer {
  baseUrl: string;
  port: number;
  /** The Supabase-style base URL of the edge functions (supabase-js createClient's URL). */
  functionsBaseUrl: string;
  /** POST target of the audit-logger edge function. */
  functionsUrl: string;
  process: ChildProcess;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startServer(options: { databaseUrl: string; env?: Record<string, string>; port?: number; dataDir?: string }): Promise<RunningServer> {
  const port = options.port ?? (await freePort());
  const functionsPort = Number(options.env?.FUNCTIONS_PORT ?? (await freePort()));
  let output = '';
  const child = spawn(process.execPath, [heapFlag(Number(options.env?.MEMORY_LIMIT_MB ?? process.env.MEMORY_LIMIT_MB ?? 768)), '--import', 'tsx', 'server/main.ts'], {
    cwd: process.cwd(),
    env: {
      ...process.env,
      NODE_ENV: 'production',
      DATABASE_URL: options.databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      OMS_AUDIT_DEMO: 'false',
      // Jobs that act on every tenant of the shared test database (scheduled verification, sealing, stream
      // delivery, clock calibration) would race other test files' own calls: off or rare unless a test turns them on.
      INTEGRITY_VERIFY_EVERY_MINUTES: '0',
      INTEGRITY_SEAL_INTERVAL_SECONDS: '3600',
      STREAM_POLL_INTERVAL_MS: '0',
      CLOCK_CALIBRATION_EVERY_MINUTES: '0',
      FUNCTIONS_PORT: String(functionsPort),
      ...(options.dataDir ? { OMS_AUDIT_DATA_DIR: options.dataDir } : {}),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}):\n${output}`);
    try {
      const res = await fetch(`${baseUrl}/api/health`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not become healthy:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const functionsBaseUrl = `http://127.0.0.1:${functionsPort}`;
  const functionsUrl = `${functionsBaseUrl}/functions/v1/audit-logger`;
  if (options.env?.OMS_AUDIT_FUNCTIONS !== 'false') await functionListening(functionsUrl, deadline, child, () => output);
  return {
    baseUrl,
    port,
    functionsBaseUrl,
    functionsUrl,
    process: child,
    output: () => output,
    stop: (signal: NodeJS.Signals = 'SIGTERM') => stopChild(child, signal),
  };
}

/** Waits until the edge function answers a CORS preflight. */
export async function functionListening(functionsUrl: string, deadline: number, child?: ChildProcess, output?: () => string): Promise<void> {
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`server exited (${child.exitCode}):\n${output?.()}`);
    const res = await fetch(functionsUrl, { method: 'OPTIONS' }).catch(() => null);
    if (res?.status === 204) return;
    if (Date.now() > deadline) throw new Error(`the edge function did not start:\n${output?.()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
