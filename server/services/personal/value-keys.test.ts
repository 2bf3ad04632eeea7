/**
 * The value index entries (oms_audit.personal_value_keys) follow their key:
 * entries are added only for a live key; a key's destruction deletes its
 * entries in the same transaction, and waits for a concurrent addition of
 * entries for that key, so none outlives the erasure; the runtime role cannot
 * change or delete entries itself.
 */
import { describe, expect, it } from 'vitest';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { adminSql, event, newTenant, testSql } from '@/test/fixtures.ts';
import { logEvents } from '../ingest.ts';
import { refOf } from './keys.ts';
import { declarePersonalData } from './settings.ts';

const entriesOf = async (keyId: string) => (await adminSql()`select value_index from oms_audit.personal_value_keys where key_id = ${keyId}`).length;

describe('value index entries', () => {
  it('are added for live keys only, and a destruction deletes them, waiting for an addition in flight', async () => {
    const t = await newTenant('value-keys');
    await declarePersonalData(testSql(), t.id, 'operator:test', { outsideRetention: true });
    await logEvents(testSql(), { tenantId: t.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events: [event({ actor_type: 'TRADER', actor_id: 'zoe', ip_address: '192.0.2.5' })] }, 10), { ip: null, userAgent: null }, 'cli');
    const ref = await refOf(testSql(), t.id, 'zoe');
    const [{ key_id: keyId }] = (await adminSql()`select key_id from oms_audit.subject_keys where tenant_id = ${t.id} and subject_ref = ${ref}`) as unknown as [{ key_id: string }];
    expect(await entriesOf(keyId)).toBe(1); // the IP address (the actor id has no token)

    // An addition in flight holds the key: the destruction waits for it, then deletes what it added.
    const other = 'a'.repeat(64);
    const conn = await testSql().reserve();
    let destroyed = false;
    let destruction: Promise<unknown> | undefined;
    try {
      await conn`begin`;
      await conn`select oms_audit.add_personal_value_keys(${t.id}::uuid, ${[other]}::text[], ${[keyId]}::uuid[])`;
      destruction = testSql()`select oms_audit.destroy_subject_keys(${t.id}::uuid, ${ref}, 'test', null)`.then(() => (destroyed = true));
      await new Promise((r) => setTimeout(r, 500));
      expect(destroyed).toBe(false);
      await conn`commit`;
    } finally {
      conn.release();
    }
    await destruction;
    expect(await entriesOf(keyId)).toBe(0);

    // A destroyed key gets no entries.
    await testSql()`select oms_audit.add_personal_value_keys(${t.id}::uuid, ${[other]}::text[], ${[keyId]}::uuid[])`;
    expect(await entriesOf(keyId)).toBe(0);

    // The runtime role reads entries; it neither writes them directly nor changes or deletes them.
    await expect(testSql()`insert into oms_audit.personal_value_keys (tenant_id, value_index, key_id) values (${t.id}, ${other}, ${keyId})`).rejects.toThrow(/permission denied/);
    await expect(testSql()`delete from oms_audit.personal_value_keys where tenant_id = ${t.id}`).rejects.toThrow(/permission denied/);
  });
});
