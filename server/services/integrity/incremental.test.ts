/**
 * Incremental verification: it checks what was sealed since the newest signed,
 * intact verification, states exactly that, and still finds every kind of
 * tampering within what it covers — a changed, deleted or inserted event, a
 * rewritten ledger hash, a cut-off tail (through the anchors, and when the cut
 * reaches what was verified before), a rewritten verified checkpoint. What it
 * trusts — events verified before are unchanged — is shown too: a change there
 * is found by the next full verification. Forged verification records are not
 * built on. Tampering is done with the database owner's rights (tamper()).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateKeyPairSync, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { EVENT_FIELDS, parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { appendEvents } from '@/supabase/functions/_shared/ingest.ts';
import { eventHash } from '@/supabase/functions/_shared/event-hash.ts';
import { parseEnv, type Env } from '@/server/env.ts';
import { anchorEverything } from '@/server/services/anchors/sources.ts';
import { adminSql, event, newTenant, tamper, testSql } from '@/test/fixtures.ts';
import { sealTenant } from './checkpoints.ts';
import { signer, trustedKeys } from './signing-key.ts';
import { verifyTenant, type VerificationReport } from './verify.ts';
import { recordBytes, type VerificationRecord } from './verify-record.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'oms-audit-incremental-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Appends `n` events and seals them in checkpoints of at most `per` events (no seal with per 0). */
async function append(tenantId: string, n: number, per = 100) {
  for (let i = 0; i < n; i += 500) {
    const batch = Array.from({ length: Math.min(500, n - i) }, (_, k) => event({ object_id: `ORD-${i + k}`, context: { n: i + k, side: 'SELL' } }));
    await appendEvents(testSql(), { tenantId, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events: batch }, 500), { ip: '10.0.0.1', userAgent: 'incremental-test' }, 'cli');
  }
  if (per) await sealTenant(testSql(), tenantId, signer(), { maxEvents: per });
}

async function tenantWith(n: number) {
  const t = await newTenant('incremental');
  await append(t.id, n);
  return t;
}

const run = (tenantId: string, mode: 'full' | 'incremental', env?: Env): Promise<VerificationReport> =>
  verifyTenant(testSql(), tenantId, { keys: trustedKeys(), mode, env, verifiedBy: 'test' });

const at = (tenantId: string, seq: number) => `tenant_id = '${tenantId}' and seq = ${seq}`;

