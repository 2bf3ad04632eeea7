/**
 * Helpers for the log stream tests: real HTTP receivers on loopback ports
 * (in this process, answering as each test scripts them, or the example
 * receiver as a child process), tenants with sealed events, delivery rounds
 * until a stream is caught up, and the standalone verifier run as a process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { stopChild } from './child-process.ts';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { appendEvents } from '@/supabase/functions/_shared/ingest.ts';
import { sealTenant } from '@/server/services/integrity/checkpoints.ts';
import { signer } from '@/server/services/integrity/signing-key.ts';
import { getStream, type StreamActor, type StreamInfo } from '@/server/services/streams/streams.ts';
import { deliverStreams, type StreamWorkerSettings } from '@/server/services/streams/worker.ts';
import { freePort } from './ports.ts';

export const TEST_ACTOR: StreamActor = { actorType: 'SERVICE', actorId: 'stream-test', principal: 'test', writer: { kind: 'operator', name: 'test' }, source: 'stream-test', method: 'cli', observed: { ip: null, userAgent: null } };

/** Small timeouts and backoffs, so failures and retries happen within a test. */
export function testWorkerSettings(overrides: Partial<StreamWorkerSettings> = {}): StreamWorkerSettings {
  return { workers: 4, requestTimeoutMs: 1500, retryBaseMs: 20, retryMaxMs: 200, maxBatchBytes: 1_048_576, allowPrivateNetworks: true, leaseSeconds: 30, runBudgetMs: 10_000, ...overrides };
}

export interface ReceivedRequest {
  n: number;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** What the receiver answered (null: it never answered). */
  status: number | null;
}

/** What the receiver does with request n (1-based): answer a status after a delay, or never answer. */
export type Behaviour = (n: number) => { status: number; delayMs?: number; body?: string; headers?: Record<string, string> } | 'hang';

export interface Receiver {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  /** Requests the receiver acknowledged (2xx). */
  acknowledged(): ReceivedRequest[];
  stop(): Promise<void>;
}

/** A real HTTP server on a loopback port, recording every request it gets. */
export async function startReceiver(behaviour: Behaviour = () => ({ status: 204 }), port?: number): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry: ReceivedRequest = { n: requests.length + 1, url: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status: null };
      requests.push(entry);
      const plan = behaviour(entry.n);
      if (plan === 'hang') return;
      setTimeout(() => {
        entry.status = plan.status;
        res.writeHead(plan.status, { 'content-type': 'text/plain', ...plan.headers }).end(plan.body ?? '');
      }, plan.delayMs ?? 0);
    });
  });
  const listenPort = port ?? (await freePort());
  await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${listenPort}`,
    port: listenPort,
    requests,
    acknowledged: () => requests.filter((r) => r.status !== null && r.status >= 200 && r.status < 300),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface ExampleReceiver {
  url: string;
  process: ChildProcess;
  /** What it printed (its verifier's verdicts among it). */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** examples/stream-receiver.mjs as its own process, on the given port and folder. */
export async function startExampleReceiver(port: number, dir: string, secret: string, verifyWithFingerprint?: string): Promise<ExampleReceiver> {
  const verify = verifyWithFingerprint ? ['--verifier', 'verifier/oms-audit-verify.mjs', '--fingerprint', verifyWithFingerprint] : [];
  const child = spawn(process.execPath, ['examples/stream-receiver.mjs', '--port', String(port), '--dir', dir, ...verify], { env: { ...process.env, STREAM_SECRETS: secret }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      output += d;
      if (output.includes('listening on')) resolve();
    });
    child.stderr!.on('data', (d) => (output += d));
    child.once('exit', (code) => reject(new Error(`the example receiver exited (${code}): ${output}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    process: child,
    output: () => output,
    stop: (signal: NodeJS.Signals = 'SIGTERM') => stopChild(child, signal),
  };
}

/** `n` order events for a tenant through the normal write path; returns their ids. */
export async function writeEvents(sql: Sql, tenantId: string, n: number, label = 'stream'): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 500) {
    const events = Array.from({ length: Math.min(500, n - i) }, (_, j) => ({
      actor_id: `trader-${(i + j) % 5}`,
      actor_type: 'USER',
      object_type: 'ORDER',
      object_id: `${label}-${i + j}`,
      event_type: ['CREATE', 'UPDATE', 'FILL', 'CANCEL'][(i + j) % 4]!,
      ip_address: (i + j) % 2 ? '203.0.113.7' : '2001:db8::7',
      context: { symbol: 'AAPL', qty: 100 + i + j, px: 187.25, note: `line "${i + j}", ü 🚀` },
    }));
    const result = await appendEvents(sql, { tenantId, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events }, 500), { ip: '198.51.100.1', userAgent: 'stream-test' }, 'cli');
    ids.push(...result.ids);
  }
  return ids;
}

/** Seals everything the tenant has, in checkpoints of at most `maxEvents`. */
export const seal = (sql: Sql, tenantId: string, maxEvents?: number) => sealTenant(sql, tenantId, signer(), { maxEvents });

/** Runs delivery rounds for one stream until it has delivered everything sealed (or the time is up). */
export async function deliverUntilCaughtUp(sql: Sql, tenantId: string, streamId: string, settings: StreamWorkerSettings, timeoutMs = 60_000): Promise<StreamInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await deliverStreams(sql, settings, signer(), [streamId]);
    const stream = await getStream(sql, tenantId, streamId);
    if (stream.delivered_seq >= stream.sealed_seq) return stream;
    if (Date.now() > deadline) throw new Error(`stream ${streamId} not caught up: ${JSON.stringify(stream)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Writes each body into a fresh folder, one file per request (as a receiver that keeps everything would). */
export async function folderOf(bodies: string[], extension = 'json'): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'oms-audit-deliveries-'));
  await Promise.all(bodies.map((b, i) => writeFile(path.join(dir, `${String(i + 1).padStart(5, '0')}.${extension}`), b)));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** The standalone verifier (the committed single file) in stream mode, as a process. */
export function runStreamVerifier(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['verifier/oms-audit-verify.mjs', 'stream', ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** The signing key's public half in a file, for the verifier's --public-key. */
export async function publicKeyFile(dir: string): Promise<string> {
  const file = path.join(dir, 'operator-public-key.pem');
  await writeFile(file, signer().publicKeyPem);
  return file;
}
