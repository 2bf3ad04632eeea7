/**
 * A month partition to Parquet: every row once, one file per tenant in seq
 * order, and a failed COPY is an error (never a short archive, never a hang).
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { monthLabel, retentionDatabase, tenantWithHistory, type RetentionDb } from '@/test/retention.ts';
import { literal, withDuckDB } from './duckdb.ts';
import { exportMonth, type ParquetFile } from './export.ts';

let db: RetentionDb;

beforeAll(async () => {
  db = await retentionDatabase();
});
afterAll(() => db?.drop());

describe('exportMonth', () => {
  it('writes each tenant of the month to its own Parquet file, every row once, in seq order', async () => {
    const a = await tenantWithHistory(db.sql, 'export-a', [3], 1200);
    const b = await tenantWithHistory(db.sql, 'export-b', [3, 4], 7);
    const month = `${monthLabel(3)}-01`;
    const workDir = path.join(db.dir, 'work-complete');
    const files: ParquetFile[] = [];
    await exportMonth(db.sql, month, null, workDir, async (file) => {
      files.push(file);
    });

    expect(files.map((f) => [f.tenant_id, f.row_count, f.min_seq, f.max_seq]).sort()).toEqual(
      [
        [a.id, 1200, 1, 1200],
        [b.id, 7, 1, 7],
      ].sort(),
    );
    expect(await readdir(workDir)).toEqual([]); // the CSV, the pipe and the files are gone once handed over
  });

  it('exports only the tenants asked for, with the rows PostgreSQL holds', async () => {
    const c = await tenantWithHistory(db.sql, 'export-c', [5], 40);
    await tenantWithHistory(db.sql, 'export-d', [5], 5);
    const month = `${monthLabel(5)}-01`;
    const handed: { tenant: string; seqs: number[] }[] = [];
    await exportMonth(db.sql, month, [c.id], path.join(db.dir, 'work-some'), async (file) => {
      const rows = await withDuckDB(async (duck) => (await duck.runAndReadAll(`select seq from read_parquet(${literal(file.file)})`)).getRows());
      handed.push({ tenant: file.tenant_id, seqs: rows.map((r) => Number(r[0] as bigint)) });
    });
    expect(handed.map((h) => h.tenant)).toEqual([c.id]);
    const seqs = handed[0]!.seqs;
    expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });

  it('fails with PostgreSQL’s error when the COPY fails, leaving nothing behind', async () => {
    const workDir = path.join(db.dir, 'work-failed');
    const handed: ParquetFile[] = [];
    await expect(
      exportMonth(db.sql, '1999-01-01', null, workDir, async (file) => {
        handed.push(file);
      }),
    ).rejects.toThrow(/audit_events_1999_01.*does not exist/);
    expect(handed).toEqual([]);
    expect(await readdir(workDir)).toEqual([]);
  });
});
