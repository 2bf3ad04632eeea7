/**
 * DuckDB (embedded, in this process) writes and reads the Parquet archives.
 * Loaded on first use: processes that never touch an archive never load it.
 * Only the extensions built into the package (parquet, json, icu) are used;
 * nothing is downloaded.
 */
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

let instance: Promise<DuckDBInstance> | undefined;

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
  instance ??= open();
  instance.catch(() => (instance = undefined));
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

/** A string literal for DuckDB SQL (paths of our own files). */
export function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
