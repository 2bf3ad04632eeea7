/**
 * The month lifecycle on the local filesystem: 18 months of backdated events,
 * a retention run, and everything a user relies on afterwards.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEvent, listEvents } from '@/server/services/query.ts';
import { addEvents, allEvents, monthLabel, pastHotWindow, retentionDatabase, tenantWithHistory, withoutMark, type RetentionDb } from '@/test/retention.ts';
import { archiveMonth, reverifyArchives } from './archive.ts';
import { retentionContext, type RetentionContext } from './context.ts';
import { withRetentionLock, partsOf } from './parts.ts';
import { getPolicy, placeHold, releaseHold, setPolicy } from './policy.ts';
import { complianceCsv, complianceReport, tenantMonths } from './report.ts';
import { releaseRestore, restoreMonth } from './restore.ts';
import { runRetention } from './run.ts';
import { trustedKeys } from '@/server/services/integrity/signing-key.ts';
import { verifyTenant } from '@/server/services/integrity/verify.ts';

const MONTHS = Array.from({ length: 18 }, (_, i) => i);
let db: RetentionDb;
let ctx: RetentionContext;

beforeAll(async () => {
  db = await retentionDatabase();
  ctx = await retentionContext(db.sql, db.env(), { actor: 'test-retention' });
});
afterAll(() => db?.drop());

const partitionExists = async (label: string) =>
  (await db.sql`select to_regclass(${`oms_audit.audit_events_${label.replace('-', '_')}`}) is not null as ok`)[0]!.ok as boolean;
const seedOnly = { source: 'seed' } as const;

describe('retention on the filesystem', () => {
  it('archives, verifies and drops the months past the hot window; search, get, history and streams still find every event', async () => {
    const a = await tenantWithHistory(db.sql, 'lifecycle-a', MONTHS, 24);
    const b = await tenantWithHistory(db.sql, 'lifecycle-b', [2, 15, 16], 9);
    const beforeA = await allEvents(db.sql, a.claims, seedOnly);
    const beforeB = await allEvents(db.sql, b.claims, seedOnly);
    expect(beforeA).toHaveLength(18 * 24);

    const result = await runRetention(ctx);
    expect(result.problems).toEqual([]);
    // The run worked in a private scratch folder under the data directory and left nothing there.
    expect(ctx.workDir).toBe(path.join(db.dir, 'scratch'));
    expect((await stat(ctx.workDir)).mode & 0o777).toBe(0o700);
    expect(await readdir(ctx.workDir)).toEqual([]);
    const archived = MONTHS.filter((m) => pastHotWindow(m, 13)).map((m) => monthLabel(m));
    expect(archived.length).toBeGreaterThanOrEqual(4);
    expect(result.archived.map((r) => [r.month.slice(0, 7), r.outcome]).sort()).toEqual(archived.map((m) => [m, 'dropped']).sort());

    // Old months left PostgreSQL; hot ones are untouched.
    for (const m of MONTHS) expect(await partitionExists(monthLabel(m)), monthLabel(m)).toBe(!archived.includes(monthLabel(m)));
    const [hot] = await db.sql`select count(*)::int as n from public.audit_events where tenant_id = ${a.id} and source = 'seed'`;
    expect(hot!.n).toBe((18 - archived.length) * 24);

    // Parquet and manifest per tenant and month, hashes as recorded.
    const parts = await partsOf(db.sql, { tenantId: a.id });
    expect(parts.map((p) => [p.month.slice(0, 7), p.part, p.state]).sort()).toEqual(archived.map((m) => [m, 1, 'dropped']).sort());
    for (const p of parts) {
      const manifest = JSON.parse(await readFile(path.join(db.dir, 'archive', p.manifest_key), 'utf8'));
      expect(manifest).toMatchObject({ format: 'oms-audit-archive', tenant_id: a.id, month: p.month.slice(0, 7), part: 1, row_count: 24, min_seq: p.min_seq, max_seq: p.max_seq, schema_version: 2, checkpoints: expect.any(Array) });
      // The signed checkpoints covering the part's seqs travel with it.
      expect(manifest.checkpoints.length).toBeGreaterThan(0);
      expect(manifest.checkpoints[0].seq_from).toBeLessThanOrEqual(p.min_seq!);
      expect(manifest.checkpoints.at(-1).seq_to).toBeGreaterThanOrEqual(p.max_seq!);
      expect(manifest.checkpoints.every((c: { tenant_id: string; signature: string }) => c.tenant_id === a.id && c.signature.length > 0)).toBe(true);
      expect(manifest.files).toEqual([expect.objectContaining({ key: p.data_key, sha256: p.data_sha256, row_count: 24, compression: 'zstd' })]);
      expect((await readFile(path.join(db.dir, 'archive', p.data_key))).subarray(0, 4).toString()).toBe('PAR1');
    }

    // The same events, in the same order, every field equal; archived ones marked.
    const afterA = await allEvents(db.sql, a.claims, seedOnly);
    expect(withoutMark(afterA)).toEqual(beforeA);
    expect(afterA.filter((e) => e.archived).map((e) => e.occurred_at.slice(0, 7))).toEqual(afterA.filter((e) => archived.includes(e.occurred_at.slice(0, 7))).map((e) => e.occurred_at.slice(0, 7)));
    expect(withoutMark(await allEvents(db.sql, b.claims, seedOnly))).toEqual(beforeB);

    // Keyset pages, newest first, run on seamlessly from hot into archived months.
    const paged: unknown[] = [];
    let cursor: string | undefined;
    do {
      const page = await listEvents(db.sql, a.claims, { ...seedOnly, limit: 7, order: 'desc', cursor });
      paged.push(...page.events);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    expect(withoutMark(paged as never)).toEqual([...beforeA].reverse());

    // Filters apply to archived rows as to hot ones.
    const oldest = monthLabel(17);
    const filtered = await listEvents(db.sql, a.claims, { object_type: 'ORDER', object_id: 'ORD-17-1', context: { symbol: 'AAPL' }, event_type: ['UPDATE', 'FILL'], limit: 100, order: 'asc' });
    expect(withoutMark(filtered.events)).toEqual(beforeA.filter((e) => e.object_id === 'ORD-17-1' && e.context.symbol === 'AAPL' && ['UPDATE', 'FILL'].includes(e.event_type)));
    expect(filtered.events.length).toBeGreaterThan(0);
    expect(filtered.events.every((e) => e.archived === true)).toBe(true);
    const ranged = await listEvents(db.sql, a.claims, { ...seedOnly, from: `${oldest}-01`, to: `${monthLabel(16)}-01`, limit: 1000, order: 'asc' });
    expect(ranged.events).toHaveLength(24);

    // One archived event by id; another tenant's events stay out of reach.
    const old = beforeA.find((e) => e.occurred_at.startsWith(oldest))!;
    expect(await getEvent(db.sql, a.claims, old.id)).toEqual({ ...old, archived: true });
    expect(await getEvent(db.sql, b.claims, old.id)).toBeNull();
    expect((await listEvents(db.sql, b.claims, { object_id: 'ORD-17-1', limit: 10, order: 'asc' })).events).toEqual([]);

    // The tenant's own trail records the archive and the drop of each month.
    const trail = await listEvents(db.sql, a.claims, { source: 'oms-audit-retention', limit: 100, order: 'asc' });
    expect(trail.events.filter((e) => e.event_type === 'ARCHIVE').map((e) => e.object_id).sort()).toEqual([...archived].sort());
    expect(trail.events.filter((e) => e.event_type === 'PARTITION_DROP').map((e) => e.object_id).sort()).toEqual([...archived].sort());

    // Compliance: every ledger event accounted for, no seq gap.
    const report = await complianceReport(db.sql, { tenantId: a.id, minTotalYears: 1 });
    const months = report.tenants[0]!.months;
    expect(report.tenants[0]!.seq.gaps).toBe(0);
    expect(months.every((m) => m.events_unaccounted === 0)).toBe(true);
    expect(months.filter((m) => m.state === 'verified').map((m) => m.month).sort()).toEqual([...archived].sort());
    expect(complianceCsv(report).split('\r\n')[0]).toContain('events_unaccounted');

    // A second run finds nothing to do.
    const again = await runRetention(ctx);
    expect(again.plan.archive).toEqual([]);
    expect(again.problems).toEqual([]);
  });

  it('restores an archived month for searching like hot data, and drops the copy on release', async () => {
    const t = await tenantWithHistory(db.sql, 'restore', [16, 1], 12);
    const before = await allEvents(db.sql, t.claims, seedOnly);
    await runRetention(ctx);
    const month = `${monthLabel(16)}-01`;
    const restore = await restoreMonth(ctx, { tenantId: t.id, month, reason: 'investigation 42' });
    expect(restore).toMatchObject({ tenant_id: t.id, row_count: 12, released_at: null });
    expect(await restoreMonth(ctx, { tenantId: t.id, month })).toMatchObject({ id: restore.id });
    const [copy] = await db.sql`select count(*)::int as n from public.restored_events where restore_id = ${restore.id}`;
    expect(copy!.n).toBe(12);
    expect(withoutMark(await allEvents(db.sql, t.claims, seedOnly))).toEqual(before);
    const calendar = await tenantMonths(db.sql, t.id, []);
    expect(calendar.find((m) => m.month === monthLabel(16))).toMatchObject({ state: 'restored', events_restored: 12, events_archived: 12, events_hot: 0 });

    expect(await releaseRestore(ctx, { tenantId: t.id, month })).toMatchObject({ id: restore.id, released_at: expect.any(String) });
    const [gone] = await db.sql`select count(*)::int as n from pg_class where relname = ${'restored_' + restore.id.replace(/-/g, '')}`;
    expect(gone!.n).toBe(0);
    expect(withoutMark(await allEvents(db.sql, t.claims, seedOnly))).toEqual(before);
    expect((await tenantMonths(db.sql, t.id, [])).find((m) => m.month === monthLabel(16))!.state).toBe('verified');
    const trail = await listEvents(db.sql, t.claims, { object_type: 'ARCHIVE', event_type: ['RESTORE', 'RESTORE_RELEASE'], limit: 10, order: 'asc' });
    expect(trail.events.map((e) => e.event_type)).toEqual(['RESTORE', 'RESTORE_RELEASE']);
  });

  it('archives events that arrive for an archived month as its next part', async () => {
    const t = await tenantWithHistory(db.sql, 'backfill', [15], 10);
    await runRetention(ctx);
    expect(await partitionExists(monthLabel(15))).toBe(false);
    // A late event (a back-fill) recreates the month's partition and is found beside the archived ones.
    await addEvents(db.sql, t.id, 15, 3, 5000);
    const mixed = await allEvents(db.sql, t.claims, seedOnly);
    expect(mixed.map((e) => e.archived ?? false)).toEqual([...Array(10).fill(true), false, false, false]);
    const result = await runRetention(ctx);
    expect(result.problems).toEqual([]);
    const parts = await partsOf(db.sql, { tenantId: t.id });
    expect(parts.map((p) => [p.part, p.state, p.row_count])).toEqual([[1, 'dropped', 10], [2, 'dropped', 3]]);
    const after = await allEvents(db.sql, t.claims, seedOnly);
    expect(withoutMark(after)).toEqual(withoutMark(mixed));
    expect(after.every((e) => e.archived)).toBe(true);
    expect((await tenantMonths(db.sql, t.id, [])).find((m) => m.month === monthLabel(15))).toMatchObject({ state: 'verified', events_archived: 13, events_unaccounted: 0 });
  });

  it('detects a corrupted archive file before dropping anything, and writes the month again', async () => {
    const t = await tenantWithHistory(db.sql, 'corrupt', [14], 20);
    const month = `${monthLabel(14)}-01`;
    const kept = await withRetentionLock(db.sql, { wait: false }, () => archiveMonth(ctx, month, { drop: false }));
    expect(kept.outcome).toBe('kept');
    const [part] = await partsOf(db.sql, { tenantId: t.id, month });
    const file = path.join(db.dir, 'archive', part!.data_key);
    const bytes = await readFile(file);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at]! ^ 0x01;
    await writeFile(file, bytes);

    const run = await runRetention(ctx);
    expect(run.problems.join('\n')).toMatch(/SHA-256/);
    expect(await partitionExists(monthLabel(14))).toBe(true);
    const [rows] = await db.sql`select count(*)::int as n from public.audit_events where tenant_id = ${t.id} and source = 'seed'`;
    expect(rows!.n).toBe(20);
    expect((await partsOf(db.sql, { tenantId: t.id, month }))[0]).toMatchObject({ state: 'failed', problem: expect.stringContaining('SHA-256') });
    const failure = await listEvents(db.sql, t.claims, { object_type: 'ARCHIVE', event_type: ['VERIFY'], limit: 5, order: 'asc' });
    expect(failure.events).toEqual([expect.objectContaining({ outcome: 'failure', object_id: monthLabel(14) })]);

    // The next run writes a new part from PostgreSQL, verifies it and only then drops the month.
    const healed = await runRetention(ctx);
    expect(healed.problems).toEqual([]);
    expect((await partsOf(db.sql, { tenantId: t.id, month })).map((p) => [p.part, p.state])).toEqual([[1, 'failed'], [2, 'dropped']]);
    expect(await allEvents(db.sql, t.claims, seedOnly)).toHaveLength(20);

    // Damage to a month that lives only in its archive is found by re-verification.
    const [cold] = await partsOf(db.sql, { tenantId: t.id, month, states: ['dropped'] });
    expect(await reverifyArchives(ctx, { tenantId: t.id })).toEqual([expect.objectContaining({ ok: true })]);
    const coldFile = path.join(db.dir, 'archive', cold!.data_key);
    const coldBytes = await readFile(coldFile);
    coldBytes[100] = coldBytes[100]! ^ 0xff;
    await writeFile(coldFile, coldBytes);
    expect(await reverifyArchives(ctx, { tenantId: t.id })).toEqual([expect.objectContaining({ ok: false, problem: expect.stringContaining('SHA-256') })]);
  });

  it('expires archives past the retention period unless a legal hold covers them', async () => {
    const t = await tenantWithHistory(db.sql, 'expiry', [30, 26, 1], 6);
    await setPolicy(db.sql, { tenantId: t.id, change: { hot_months: 3, total_years: 1 }, actor: 'test', minTotalYears: 1 });
    const hold = await placeHold(db.sql, { tenantId: t.id, reason: 'SEC inquiry', from: `${monthLabel(26)}-01T00:00:00Z`, to: `${monthLabel(25)}-01T00:00:00Z`, actor: 'test' });
    const objectHold = await placeHold(db.sql, { tenantId: t.id, reason: 'order dispute', objectType: 'ORDER', objectId: 'ORD-30-2', actor: 'test' });
    const ledgerBefore = (await db.sql`select count(*)::int as n from public.audit_ledger where tenant_id = ${t.id}`)[0]!.n;

    const first = await runRetention(ctx);
    expect(first.problems).toEqual([]);
    const decisions = first.plan.expire.filter((d) => d.tenant_id === t.id).map((d) => [d.month.slice(0, 7), d.action]).sort();
    expect(decisions).toEqual([[monthLabel(30), 'held'], [monthLabel(26), 'held']].sort());
    expect(existsSync(path.join(db.dir, 'archive', `tenant_id=${t.id}`, `month=${monthLabel(26)}`))).toBe(true);

    await releaseHold(db.sql, { tenantId: t.id, id: hold.id, reason: 'closed', actor: 'test' });
    const second = await runRetention(ctx);
    expect(second.expired.filter((d) => d.tenant_id === t.id).map((d) => d.month.slice(0, 7))).toEqual([monthLabel(26)]);
    const parts = await partsOf(db.sql, { tenantId: t.id });
    expect(parts.map((p) => [p.month.slice(0, 7), p.state]).sort()).toEqual([[monthLabel(26), 'expired'], [monthLabel(30), 'dropped']].sort());
    expect(existsSync(path.join(db.dir, 'archive', parts.find((p) => p.state === 'expired')!.data_key))).toBe(false);

    // Expired events are gone from search; the ledger keeps its rows; the report accounts for them.
    expect((await allEvents(db.sql, t.claims, seedOnly)).map((e) => e.occurred_at.slice(0, 7))).toEqual([...Array(6).fill(monthLabel(30)), ...Array(6).fill(monthLabel(1))]);
    expect((await db.sql`select count(*)::int as n from public.audit_ledger where tenant_id = ${t.id}`)[0]!.n).toBeGreaterThanOrEqual(ledgerBefore);
    const months = (await complianceReport(db.sql, { tenantId: t.id, minTotalYears: 1 })).tenants[0]!.months;
    expect(months.find((m) => m.month === monthLabel(26))).toMatchObject({ state: 'expired', events_expired: 6, events_unaccounted: 0 });
    expect(months.find((m) => m.month === monthLabel(30))!.holds).toEqual([objectHold.id]);
    const trail = await listEvents(db.sql, t.claims, { source: 'oms-audit-retention', event_type: ['EXPIRE', 'CREATE', 'RELEASE'], limit: 20, order: 'asc' });
    expect(trail.events.map((e) => `${e.object_type}/${e.event_type}`)).toEqual(['LEGAL_HOLD/CREATE', 'LEGAL_HOLD/CREATE', 'LEGAL_HOLD/RELEASE', 'ARCHIVE/EXPIRE']);

    // Integrity verification reads the archived month back and accounts for the expired one.
    const verify = () => verifyTenant(db.sql, t.id, { keys: trustedKeys(), record: false, env: db.env() });
    const intact = await verify();
    expect(intact).toMatchObject({ ok: true, archived_events_checked: 6, expired_events: 6, problems: [] });
    const dropped = parts.find((p) => p.state === 'dropped')!;
    const file = path.join(db.dir, 'archive', dropped.data_key);
    const original = await readFile(file);
    try {
      await writeFile(file, Buffer.concat([original.subarray(0, 100), Buffer.from([original[100]! ^ 1]), original.subarray(101)]));
      const tampered = await verify();
      expect(tampered.ok).toBe(false);
      expect(tampered.problems[0]).toMatchObject({ kind: 'modified', detail: expect.stringContaining(`archive of ${monthLabel(30)}`) });
    } finally {
      await writeFile(file, original);
    }
  });

  it("refuses a policy below the operator's floor, and records the changes it accepts", async () => {
    const t = await tenantWithHistory(db.sql, 'policy', [], 0);
    expect(await getPolicy(db.sql, t.id, 6)).toMatchObject({ hot_months: 13, total_years: 10, is_default: true });
    await expect(setPolicy(db.sql, { tenantId: t.id, change: { total_years: 5 }, actor: 'test', minTotalYears: 6 })).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringContaining('minimum of 6 years') });
    await expect(setPolicy(db.sql, { tenantId: t.id, change: { hot_months: 121, total_years: 10 }, actor: 'test', minTotalYears: 6 })).rejects.toMatchObject({ code: 'invalid_request' });
    expect(await getPolicy(db.sql, t.id, 6)).toMatchObject({ is_default: true });
    const changed = await setPolicy(db.sql, { tenantId: t.id, change: { hot_months: 24, total_years: 7 }, actor: 'user:alice', minTotalYears: 6 });
    expect(changed).toMatchObject({ hot_months: 24, total_years: 7, is_default: false, updated_by: 'user:alice' });
    const trail = await listEvents(db.sql, t.claims, { object_type: 'RETENTION_POLICY', limit: 10, order: 'asc' });
    expect(trail.events).toEqual([
      // A principal with no console account keeps its name; the user id is in the context (people with one are named by email).
      expect.objectContaining({ actor_type: 'USER', actor_id: 'user:alice', event_type: 'UPDATE', context: { before: { hot_months: 13, total_years: 10 }, after: { hot_months: 24, total_years: 7 }, user_id: 'alice' } }),
    ]);
  });

  it('removes a month only through the drop function, and only once its archive is verified', async () => {
    await tenantWithHistory(db.sql, 'guard', [20], 4);
    const month = `${monthLabel(20)}-01`;
    // The API roles may not call it at all.
    for (const role of ['authenticated', 'service_role']) {
      await expect(
        db.admin.begin(async (tx) => {
          await tx.unsafe(`set local role ${role}`);
          await tx`select oms_audit.drop_archived_month(${month}::date, 'x')`;
        }),
      ).rejects.toMatchObject({ code: '42501' });
    }
    // The runtime role may, and is refused while the month is not archived and verified.
    await expect(db.sql`select oms_audit.drop_archived_month(${month}::date, 'x')`).rejects.toMatchObject({
      code: 'OA002',
      message: expect.stringContaining('not exactly the verified archive'),
    });
    expect(await partitionExists(monthLabel(20))).toBe(true);
    await runRetention(ctx);
    expect(await partitionExists(monthLabel(20))).toBe(false);
  });
});
