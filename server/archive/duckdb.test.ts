/** DuckDB, the archived months' reader: warmed once per process, leaving nothing behind, then read as usual. */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { literal, warmDuckDB, withDuckDB } from './duckdb.ts';

describe('DuckDB', () => {
  it('is warmed by writing and reading one Parquet file that it then removes; later reads share the instance', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'oms-audit-duckdb-warm-'));
    try {
      expect(await warmDuckDB(dir)).toBeGreaterThan(0);
      expect(await readdir(dir)).toEqual([]);
      const file = path.join(dir, 'part.parquet');
      const rows = await withDuckDB(async (db) => {
        await db.run(`copy (select range as seq from range(3)) to ${literal(file)} (format parquet)`);
        return (await db.runAndReadAll(`select sum(seq)::INTEGER as total from read_parquet([${literal(file)}])`)).getRowObjects();
      });
      expect(rows).toEqual([{ total: 3 }]);
      // One instance per process, whichever copy of the module (the server's or the console's bundle) asks for it.
      const holder = globalThis as typeof globalThis & { __omsAuditDuckDB?: Promise<unknown> };
      const instance = holder.__omsAuditDuckDB;
      expect(instance).toBeDefined();
      await warmDuckDB(dir);
      expect(holder.__omsAuditDuckDB).toBe(instance);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
