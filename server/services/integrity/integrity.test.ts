/**
 * Tampering with the database as a superuser (append-only triggers switched
 * off, as the owner could) — every kind — is found by verification, which
 * names the event or checkpoint.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { inject } from 'vitest';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointBytes, checkpointHash, keyIdOf } from '@/supabase/functions/_shared/checkpoint.ts';
import { connect, type Sql } from '@/supabase/functions/_shared/db.ts';
import { EVENT_FIELDS, parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { appendEvents } from '@/supabase/functions/_shared/ingest.ts';
import { eventHash } from '@/supabase/functions/_shared/event-hash.ts';
import { adminSql, event, newTenant, tamper, testSql } from '@/test/fixtures.ts';
import { listCheckpoints, sealAll, sealTenant } from './checkpoints.ts';
import { signer, trustedKeys } from './signing-key.ts';
import { verifyTenant, type VerificationReport } from './verify.ts';

async function tenantWithEvents(n: number, options: { seal?: boolean; maxEvents?: number } = {}) {
  const t = await newTenant('integrity');
  for (let i = 0; i < n; i += 500) {
    const batch = Array.from({ length: Math.min(500, n - i) }, (_, k) => event({ object_id: `ORD-${i + k}`, context: { n: i + k, side: 'BUY' } }));
    await appendEvents(testSql(), { tenantId: t.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events: batch }, 500), { ip: '10.0.0.1', userAgent: 'integrity-test' }, 'cli');
  }
  if (options.seal !== false) await sealTenant(testSql(), t.id, signer(), { maxEvents: options.maxEvents });
  return t;
}

const verify = (tenantId: string): Promise<VerificationReport> => verifyTenant(testSql(), tenantId, { keys: trustedKeys(), record: false });

describe('sealing and verification', () => {
  it('seals every committed event exactly once in consecutive signed checkpoints, and verifies intact', async () => {
    const t = await tenantWithEvents(1200, { maxEvents: 500 });
    const checkpoints = await listCheckpoints(testSql(), t.id);
    expect(checkpoints.map((c) => [c.number, c.seq_from, c.seq_to])).toEqual([
      [1, 1, 500],
      [2, 501, 1000],
      [3, 1001, 1200],
    ]);
    expect(checkpoints[1]!.prev_hash).toBe(checkpoints[0]!.hash);
    expect(checkpoints[0]!.prev_hash).toBe('0'.repeat(64));
    expect(checkpoints.every((c) => checkpointHash(c) === c.hash && c.key_id === signer().keyId)).toBe(true);
    expect(await sealTenant(testSql(), t.id, signer())).toEqual([]);

    const report = await verify(t.id);
    expect(report).toMatchObject({ ok: true, events_checked: 1200, checkpoints_checked: 3, uncovered_events: 0, problem_count: 0, problems: [] });
  });

  it('reports events not yet sealed without calling them a problem', async () => {
    const t = await tenantWithEvents(30, { seal: false });
    expect(await verify(t.id)).toMatchObject({ ok: true, events_checked: 30, checkpoints_checked: 0, uncovered_events: 30 });
  });
});

describe('tampering as a database superuser is detected', () => {
  const at = (tenantId: string, seq: number) => `tenant_id = '${tenantId}' and seq = ${seq}`;

  it('a modified field', async () => {
    const t = await tenantWithEvents(50);
    await tamper(`update public.audit_events set actor_id = 'someone-else' where ${at(t.id, 17)}`);
    const report = await verify(t.id);
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toMatchObject({ seq: 17, kind: 'modified', id: expect.any(String) });
  });

  it('a modified context value, even with the ledger hash rewritten to match', async () => {
    const t = await tenantWithEvents(50);
    const [row] = await testSql()`select * from public.audit_events where tenant_id = ${t.id} and seq = 9`;
    const forged = { ...row, context: { ...(row!.context as object), n: 999 } };
    const forgedHash = eventHash(forged as never);
    await tamper(
      `update public.audit_events set context = jsonb_set(context, '{n}', '999') where ${at(t.id, 9)}`,
      `update public.audit_ledger set event_hash = decode('${forgedHash}', 'hex') where ${at(t.id, 9)}`,
    );
    const report = await verify(t.id);
    expect(report.ok).toBe(false);
    // The ledger now agrees with the event, but not with the signed Merkle root.
    expect(report.problems[0]).toMatchObject({ kind: 'modified', checkpoint: 1, seq: 1 });
  });

  it('a deleted event, and a deleted event with its ledger row', async () => {
    const t = await tenantWithEvents(50);
    await tamper(`delete from public.audit_events where ${at(t.id, 23)}`);
    expect((await verify(t.id)).problems).toEqual([expect.objectContaining({ seq: 23, kind: 'missing' })]);

    await tamper(`delete from public.audit_events where ${at(t.id, 31)}`, `delete from public.audit_ledger where ${at(t.id, 31)}`);
    const report = await verify(t.id);
    expect(report.problems.map((p) => [p.kind, p.seq])).toEqual(expect.arrayContaining([['missing', 23], ['missing', 31]]));
  });

  it('an inserted event with a valid-looking hash', async () => {
    const t = await tenantWithEvents(50);
    const [row] = await testSql()`select * from public.audit_events where tenant_id = ${t.id} and seq = 12`;
    // A second event at seq 12, a microsecond apart so the primary key lets it in.
    const forged = { ...row, id: '01234567-89ab-7cde-8f01-23456789abcd', actor_id: 'ghost', occurred_at: (row!.occurred_at as string).replace(/\d{6}Z$/, '999999Z') };
    // The event's own columns (the generated context_* columns are computed by PostgreSQL).
    const cols = Object.keys(forged).filter((c) => (EVENT_FIELDS as readonly string[]).includes(c));
    await adminSql().begin(async (tx) => {
      await tx`insert into public.audit_events ${tx(forged as never, cols)}`;
      await tx`insert into public.audit_events ${tx({ ...forged, id: '01234567-89ab-7cde-8f01-23456789abce', seq: 51 } as never, cols)}`;
    });
    const report = await verify(t.id);
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.kind)).toEqual(['inserted', 'inserted']);
    expect(report.problems.map((p) => p.seq)).toEqual([12, 51]);
  });

  it('two events that swapped seq', async () => {
    const t = await tenantWithEvents(50);
    await tamper(
      `update public.audit_events set seq = -5 where ${at(t.id, 5)}`,
      `update public.audit_events set seq = 5 where ${at(t.id, 6)}`,
      `update public.audit_events set seq = 6 where ${at(t.id, -5)}`,
    );
    const report = await verify(t.id);
    expect(report.problems.map((p) => [p.kind, p.seq])).toEqual([
      ['reordered', 5],
      ['reordered', 6],
    ]);
    expect(report.problems[0]!.detail).toContain('ledger places it at seq 6');
  });

  it('an edited, a removed, and a re-signed checkpoint', async () => {
    const t = await tenantWithEvents(90, { maxEvents: 30 });
    await tamper(`update oms_audit.checkpoints set event_count = event_count where tenant_id = '${t.id}'`);
    expect((await verify(t.id)).ok).toBe(true);

    await tamper(`update oms_audit.checkpoints set sealed_at = sealed_at - interval '1 day' where tenant_id = '${t.id}' and number = 2`);
    let report = await verify(t.id);
    expect(report.problems[0]).toMatchObject({ kind: 'checkpoint', checkpoint: 2, detail: expect.stringContaining('modified') });

    const t2 = await tenantWithEvents(90, { maxEvents: 30 });
    await tamper(`delete from oms_audit.checkpoints where tenant_id = '${t2.id}' and number = 2`);
    report = await verify(t2.id);
    expect(report.problems[0]).toMatchObject({ kind: 'checkpoint', checkpoint: 2, detail: expect.stringContaining('missing') });

    // Someone re-signs a checkpoint with a key of their own: the chain still links, the key is not trusted.
    const t3 = await tenantWithEvents(40, { maxEvents: 40 });
    const [cp] = await listCheckpoints(testSql(), t3.id);
    const attacker = generateKeyPairSync('ed25519');
    const forged = { ...cp!, key_id: keyIdOf(attacker.publicKey) };
    const signature = sign(null, checkpointBytes(forged), attacker.privateKey).toString('base64');
    await tamper(
      `update oms_audit.checkpoints set key_id = '${forged.key_id}', checkpoint_hash = decode('${checkpointHash(forged)}', 'hex'), signature = decode('${signature}', 'base64') where tenant_id = '${t3.id}'`,
    );
    report = await verify(t3.id);
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'signature', checkpoint: 1, detail: expect.stringContaining('not trusted') })]);
  });
});

describe('concurrent ingest while sealing', () => {
  const pools: Sql[] = Array.from({ length: 3 }, () => connect(inject('databaseUrl'), { max: 4 }));
  afterAll(() => Promise.all(pools.map((p) => p.end())));

  it('covers every event exactly once, with valid chains, for every tenant', async () => {
    const tenants = await Promise.all([newTenant('seal-a'), newTenant('seal-b'), newTenant('seal-c')]);
    let writing = true;
    const sealer = (async () => {
      while (writing) {
        await sealAll(pools[2]!, signer(), tenants.map((t) => t.id));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        appendEvents(pools[i % 2]!, { tenantId: tenants[i % 3]!.id, writer: { kind: 'operator', name: 't' } }, parseBatch({ events: Array.from({ length: 40 }, () => event()) }, 500), { ip: null, userAgent: null }, 'cli'),
      ),
    );
    writing = false;
    await sealer;
    await sealAll(testSql(), signer(), tenants.map((t) => t.id));
    for (const t of tenants) {
      const checkpoints = await listCheckpoints(testSql(), t.id);
      let next = 1;
      for (const c of checkpoints) {
        expect(c.seq_from).toBe(next);
        next = c.seq_to + 1;
      }
      expect(next - 1).toBe(400);
      expect(await verify(t.id)).toMatchObject({ ok: true, events_checked: 400, uncovered_events: 0 });
    }
  });
});
