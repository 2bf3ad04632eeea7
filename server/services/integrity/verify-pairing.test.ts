/**
 * Verification pairs the events (read in storage order) with the ledger (read
 * in seq order) by seq in a window of ledger rows. With a window of two seqs,
 * every path of the pairing runs on a few events — events stored far from their
 * seq, ledger rows pushed out of the window before their event came, events the
 * ledger has not reached, copies, gaps — and the report must be exactly the one
 * the default window gives.
 */
import { describe, expect, it } from 'vitest';
import { EVENT_FIELDS, parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { appendEvents } from '@/supabase/functions/_shared/ingest.ts';
import { adminSql, event, newTenant, tamper, testSql } from '@/test/fixtures.ts';
import { sealTenant } from './checkpoints.ts';
import { signer, trustedKeys } from './signing-key.ts';
import { verifyTenant } from './verify.ts';

/** 60 events; every third is backfilled into an earlier month, so storage order strays far from seq order. */
async function scatteredTenant() {
  const t = await newTenant('pairing');
  const batch = Array.from({ length: 60 }, (_, i) =>
    event({
      object_id: `ORD-P${i}`,
      occurred_at: i % 3 === 0 ? `2026-0${1 + (i % 4)}-0${1 + (i % 7)}T10:00:00.000000Z` : `2026-09-${String(1 + Math.floor(i / 3)).padStart(2, '0')}T10:00:00.000000Z`,
      context: { n: i, px: 101.25 + i },
    }),
  );
  await appendEvents(testSql(), { tenantId: t.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events: batch }, 500), { ip: '10.0.0.1', userAgent: 'pairing-test' }, 'cli');
  await sealTenant(testSql(), t.id, signer(), { maxEvents: 16 });
  return t;
}

const run = (tenantId: string, ledgerWindow?: number) => verifyTenant(testSql(), tenantId, { keys: trustedKeys(), record: false, ledgerWindow });
// Problems at one seq come in no particular order.
const summary = (r: Awaited<ReturnType<typeof run>>) => ({ ok: r.ok, checked: r.events_checked, problems: r.problems.map((p) => JSON.stringify([p.seq, p.kind, p.id, p.detail])).sort() });

describe('pairing events with the ledger', () => {
  it('an intact trail stored out of seq order verifies whole through the narrowest window', async () => {
    const t = await scatteredTenant();
    const stored = await testSql()`select seq from public.audit_events where tenant_id = ${t.id}`;
    // Storage order is not seq order (the partitions of earlier months come first).
    expect(stored.map((r) => Number(r.seq))).not.toEqual([...stored.map((r) => Number(r.seq))].sort((a, b) => a - b));
    for (const window of [2, 4, undefined]) {
      const report = await run(t.id, window);
      expect(report, `window ${window}`).toMatchObject({ ok: true, events_checked: 60, problem_count: 0 });
    }
  });

  it('every kind of tampering gives the same report through a window of two seqs as through the default one', async () => {
    const t = await scatteredTenant();
    const at = (seq: number) => `tenant_id = '${t.id}' and seq = ${seq}`;
    const [row] = await testSql()`select * from public.audit_events where tenant_id = ${t.id} and seq = 12`;
    const cols = Object.keys(row!).filter((c) => (EVENT_FIELDS as readonly string[]).includes(c));
    await tamper(
      `update public.audit_events set actor_id = 'someone-else' where ${at(17)}`,
      `delete from public.audit_events where ${at(23)}`,
      `delete from public.audit_events where ${at(31)}`,
      `delete from public.audit_ledger where ${at(31)}`,
      `delete from public.audit_ledger where ${at(40)}`,
      `update public.audit_events set seq = -5 where ${at(5)}`,
      `update public.audit_events set seq = 5 where ${at(6)}`,
      `update public.audit_events set seq = 6 where ${at(-5)}`,
      `update public.audit_ledger set event_hash = decode(repeat('00', 32), 'hex') where ${at(50)}`,
    );
    await adminSql().begin(async (tx) => {
      // A copy of seq 12 a microsecond later, and an event past the ledger's end.
      const copy = { ...row, occurred_at: (row!.occurred_at as string).replace(/\d{6}Z$/, '999999Z') };
      await tx`insert into public.audit_events ${tx(copy as never, cols)}`;
      await tx`insert into public.audit_events ${tx({ ...copy, id: '01234567-89ab-7cde-8f01-23456789abce', seq: 61 } as never, cols)}`;
    });
    const wide = await run(t.id);
    expect(wide.ok).toBe(false);
    expect(wide.problems.map((p) => [p.kind, p.seq])).toEqual(
      expect.arrayContaining([
        ['reordered', 5],
        ['reordered', 6],
        ['inserted', 12],
        ['modified', 17],
        ['missing', 23],
        ['missing', 31],
        ['inserted', 40],
        ['modified', 50],
        ['inserted', 61],
      ]),
    );
    for (const window of [2, 8]) expect(summary(await run(t.id, window)), `window ${window}`).toEqual(summary(wide));
  });
});
