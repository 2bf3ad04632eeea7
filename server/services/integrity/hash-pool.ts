/**
 * Verification's hashing on every core: the main thread reads a binary COPY
 * stream in chunks of whole rows (server/db/copy-rows.ts); worker threads
 * recompute the event hashes of a chunk (row-hasher.ts) while the next one is
 * read. Chunks move to a worker without a copy (transferred), and
 * results come back in the order the chunks were sent, so the caller sees the
 * rows in stream order as if it had hashed them itself.
 *
 * The workers run rowHasherFactory's own source text (it is self-contained for
 * this reason), so they need no file of their own at run time — the same code
 * serves the CLI, the server and its bundled build.
 */
import { availableParallelism } from 'node:os';
import * as crypto from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { postgresIpv6 } from '@/supabase/functions/_shared/ip.ts';
import { ROW, rowHasherFactory, type RowResults } from './row-hasher.ts';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
var __name = (f) => f;
const hasher = (${rowHasherFactory.toString()})(require('node:crypto'), ${JSON.stringify(ROW)}, ${postgresIpv6.toString()});
parentPort.on('message', (bytes) => {
  try {
    const r = hasher.checkRows(bytes);
    parentPort.postMessage({ r }, [r.codes.buffer, r.seqs.buffer, r.ids.buffer, r.hashes.buffer]);
  } catch (err) {
    parentPort.postMessage({ error: String((err && err.stack) || err) });
  }
});`;

/** Threads for hashing: one per core (the main thread mostly waits on PostgreSQL), at most four. */
export function defaultHashThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

export interface RowCheckPool {
  /** Checks a chunk of whole rows; results resolve in the order chunks were given. */
  check(rows: Uint8Array): Promise<RowResults>;
  readonly size: number;
  close(): Promise<void>;
}

/** `threads` 0: hash on the calling thread (no workers). */
export function rowCheckPool(threads = defaultHashThreads()): RowCheckPool {
  if (threads === 0) {
    const hasher = rowHasherFactory(crypto as never, ROW, postgresIpv6);
    return { size: 1, check: async (rows) => hasher.checkRows(rows), close: async () => {} };
  }
  const workers = Array.from({ length: threads }, () => {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    const waiting: { resolve: (r: RowResults) => void; reject: (e: Error) => void }[] = [];
    const failAll = (err: Error) => {
      for (const w of waiting.splice(0)) w.reject(err);
    };
    worker.on('message', (m: { r?: RowResults; error?: string }) => {
      const next = waiting.shift();
      if (!next) return;
      if (m.r) next.resolve(m.r);
      else next.reject(new Error(`hashing thread failed: ${m.error}`));
    });
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`hashing thread exited (${code})`)));
    return { worker, waiting };
  });
  let next = 0;
  return {
    size: threads,
    check(rows) {
      const w = workers[next++ % workers.length]!;
      return new Promise<RowResults>((resolve, reject) => {
        w.waiting.push({ resolve, reject });
        w.worker.postMessage(rows, [rows.buffer as ArrayBuffer]);
      });
    },
    async close() {
      await Promise.all(workers.map((w) => w.worker.terminate()));
    },
  };
}
