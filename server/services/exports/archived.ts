/**
 * Reading archived months for an export: DuckDB over the month's Parquet
 * files, with the same filter tree as PostgreSQL (filters/duckdb.ts), sorted
 * by (occurred_at, seq) and written by DuckDB in the file's format, byte for
 * byte as PostgreSQL writes hot rows (columns.ts). Rows the month has in
 * PostgreSQL too (arrived after it was archived) are piped in from a COPY of
 * the same snapshot and sorted in with them.
 *
 * A month that cannot be read fails loudly, naming it: a missing file before
 * the export starts (checkArchivesPresent), a file whose SHA-256 is not the
 * recorded one, or any DuckDB error, while it runs.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { ClockFlagLimits, ExportFormatSpec } from '@/lib/export-formats.ts';
import { EVENT_FIELDS } from '@/supabase/functions/_shared/contract.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import type { FilterExpr } from '@/supabase/functions/_shared/filter-tree.ts';
import type { SortOrder } from '@/supabase/functions/_shared/filters.ts';
import { env } from '@/server/env.ts';
import { scratchDir, scratchRoot } from '@/server/scratch.ts';
import { duckConnection, literal } from '@/server/archive/duckdb.ts';
import { makeFifo, releaseUntil } from '@/server/archive/fifo.ts';
import { archiveCsvSource } from '@/server/archive/format.ts';
import { cacheDir, type ArchivedPartRef } from '../archived-events.ts';
import { archiveRelation } from '@/server/archive/rows.ts';
import { checkedLocalFile, storedFileExists } from '../retention/files.ts';
import { compileDuck } from '../filters/duckdb.ts';
import { DUCK_TIME, duckCopy } from './columns.ts';
import { duckCopyChunks } from './duck-output.ts';
import { feedHotRows } from './hot.ts';
import type { MonthTally, RecordStats } from './records.ts';
import type { ExportSnapshot } from './snapshot.ts';

/** An archived month that cannot be read, named. */
export function unreadableMonth(month: string, reason: string): AuditError {
  return new AuditError('unavailable', `The archive of ${month} cannot be read (${reason}); the export stops rather than leave the month out`, [{ field: 'archive', message: `${month}: ${reason}` }]);
}

/** Every archived part's data file is where its catalog entry says (checked before an export starts). */
export async function checkArchivesPresent(parts: ArchivedPartRef[]): Promise<void> {
  for (const p of parts) {
    let present: boolean;
    try {
      present = await storedFileExists(env(), p);
    } catch (err) {
      throw unreadableMonth(p.month.slice(0, 7), `part ${p.part}: ${(err as Error).message}`);
    }
    if (!present) throw unreadableMonth(p.month.slice(0, 7), `part ${p.part}: ${p.data_key} is missing from ${p.storage_url}`);
  }
}

/** Local, checked copies of a month's parts. */
export async function readableFiles(parts: ArchivedPartRef[]): Promise<string[]> {
  const files: string[] = [];
  for (const p of parts) {
    try {
      files.push(await checkedLocalFile(env(), p, cacheDir()));
    } catch (err) {
      throw unreadableMonth(p.month.slice(0, 7), `part ${p.part}: ${(err as Error).message}`);
    }
  }
  return files;
}

/** A private scratch folder (server/scratch.ts) for named pipes, removed by the caller. */
export async function exportWorkDir(): Promise<string> {
  return scratchDir(scratchRoot(env()), 'export');
}

export interface ArchivedSource {
  /** DuckDB rows (event columns) of the month: Parquet filtered, plus the hot rows piped in. */
  sql: string;
  params: ReturnType<typeof compileDuck>['params'];
  /** Resolves once the hot rows are all written (with their counts); null when there are none. */
  hot: Promise<RecordStats> | null;
  /** A scratch folder for pipes, removed by cleanup(). */
  dir: string;
  /** Lets a blocked pipe writer go and removes the scratch folder. */
  cleanup(): Promise<void>;
}

/**
 * The rows of archived `files` matching `expr`, and — when `hot` is given —
 * the hot rows of `hot.expr` streamed in through a named pipe (a file where
 * the OS has none).
 */
