/**
 * The archive catalog and restores change only through SECURITY DEFINER
 * functions that allow one step of the lifecycle and check their arguments.
 * Here the runtime role (what the server connects as) calls them as an
 * attacker would: to expire a held month or one still inside its retention,
 * to skip steps, to point a part at another file, to load rows that are not
 * the archive. Each is refused and the catalog stays as it was.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { monthLabel, retentionDatabase, tenantWithHistory, type RetentionDb } from '@/test/retention.ts';
import { retentionContext } from './context.ts';
import { partsOf, type ArchivePart } from './parts.ts';
import { placeHold, setPolicy } from './policy.ts';
import { runRetention } from './run.ts';

let db: RetentionDb;
let held: ArchivePart;
let young: ArchivePart;
let hotTenant: string;

beforeAll(async () => {
  db = await retentionDatabase();
  // Tenant A: one year of retention, long over for a month 30 months ago, but a legal hold covers it.
  const a = await tenantWithHistory(db.sql, 'guard-held', [30, 1], 3);
  await setPolicy(db.sql, { tenantId: a.id, change: { hot_months: 3, total_years: 1 }, actor: 'test', minTotalYears: 1 });
  await placeHold(db.sql, { tenantId: a.id, reason: 'SEC inquiry', actor: 'test' });
  // Tenant B: the default ten years, so its archived month is far from expiring.
  const b = await tenantWithHistory(db.sql, 'guard-young', [30], 3);
  const ctx = await retentionContext(db.sql, db.env(), { actor: 'test' });
  const run = await runRetention(ctx);
  expect(run.problems).toEqual([]);
  held = (await partsOf(db.sql, { tenantId: a.id }))[0]!;
  young = (await partsOf(db.sql, { tenantId: b.id }))[0]!;
  expect([held?.state, young?.state]).toEqual(['dropped', 'dropped']);
  hotTenant = a.id;
});
afterAll(() => db?.drop());

const setState = (p: ArchivePart, state: string, problem: string | null = null) =>
  db.sql`select oms_audit.set_archive_part_state(${p.tenant_id}, ${p.month}::date, ${p.part}, ${state}, ${problem})`;

describe('the archive catalog, as the runtime role', () => {
  it('refuses to expire a month under legal hold, or before the retention ends', async () => {
    const before = await partsOf(db.sql, {});
    await expect(setState(held, 'expiring')).rejects.toMatchObject({ code: 'OA003', message: expect.stringContaining('under legal hold') });
    await expect(setState(young, 'expiring')).rejects.toMatchObject({ code: 'OA003', message: expect.stringContaining('its retention runs until') });
    expect(await partsOf(db.sql, {})).toEqual(before);
  });

  it('refuses steps the lifecycle does not have, and any direct change', async () => {
    const before = await partsOf(db.sql, {});
    for (const state of ['expired', 'verified', 'written', 'writing', 'failed', 'bogus']) {
      await expect(setState(young, state, state === 'failed' ? 'x' : null), state).rejects.toMatchObject({ code: 'OA003' });
    }
    for (const attack of [
      `update oms_audit.archive_parts set state = 'expired' where tenant_id = '${young.tenant_id}'`,
      `insert into oms_audit.archive_parts (tenant_id, month, part, state, storage_url, data_key, manifest_key) values ('${young.tenant_id}', '${young.month}', 9, 'verified', 'file:///x', 'a', 'b')`,
      `delete from oms_audit.archive_parts where tenant_id = '${young.tenant_id}'`,
    ]) {
      await expect(db.sql.unsafe(attack), attack).rejects.toMatchObject({ code: '42501' });
    }
    await expect(
      db.sql`select oms_audit.record_archive_part_written(${young.tenant_id}, ${young.month}::date, ${young.part}, 3, 1, 3, 6, now(), now(), 10, ${'a'.repeat(64)}, ${'b'.repeat(64)}, now(), false)`,
    ).rejects.toMatchObject({ code: 'OA003', message: expect.stringContaining('not being written') });
    expect(await partsOf(db.sql, {})).toEqual(before);
  });

  it('begins only the next part of a month in PostgreSQL, stored under its own keys', async () => {
    const before = await partsOf(db.sql, {});
    const month = `${monthLabel(1)}-01`;
    const keys = (part: number) => `tenant_id=${hotTenant}/month=${monthLabel(1)}/part-${String(part).padStart(4, '0')}`;
    const begin = (monthDate: string, part: number, data: string, manifest: string) =>
      db.sql`select oms_audit.begin_archive_part(${hotTenant}, ${monthDate}::date, ${part}, 'file:///archive', ${data}, ${manifest})`;
    // Another file than the part's own (e.g. an older, different archive).
    await expect(begin(month, 1, `${keys(1)}.other.parquet`, `${keys(1)}.manifest.json`)).rejects.toMatchObject({ code: '22023' });
    // A part number that skips one.
    await expect(begin(month, 3, `${keys(3)}.parquet`, `${keys(3)}.manifest.json`)).rejects.toMatchObject({ code: '22023' });
    // A month with no partition (already dropped).
    await expect(begin(held.month, 2, held.data_key.replace('0001', '0002'), held.manifest_key.replace('0001', '0002'))).rejects.toMatchObject({ code: '22023' });
    expect(await partsOf(db.sql, {})).toEqual(before);
  });
});

describe('restores, as the runtime role', () => {
  it('records a restore only when its rows are exactly the archived month', async () => {
    const id = randomUUID();
    await expect(
      db.sql.begin(async (tx) => {
        const [made] = await tx`select oms_audit.create_restore_partition(${id}) as partition`;
        // One forged row instead of the month's three archived events.
        await tx.unsafe(
          `insert into ${made!.partition as string} (id, tenant_id, seq, occurred_at, received_at, actor_type, actor_id, object_type, object_id, event_type, outcome, restore_id)
           values (gen_random_uuid(), '${young.tenant_id}', 1, '${young.min_occurred_at}', now(), 'USER', 'ghost', 'ORDER', 'O-1', 'CREATE', 'success', '${id}')`,
        );
        await tx`select oms_audit.finish_restore(${id}, ${young.tenant_id}, ${young.month}::date, 'forged', 'attacker')`;
      }),
    ).rejects.toMatchObject({ code: 'OA003', message: expect.stringContaining('1 rows loaded, the archive holds 3') });
    expect((await db.sql`select count(*)::int as n from oms_audit.restores`)[0]!.n).toBe(0);
    // Restores are recorded and released only through the functions.
    await expect(db.sql.unsafe(`insert into oms_audit.restores (tenant_id, month, row_count, restored_by) values ('${young.tenant_id}', '${young.month}', 3, 'x')`)).rejects.toMatchObject({ code: '42501' });
    expect((await db.sql`select oms_audit.release_restore(${randomUUID()}, 'x') as ok`)[0]!.ok).toBe(false);
  });
});
