/**
 * A full verification of 20,000 events or more hashes them and builds the
 * checkpoints' Merkle subtrees in the hashing threads (hash-pool.ts), reading
 * the COPY chunks in shared memory: an intact trail verifies whole, and a
 * changed event, a changed ledger hash and a deleted event are each reported
 * as on the calling thread, and the threads are used again by the next run.
 */
import { describe, expect, it } from 'vitest';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { appendEvents } from '@/supabase/functions/_shared/ingest.ts';
import { event, newTenant, tamper, testSql } from '@/test/fixtures.ts';
import { sealTenant } from './checkpoints.ts';
import { signer, trustedKeys } from './signing-key.ts';
import { verifyTenant } from './verify.ts';

const EVENTS = 21_000;

describe('verification in the hashing threads', () => {
  it('verifies 21,000 events whole, then reports a changed event, a changed ledger hash and a deleted event', async () => {
    const t = await newTenant('threads');
    for (let at = 0; at < EVENTS; at += 500) {
      const batch = Array.from({ length: 500 }, (_, i) => event({ object_id: `ORD-T${at + i}`, context: { n: at + i, px: 101.25 } }));
      await appendEvents(testSql(), { tenantId: t.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events: batch }, 500), { ip: '10.0.0.1', userAgent: 'threads-test' }, 'cli');
    }
    // Checkpoints of 3,000: several end inside one ledger chunk, and none starts at a power of two.
    await sealTenant(testSql(), t.id, signer(), { maxEvents: 3000 });
    const run = () => verifyTenant(testSql(), t.id, { keys: trustedKeys(), record: false });
    expect(await run()).toMatchObject({ ok: true, events_checked: EVENTS, problem_count: 0, checkpoints_checked: 7 });
    const at = (seq: number) => `tenant_id = '${t.id}' and seq = ${seq}`;
    await tamper(
      `update public.audit_events set actor_id = 'someone-else' where ${at(4321)}`,
      `update public.audit_ledger set event_hash = decode(repeat('00', 32), 'hex') where ${at(17_777)}`,
      `delete from public.audit_events where ${at(9000)}`,
    );
    const report = await run();
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => [p.kind, p.seq, p.checkpoint ?? null])).toEqual([
      ['modified', 4321, null],
      ['missing', 9000, null],
      ['modified', 15_001, 6],
      ['modified', 17_777, null],
    ]);
  });
});