export async function archivedSource(snapshot: ExportSnapshot, files: string[], expr: FilterExpr, hot: { expr: FilterExpr; order: SortOrder; months: MonthTally } | null): Promise<ArchivedSource> {
  const { where, params } = compileDuck(snapshot.claims.tenant_id, expr);
  const columns = EVENT_FIELDS.join(', ');
  const parts = files.length ? [`select ${columns} from ${archiveRelation(files)} where ${where}`] : [];
  const dir = await exportWorkDir();
  const pipe = path.join(dir, 'hot.csv');
  let feeding: Promise<RecordStats> | null = null;
  const abort = new AbortController();
  if (hot) {
    parts.push(`select ${columns} from ${archiveCsvSource(literal(pipe))}`);
    if (makeFifo(pipe)) {
      feeding = feedHotRows(snapshot, hot.expr, hot.order, pipe, hot.months, abort.signal);
    } else {
      const written = await feedHotRows(snapshot, hot.expr, hot.order, pipe, hot.months, abort.signal);
      feeding = Promise.resolve(written);
    }
    feeding.catch(() => {});
  }
  if (!parts.length) throw new Error('nothing to read: no archive files and no hot rows');
  return {
    sql: parts.join(' union all '),
    // The filter's values are in the Parquet part only.
    params: files.length ? params : [],
    hot: feeding,
    dir,
    cleanup: async () => {
      if (feeding) {
        // Done with DuckDB: a writer still running (DuckDB failed, or the export was aborted) stops, even if blocked on the pipe.
        abort.abort(new Error('the export no longer reads these rows'));
        await releaseUntil(pipe, 'writer', feeding);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface Aggregate {
  rows: number;
  first: string | null;
  last: string | null;
}

/** Rows of archived `files` matching `expr`, and their earliest and latest occurred_at. */
export async function archivedAggregate(duck: DuckDBConnection, files: string[], tenantId: string, expr: FilterExpr): Promise<Aggregate> {
  if (!files.length) return { rows: 0, first: null, last: null };
  const { where, params } = compileDuck(tenantId, expr);
  const reader = await duck.runAndReadAll(`select count(*)::BIGINT, strftime(min(occurred_at), ${DUCK_TIME}), strftime(max(occurred_at), ${DUCK_TIME}) from ${archiveRelation(files)} where ${where}`, params);
  const [n, first, last] = reader.getRows()[0] as [bigint, string | null, string | null];
  return { rows: Number(n), first, last };
}

/**
 * One archived month in a CSV or JSON Lines format, as DuckDB writes it;
 * `done` receives the month's counts (all rows, and those read from
 * PostgreSQL).
 */
export async function* archivedRecords(
  snapshot: ExportSnapshot,
  spec: ExportFormatSpec,
  month: { month: string; parts: ArchivedPartRef[]; hotRows: boolean; from: string; to: string },
  expr: FilterExpr,
  hotExpr: FilterExpr,
  order: SortOrder,
  months: MonthTally,
  clock: ClockFlagLimits,
  done: (stats: RecordStats & { hotRows: number }) => void,
): AsyncGenerator<Buffer> {
  let duck: DuckDBConnection | null = null;
  let source: ArchivedSource | null = null;
  try {
    const files = await readableFiles(month.parts);
    duck = await duckConnection();
    const archived = await archivedAggregate(duck, files, snapshot.claims.tenant_id, expr);
    source = await archivedSource(snapshot, files, expr, month.hotRows ? { expr: hotExpr, order, months } : null);
    const { sql, params } = source;
    const rows = yield* duckCopyChunks(duck, source.dir, (target) => duckCopy(spec, sql, order, target, clock), params);
    const hot = source.hot ? await source.hot : { rows: 0, firstOccurredAt: null, lastOccurredAt: null };
    if (rows !== archived.rows + hot.rows) throw new Error(`DuckDB wrote ${rows} rows, but the month has ${archived.rows} archived and ${hot.rows} hot rows`);
    const bounds = [archived.first, archived.last, hot.firstOccurredAt, hot.lastOccurredAt].filter((v): v is string => v !== null).sort();
    const [earliest, latest] = [bounds[0] ?? null, bounds[bounds.length - 1] ?? null];
    done({ rows, firstOccurredAt: order === 'desc' ? latest : earliest, lastOccurredAt: order === 'desc' ? earliest : latest, hotRows: hot.rows });
  } catch (err) {
    if (err instanceof AuditError) throw err;
    throw unreadableMonth(month.month, (err as Error).message);
  } finally {
    duck?.closeSync();
    await source?.cleanup();
  }
}
