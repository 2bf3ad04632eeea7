/**
 * DuckDB (embedded, in this process) writes and reads the Parquet archives.
 * Loaded on first use: processes that never touch an archive never load it
 * (the server warms it at start, in the background: warmDuckDB). One instance
 * per process, held on globalThis: the server's own modules and the console's
 * bundled copy of this module share it. Only the extensions built into the
 * package (parquet, json, icu) are used; nothing is downloaded.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

const holder = globalThis as typeof globalThis & { __omsAuditDuckDB?: Promise<DuckDBInstance> };

async function open(): Promise<DuckDBInstance> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  return DuckDBInstance.create(':memory:', {
    threads: '2',
    memory_limit: '1GB',
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
}

/** A fresh connection of the process's DuckDB instance; the caller closes it (closeSync). */
export async function duckConnection(): Promise<DuckDBConnection> {
  const instance = (holder.__omsAuditDuckDB ??= open());
  instance.catch(() => {
    if (holder.__omsAuditDuckDB === instance) holder.__omsAuditDuckDB = undefined;
  });
  const connection = await (await instance).connect();
  try {
    // Timestamps print and parse in UTC, as in PostgreSQL sessions of oms-audit.
    // Archived files never change: their footers are kept in memory between queries.
    await connection.run(`set TimeZone = 'UTC'; set parquet_metadata_cache = true`);
    return connection;
  } catch (err) {
    connection.closeSync();
    throw err;
  }
}

/** Runs `fn` on a fresh connection of the process's DuckDB instance. */
export async function withDuckDB<T>(fn: (db: DuckDBConnection) => Promise<T>): Promise<T> {
  const connection = await duckConnection();
  try {
    return await fn(connection);
  } finally {
    connection.closeSync();
  }
}

/**
 * Loads DuckDB and writes and reads one tiny Parquet file in `dir` (removed
 * after), so that the first archived read of a search — whose time budget is
 * tens of milliseconds — does not pay for loading the native module, creating
 * the instance and the Parquet reader's first use. Resolves with the
 * milliseconds it took.
 */
export async function warmDuckDB(dir: string): Promise<number> {
  const started = performance.now();
  const file = path.join(dir, `duckdb-warm-${process.pid}.parquet`);
  try {
    await withDuckDB(async (db) => {
      await db.run(`copy (select 1::BIGINT as seq, now() as occurred_at, 'WARM'::VARCHAR as event_type) to ${literal(file)} (format parquet)`);
      await db.runAndReadAll(`select floor(epoch(occurred_at) / 60) as i, event_type, count(*) from read_parquet([${literal(file)}]) where event_type = $1 group by all`, ['WARM']);
    });
  } finally {
    await rm(file, { force: true });
  }
  return performance.now() - started;
}

/** A string literal for DuckDB SQL (paths of our own files). */
export function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
