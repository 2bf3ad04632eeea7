/**
 * What DuckDB writes for an export, streamed as it is written: a DuckDB
 * COPY … TO a named pipe that Node reads (a temporary file where the OS has
 * no pipes: then the file is written first, and read after). DuckDB's own
 * writers (CSV, Parquet) do the per-row work in C++, with no row passing
 * through JavaScript. A COPY that fails, part-way or before it opened the
 * pipe, fails the reader too: never a short file that looks complete.
 */
import { createReadStream, type ReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { literal } from '@/server/archive/duckdb.ts';
import { makeFifo, releaseUntil } from '@/server/archive/fifo.ts';

let outputs = 0;

/**
 * Runs `statement(target)` — a COPY … TO target — and yields what it writes
 * in chunks of up to 256 KiB; returns the number of rows DuckDB wrote.
 */
export async function* duckCopyChunks(duck: DuckDBConnection, dir: string, statement: (target: string) => string, params: DuckDBValue[]): AsyncGenerator<Buffer, number> {
  const out = path.join(dir, `out-${++outputs}`);
  const piped = makeFifo(out);
  const copy = duck.runAndReadAll(statement(literal(out)), params);
  copy.catch(() => {});
  let reader: ReadStream | null = null;
  let closed: Promise<unknown> = Promise.resolve();
  let finished = false;
  try {
    if (!piped) await copy;
    reader = createReadStream(out, { highWaterMark: 256 * 1024 });
    const stream = reader;
    closed = new Promise((resolve) => stream.once('close', () => resolve(undefined)));
    // DuckDB fails before it opened the pipe: the reader, blocked in open(), is let go and sees the end.
    if (piped) void copy.catch(() => releaseUntil(out, 'reader', closed));
    for await (const chunk of reader) yield chunk as Buffer;
    const rows = Number((await copy).getRows()[0]![0] as bigint);
    finished = true;
    return rows;
  } finally {
    if (!finished) {
      // Stop DuckDB (it may be sorting, or blocked writing into the pipe nobody reads now).
      duck.interrupt();
      reader?.destroy();
      // Whichever end is still blocked in open() is let go: our reader, or DuckDB's writer (which then fails).
      if (piped) await Promise.all([releaseUntil(out, 'reader', closed), releaseUntil(out, 'writer', copy)]);
      await copy.catch(() => {});
    }
    await rm(out, { force: true });
  }
}
