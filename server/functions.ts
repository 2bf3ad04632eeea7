/**
 * The audit-logger edge function beside the server (npm start): the project's
 * Deno (npm package `deno`) runs supabase/functions/audit-logger/local.ts,
 * which serves index.ts exactly as deployed, against the same database, at
 * http://HOST:FUNCTIONS_PORT/functions/v1/audit-logger.
 *
 * Deno runs as a child process with its own connections. When it exits
 * unexpectedly the server keeps serving, says so, and starts it again after a
 * pause that grows with repeated failures. It exits by itself when the server
 * process is gone (its stdin closes), so a killed server leaves no function behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Env } from '@/server/env.ts';
import { fromRoot, projectRoot } from '@/server/paths.ts';

export const FUNCTION_PATH = '/functions/v1/audit-logger';

export interface EdgeFunctions {
  url: string;
  /** Resolves when the function first listens (false if it is not running). */
  ready: Promise<boolean>;
  /** The running Deno process, if any. */
  pid(): number | undefined;
  stop(): Promise<void>;
}

/** How to run the function locally: Deno from node_modules, the repo's deno.json, network and environment access only. */
export function denoCommand(): { command: string; args: string[] } {
  return {
    command: fromRoot('node_modules', '.bin', 'deno'),
    args: ['run', '--config', fromRoot('deno.json'), '--allow-net', '--allow-env', fromRoot('supabase', 'functions', 'audit-logger', 'local.ts')],
  };
}

/** The process environment of the function: where to listen, the database, and its settings (config.ts). */
export function denoEnv(host: string, port: number, settings: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const passed: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DENO_DIR: process.env.DENO_DIR,
    XDG_CACHE_HOME: process.env.XDG_CACHE_HOME,
    DENO_NO_UPDATE_CHECK: '1',
    NO_COLOR: '1',
    DENO_SERVE_ADDRESS: `tcp:${host.includes(':') ? `[${host}]` : host}:${port}`,
    ...settings,
  };
  return Object.fromEntries(Object.entries(passed).filter((e): e is [string, string] => e[1] !== undefined)) as NodeJS.ProcessEnv;
}

/** What the function reads (supabase/functions/audit-logger/config.ts), from the server's settings. */
function functionEnv(env: Env, databaseUrl: string): NodeJS.ProcessEnv {
  return denoEnv(env.HOST, env.FUNCTIONS_PORT, {
    OMS_AUDIT_DB_URL: databaseUrl,
    OMS_AUDIT_ALLOW_PRIVILEGED_RUNTIME: String(env.OMS_AUDIT_ALLOW_PRIVILEGED_RUNTIME),
    DB_PREPARE: String(env.DB_PREPARE),
    TRUST_PROXY: String(env.TRUST_PROXY),
    API_KEY_CACHE_SECONDS: String(env.API_KEY_CACHE_SECONDS),
    RATE_LIMIT_WRITE_EVENTS_PER_SEC: String(env.RATE_LIMIT_WRITE_EVENTS_PER_SEC),
    GROUP_COMMIT_LINGER_MS: String(env.GROUP_COMMIT_LINGER_MS),
    OMS_AUDIT_JWT_SECRET: env.OMS_AUDIT_JWT_SECRET,
    CORS_ALLOWED_ORIGINS: process.env.CORS_ALLOWED_ORIGINS,
    // The function's own admission limit (its config.ts validates it); unset: the function's default.
    MAX_INFLIGHT_WRITES: process.env.FUNCTIONS_MAX_INFLIGHT_WRITES,
  });
}

function prefixLines(stream: NodeJS.ReadableStream, write: (line: string) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) write(line);
  });
}

export function startEdgeFunctions(env: Env, databaseUrl: string, log: (line: string) => void): EdgeFunctions {
  const shownHost = env.HOST === '0.0.0.0' || env.HOST === '::' ? 'localhost' : env.HOST.includes(':') ? `[${env.HOST}]` : env.HOST;
  const url = `http://${shownHost}:${env.FUNCTIONS_PORT}${FUNCTION_PATH}`;
  const deno = denoCommand();
  let child: ChildProcess | undefined;
  let stopping = false;
  let restartTimer: NodeJS.Timeout | undefined;
  let failures = 0;
  let markReady: (up: boolean) => void = () => {};
  const ready = new Promise<boolean>((resolve) => (markReady = resolve));

  if (!existsSync(deno.command)) {
    log('Deno is not installed (npm package deno); the audit-logger edge function is not served');
    markReady(false);
    return { url, ready, pid: () => undefined, stop: async () => {} };
  }

  const launch = () => {
    const startedAt = Date.now();
    // In a process group of its own: a terminal's Ctrl-C reaches the server, which stops the function in order.
    const proc = spawn(deno.command, deno.args, { cwd: projectRoot(), env: functionEnv(env, databaseUrl), stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    child = proc;
    const output = (write: (line: string) => void) => (line: string) => {
      // Deno.serve announces its address once it listens.
      if (line.startsWith('Listening on')) {
        failures = 0;
        log(`edge function audit-logger (Deno, pid ${proc.pid}) at ${url}`);
        markReady(true);
      } else {
        write(`[audit-logger] ${line}`);
      }
    };
    prefixLines(proc.stdout!, output(console.log));
    prefixLines(proc.stderr!, output(console.error));
    proc.on('error', (err) => log(`cannot start the audit-logger edge function: ${err.message}`));
    proc.on('exit', (code, signal) => {
      if (child === proc) child = undefined;
      if (stopping) return;
      // A run that lasted a while was healthy: start over with short pauses.
      if (Date.now() - startedAt > 60_000) failures = 0;
      const pause = Math.min(60, 2 ** failures++);
      log(`the audit-logger edge function exited (${signal ?? `code ${code}`}); the server goes on, restarting the function in ${pause} s`);
      restartTimer = setTimeout(launch, pause * 1000);
      restartTimer.unref();
    });
  };
  launch();

  return {
    url,
    ready,
    pid: () => child?.pid,
    stop: async () => {
      stopping = true;
      clearTimeout(restartTimer);
      markReady(false);
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
