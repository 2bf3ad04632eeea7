/**
 * The published export test vectors (docs/test-vectors/export-format.json)
 * against the code, both ways: the standalone verifier's reader maps each
 * record to the stored values, and both writers — PostgreSQL's COPY for hot
 * months, DuckDB for archived ones — write exactly those bytes for that event.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOCK_FLAG_COLUMN, clockFlagOf, exportFormat, type ClockFlagLimits } from '@/lib/export-formats.ts';
import { connectionUrl } from '@/supabase/functions/_shared/db.ts';
import { copyOut } from '@/server/db/copy-out.ts';
import { literal, withDuckDB } from '@/server/archive/duckdb.ts';
import { ARCHIVE_COLUMNS } from '@/server/archive/format.ts';
import { adminSql } from '@/test/fixtures.ts';
import { readRows } from '@/verifier/verify-bundle.ts';
import { duckClockFlag, duckCopy, postgresClockFlag, postgresCopy } from './columns.ts';

interface Vector {
  format: 'csv' | 'jsonl';
  excel: boolean;
  text: string;
  values: Record<string, unknown>;
}
interface ClockFlagCase extends ClockFlagLimits {
  occurred_at: string;
  received_at: string;
  clock_flag: string | null;
}
const {
  columns,
  stored_context: storedContext,
  clock,
  vectors,
  clock_flags: clockFlags,
} = JSON.parse(readFileSync('docs/test-vectors/export-format.json', 'utf8')) as { columns: string[]; stored_context: string; clock: ClockFlagLimits; vectors: Vector[]; clock_flags: ClockFlagCase[] };

/** The record of a vector without the header row and byte order mark (writers write records; the export adds the header). */
const recordOf = (v: Vector) => (v.format === 'csv' ? v.text.replace(/^\ufeff/, '').slice(v.text.replace(/^\ufeff/, '').indexOf('\r\n') + 2) : v.text);

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'oms-audit-vectors-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

describe('export format test vectors', () => {
  it('cover the contract’s fields in order, then the clock flag', async () => {
    const { EVENT_FIELDS } = await import('@/supabase/functions/_shared/fields.ts');
    expect(columns).toEqual([...EVENT_FIELDS, CLOCK_FLAG_COLUMN]);
  });

  it('clock flags: the reader’s rule, PostgreSQL and DuckDB give each case’s flag', async () => {
    expect(new Set(clockFlags.map((c) => c.clock_flag))).toEqual(new Set(['ahead', 'behind', 'within', null]));
    const sql = adminSql();
    const fromPostgres: (string | null)[] = [];
    const fromDuck: (string | null)[] = [];
    await withDuckDB(async (duck) => {
      for (const c of clockFlags) {
        const [row] = await sql.unsafe(`select ${postgresClockFlag(c)} as flag from (select $1::timestamptz as occurred_at, $2::timestamptz as received_at) e`, [c.occurred_at, c.received_at]);
        fromPostgres.push(row!.flag as string | null);
        const reader = await duck.runAndReadAll(`select ${duckClockFlag(c)} from (select ${literal(c.occurred_at)}::TIMESTAMPTZ as occurred_at, ${literal(c.received_at)}::TIMESTAMPTZ as received_at)`);
        fromDuck.push(reader.getRows()[0]![0] as string | null);
      }
    });
    const expected = clockFlags.map((c) => c.clock_flag);
    expect(clockFlags.map((c) => clockFlagOf(c.occurred_at, c.received_at, c))).toEqual(expected);
    expect(fromPostgres).toEqual(expected);
    expect(fromDuck).toEqual(expected);
  });

  for (const v of vectors) {
    const name = `${v.format}${v.excel ? ' for Excel' : ''}`;

    it(`${name}: the verifier reads the record back to the stored values`, async () => {
      const file = path.join(work, `read-${name}`);
      await writeFile(file, v.text);
      const rows: Record<string, unknown>[] = [];
      for await (const row of readRows(file, exportFormat(v.format, v.excel))) rows.push(row);
      expect(rows).toEqual([v.values]);
    });

    it(`${name}: DuckDB writes the record of an archived row byte for byte`, async () => {
      const out = path.join(work, `duck-${name}`);
      // One archived row in the archive's schema; its context is the text PostgreSQL stored.
      const row = ARCHIVE_COLUMNS.map(([field, type]) => {
        const value = field === 'context' ? storedContext : v.values[field];
        return `${value === null ? 'NULL' : literal(String(value))}::${type} as ${field}`;
      });
      await withDuckDB((duck) => duck.run(duckCopy(exportFormat(v.format, v.excel), `select ${row.join(', ')}`, 'asc', literal(out), clock)));
      expect(await readFile(out, 'utf8')).toBe(recordOf(v));
    });

    it(`${name}: PostgreSQL writes the record of a hot row byte for byte`, async () => {
      // Planting one stored row as it is: the owner's rights, not the runtime role's.
      const sql = adminSql();
      const values = v.values as Record<string, string | number | null>;
      await sql`insert into oms_audit.tenants (id, name) values (${values.tenant_id}, 'export vectors') on conflict do nothing`;
      // The ledger accepts only the tenant's next seq: the vector's seq follows.
      await sql`insert into oms_audit.tenant_sequences (tenant_id, last_seq) values (${values.tenant_id}, ${Number(values.seq) - 1}) on conflict do nothing`;
      await sql`select oms_audit.ensure_month_partition(${values.occurred_at}::timestamptz::date)`;
      const [present] = await sql`select count(*)::int as n from public.audit_events where tenant_id = ${values.tenant_id} and seq = ${values.seq}`;
      if (!present!.n) {
        await sql`insert into public.audit_ledger (tenant_id, seq, id, occurred_at, event_hash) values (${values.tenant_id}, ${values.seq}, ${values.id}, ${values.occurred_at}, decode(repeat('00', 32), 'hex'))`;
        await sql`
          insert into public.audit_events (id, tenant_id, seq, occurred_at, received_at, actor_type, actor_id, object_type, object_id, event_type, outcome, source, request_id,
                                           ip_address, user_agent, device_fingerprint, observed_ip, observed_user_agent, context, schema_version, written_by)
          values (${values.id}, ${values.tenant_id}, ${values.seq}, ${values.occurred_at}, ${values.received_at}, ${values.actor_type}, ${values.actor_id}, ${values.object_type},
                  ${values.object_id}, ${values.event_type}, ${values.outcome}, ${values.source}, ${values.request_id}, ${values.ip_address}, ${values.user_agent},
                  ${values.device_fingerprint}, ${values.observed_ip}, ${values.observed_user_agent}, ${JSON.stringify(v.values.context)}::text::jsonb, ${values.schema_version}, ${values.written_by})`;
      }
      const stream = await copyOut(connectionUrl(sql), postgresCopy(exportFormat(v.format, v.excel), `e.tenant_id = '${values.tenant_id}' and e.seq = ${Number(values.seq)}`, 'asc', clock));
      let text = '';
      for await (const chunk of stream) text += chunk;
      // COPY ends records with LF; the export turns a CSV record's LF into CRLF.
      expect(v.format === 'csv' ? text.replace(/\n$/, '\r\n') : text).toBe(recordOf(v));
    });
  }
});
