/**
 * The archive format: one Parquet file per tenant, month and part (zstd,
 * columns in the event contract's canonical order, rows in seq order) and a
 * JSON manifest beside it. Plain types only (strings, 64-bit integers, UTC
 * timestamps in microseconds), so DuckDB, Athena, Trino, Spark and ClickHouse
 * read the files without oms-audit. Keys follow Hive's layout
 * (tenant_id=…/month=…/), which Athena and Trino use as partitions.
 */
import type { SignedCheckpoint } from '@/supabase/functions/_shared/checkpoint.ts';
import { EVENT_FIELDS, SCHEMA_VERSION } from '@/supabase/functions/_shared/contract.ts';

export const MANIFEST_FORMAT = 'oms-audit-archive';
export const MANIFEST_VERSION = 1;

/** Parquet (DuckDB) type of each column; context is JSON text in a string column. */
export const ARCHIVE_COLUMNS: ReadonlyArray<readonly [(typeof EVENT_FIELDS)[number], string]> = EVENT_FIELDS.map((field) => {
  const type = field === 'seq' ? 'BIGINT' : field === 'occurred_at' || field === 'received_at' ? 'TIMESTAMPTZ' : field === 'schema_version' ? 'INTEGER' : 'VARCHAR';
  return [field, type] as const;
});

/** DuckDB's reader of rows as plain CSV in the archive's column order (PostgreSQL's COPY … (FORMAT csv) of the event columns). */
export function archiveCsvSource(fileLiteral: string): string {
  const spec = ARCHIVE_COLUMNS.map(([name, type]) => `${name}: '${type}'`).join(', ');
  return `read_csv(${fileLiteral}, header = false, auto_detect = false, delim = ',', quote = '"', escape = '"',
                   allow_quoted_nulls = false, max_line_size = 4194304, columns = {${spec}})`;
}

export interface ManifestFile {
  key: string;
  format: 'parquet';
  compression: 'zstd';
  bytes: number;
  sha256: string;
  row_count: number;
}

export interface ArchiveManifest {
  format: typeof MANIFEST_FORMAT;
  manifest_version: typeof MANIFEST_VERSION;
  tenant_id: string;
  /** YYYY-MM (UTC month of occurred_at). */
  month: string;
  /** 1 for a month's first archive; later parts hold events that arrived after it (back-fills). */
  part: number;
  /** Version of the event contract the part's columns follow (each row carries its own schema_version; parts
   *  written before version 2 have no written_by column, which readers take as null: rows.ts archiveRelation). */
  schema_version: number;
  columns: { name: string; type: string }[];
  row_count: number;
  min_seq: number;
  max_seq: number;
  /** Sum of the seqs (a cheap check that the seq set is the one archived), as a decimal string. */
  seq_sum: string;
  min_occurred_at: string;
  max_occurred_at: string;
  files: ManifestFile[];
  created_at: string;
  /** End of the tenant's retention for this month when archived; the Object Lock date where used. */
  retain_until: string;
  object_lock: boolean;
  /**
   * The signed integrity checkpoints whose seq ranges cover these rows (docs/integrity.md):
   * with the public key, anyone can check the archive's event hashes against them.
   */
  checkpoints: SignedCheckpoint[];
}

export function monthLabel(month: string): string {
  return month.slice(0, 7);
}

/** Object keys of a part. */
export function partKeys(tenantId: string, month: string, part: number): { data: string; manifest: string } {
  const base = `tenant_id=${tenantId}/month=${monthLabel(month)}/part-${String(part).padStart(4, '0')}`;
  return { data: `${base}.parquet`, manifest: `${base}.manifest.json` };
}

export function manifestColumns(): ArchiveManifest['columns'] {
  return ARCHIVE_COLUMNS.map(([name, type]) => ({ name, type: type === 'TIMESTAMPTZ' ? 'TIMESTAMP(MICROS, UTC)' : type === 'VARCHAR' ? (name === 'context' || name === 'personal' ? 'STRING (JSON text)' : 'STRING') : type === 'BIGINT' ? 'INT64' : 'INT32' }));
}

export { SCHEMA_VERSION };
