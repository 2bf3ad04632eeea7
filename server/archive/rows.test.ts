/**
 * Archives of any age are read the same way: a part written before events
 * recorded their writer has no written_by column, and its rows read back with
 * written_by null; their schema version 1 hashes still match the ledger, also
 * when such a part is read together with a newer one.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventHash } from '@/supabase/functions/_shared/event-hash.ts';
import { writeVersion1Events } from '@/test/legacy-events.ts';
import { addEvents, monthLabel, retentionDatabase, timeInMonth, type RetentionDb } from '@/test/retention.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { literal, withDuckDB } from './duckdb.ts';
import { exportMonth, type ParquetFile } from './export.ts';
import { ARCHIVE_JSON, archivedEventFromJson, archiveRelation } from './rows.ts';

let db: RetentionDb;
beforeAll(async () => {
  db = await retentionDatabase();
});
afterAll(() => db?.drop());

describe('archiveRelation', () => {
  it('reads parts without written_by (before schema version 2) beside newer ones, every hash as the ledger has it', async () => {
    const tenant = await createTenant(db.sql, `archive-versions-${Date.now()}`);
    const legacy = Array.from({ length: 5 }, (_, i) => ({
      actor_id: 'trader-1',
      actor_type: 'USER',
      object_type: 'ORDER',
      object_id: `ORD-${i}`,
      event_type: 'CREATE',
      occurred_at: timeInMonth(7, i),
      ip_address: i % 2 ? '::ffff:10.0.0.1' : '2001:db8::7',
      context: { qty: i, note: 'ü 🚀' },
    }));
    await writeVersion1Events(db.admin, tenant.id, legacy);
    await addEvents(db.sql, tenant.id, 7, 5, 100);

    // The month's archive as written now, and the same rows as an archive written before the column
    // existed (version 1 rows, no written_by); the export's own file is removed once handed over.
    const current = path.join(db.dir, 'current.parquet');
    const old = path.join(db.dir, 'old.parquet');
    const newer = path.join(db.dir, 'newer.parquet');
    await exportMonth(db.sql, `${monthLabel(7)}-01`, [tenant.id], path.join(db.dir, 'work'), async (file: ParquetFile) => {
      await withDuckDB(async (duck) => {
        await duck.run(`copy (select * from read_parquet(${literal(file.file)})) to ${literal(current)} (format parquet)`);
        await duck.run(`copy (select * exclude (written_by) from read_parquet(${literal(file.file)}) where schema_version = 1) to ${literal(old)} (format parquet)`);
        await duck.run(`copy (select * from read_parquet(${literal(file.file)}) where schema_version = 2) to ${literal(newer)} (format parquet)`);
      });
    });
    const ledger = new Map(
      (await db.sql`select seq, encode(event_hash, 'hex') as hash from public.audit_ledger where tenant_id = ${tenant.id}`).map((r) => [r.seq as number, r.hash as string]),
    );

    for (const set of [[old], [old, newer], [current]]) {
      const events = await withDuckDB(async (duck) =>
        ((await duck.runAndReadAll(`select ${ARCHIVE_JSON} from ${archiveRelation(set)} order by seq`)).getColumns()[0] ?? []).map((t) => archivedEventFromJson(t as string)),
      );
      expect(events.length).toBe(set[0] === old && set.length === 1 ? 5 : 10);
      for (const e of events) {
        expect(e.written_by).toBe(e.schema_version === 1 ? null : 'operator:test');
        expect(eventHash(e), `seq ${e.seq}`).toBe(ledger.get(e.seq));
      }
    }
  });
});
