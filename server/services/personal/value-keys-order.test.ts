/**
 * Concurrent sealing writers add value index entries without deadlocking:
 * batches of one tenant that see the same traders' values for the first time
 * add the same entries at once, each in its own order; the entries are
 * inserted in one order (migration *_value_keys_in_order.sql), so the adds
 * wait on each other and all succeed, rather than PostgreSQL ending one with a
 * deadlock error the client would see as a 500.
 */
import { describe, expect, it } from 'vitest';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { adminSql, event, newTenant, testSql } from '@/test/fixtures.ts';
import { logEvents } from '../ingest.ts';
import { declarePersonalData } from './settings.ts';

/** A deterministic shuffle (so a run can be repeated), by a linear congruential sequence. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('value index entries added concurrently', () => {
  it('never deadlock, whatever order each batch brings them in', async () => {
    const t = await newTenant('value-keys-order');
    await declarePersonalData(testSql(), t.id, 'operator:test', { outsideRetention: true });
    const traders = ['ana', 'ben', 'cat', 'dov'];
    await logEvents(testSql(), { tenantId: t.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events: traders.map((a) => event({ actor_type: 'TRADER', actor_id: a })) }, 10), { ip: null, userAgent: null }, 'cli');
    const keys = (await adminSql()`select key_id from oms_audit.subject_keys where tenant_id = ${t.id}`).map((r) => r.key_id as string);
    expect(keys).toHaveLength(traders.length);

    for (let round = 0; round < 6; round++) {
      // Entries no add has seen: every writer of the round inserts (or waits on) each of them.
      const entries = keys.flatMap((key) => Array.from({ length: 60 }, (_, i) => ({ index: `${round}${i}`.padStart(64, 'f'), key })));
      const adds = Array.from({ length: 6 }, (_, w) => {
        const order = shuffled(entries, round * 31 + w + 1);
        return testSql()`select oms_audit.add_personal_value_keys(${t.id}::uuid, ${order.map((e) => e.index)}::text[], ${order.map((e) => e.key)}::uuid[])`;
      });
      const outcomes = await Promise.allSettled(adds);
      const failed = outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason));
      expect(failed, `round ${round}`).toEqual([]);
    }
    const [stored] = await adminSql()`select count(*)::int as n from oms_audit.personal_value_keys where tenant_id = ${t.id}`;
    expect(stored!.n).toBeGreaterThanOrEqual(6 * 60 * traders.length);
  });
});
