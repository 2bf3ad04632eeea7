/**
 * The Parquet export, for analysts: the archive's schema (server/archive/
 * format.ts), zstd, rows in (occurred_at, seq) order. One DuckDB statement
 * reads the archived months' files (filtered by the filter tree) and the hot
 * rows (a COPY of the same snapshot, piped in), sorts them — spilling to disk
 * beyond its memory limit — and writes the file into a pipe Node streams to
 * the client as it is written. Not verifiable offline, so never in a bundle.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { CLOCK_FLAG_COLUMN, EXPORT_FORMATS, type ClockFlagLimits } from '@/lib/export-formats.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { SCHEMA_VERSION } from '@/supabase/functions/_shared/limits.ts';
import type { FilterExpr } from '@/supabase/functions/_shared/filter-tree.ts';
import type { SortOrder } from '@/supabase/functions/_shared/filters.ts';
import { duckConnection } from '@/server/archive/duckdb.ts';
import { compileDuck } from '../filters/duckdb.ts';
import { type ArchivedPartRef } from '../archived-events.ts';
import { archiveRelation } from '@/server/archive/rows.ts';
import { archivedSource, readableFiles, type ArchivedSource } from './archived.ts';
import { DUCK_TIME, duckClockFlag } from './columns.ts';
import { duckCopyChunks } from './duck-output.ts';
import type { MonthTally, RecordStats } from './records.ts';
import type { ExportSnapshot } from './snapshot.ts';

export interface ParquetStats extends RecordStats {
  /** Archived rows per month (YYYY-MM). */
  archivedByMonth: Map<string, number>;
}

/** Archived rows matching `expr` per month, and the earliest and latest occurred_at. */
async function archivedByMonth(duck: DuckDBConnection, files: string[], tenantId: string, expr: FilterExpr) {
  const months = new Map<string, number>();
  const bounds: string[] = [];
  if (!files.length) return { months, bounds };
  const { where, params } = compileDuck(tenantId, expr);
  const reader = await duck.runAndReadAll(
    `select strftime(occurred_at, '%Y-%m'), count(*)::BIGINT, strftime(min(occurred_at), ${DUCK_TIME}), strftime(max(occurred_at), ${DUCK_TIME})
     from ${archiveRelation(files)} where ${where} group by 1`,
    params,
  );
  for (const [month, n, min, max] of reader.getRows() as [string, bigint, string, string][]) {
    months.set(month, Number(n));
    bounds.push(min, max);
  }
  return { months, bounds };
}

/** The whole export as a Parquet file, in chunks as DuckDB writes it; `done` receives the counts. */
export async function* parquetRecords(
  snapshot: ExportSnapshot,
  parts: ArchivedPartRef[],
  expr: FilterExpr,
  order: SortOrder,
  months: MonthTally,
  clock: ClockFlagLimits,
  done: (stats: ParquetStats) => void,
): AsyncGenerator<Buffer> {
  let duck: DuckDBConnection | null = null;
  let source: ArchivedSource | null = null;
  try {
    const files = await readableFiles(parts);
    duck = await duckConnection();
    const archived = await archivedByMonth(duck, files, snapshot.claims.tenant_id, expr);
    source = await archivedSource(snapshot, files, expr, { expr, order, months });
    const { sql, params } = source;
    const metadata = `{'oms_audit.schema_version': '${SCHEMA_VERSION}', 'oms_audit.columns': '${EXPORT_FORMATS.parquet.columns.join(',')}'}`;
    const rows = yield* duckCopyChunks(
      duck,
      source.dir,
      (target) => `copy (select *, ${duckClockFlag(clock)} as ${CLOCK_FLAG_COLUMN} from (${sql}) order by occurred_at ${order}, seq ${order}) to ${target} (format parquet, compression zstd, row_group_size 100000, kv_metadata ${metadata})`,
      params,
    );
    const hot = await source.hot!;
    const archivedRows = [...archived.months.values()].reduce((a, b) => a + b, 0);
    if (rows !== hot.rows + archivedRows) throw new Error(`DuckDB wrote ${rows} rows, but ${hot.rows} hot and ${archivedRows} archived rows were read`);
    const bounds = [...archived.bounds, hot.firstOccurredAt, hot.lastOccurredAt].filter((v): v is string => v !== null).sort();
    const [earliest, latest] = [bounds[0] ?? null, bounds[bounds.length - 1] ?? null];
    done({ rows, firstOccurredAt: order === 'desc' ? latest : earliest, lastOccurredAt: order === 'desc' ? earliest : latest, archivedByMonth: archived.months });
  } catch (err) {
    throw err instanceof AuditError ? err : new AuditError('internal', `The Parquet export did not complete: ${(err as Error).message}`);
  } finally {
    duck?.closeSync();
    await source?.cleanup();
  }
}
