/**
 * Reading hot rows (PostgreSQL) for an export, from COPY statements in the
 * export's snapshot:
 *
 * - formatted by PostgreSQL in the file's format (the fast path: Node only
 *   gathers rows into ~128 KiB chunks, ends CSV records with CRLF and counts);
 * - or as plain CSV for DuckDB, written into a named pipe that DuckDB reads
 *   beside archived rows (an archived month with late rows, Parquet exports).
 *
 * Backpressure reaches PostgreSQL: the COPY is paused while the consumer is
 * behind, so memory stays constant whatever the size.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { ClockFlagLimits, CsvFormat, ExportFormatSpec } from '@/lib/export-formats.ts';
import type { FilterExpr } from '@/supabase/functions/_shared/filter-tree.ts';
import type { SortOrder } from '@/supabase/functions/_shared/filters.ts';
import { whereCopy } from '../filters/postgres.ts';
import { postgresCopy, postgresRawCopy } from './columns.ts';
import { CopyRecords, csvLayout, jsonlLayout, type MonthTally, type RecordStats } from './records.ts';
import type { CopyStream, ExportSnapshot } from './snapshot.ts';

/** Bytes gathered from COPY before they are hashed and passed on. */
const BATCH_BYTES = 128 * 1024;
/**
 * Chunks (2 MiB) waiting for the consumer before the COPY is paused: enough
 * that PostgreSQL keeps sending while the HTTP side catches up (a smaller
 * queue pauses and resumes it so often that it waits), still a constant.
 */
const QUEUED_CHUNKS = 16;

/** The rows of a COPY through `records`, as chunks; an early return cancels the COPY and frees its connection. */
export async function* chunksOf(copy: CopyStream, records: CopyRecords): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let ended = false;
  let failure: unknown = null;
  let wake: (() => void) | null = null;
  const signal = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  copy.rows.on('data', (message: Buffer) => {
    records.add(message);
    if (records.pendingBytes >= BATCH_BYTES) {
      queue.push(records.take());
      if (queue.length >= QUEUED_CHUNKS) copy.rows.pause();
      signal();
    }
  });
  copy.rows.once('end', () => {
    ended = true;
    signal();
  });
  copy.rows.once('error', (err) => {
    failure = err;
    signal();
  });
  let complete = false;
  try {
    for (;;) {
      if (queue.length) {
        const chunk = queue.shift()!;
        if (queue.length < QUEUED_CHUNKS) copy.rows.resume();
        yield chunk;
        continue;
      }
      if (failure) throw failure;
      if (ended) {
        const rest = records.finish();
        if (rest.length) yield rest;
        complete = true;
        return;
      }
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    if (!complete) {
      // Stop PostgreSQL, then drain what is still in flight so the connection is freed.
      copy.cancel();
      copy.rows.removeAllListeners('data');
      copy.rows.on('data', () => {});
      copy.rows.on('error', () => {});
      copy.rows.resume();
    }
    await copy.closed;
  }
}

/** Hot rows of `expr` formatted by PostgreSQL in a CSV or JSON Lines format; `done` receives the segment's counts. */
export async function* hotRecords(
  snapshot: ExportSnapshot,
  spec: ExportFormatSpec,
  expr: FilterExpr,
  order: SortOrder,
  months: MonthTally,
  clock: ClockFlagLimits,
  done: (stats: RecordStats) => void,
): AsyncGenerator<Buffer> {
  const { sql, settingValue } = whereCopy(snapshot.claims.tenant_id, expr, { alias: 'e', tokenLookup: true });
  const layout = spec.framing === 'csv' ? csvLayout((spec as CsvFormat).delimiter.charCodeAt(0)) : jsonlLayout;
  const records = new CopyRecords({ crlf: spec.framing === 'csv', layout, months });
  const copy = await snapshot.copy(postgresCopy(spec, sql, order, clock), settingValue);
  yield* chunksOf(copy, records);
  months.flush();
  done(records.stats());
}

/**
 * Writes hot rows of `expr` as plain CSV into `file` (a named pipe DuckDB
 * reads, or a file), counting them per month. Resolves once all are written;
 * `signal` stops it (the caller then lets a writer blocked on the pipe go).
 */
export async function feedHotRows(snapshot: ExportSnapshot, expr: FilterExpr, order: SortOrder, file: string, months: MonthTally, signal: AbortSignal): Promise<RecordStats> {
  const { sql, settingValue } = whereCopy(snapshot.claims.tenant_id, expr, { alias: 'e', tokenLookup: true });
  const records = new CopyRecords({ crlf: false, layout: csvLayout(0x2c), months });
  const copy = await snapshot.copy(postgresRawCopy(sql, order), settingValue);
  const rows = chunksOf(copy, records);
  if (signal.aborted) {
    await rows.return(undefined);
    throw signal.reason;
  }
  const sink = createWriteStream(file);
  const stop = () => sink.destroy(signal.reason as Error);
  signal.addEventListener('abort', stop);
  try {
    for await (const chunk of rows) {
      if (!sink.write(chunk)) await once(sink, 'drain', { signal });
    }
    await new Promise<void>((resolve, reject) => sink.end((err?: Error | null) => (err ? reject(err) : resolve())));
  } catch (err) {
    sink.destroy();
    throw err;
  } finally {
    signal.removeEventListener('abort', stop);
  }
  months.flush();
  return records.stats();
}