describe('incremental verification', () => {
  it('checks only what was sealed since the last intact verification, and states what it covered and built on', async () => {
    const t = await tenantWith(300);
    // Nothing verified yet: the first run is full.
    const first = await run(t.id, 'incremental');
    expect(first).toMatchObject({ ok: true, kind: 'full', base: null, events_checked: 300, checkpoints_checked: 3 });
    expect(first.scope).toMatchObject({ seq_from: 1, seq_to: 300, checkpoint_from: 1, checkpoint_to: 3 });

    await append(t.id, 150);
    const second = await run(t.id, 'incremental');
    expect(second).toMatchObject({ ok: true, kind: 'incremental', events_checked: 150, checkpoints_checked: 2 });
    expect(second.scope).toMatchObject({ seq_from: 301, seq_to: 450, checkpoint_from: 4, checkpoint_to: 5 });
    expect(second.base).toMatchObject({ verified_through: 3, full_verified_at: first.started_at });

    // Nothing new sealed: nothing to check but the chain's head; unsealed events are checked as they are.
    expect(await run(t.id, 'incremental')).toMatchObject({ ok: true, kind: 'incremental', events_checked: 0, checkpoints_checked: 0, base: { verified_through: 5 } });
    await append(t.id, 10, 0);
    expect(await run(t.id, 'incremental')).toMatchObject({ ok: true, kind: 'incremental', events_checked: 10, uncovered_events: 10 });

    // What the console shows: the kind and what it covered, recorded with the signed result.
    const [row] = await testSql()`select kind, scope, record from oms_audit.integrity_verifications where tenant_id = ${t.id} order by id desc limit 1`;
    expect(row).toMatchObject({ kind: 'incremental', scope: { seq_from: 451, seq_to: 460, base: { verified_through: 5 } } });
    expect(JSON.parse(row!.record as string)).toMatchObject({ kind: 'incremental', verified_through: 5, full_verified_at: first.started_at });
  });

  it('finds a changed, a deleted and an inserted event and a rewritten ledger hash among the new events', async () => {
    const t = await tenantWith(100);
    expect((await run(t.id, 'full')).ok).toBe(true);
    await append(t.id, 100);
    const [row] = await testSql()`select * from public.audit_events where tenant_id = ${t.id} and seq = 170`;
    const forgedHash = eventHash({ ...row, context: { ...(row!.context as object), n: 999 } } as never);
    await tamper(
      `update public.audit_events set actor_id = 'someone-else' where ${at(t.id, 120)}`,
      `delete from public.audit_events where ${at(t.id, 150)}`,
      `update public.audit_events set context = jsonb_set(context, '{n}', '999') where ${at(t.id, 170)}`,
      `update public.audit_ledger set event_hash = decode('${forgedHash}', 'hex') where ${at(t.id, 170)}`,
    );
    const [copy] = await testSql()`select * from public.audit_events where tenant_id = ${t.id} and seq = 180`;
    const cols = Object.keys(copy!).filter((c) => (EVENT_FIELDS as readonly string[]).includes(c));
    await adminSql()`insert into public.audit_events ${adminSql()({ ...copy, id: '01234567-89ab-7cde-8f01-23456789abcd', occurred_at: (copy!.occurred_at as string).replace(/\d{6}Z$/, '999999Z') } as never, cols)}`;

    const report = await run(t.id, 'incremental');
    expect(report).toMatchObject({ ok: false, kind: 'incremental', base: { verified_through: 1 } });
    expect(report.problems.map((p) => [p.kind, p.seq])).toEqual(
      expect.arrayContaining([
        ['modified', 101], // checkpoint 2's Merkle root: the ledger hash of seq 170 was rewritten
        ['modified', 120],
        ['missing', 150],
        ['inserted', 180],
      ]),
    );

    // After a run that found problems the next is full again, and reports them again.
    const next = await run(t.id, 'incremental');
    expect(next).toMatchObject({ ok: false, kind: 'full', base: null });
    expect(next.problem_count).toBe(report.problem_count);
  });

  it('trusts that events verified before are unchanged: a change there is found by the next full verification', async () => {
    const t = await tenantWith(100);
    expect((await run(t.id, 'full')).ok).toBe(true);
    await tamper(`update public.audit_events set actor_id = 'someone-else' where ${at(t.id, 5)}`);
    await append(t.id, 20);
    const incremental = await run(t.id, 'incremental');
    // It says what it did not check again: checkpoint 1, seq 1–100.
    expect(incremental).toMatchObject({ ok: true, kind: 'incremental', events_checked: 20, base: { verified_through: 1 } });
    expect(incremental.scope).toMatchObject({ seq_from: 101, checkpoint_from: 2 });
    const full = await run(t.id, 'full');
    expect(full).toMatchObject({ ok: false, kind: 'full' });
    expect(full.problems[0]).toMatchObject({ kind: 'modified', seq: 5 });
  });

  it('reports a tail cut off into what was verified, and a verified checkpoint rewritten, and verifies everything again', async () => {
    const cut = await tenantWith(300);
    expect((await run(cut.id, 'full')).ok).toBe(true);
    await tamper(
      `delete from oms_audit.checkpoints where tenant_id = '${cut.id}' and number = 3`,
      `delete from public.audit_events where tenant_id = '${cut.id}' and seq > 200`,
      `delete from public.audit_ledger where tenant_id = '${cut.id}' and seq > 200`,
      `update oms_audit.tenant_sequences set last_seq = 200 where tenant_id = '${cut.id}'`,
    );
    const afterCut = await run(cut.id, 'incremental');
    expect(afterCut).toMatchObject({ ok: false, kind: 'full' });
    expect(afterCut.problems[0]).toMatchObject({ kind: 'checkpoint', checkpoint: 3 });
    expect(afterCut.problems[0]!.detail).toContain('missing, though it was verified');

    const rewritten = await tenantWith(200);
    expect((await run(rewritten.id, 'full')).ok).toBe(true);
    // The owner re-signs checkpoint 2 with the real key's public part unknown to them: another key, another hash.
    const other = generateKeyPairSync('ed25519');
    await tamper(`update oms_audit.checkpoints set sealed_at = sealed_at + interval '1 second', signature = decode('${sign(null, Buffer.from('x'), other.privateKey).toString('hex')}', 'hex') where tenant_id = '${rewritten.id}' and number = 2`);
    const afterRewrite = await run(rewritten.id, 'incremental');
    expect(afterRewrite).toMatchObject({ ok: false, kind: 'full' });
    expect(afterRewrite.problems.map((p) => [p.kind, p.checkpoint])).toEqual(expect.arrayContaining([['checkpoint', 2]]));
    expect(afterRewrite.problems.some((p) => p.detail.includes('no longer the one verified'))).toBe(true);
  });

  it('finds a cut-off tail of new checkpoints through the anchors, reading only the new anchors', async () => {
    const env = parseEnv({ DATABASE_URL: inject('databaseUrl'), OMS_AUDIT_DATA_DIR: path.join(dir, 'data'), ANCHOR_URL: `file://${path.join(dir, 'anchors')}` });
    const t = await tenantWith(200);
    await anchorEverything(testSql(), env, [t.id]);
    expect(await run(t.id, 'full', env)).toMatchObject({ ok: true, anchors: { checkpoints: { anchors_checked: 2 } } });
    await append(t.id, 100);
    await anchorEverything(testSql(), env, [t.id]);
    expect(await run(t.id, 'incremental', env)).toMatchObject({ ok: true, kind: 'incremental', anchors: { checkpoints: { anchors_checked: 1, anchored_head: 3, database_head: 3 } } });
    await append(t.id, 100);
    await anchorEverything(testSql(), env, [t.id]);
    await tamper(
      `delete from oms_audit.checkpoints where tenant_id = '${t.id}' and number = 4`,
      `delete from public.audit_events where tenant_id = '${t.id}' and seq > 300`,
      `delete from public.audit_ledger where tenant_id = '${t.id}' and seq > 300`,
      `update oms_audit.tenant_sequences set last_seq = 300 where tenant_id = '${t.id}'`,
    );
    const report = await run(t.id, 'incremental', env);
    expect(report).toMatchObject({ ok: false, kind: 'incremental', events_checked: 0, anchors: { checkpoints: { anchored_head: 4, database_head: 3 } } });
    expect(report.problems[0]).toMatchObject({ kind: 'anchor', checkpoint: 4 });
    expect(report.problems[0]!.detail).toContain('cut off');
  });

  it('builds only on results signed by a trusted key: forged ones cannot hide a finding', async () => {
    const t = await tenantWith(100);
    await tamper(`update public.audit_events set actor_id = 'someone-else' where ${at(t.id, 7)}`);
    const found = await run(t.id, 'full');
    expect(found.ok).toBe(false);
    // The owner records an intact result, unsigned, signed by another key, and altered after signing.
    const [last] = await testSql()`select record, signature, key_id from oms_audit.integrity_verifications where tenant_id = ${t.id} order by id desc limit 1`;
    const claimed: VerificationRecord = { ...(JSON.parse(last!.record as string) as VerificationRecord), ok: true, problem_count: 0 };
    const other = generateKeyPairSync('ed25519');
    const insert = (record: string | null, signature: string | null, keyId: string | null) =>
      adminSql()`insert into oms_audit.integrity_verifications (tenant_id, started_at, finished_at, ok, events_checked, checkpoints_checked, problem_count, scope, verified_by, kind, record, signature, key_id)
        values (${t.id}, now(), now(), true, 100, 1, 0, '{}', 'forger', 'full', ${record}, ${signature}, ${keyId})`;
    await insert(null, null, null);
    await insert(recordBytes(claimed).toString(), sign(null, recordBytes(claimed), other.privateKey).toString('base64'), signer().keyId);
    await insert(recordBytes(claimed).toString(), last!.signature as string, last!.key_id as string);
    const next = await run(t.id, 'incremental');
    expect(next).toMatchObject({ ok: false, kind: 'full' });
    expect(next.problems[0]).toMatchObject({ kind: 'modified', seq: 7 });
  });
});
