/**
 * A wave of concurrent write requests against a running server process, with
 * that process's resident memory sampled from /proc while it lasts: what the
 * overload tests and bench/write-memory.ts need.
 *
 * Each request sends the same batch with event ids of its own. Bodies are
 * generated as they are sent (from one template), so the client holds a few
 * kilobytes per request, not hundreds of megabytes for the wave. A client
 * that is answered before it has sent its whole body (a 503) stops sending.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { Worker } from 'node:worker_threads';

/** VmRSS of a process, in MiB. */
export function rssMb(pid: number): number {
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return kb / 1024;
}

const ID_SLOT = '00000000-0000-4000-8000-000000000000';

/** A batch body cut at its event ids, so each request can fill in ids of its own. */
export interface BatchTemplate {
  /** The body's text around the ids: parts.length = events + 1. */
  parts: Buffer[];
  events: number;
  bodyBytes: number;
}

/** `events` must not carry ids: each gets one per request. */
export function batchTemplate(events: object[]): BatchTemplate {
  const text = JSON.stringify({ events: events.map((e) => ({ id: ID_SLOT, ...e })) });
  const parts = text.split(ID_SLOT).map((p) => Buffer.from(p));
  if (parts.length !== events.length + 1) throw new Error('an event already holds the id placeholder');
  return { parts, events: events.length, bodyBytes: Buffer.byteLength(text) };
}

/** The body's bytes in pieces of about 64 KiB. */
function* bodyChunks(template: BatchTemplate, ids: string[]): Generator<Buffer> {
  let pending: Buffer[] = [];
  let size = 0;
  for (let i = 0; i < template.parts.length; i++) {
    pending.push(template.parts[i]!);
    size += template.parts[i]!.length;
    if (i < ids.length) {
      pending.push(Buffer.from(ids[i]!));
      size += 36;
    }
    if (size >= 64 * 1024) {
      yield Buffer.concat(pending);
      pending = [];
      size = 0;
    }
  }
  if (pending.length) yield Buffer.concat(pending);
}

export interface WaveAnswer {
  status: number;
  retryAfter: string | null;
  body: string;
}

/** One POST of the template with fresh ids; resolves with the answer, or null when the connection ended without one. */
export function postBatch(url: string, headers: Record<string, string>, template: BatchTemplate, options: { chunked?: boolean } = {}): Promise<{ ids: string[]; answer: WaveAnswer | null; error?: string }> {
  const ids = Array.from({ length: template.events }, () => randomUUID());
  return new Promise((resolve) => {
    let answered = false;
    const req = http.request(url, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', ...(options.chunked ? {} : { 'content-length': String(template.bodyBytes) }), ...headers },
    });
    req.on('response', (res) => {
      answered = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        resolve({ ids, answer: { status: res.statusCode!, retryAfter: (res.headers['retry-after'] as string | undefined) ?? null, body } });
        req.destroy();
      });
      res.on('error', (err) => resolve({ ids, answer: null, error: err.message }));
    });
    req.on('error', (err) => {
      if (!answered) resolve({ ids, answer: null, error: err.message });
    });
    req.setTimeout(300_000, () => req.destroy(new Error('no answer within 300 s')));
    // Sends the body with backpressure, and stops as soon as an answer has come.
    const chunks = bodyChunks(template, ids);
    const write = () => {
      for (;;) {
        if (answered || req.destroyed) return;
        const next = chunks.next();
        if (next.done) return void req.end();
        if (!req.write(next.value)) return void req.once('drain', write);
      }
    };
    write();
  });
}

export interface WaveResult {
  /** Answers by HTTP status. */
  statuses: Map<number, number>;
  /** Requests whose connection ended without an answer, by error. */
  unanswered: Map<string, number>;
  /** Retry-After values of the 503s. */
  retryAfter: Set<string | null>;
  /** Event ids acknowledged (201). */
  acknowledged: string[];
  /** The event ids each request sent, answered or not. */
  batches: string[][];
  /** Peak resident memory (MiB) of each process watched. */
  peakRssMb: Map<number, number>;
}

export interface WaveOptions {
  url: string;
  headers: Record<string, string>;
  template: BatchTemplate;
  requests: number;
  /** Processes whose memory is watched. */
  pids: number[];
  /** Send without Content-Length (chunked). */
  chunked?: boolean;
}

/**
 * Watches processes' resident memory from a thread of its own (every 10 ms,
 * whatever the main thread is busy with); stop() returns each one's peak in MiB.
 */
export function watchRss(pids: number[]): { stop(): Map<number, number> } {
  const peaks = new Int32Array(new SharedArrayBuffer(4 * (pids.length + 1)));
  const worker = new Worker(
    `const { workerData } = require('node:worker_threads');
     const { readFileSync } = require('node:fs');
     const { pids, peaks } = workerData;
     const pause = new Int32Array(new SharedArrayBuffer(4));
     while (Atomics.load(peaks, pids.length) === 0) {
       pids.forEach((pid, i) => {
         try {
           const kb = Number(/^VmRSS:\\s+(\\d+) kB$/m.exec(readFileSync('/proc/' + pid + '/status', 'utf8'))[1]);
           if (kb > Atomics.load(peaks, i)) Atomics.store(peaks, i, kb);
         } catch {}
       });
       Atomics.wait(pause, 0, 0, 10);
     }`,
    { eval: true, workerData: { pids, peaks } },
  );
  return {
    stop() {
      Atomics.store(peaks, pids.length, 1);
      void worker.terminate();
      return new Map(pids.map((pid, i) => [pid, Math.max(Atomics.load(peaks, i) / 1024, rssMb(pid))]));
    },
  };
}

/** Sends `requests` batches at once and waits for every answer, watching the processes' RSS meanwhile. */
export async function sendWave(options: WaveOptions): Promise<WaveResult> {
  const statuses = new Map<number, number>();
  const unanswered = new Map<string, number>();
  const retryAfter = new Set<string | null>();
  const acknowledged: string[] = [];
  const batches: string[][] = [];
  const watch = watchRss(options.pids);
  let peakRssMb = new Map<number, number>();
  try {
    await Promise.all(
      Array.from({ length: options.requests }, async () => {
        const { ids, answer, error } = await postBatch(options.url, options.headers, options.template, { chunked: options.chunked });
        batches.push(ids);
        if (!answer) {
          unanswered.set(error ?? 'closed', (unanswered.get(error ?? 'closed') ?? 0) + 1);
          return;
        }
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        if (answer.status === 503) retryAfter.add(answer.retryAfter);
        if (answer.status === 201) acknowledged.push(...(JSON.parse(answer.body) as { ids: string[] }).ids);
      }),
    );
  } finally {
    peakRssMb = watch.stop();
  }
  return { statuses, unanswered, retryAfter, acknowledged, batches, peakRssMb };
}
