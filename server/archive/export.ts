/**
 * From a month partition to Parquet: one COPY of the partition's rows out of
 * PostgreSQL (a sequential scan, as CSV), and one pass of DuckDB over it
 * writing a zstd Parquet file per tenant, rows in seq order. The CSV goes
 * through a named pipe where the OS has them, so DuckDB converts while
 * PostgreSQL is still sending; through a temporary file otherwise.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import { connectionUrl, type Sql } from '@/supabase/functions/_shared/db.ts';
import { copyOut } from '@/server/db/copy-out.ts';
import { scratchDir } from '@/server/scratch.ts';
import { EVENT_FIELDS, SCHEMA_VERSION } from '@/supabase/functions/_shared/contract.ts';
import { literal, withDuckDB } from './duckdb.ts';
import { archiveCsvSource } from './format.ts';
import { makeFifo, releasePipe } from './fifo.ts';

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
 * writes one Parquet file per tenant into a private folder of its own under
 * `workDir` (server/scratch.ts); `each` receives every file as soon as it is
 * written (and may upload it). The folder, with the pipe, the CSV and every
 * Parquet file, is removed at the end, whether the export succeeded or not.
 */
export async function exportMonth(
  sql: Sql,
  month: string,
  tenants: string[] | null,
  workDir: string,
  each: (file: ParquetFile) => Promise<void>,
): Promise<void> {
  const dir = await scratchDir(workDir, `export-${month.slice(0, 7)}`);
  const csv = path.join(dir, 'rows.csv');
  try {
    const partition = partitionName(month);
    const columns = EVENT_FIELDS.join(', ');
    const source = tenants
      ? `(select ${columns} from oms_audit.${partition} where tenant_id in (${tenants.map((t) => `'${t.replace(/[^0-9a-f-]/gi, '')}'`).join(', ')}))`
      : `oms_audit.${partition} (${columns})`;
    // COPY straight from the partition: PostgreSQL's fastest way out, no row passes through JavaScript.
    // On a connection of its own (copyOut): a COPY read through the pool can leave a pooled connection stuck.
    const exportCsv = async (sink: WriteStream) => {
      try {
        await pipeline(await copyOut(connectionUrl(sql), `copy ${source} to stdout (format csv)`), sink);
      } catch (err) {
        sink.destroy();
        throw err;
      }
    };
    const piped = makeFifo(csv);
    if (!piped) await exportCsv(createWriteStream(csv));

    await withDuckDB(async (db) => {
      await db.run(`set temp_directory = ${literal(path.join(dir, 'duckdb-tmp'))}`);
      const rows = archiveCsvSource(literal(csv));
      // One pass over the export: a file per tenant, rows in seq order.
      const out = path.join(dir, 'parquet');
      const convert = db.run(
        `copy (select * from ${rows} order by tenant_id, seq) to ${literal(out)}
           (format parquet, compression zstd, row_group_size 100000, partition_by (tenant_id), write_partition_columns true,
            kv_metadata {'oms_audit.schema_version': '${SCHEMA_VERSION}', 'oms_audit.month': '${month.slice(0, 7)}'})`,
      );
      if (piped) {
        // A writer still waiting for DuckDB to open the pipe (DuckDB failed first) is let go, so nothing hangs.
        const converted = convert.finally(() => releasePipe(csv));
        const [written, done] = await Promise.allSettled([exportCsv(createWriteStream(csv)), converted]);
        // A COPY that failed part-way ends the pipe early: DuckDB may have converted only part of the rows.
        if (written.status === 'rejected') throw written.reason;
        if (done.status === 'rejected') throw done.reason;
      } else {
        await convert;
      }
      await rm(csv, { force: true });
      for (const stats of await tenantStats(db, `read_parquet(${literal(path.join(out, '*', '*.parquet'))})`)) {
        const tenantDir = path.join(out, `tenant_id=${stats.tenant_id}`);
        const written = (await readdir(tenantDir)).filter((f) => f.endsWith('.parquet'));
        let file = path.join(tenantDir, written[0]!);
        if (written.length > 1) {
          // DuckDB split a large tenant: one file per part keeps the manifest simple.
          file = path.join(dir, `${stats.tenant_id}.parquet`);
          await db.run(`copy (select * from read_parquet(${literal(path.join(tenantDir, '*.parquet'))}) order by seq) to ${literal(file)} (format parquet, compression zstd, row_group_size 100000)`);
        }
        await each({ ...stats, file, bytes: (await stat(file)).size, sha256: await sha256File(file) });
        await rm(tenantDir, { recursive: true, force: true });
      }
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function tenantStats(db: DuckDBConnection, source: string): Promise<TenantRows[]> {
  const reader = await db.runAndReadAll(
    `select tenant_id, count(*)::bigint, min(seq), max(seq), sum(seq)::varchar,
            strftime(min(occurred_at), '%Y-%m-%dT%H:%M:%S.%fZ'), strftime(max(occurred_at), '%Y-%m-%dT%H:%M:%S.%fZ')
     from ${source} group by tenant_id order by tenant_id`,
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
