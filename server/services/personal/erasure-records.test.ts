/**
 * Each erasure is in the signed retention records (docs/retention.md,
 * "Erasures"): a record of kind "erased" names the subject's ref, the keys
 * destroyed, when and by whom, tied to the erasure event (its seq and ledger
 * hash); it is signed by the operator's key and anchored outside the database,
 * so someone without the database can see it. Verification holds the database
 * to it: a key the record says was destroyed but that the database holds live
 * (a backup from before the erasure, restored) is reported until the erasure
 * is applied again. An erasure made before such records existed gets its
 * record when it is run again.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '@/supabase/functions/_shared/canonical-json.ts';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { retentionDatabase, timeInMonth, type RetentionDb } from '@/test/retention.ts';
import { anchorKeys } from '../anchors/format.ts';
import { recordKind } from '../anchors/kinds.ts';
import { logEvents } from '../ingest.ts';
import { trustedKeys } from '../integrity/signing-key.ts';
import { verifyTenant } from '../integrity/verify.ts';
import { listRecords, recordBody, recordSignatureValid } from '../retention/records.ts';
import { eraseSubject } from './erase.ts';
import { reapplyErasures } from './erasure-anchors.ts';
import { declarePersonalData } from './settings.ts';

let db: RetentionDb;
beforeAll(async () => {
  db = await retentionDatabase();
});
afterAll(() => db?.drop());

async function sealingTenant(label: string) {
  const tenant = await createTenant(db.sql, `${label}-${Date.now()}`);
  await declarePersonalData(db.sql, tenant.id, 'operator:test', { outsideRetention: true });
  const events = [1, 2].map((n) => ({ occurred_at: timeInMonth(0, n), actor_type: 'TRADER', actor_id: 'gina@broker.example', object_type: 'ORDER', object_id: `ORD-gina-${n}`, event_type: 'CREATE', ip_address: '192.0.2.61', context: { qty: n } }));
  await logEvents(db.sql, { tenantId: tenant.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events }, 10), { ip: null, userAgent: null }, 'cli');
  return tenant;
}

const erase = (tenantId: string, env = db.env()) => eraseSubject(db.sql, { tenantId, subjectId: 'gina@broker.example', reason: 'GDPR request 9', actor: { kind: 'operator', name: 'dpo' }, minTotalYears: 1, env });

describe('erasures in the signed retention records', () => {
  it('issues a signed, anchored erased record; verification reports a destroyed key brought back by a restore until the erasure is applied again', async () => {
    const tenant = await sealingTenant('erasure-record');
    const backup = await db.admin`select key_id, wrapped from oms_audit.subject_keys where tenant_id = ${tenant.id}`;
    const erased = await erase(tenant.id);
    expect(erased.erased).toBe(true);

    const [record] = await listRecords(db.sql, tenant.id);
    const [ledger] = await db.admin`select seq, encode(event_hash, 'hex') as hash from public.audit_ledger where tenant_id = ${tenant.id} and id = ${erased.erasure_event_id}`;
    expect(record).toMatchObject({
      number: 1,
      kind: 'erased',
      basis: 'erasure',
      month: null,
      part: null,
      archive: null,
      seq_ranges: [[Number(ledger!.seq), Number(ledger!.seq)]],
      count: 1,
      // A one-leaf tree's root is the leaf: the erasure event's hash in the ledger.
      events_root: ledger!.hash,
      erasure: { subject_ref: erased.subject_ref, key_ids: [...erased.key_ids].sort(), erased_at: erased.erased_at, erased_by: 'operator:dpo', erasure_event_id: erased.erasure_event_id },
    });
    expect(JSON.stringify(record)).not.toContain('gina');
    expect([...trustedKeys().values()].some((key) => recordSignatureValid(record!, key))).toBe(true);

    // Outside the database: the anchored copy, as a monitor or auditor reads it, is the same signed record.
    const anchored = JSON.parse(await readFile(path.join(db.dir, 'archive', 'anchors', anchorKeys('retention_record', tenant.id, 1).object), 'utf8'));
    expect(recordKind(trustedKeys()).parse(anchored)).toEqual(anchored);
    expect(recordKind(trustedKeys()).validate(anchored)).toBeNull();
    expect(canonicalJson(recordBody(anchored))).toBe(canonicalJson(recordBody(record!)));

    const verify = () => verifyTenant(db.sql, tenant.id, { keys: trustedKeys(), record: false, env: db.env() });
    expect(await verify()).toMatchObject({ ok: true, problems: [] });

    // A backup from before the erasure is restored: the key is live again, and verification says so, naming it.
    await db.admin.begin(async (tx) => {
      await tx`alter table oms_audit.subject_keys disable trigger subject_keys_destroy_only`;
      for (const k of backup) await tx`update oms_audit.subject_keys set wrapped = ${k.wrapped as Buffer}, erased_at = null, erased_by = null, erasure_event_id = null where key_id = ${k.key_id as string}`;
      await tx`alter table oms_audit.subject_keys enable always trigger subject_keys_destroy_only`;
    });
    const restored = await verify();
    expect(restored.ok).toBe(false);
    expect(restored.problems).toEqual([expect.objectContaining({ kind: 'retention', detail: expect.stringContaining(`subject key ${erased.key_ids[0]} was destroyed at ${erased.erased_at} by operator:dpo, but the database holds it live`) })]);
    expect(await reapplyErasures(db.sql, db.env())).toEqual(erased.key_ids);
    expect(await verify()).toMatchObject({ ok: true, problems: [] });

    // Erasing again changes nothing and issues no second record.
    expect(await erase(tenant.id)).toMatchObject({ erased: false });
    expect(await listRecords(db.sql, tenant.id)).toHaveLength(1);
  });

  it('gives an erasure made before erased records existed its record when it is run again', async () => {
    const tenant = await sealingTenant('erasure-record-upgrade');
    // Anchored elsewhere, then the record removed: the state of an erasure made by an earlier version.
    const first = await erase(tenant.id, db.env({ ANCHOR_URL: `file://${db.dir}/earlier-anchors` }));
    await db.admin.begin(async (tx) => {
      await tx`alter table oms_audit.retention_records disable trigger retention_records_append_only`;
      await tx`delete from oms_audit.retention_records where tenant_id = ${tenant.id}`;
      await tx`alter table oms_audit.retention_records enable always trigger retention_records_append_only`;
    });
    expect(await listRecords(db.sql, tenant.id)).toEqual([]);
    expect(await erase(tenant.id)).toMatchObject({ erased: false, erasure_event_id: first.erasure_event_id });
    expect(await listRecords(db.sql, tenant.id)).toEqual([
      expect.objectContaining({ kind: 'erased', erasure: expect.objectContaining({ key_ids: first.key_ids, erasure_event_id: first.erasure_event_id, erased_by: 'operator:dpo' }) }),
    ]);
  });
});
