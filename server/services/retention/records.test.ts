/**
 * Archiving and expiry are proven: events may be absent from PostgreSQL only
 * where a signed, anchored retention record says why. A fake expiry (catalog
 * edited, rows deleted), an edited or forged record, an expiry signed before
 * retention ended — each is reported; months archived or expired before records
 * existed get records at upgrade, by the documented path.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf } from '@/supabase/functions/_shared/checkpoint.ts';
import { trustedKeys, signer, type Signer } from '@/server/services/integrity/signing-key.ts';
import { verifyTenant } from '@/server/services/integrity/verify.ts';
import { listEvents } from '@/server/services/query.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { addEvents, monthLabel, retentionDatabase, seedEvents, tenantWithHistory, type RetentionDb } from '@/test/retention.ts';
import { writeVersion1Events } from '@/test/legacy-events.ts';
import { asSuperuser } from '@/test/tamper.ts';
import { anchorKeys } from '@/server/services/anchors/format.ts';
import { addMonths, monthStart, nextMonth, retentionContext, type RetentionContext } from './context.ts';
import { partsOf } from './parts.ts';
import { setPolicy } from './policy.ts';
import { issueRecord, listRecords, partOfRecord, type SignedRecord } from './records.ts';
import { runRetention } from './run.ts';

let db: RetentionDb;
let ctx: RetentionContext;

beforeAll(async () => {
  db = await retentionDatabase();
  ctx = await retentionContext(db.sql, db.env(), { actor: 'test-records' });
});
afterAll(() => db?.drop());

const verify = (tenantId: string, now?: Date) => verifyTenant(db.sql, tenantId, { keys: trustedKeys(), record: false, env: db.env(), now });
const month = (monthsAgo: number) => `${monthLabel(monthsAgo)}-01`;
const kinds = (problems: { kind: string }[]) => [...new Set(problems.map((p) => p.kind))].sort();

describe('retention records', () => {
  it('archiving issues a signed, anchored archived record and expiry a signed expired one before the archive is deleted', async () => {
    const t = await tenantWithHistory(db.sql, 'records', [30, 1], 8);
    await setPolicy(db.sql, { tenantId: t.id, change: { hot_months: 3, total_years: 1 }, actor: 'test', minTotalYears: 1 });
    const run = await runRetention(ctx);
    expect(run.problems).toEqual([]);
    const [part] = await partsOf(db.sql, { tenantId: t.id, month: month(30) });
    expect(part!.state).toBe('expired');

    const records = await listRecords(db.sql, t.id);
    expect(records.map((r) => [r.number, r.kind, r.basis, r.month, r.count])).toEqual([
      [1, 'archived', 'read-back', monthLabel(30), 8],
      [2, 'expired', 'policy', monthLabel(30), 8],
    ]);
    const [archived, expired] = records as [SignedRecord, SignedRecord];
    expect(archived.archive).toMatchObject({ data_key: part!.data_key, data_sha256: part!.data_sha256, storage_url: part!.storage_url });
    expect(archived.seq_ranges).toEqual([[1, 8]]);
    expect(expired).toMatchObject({ prev_hash: archived.hash, seq_ranges: [[1, 8]], policy: { hot_months: 3, total_years: 1 } });
    expect(Date.parse(expired.policy!.retention_ended)).toBeLessThanOrEqual(Date.parse(expired.issued_at));
    // Both anchored outside the database, with the archive.
    for (const r of records) expect(existsSync(path.join(db.dir, 'archive', 'anchors', anchorKeys('retention_record', t.id, r.number).object))).toBe(true);

    const report = await verify(t.id);
    expect(report).toMatchObject({ ok: true, expired_events: 8, expired_events_attested_at_upgrade: 0, problems: [] });
    expect(report.anchors.retention_records).toMatchObject({ configured: true, anchored_head: 2, database_head: 2, anchors_checked: 2 });
  });

  it('a fake expiry — the catalog says expired and the rows are deleted — is reported as missing, and no retention run legitimises it', async () => {
    const t = await tenantWithHistory(db.sql, 'fake-expiry', [2, 1], 5);
    const [range] = await db.admin`select min(seq)::int as lo, max(seq)::int as hi from public.audit_events where tenant_id = ${t.id} and occurred_at < ${month(1)}::timestamptz`;
    await asSuperuser(db.admin, [
      `insert into oms_audit.archive_parts (tenant_id, month, part, state, storage_url, data_key, manifest_key, row_count, min_seq, max_seq, seq_sum, data_sha256, manifest_sha256, dropped_at, expired_at)
       values ('${t.id}', '${month(2)}', 1, 'expired', 'file:///nowhere', 'gone.parquet', 'gone.json', 5, ${range!.lo}, ${range!.hi}, 15, '${'ab'.repeat(32)}', '${'cd'.repeat(32)}', now(), now())`,
      `delete from public.audit_events where tenant_id = '${t.id}' and occurred_at < '${month(1)}'`,
    ]);
    const report = await verify(t.id);
    expect(report).toMatchObject({ ok: false, expired_events: 0, problem_count: 5 });
    expect(report.problems.every((p) => p.kind === 'missing' && p.detail.includes('no signed retention record accounts for it'))).toBe(true);

    await runRetention(ctx);
    expect(await listRecords(db.sql, t.id)).toEqual([]);
    expect((await verify(t.id)).problem_count).toBe(5);
  });

  it("editing an archived month's catalog state alone changes nothing; deleting its archive is found", async () => {
    const t = await tenantWithHistory(db.sql, 'state-edit', [20], 6);
    expect((await runRetention(ctx)).problems).toEqual([]);
    const [part] = await partsOf(db.sql, { tenantId: t.id, month: month(20) });
    await asSuperuser(db.admin, [`update oms_audit.archive_parts set state = 'expired', expired_at = now() where tenant_id = '${t.id}'`]);
    expect(await verify(t.id)).toMatchObject({ ok: true, archived_events_checked: 6, expired_events: 0 });

    await rm(path.join(db.dir, 'archive', part!.data_key), { force: true });
    const report = await verify(t.id);
    expect(kinds(report.problems)).toEqual(['missing', 'modified']);
    expect(report.problems.find((p) => p.kind === 'modified')!.detail).toMatch(new RegExp(`archive of ${monthLabel(20)} \\(part 1, retention record 1\\)`));
    expect(report.problems.filter((p) => p.kind === 'missing')).toHaveLength(6);
  });

  it("an edited database copy of a record is reported and the anchored one stands; a forged or premature expiry record accounts for nothing", async () => {
    const t = await tenantWithHistory(db.sql, 'record-edit', [22], 4);
    expect((await runRetention(ctx)).problems).toEqual([]);
    await asSuperuser(db.admin, [`update oms_audit.retention_records set body = replace(body, '"kind":"archived"', '"kind":"expired"') where tenant_id = '${t.id}'`]);
    let report = await verify(t.id);
    expect(report.archived_events_checked).toBe(4);
    expect(report.problems).toEqual([
      expect.objectContaining({ kind: 'retention', detail: expect.stringContaining('retention record 1 in the database is not valid: its fields do not hash') }),
      expect.objectContaining({ kind: 'retention', detail: expect.stringMatching(/retention record 1 in the database .* differs from the one anchored/) }),
    ]);

    // A second record, signed by a key of the attacker's own, claiming the month expired; the archive then deleted.
    const [first] = (await listRecords(db.sql, t.id, { toNumber: 1 })) as [SignedRecord];
    const attacker = generateKeyPairSync('ed25519');
    const forgedKey: Signer = { keyId: keyIdOf(attacker.publicKey), publicKey: attacker.publicKey, publicKeyPem: '', sign: (data) => sign(null, data, attacker.privateKey).toString('base64') };
    const part = partOfRecord(first);
    await db.sql.begin((tx) =>
      issueRecord(tx, { tenantId: t.id, kind: 'expired', basis: 'policy', part, seqRanges: first.seq_ranges, policy: { hot_months: 1, total_years: 1, retention_ended: '2000-01-01T00:00:00.000000Z' } }, forgedKey),
    );
    await rm(path.join(db.dir, 'archive', part.data_key), { force: true });
    report = await verify(t.id);
    expect(report.expired_events).toBe(0);
    expect(report.problems.filter((p) => p.kind === 'missing')).toHaveLength(4);
    expect(report.problems.some((p) => p.kind === 'retention' && /retention record 2 in the database is not valid: it is signed by key .*not trusted/.test(p.detail))).toBe(true);

    // The real key's holder signing an expiry before the policy allows it: refused as well.
    const early = await tenantWithHistory(db.sql, 'early-expiry', [23], 3);
    expect((await runRetention(ctx)).problems).toEqual([]);
    const [archived] = (await listRecords(db.sql, early.id)) as [SignedRecord];
    await db.sql.begin((tx) =>
      issueRecord(tx, { tenantId: early.id, kind: 'expired', basis: 'policy', part: partOfRecord(archived), seqRanges: archived.seq_ranges, policy: { hot_months: 13, total_years: 10, retention_ended: addMonths(monthStart(nextMonth(month(23))), 120).toISOString().replace('.000Z', '.000000Z') } }, signer()),
    );
    report = await verify(early.id);
    expect(report.expired_events).toBe(0);
    expect(report.problems.some((p) => p.kind === 'retention' && /retention record 2 cannot account for events: it expires events on .* before their retention ended/.test(p.detail))).toBe(true);
  });

  it('keeps a month in PostgreSQL while its retention record cannot be anchored', async () => {
    const t = await tenantWithHistory(db.sql, 'unanchored', [25], 3);
    const blocked = path.join(db.dir, 'blocked-anchors');
    await writeFile(blocked, 'not a folder');
    const blockedCtx = await retentionContext(db.sql, db.env({ ANCHOR_URL: `file://${blocked}/anchors` }), { actor: 'test-records' });
    const run = await runRetention(blockedCtx);
    expect(run.archived.find((a) => a.month === month(25))).toMatchObject({ outcome: 'failed', rows_dropped: 0 });
    expect(run.problems.join('\n')).toMatch(/retention record is not anchored yet, so the month is kept/);
    expect((await db.admin`select count(*)::int as n from public.audit_events where tenant_id = ${t.id} and source = 'seed'`)[0]!.n).toBe(3);

    expect((await runRetention(ctx)).problems).toEqual([]);
    expect((await partsOf(db.sql, { tenantId: t.id }))[0]!.state).toBe('dropped');
    expect(await verify(t.id)).toMatchObject({ ok: true, archived_events_checked: 3 });
  });
});

describe('upgrading a deployment whose months were archived and expired before retention records existed', () => {
  let old: RetentionDb;
  afterAll(() => old?.drop());

  it('snapshots the parts already expired at migration, attests them from the catalog, issues read-back records for archived ones, and verifies', async () => {
    old = await retentionDatabase({ migratedBefore: '20261207200100' });
    const tenant = await createTenant(old.sql, `upgrade-${Date.now()}`);
    // Written as that release's write path stored them: schema version 1, no written_by column yet.
    for (const [monthsAgo, n] of [[40, 5], [20, 7], [1, 2]] as const) await writeVersion1Events(old.admin, tenant.id, seedEvents(monthsAgo, n));
    // What the earlier release left after expiring month 40: its catalog row, its events gone from PostgreSQL.
    const [range] = await old.admin`select min(seq)::int as lo, max(seq)::int as hi from public.audit_events where tenant_id = ${tenant.id} and occurred_at < ${month(39)}::timestamptz`;
    await asSuperuser(old.admin, [
      `insert into oms_audit.archive_parts (tenant_id, month, part, state, storage_url, data_key, manifest_key, row_count, min_seq, max_seq, seq_sum, data_sha256, manifest_sha256, written_at, verified_at, dropped_at, expired_at)
       values ('${tenant.id}', '${month(40)}', 1, 'expired', 'file://${old.dir}/archive', 'tenant_id=${tenant.id}/month=${monthLabel(40)}/part-0001.parquet', 'tenant_id=${tenant.id}/month=${monthLabel(40)}/part-0001.manifest.json',
               5, ${range!.lo}, ${range!.hi}, 15, '${'ef'.repeat(32)}', '${'01'.repeat(32)}', now(), now(), now(), now())`,
      `delete from public.audit_events where tenant_id = '${tenant.id}' and occurred_at < '${month(39)}'`,
    ]);

    await old.migrateRest();
    // The policy change is itself an event of the trail, written as this release writes events.
    await setPolicy(old.sql, { tenantId: tenant.id, change: { hot_months: 3, total_years: 2 }, actor: 'test', minTotalYears: 1 });
    expect(await old.admin`select tenant_id, month::text as month, part from oms_audit.expired_before_records`).toEqual([{ tenant_id: tenant.id, month: month(40), part: 1 }]);

    // Month 20 archived and dropped, then stripped of its record, as the earlier release would have left it.
    const oldCtx = await retentionContext(old.sql, old.env(), { actor: 'test-upgrade' });
    expect((await runRetention(oldCtx)).problems).toEqual([]);
    await asSuperuser(old.admin, [`delete from oms_audit.retention_records`, `delete from oms_audit.anchor_progress where kind = 'retention_record'`]);
    await rm(path.join(old.dir, 'archive', 'anchors', `tenant_id=${tenant.id}`, 'retention-records'), { recursive: true, force: true });
    const before = await verifyTenant(old.sql, tenant.id, { keys: trustedKeys(), record: false, env: old.env() });
    expect(before.problems.filter((p) => p.kind === 'missing')).toHaveLength(5 + 7);

    // The next retention run is the upgrade: records for both, anchored.
    expect((await runRetention(oldCtx)).problems).toEqual([]);
    const records = await listRecords(old.sql, tenant.id);
    expect(records.map((r) => [r.kind, r.basis, r.month, r.count]).sort()).toEqual([
      ['archived', 'read-back', monthLabel(20), 7],
      ['expired', 'catalog-at-upgrade', monthLabel(40), 5],
    ]);
    const after = await verifyTenant(old.sql, tenant.id, { keys: trustedKeys(), record: false, env: old.env() });
    expect(after).toMatchObject({ ok: true, archived_events_checked: 7, expired_events: 5, expired_events_attested_at_upgrade: 5, problems: [] });
    // The tenant's own trail still reads.
    expect((await listEvents(old.sql, { tenant_id: tenant.id, sub: 't', role: 'authenticated' }, { source: 'seed', limit: 50, order: 'asc' })).events).toHaveLength(9);

    // From now on an expiry the catalog claims, without a record, is not attested: it is missing.
    await addEvents(old.sql, tenant.id, 30, 4);
    await asSuperuser(old.admin, [`delete from public.audit_events where tenant_id = '${tenant.id}' and source = 'seed' and occurred_at >= '${month(30)}' and occurred_at < '${month(29)}'`]);
    await asSuperuser(old.admin, [
      `insert into oms_audit.archive_parts (tenant_id, month, part, state, storage_url, data_key, manifest_key, row_count, min_seq, max_seq, dropped_at, expired_at)
       values ('${tenant.id}', '${month(30)}', 1, 'expired', 'file:///x', 'k', 'm', 4, 1, 100, now(), now())`,
    ]);
    expect((await runRetention(oldCtx)).problems).toEqual([]);
    const later = await verifyTenant(old.sql, tenant.id, { keys: trustedKeys(), record: false, env: old.env() });
    expect(later.problems.filter((p) => p.kind === 'missing')).toHaveLength(4);
  });
});
