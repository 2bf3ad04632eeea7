/**
 * Erasure reaches archives without rewriting them: a month of sealed events is
 * archived to Parquet and dropped from PostgreSQL; the Parquet file holds no
 * plaintext of anyone; after the subject's key is destroyed, reads of the
 * archived month (and of a restore of it) show the subject's fields as
 * "[erased]", the other subject's as they were, and verification — which
 * reads every archived event back and hashes it — still passes.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBatch, type AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import { ERASED } from '@/supabase/functions/_shared/personal-data.ts';
import { literal, withDuckDB } from '@/server/archive/duckdb.ts';
import { archiveRelation, ARCHIVE_JSON, jsonRows } from '@/server/archive/rows.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { allEvents, monthLabel, retentionDatabase, timeInMonth, type RetentionDb } from '@/test/retention.ts';
import { logEvents } from '../ingest.ts';
import { sealTenant } from '../integrity/checkpoints.ts';
import { signer, trustedKeys } from '../integrity/signing-key.ts';
import { verifyTenant } from '../integrity/verify.ts';
import { archiveMonth } from '../retention/archive.ts';
import { retentionContext, type RetentionContext } from '../retention/context.ts';
import { withRetentionLock } from '../retention/parts.ts';
import { restoreMonth } from '../retention/restore.ts';
import { eraseSubject } from './erase.ts';
import { declarePersonalData } from './settings.ts';
import { reapplyErasures } from './erasure-anchors.ts';

let db: RetentionDb;
let ctx: RetentionContext;
beforeAll(async () => {
  db = await retentionDatabase();
  ctx = await retentionContext(db.sql, db.env(), { actor: 'test-retention' });
});
afterAll(() => db?.drop());

const person = (name: string, n: number): AuditEventRequest => ({
  occurred_at: timeInMonth(15, n),
  actor_type: 'TRADER',
  actor_id: `${name}@broker.example`,
  object_type: 'ORDER',
  object_id: `ORD-${name}-${n}`,
  event_type: 'CREATE',
  ip_address: name === 'dana' ? '192.0.2.201' : '192.0.2.202',
  user_agent: `${name}-workstation`,
  context: { client_name: `${name} client`, qty: n },
});

describe('erasure and archives', () => {
  it('archived Parquet holds only ciphertext; after erasure archive and restore reads show the fields erased and verify passes', async () => {
    const tenant = await createTenant(db.sql, `archive-erasure-${Date.now()}`);
    const claims = { tenant_id: tenant.id, sub: 'test', role: 'authenticated' as const };
    await declarePersonalData(db.sql, tenant.id, 'operator:test', { outsideRetention: true });
    const events = [person('dana', 1), person('eric', 2), person('dana', 3)];
    await logEvents(db.sql, { tenantId: tenant.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events }, 10), { ip: '192.0.2.250', userAgent: 'gateway-ua' }, 'cli');
    await sealTenant(db.sql, tenant.id, signer());
    const month = `${monthLabel(15)}-01`;
    const archived = await withRetentionLock(db.sql, { wait: false }, () => archiveMonth(ctx, month, { drop: true }));
    expect(archived.outcome).toBe('dropped');

    // The Parquet file: every row, every column as text — envelopes, no plaintext of either trader.
    const dir = path.join(db.dir, 'archive', `tenant_id=${tenant.id}`, `month=${monthLabel(15)}`);
    const file = path.join(dir, (await readdir(dir)).find((f) => f.endsWith('.parquet'))!);
    const rowsText = await withDuckDB(async (duck) => {
      const texts: string[] = [];
      for await (const e of jsonRows(await duck.stream(`select ${ARCHIVE_JSON} from ${archiveRelation([file])} order by seq`))) texts.push(JSON.stringify(e));
      const raw = await duck.runAndReadAll(`select * from read_parquet(${literal(file)})`);
      texts.push(JSON.stringify(raw.getRowObjectsJson()));
      return texts.join('\n');
    });
    expect(rowsText).toContain('pd2:');
    for (const secret of ['dana@broker.example', 'eric@broker.example', '192.0.2.201', '192.0.2.202', '192.0.2.250', 'dana-workstation', 'dana client', 'gateway-ua']) expect(rowsText).not.toContain(secret);

    const before = await allEvents(db.sql, claims);
    expect(before.filter((e) => e.archived)).toHaveLength(3);
    expect(before.find((e) => e.object_id === 'ORD-dana-1')).toMatchObject({ actor_id: 'dana@broker.example', ip_address: '192.0.2.201', context: { client_name: 'dana client', qty: 1 } });

    // What a backup taken now holds of the subject's key.
    const backup = await db.admin`select key_id, wrapped from oms_audit.subject_keys where tenant_id = ${tenant.id} and wrapped is not null`;
    const erasure = await eraseSubject(db.sql, { tenantId: tenant.id, subjectId: 'dana@broker.example', reason: 'request', actor: { kind: 'operator', name: 'dpo' }, minTotalYears: 1, env: db.env() });
    expect(erasure.erasure_anchored).toBe(true);
    const anchored = await readdir(path.join(db.dir, 'archive', 'anchors', `tenant_id=${tenant.id}`, 'erasures'));
    expect(anchored).toEqual(erasure.key_ids.map((k) => `${k}.json`));

    const after = await allEvents(db.sql, claims);
    for (const id of ['ORD-dana-1', 'ORD-dana-3']) {
      const e = after.find((x) => x.object_id === id)!;
      expect(e).toMatchObject({ archived: true, actor_id: ERASED, ip_address: ERASED, user_agent: ERASED, observed_ip: ERASED, context: { client_name: ERASED } });
      expect(e.personal_data!.erased).toContain('/actor_id');
    }
    expect(after.find((x) => x.object_id === 'ORD-eric-2')).toMatchObject({ actor_id: 'eric@broker.example', ip_address: '192.0.2.202', context: { client_name: 'eric client', qty: 2 } });

    await sealTenant(db.sql, tenant.id, signer());
    const report = await verifyTenant(db.sql, tenant.id, { keys: trustedKeys(), record: false, env: db.env() });
    expect(report.problems).toEqual([]);
    expect(report.archived_events_checked).toBe(3);

    // A restore of the archived month reads the same: the erased subject stays erased.
    await restoreMonth(ctx, { tenantId: tenant.id, month, reason: 'investigation' });
    const restored = await allEvents(db.sql, claims);
    expect(restored.find((x) => x.object_id === 'ORD-dana-1')).toMatchObject({ actor_id: ERASED, context: { client_name: ERASED } });
    expect(restored.find((x) => x.object_id === 'ORD-eric-2')).toMatchObject({ actor_id: 'eric@broker.example' });

    // A backup from before the erasure is restored: the key row comes back as it was. At the next start the
    // erasure anchored outside the database is applied again, and the subject reads as erased once more.
    await db.admin.begin(async (tx) => {
      await tx`alter table oms_audit.subject_keys disable trigger subject_keys_destroy_only`;
      for (const k of backup) await tx`update oms_audit.subject_keys set wrapped = ${k.wrapped as Buffer}, erased_at = null, erased_by = null, erasure_event_id = null where key_id = ${k.key_id as string}`;
      await tx`alter table oms_audit.subject_keys enable always trigger subject_keys_destroy_only`;
    });
    expect((await allEvents(db.sql, claims)).find((x) => x.object_id === 'ORD-dana-1')!.actor_id).toBe('dana@broker.example');
    expect(await reapplyErasures(db.sql, db.env())).toEqual(erasure.key_ids);
    expect((await allEvents(db.sql, claims)).find((x) => x.object_id === 'ORD-dana-1')).toMatchObject({ actor_id: ERASED });
    expect((await allEvents(db.sql, claims)).find((x) => x.object_id === 'ORD-eric-2')).toMatchObject({ actor_id: 'eric@broker.example' });
    expect(await reapplyErasures(db.sql, db.env())).toEqual([]);
  });
});
