/**
 * From a month partition to Parquet: one COPY of the partition's rows out of
 * PostgreSQL (a sequential scan, streamed to a local CSV file), loaded into
 * DuckDB, then one zstd Parquet file per tenant with its rows in seq order.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { EVENT_FIELDS, SCHEMA_VERSION } from '@/supabase/functions/_shared/contract.ts';
import { literal, withDuckDB } from './duckdb.ts';
import { ARCHIVE_COLUMNS } from './format.ts';

export interface TenantRows {
  tenant_id: string;
  row_count: number;
  min_seq: number;
  max_seq: number;
  seq_sum: string;
  min_occurred_at: string;
  max_occurred_at: string;
}

export interface ParquetFile extends TenantRows {
  file: string;
  bytes: number;
  sha256: string;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

export function partitionName(month: string): string {
  return `audit_events_${month.slice(0, 4)}_${month.slice(5, 7)}`;
}

/**
 * Exports the rows of `tenants` (all when null) in the month partition and
 * writes one Parquet file per tenant into `workDir`; `each` receives every
 * file as soon as it is written (and may upload it). The CSV and DuckDB's
 * copy are removed at the end.
 */
export async function exportMonth(
  sql: Sql,
  month: string,
  tenants: string[] | null,
  workDir: string,
  each: (file: ParquetFile) => Promise<void>,
): Promise<void> {
  const dir = path.join(workDir, `export-${month.slice(0, 7)}-${randomUUID().slice(0, 8)}`);
  await mkdir(dir, { recursive: true });
  const csv = path.join(dir, 'rows.csv');
  try {
    const partition = partitionName(month);
    const columns = EVENT_FIELDS.join(', ');
    const source = tenants
      ? `(select ${columns} from oms_audit.${partition} where tenant_id in (${tenants.map((t) => `'${t.replace(/[^0-9a-f-]/gi, '')}'`).join(', ')}))`
      : `oms_audit.${partition} (${columns})`;
    // COPY straight from the partition: PostgreSQL's fastest way out, no row passes through JavaScript.
    const stream = (await sql.unsafe(`copy ${source} to stdout (format csv)`).readable()) as Readable;
    await pipeline(stream, createWriteStream(csv));

    await withDuckDB(async (db) => {
      const table = `rows_${randomUUID().replace(/-/g, '')}`;
      await db.run(`set temp_directory = ${literal(path.join(dir, 'duckdb-tmp'))}`);
      const spec = ARCHIVE_COLUMNS.map(([name, type]) => `${name}: '${type}'`).join(', ');
      await db.run(
        `create temp table ${table} as select * from read_csv(${literal(csv)}, header = false, auto_detect = false,
           delim = ',', quote = '"', escape = '"', allow_quoted_nulls = false, max_line_size = 4194304, columns = {${spec}})`,
      );
      try {
        await rm(csv, { force: true });
        for (const stats of await tenantStats(db, table)) {
          const file = path.join(dir, `${stats.tenant_id}.parquet`);
          await db.run(
            `copy (select * from ${table} where tenant_id = ${literal(stats.tenant_id)} order by seq) to ${literal(file)}
               (format parquet, compression zstd, row_group_size 100000,
                kv_metadata {'oms_audit.schema_version': '${SCHEMA_VERSION}', 'oms_audit.tenant_id': ${literal(stats.tenant_id)}, 'oms_audit.month': '${month.slice(0, 7)}'})`,
          );
          await each({ ...stats, file, bytes: (await stat(file)).size, sha256: await sha256File(file) });
          await rm(file, { force: true });
        }
      } finally {
        await db.run(`drop table if exists ${table}`);
      }
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function tenantStats(db: DuckDBConnection, table: string): Promise<TenantRows[]> {
  const reader = await db.runAndReadAll(
    `select tenant_id, count(*)::bigint, min(seq), max(seq), sum(seq)::varchar,
            strftime(min(occurred_at), '%Y-%m-%dT%H:%M:%S.%fZ'), strftime(max(occurred_at), '%Y-%m-%dT%H:%M:%S.%fZ')
     from ${table} group by tenant_id order by tenant_id`,
  );
  return reader.getRows().map((r) => ({
    tenant_id: r[0] as string,
    row_count: Number(r[1] as bigint),
    min_seq: Number(r[2] as bigint),
    max_seq: Number(r[3] as bigint),
    seq_sum: r[4] as string,
    min_occurred_at: r[5] as string,
    max_occurred_at: r[6] as string,
  }));
}
