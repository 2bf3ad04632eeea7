/**
 * Verification's hashing on every core: the main thread reads a binary COPY
 * stream in chunks of whole rows (server/db/copy-rows.ts); worker threads
 * recompute the event hashes of a chunk (row-hasher.ts) while the next one is
 * read. Chunks are read where they lie (copy-rows.ts puts them in shared
 * memory; any other is transferred there and back) and handed back, once
 * done with, for the reader to fill again: no memory is made per chunk but
 * each chunk's results (one buffer), which keeps V8's collector quiet;
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
import { subtreeRootsFactory } from './subtree-roots.ts';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
var __name = (f) => f;
const hasher = (${rowHasherFactory.toString()})(require('node:crypto'), ${JSON.stringify(ROW)}, ${postgresIpv6.toString()});
const merkle = (${subtreeRootsFactory.toString()})(require('node:crypto'));
parentPort.on('message', (m) => {
  try {
    // A chunk in shared memory stays where it is; one transferred here goes back the same way.
    if (m instanceof Uint8Array) {
      const r = hasher.checkRows(m);
      const shared = m.buffer instanceof SharedArrayBuffer;
      parentPort.postMessage({ r, bytes: shared ? undefined : m }, shared ? [r.seqs.buffer] : [r.seqs.buffer, m.buffer]);
    } else {
      const roots = merkle.subtreeRoots(m.bytes, m.segments, m.stride, m.hashAt);
      const shared = m.bytes.buffer instanceof SharedArrayBuffer;
      parentPort.postMessage({ roots, bytes: shared ? undefined : m.bytes }, shared ? [roots.buffer] : [roots.buffer, m.bytes.buffer]);
    }
  } catch (err) {
    parentPort.postMessage({ error: String((err && err.stack) || err) });
  }
});`;

/** Threads for hashing: one per core (the main thread mostly waits on PostgreSQL), at most four. */
export function defaultHashThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

export interface RowCheckPool {
  /**
   * Checks a chunk of whole rows; results resolve in the order chunks were
   * given. `done` receives the chunk's memory back once nothing reads it any more.
   */
  check(rows: Uint8Array, done?: (rows: Uint8Array) => void): Promise<RowResults>;
  /**
   * The perfect Merkle subtree roots of each segment of a chunk of rows
   * (subtree-roots.ts; leaves `stride` bytes apart, `hashAt` into each row),
   * in order, in the same queue as the chunks to check.
   */
  subtreeRoots(rows: Uint8Array, segments: Float64Array, stride: number, hashAt: number, done?: (rows: Uint8Array) => void): Promise<Uint8Array>;
  readonly size: number;
  close(): Promise<void>;
}

interface WorkerReply {
  r?: RowResults;
  roots?: Uint8Array;
  bytes?: Uint8Array;
  error?: string;
}

interface HashThread {
  worker: Worker;
  waiting: { resolve: (m: WorkerReply) => void; reject: (e: Error) => void; rows: Uint8Array; done?: (rows: Uint8Array) => void }[];
}

/** Threads started for verification, kept between runs (each new thread pays Node's start and the hasher's compilation again). */
interface HashThreads {
  threads: HashThread[];
  /** Pools handed out and not closed. */
  users: number;
  /** A thread failed or exited: this set is not handed out again. */
  broken: boolean;
  idle: NodeJS.Timeout | null;
  next: number;
}

/**
 * How long idle hashing threads wait for the next verification. A thread
 * started afresh costs about as much CPU as hashing tens of thousands of rows
 * (Node's start in the thread, then the hasher compiled again), which a
 * server verifying tenant after tenant would pay every time. Idle threads do
 * not keep the process alive.
 */
const KEEP_IDLE_MS = 30_000;

const kept = new Map<number, HashThreads>();

function startThreads(count: number): HashThreads {
  const set: HashThreads = { threads: [], users: 0, broken: false, idle: null, next: 0 };
  set.threads = Array.from({ length: count }, () => {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    const waiting: HashThread['waiting'] = [];
    const failAll = (err: Error) => {
      set.broken = true;
      if (kept.get(count) === set) kept.delete(count);
      for (const w of waiting.splice(0)) w.reject(err);
    };
    worker.on('message', (m: WorkerReply) => {
      const next = waiting.shift();
      if (!next) return;
      next.done?.(m.bytes ?? next.rows);
      if (m.error === undefined) next.resolve(m);
      else next.reject(new Error(`hashing thread failed: ${m.error}`));
    });
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`hashing thread exited (${code})`)));
    return { worker, waiting };
  });
  return set;
}

const terminate = (set: HashThreads) => Promise.all(set.threads.map((t) => t.worker.terminate())).then(() => {});

/**
 * `threads` 0: hash on the calling thread (no workers). Otherwise the pool
 * shares the threads kept from an earlier verification (or starts them); pools
 * open at once share them too, each chunk's results still coming back to its
 * own caller in order.
 */
export function rowCheckPool(threads = defaultHashThreads()): RowCheckPool {
  if (threads === 0) {
    const hasher = rowHasherFactory(crypto as never, ROW, postgresIpv6);
    const merkle = subtreeRootsFactory(crypto as never);
    return {
      size: 1,
      check: async (rows, done) => {
        const r = hasher.checkRows(rows);
        done?.(rows);
        return r;
      },
      subtreeRoots: async (rows, segments, stride, hashAt, done) => {
        const roots = merkle.subtreeRoots(rows, segments, stride, hashAt);
        done?.(rows);
        return roots;
      },
      close: async () => {},
    };
  }
  let set = kept.get(threads);
  if (!set || set.broken) kept.set(threads, (set = startThreads(threads)));
  if (set.idle) clearTimeout(set.idle);
  set.idle = null;
  if (set.users++ === 0) for (const t of set.threads) t.worker.ref();
  const own = set;
  let closed = false;
  const send = (message: unknown, rows: Uint8Array, done?: (rows: Uint8Array) => void) => {
    // Rows in shared memory are read by the thread where they are; others move there (and back).
    const transfer = rows.buffer instanceof SharedArrayBuffer ? [] : [rows.buffer as ArrayBuffer];
    if (closed) return Promise.reject(new Error('hashing pool closed'));
    const t = own.threads[own.next++ % own.threads.length]!;
    return new Promise<WorkerReply>((resolve, reject) => {
      if (own.broken) return reject(new Error('a hashing thread failed'));
      t.waiting.push({ resolve, reject, rows, done });
      t.worker.postMessage(message, transfer);
    });
  };
  return {
    size: threads,
    check(rows, done) {
      return send(rows, rows, done).then((m) => m.r!);
    },
    subtreeRoots(rows, segments, stride, hashAt, done) {
      return send({ bytes: rows, segments, stride, hashAt }, rows, done).then((m) => m.roots!);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (--own.users > 0) return;
      if (own.broken) return terminate(own);
      for (const t of own.threads) t.worker.unref();
      own.idle = setTimeout(() => {
        if (own.users > 0) return;
        if (kept.get(threads) === own) kept.delete(threads);
        void terminate(own);
      }, KEEP_IDLE_MS);
      own.idle.unref();
    },
  };
}
