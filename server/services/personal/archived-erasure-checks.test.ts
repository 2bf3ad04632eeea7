/**
 * The erasure's checks reach archived months: a subject whose events all left
 * PostgreSQL for a Parquet archive is still kept by the retention duty and by
 * a legal hold over those archived records — the erasure is refused, naming
 * the archived month or the hold, and nothing changes; an archived month that
 * cannot be read (its bytes changed) refuses the erasure loudly rather than
 * deciding on a short check; a restored month is checked in its restored
 * rows; once the archive reads again and nothing blocks, the erasure goes through.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBatch, type AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import { ERASED } from '@/supabase/functions/_shared/personal-data.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { allEvents, monthLabel, retentionDatabase, timeInMonth, type RetentionDb } from '@/test/retention.ts';
import { logEvents } from '../ingest.ts';
import { archiveMonth } from '../retention/archive.ts';
import { retentionContext, type RetentionContext } from '../retention/context.ts';
import { withRetentionLock } from '../retention/parts.ts';
import { placeHold, releaseHold } from '../retention/policy.ts';
import { restoreMonth } from '../retention/restore.ts';
import { eraseSubject } from './erase.ts';
import { erasurePreview } from './erasure-preview.ts';
import { declarePersonalData } from './settings.ts';

let db: RetentionDb;
let ctx: RetentionContext;
beforeAll(async () => {
  db = await retentionDatabase();
  ctx = await retentionContext(db.sql, db.env(), { actor: 'test-retention' });
});
afterAll(() => db?.drop());

const MONTHS_AGO = 14;
const trade = (name: string, n: number): AuditEventRequest => ({
  occurred_at: timeInMonth(MONTHS_AGO, n),
  actor_type: 'TRADER',
  actor_id: `${name}@broker.example`,
  object_type: 'ORDER',
  object_id: `ORD-${name}-${n}`,
  event_type: 'CREATE',
  ip_address: '192.0.2.31',
  context: { client_name: `${name} client`, qty: n },
});

describe('erasure checks over archived months', () => {
  it('refuses under the retention duty or a hold over archived records, and when an archived month cannot be read; erases once nothing blocks', async () => {
    const tenant = await createTenant(db.sql, `archived-checks-${Date.now()}`);
    const claims = { tenant_id: tenant.id, sub: 'test', role: 'authenticated' as const };
    await declarePersonalData(db.sql, tenant.id, 'operator:test', { outsideRetention: false });
    await logEvents(db.sql, { tenantId: tenant.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events: [trade('gina', 1), trade('hugo', 2), trade('gina', 3)] }, 10), { ip: null, userAgent: null }, 'cli');
    const month = monthLabel(MONTHS_AGO);
    expect((await withRetentionLock(db.sql, { wait: false }, () => archiveMonth(ctx, `${month}-01`, { drop: true }))).outcome).toBe('dropped');
    const [hot] = await db.admin`select count(*)::int as n from public.audit_events where tenant_id = ${tenant.id} and object_type = 'ORDER'`;
    expect(hot!.n).toBe(0);

    const erase = () => eraseSubject(db.sql, { tenantId: tenant.id, subjectId: 'gina@broker.example', reason: 'GDPR request', actor: { kind: 'operator', name: 'dpo' }, minTotalYears: 1, env: db.env() });
    const preview = () => erasurePreview(db.sql, { tenantId: tenant.id, subjectId: 'gina@broker.example', minTotalYears: 1, env: db.env() });
    const liveKeys = async () => (await db.admin`select count(*)::int as n from oms_audit.subject_keys where tenant_id = ${tenant.id} and wrapped is not null`)[0]!.n as number;
    const keysBefore = await liveKeys();
    const retainedUntil = new Date(Date.UTC(Number(month.slice(0, 4)) + 10, Number(month.slice(5, 7)), 1)).toISOString();

    // The retention duty (default 10 years) still requires the archived month: refused, naming it and until when.
    await expect(erase()).rejects.toMatchObject({
      code: 'forbidden',
      message: expect.stringContaining(`2 record(s) of ${month} (archived) until ${retainedUntil}`),
      block: { holds: [], retention: [{ month, events: 2, archived: true, retained_until: retainedUntil }], checked: { hot_events: 0, archived_events: 2 } },
    });
    expect(await preview()).toMatchObject({ status: 'blocked', block: { retention: [{ month, events: 2, archived: true }] } });
    expect(await liveKeys()).toBe(keysBefore);

    // Outside the retention duty, a legal hold over one archived order still refuses, naming the hold.
    await declarePersonalData(db.sql, tenant.id, 'operator:test', { outsideRetention: true });
    const hold = await placeHold(db.sql, { tenantId: tenant.id, reason: 'litigation 42', objectType: 'ORDER', objectId: 'ORD-gina-3', actor: 'test' });
    await expect(erase()).rejects.toMatchObject({
      code: 'forbidden',
      message: expect.stringContaining(`legal hold ${hold.id} ("litigation 42") covers 1 of its events (1 in archived months)`),
      block: { holds: [{ id: hold.id, events: 1, archived_events: 1 }], retention: [] },
    });
    // A hold over another person's archived order does not concern this subject.
    const other = await placeHold(db.sql, { tenantId: tenant.id, reason: 'other matter', objectType: 'ORDER', objectId: 'ORD-hugo-2', actor: 'test' });
    expect((await preview()).block!.holds.map((h) => h.id)).toEqual([hold.id]);
    await releaseHold(db.sql, { tenantId: tenant.id, id: hold.id, reason: 'settled', actor: 'test' });
    await releaseHold(db.sql, { tenantId: tenant.id, id: other.id, reason: 'settled', actor: 'test' });
    expect(await liveKeys()).toBe(keysBefore);

    // The archived month's file changed underneath: the checks cannot be completed, so the erasure is refused, naming the month.
    const dir = path.join(db.dir, 'archive', `tenant_id=${tenant.id}`, `month=${month}`);
    const file = path.join(dir, (await readdir(dir)).find((f) => f.endsWith('.parquet'))!);
    const original = await readFile(file);
    await writeFile(file, Buffer.concat([original, Buffer.from('x')]));
    const unreadable = (await erase().then(
      () => null,
      (err: unknown) => err,
    )) as Error & { code: string };
    expect(unreadable).toMatchObject({ code: 'unavailable', message: expect.stringContaining(`archived month ${month} (part 1`) });
    expect(unreadable.message).toContain('does not match its recorded SHA-256');
    expect(unreadable.message).toContain('Nothing was changed');
    expect(await preview()).toMatchObject({ status: 'unreadable', problem: expect.stringContaining(`archived month ${month}`) });
    expect(await liveKeys()).toBe(keysBefore);

    // Readable again. While the month is restored for an investigation, its restored rows are what the checks read.
    await writeFile(file, original);
    await restoreMonth(ctx, { tenantId: tenant.id, month: `${month}-01`, reason: 'investigation' });
    const onRestored = await placeHold(db.sql, { tenantId: tenant.id, reason: 'investigation hold', objectType: 'ORDER', objectId: 'ORD-gina-1', actor: 'test' });
    await expect(erase()).rejects.toMatchObject({ code: 'forbidden', block: { holds: [{ id: onRestored.id, events: 1, archived_events: 1 }], checked: { hot_events: 0, archived_events: 2 } } });
    await releaseHold(db.sql, { tenantId: tenant.id, id: onRestored.id, reason: 'closed', actor: 'test' });
    expect(await liveKeys()).toBe(keysBefore);

    // Nothing blocks: the erasure goes through, and the archived events read as erased.
    expect(await preview()).toMatchObject({ status: 'erasable', block: { holds: [], retention: [], checked: { hot_events: 0, archived_events: 2 } } });
    const erased = await erase();
    expect(erased).toMatchObject({ erased: true, events: 0 });
    // The erasure's own event says how many archived events it covered.
    const recorded = (await allEvents(db.sql, claims, { event_type: ['AUDIT_PERSONAL_DATA_ERASED'] }))[0]!;
    expect(recorded).toMatchObject({ id: erased.erasure_event_id, context: { hot_events: 0, archived_events: 2, reason: 'GDPR request' } });
    const after = await allEvents(db.sql, claims);
    expect(after.find((e) => e.object_id === 'ORD-gina-1')).toMatchObject({ archived: true, actor_id: ERASED, context: { client_name: ERASED } });
    expect(after.find((e) => e.object_id === 'ORD-hugo-2')).toMatchObject({ actor_id: 'hugo@broker.example' });
    expect(await preview()).toMatchObject({ status: 'erased' });
  });
});
