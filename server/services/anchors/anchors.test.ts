/**
 * Checkpoints anchored outside the database: a tail cut off with the
 * database's owner rights, a tail sealed again on top, a checkpoint rewritten
 * and re-signed with the real key — each found through the anchors and named
 * by checkpoint number; time-stamp tokens from a real TSA (openssl ts) are
 * checked, and a token for another hash or from an untrusted TSA refused;
 * anchoring failures lose nothing and are retried.
 */
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { checkpointBytes, checkpointHash, type SignedCheckpoint } from '@/supabase/functions/_shared/checkpoint.ts';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { appendEvents } from '@/supabase/functions/_shared/ingest.ts';
import { parseEnv, type Env } from '@/server/env.ts';
import { listCheckpoints, sealTenant } from '@/server/services/integrity/checkpoints.ts';
import { signer, trustedKeys } from '@/server/services/integrity/signing-key.ts';
import { integrityStatus } from '@/server/services/integrity/status.ts';
import { verifyTenant } from '@/server/services/integrity/verify.ts';
import { runCli } from '@/test/cli.ts';
import { event, newTenant, testSql } from '@/test/fixtures.ts';
import { asSuperuser, cutOffTail, superuserSql } from '@/test/tamper.ts';
import { startTsa, type TestTsa } from '@/test/tsa.ts';
import { anchorKeys, checkpointObject } from './format.ts';
import { anchorEverything } from './sources.ts';

const run = promisify(execFile);
let dir: string;
let tsa: TestTsa;
let otherTsa: TestTsa;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'oms-audit-anchors-'));
  [tsa, otherTsa] = await Promise.all([startTsa({ key: 'rsa' }), startTsa({ key: 'ec' })]);
});
afterAll(async () => {
  await Promise.all([tsa?.stop(), otherTsa?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

function anchorEnv(name: string, extra: Record<string, string> = {}): { env: Env; vars: Record<string, string>; root: string } {
  const root = path.join(dir, name);
  const vars = {
    DATABASE_URL: inject('databaseUrl'),
    OMS_AUDIT_DATA_DIR: path.join(dir, `${name}-data`),
    ANCHOR_URL: `file://${root}`,
    ANCHOR_TSA_URL: tsa.url,
    ANCHOR_TSA_CA_FILE: tsa.caFile,
    ...extra,
  };
  return { env: parseEnv(vars), vars, root };
}

async function tenantWithCheckpoints(events: number, perCheckpoint: number) {
  const t = await newTenant('anchors');
  await addEvents(t.id, events);
  await sealTenant(testSql(), t.id, signer(), { maxEvents: perCheckpoint });
  return t;
}

async function addEvents(tenantId: string, n: number) {
  const batch = Array.from({ length: n }, (_, i) => event({ object_id: `ORD-${i}`, context: { n: i } }));
  await appendEvents(testSql(), { tenantId, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events: batch }, 500), { ip: '10.0.0.1', userAgent: 'anchor-test' }, 'cli');
}

const verify = (tenantId: string, env: Env) => verifyTenant(testSql(), tenantId, { keys: trustedKeys(), record: false, env });

describe('anchoring checkpoints outside the database', () => {
  it('writes each checkpoint once as canonical JSON with an RFC 3161 token that openssl verifies too, and verifies intact', async () => {
    const { env, root } = anchorEnv('intact');
    const t = await tenantWithCheckpoints(90, 30);
    const first = await anchorEverything(testSql(), env, [t.id]);
    expect(first).toMatchObject({ configured: true, anchored: 3, timestamped: 3, failures: [] });
    // Idempotent: nothing new to do, nothing rewritten.
    expect(await anchorEverything(testSql(), env, [t.id])).toMatchObject({ anchored: 0, timestamped: 0, failures: [] });

    const checkpoints = await listCheckpoints(testSql(), t.id);
    for (const c of checkpoints) {
      const keys = anchorKeys('checkpoint', t.id, c.number);
      const file = path.join(root, keys.object);
      expect((await stat(file)).mode & 0o777).toBe(0o444);
      // The TSA's token binds the checkpoint's canonical body (whose SHA-256 is its hash) — checkable with openssl alone.
      const body = path.join(dir, `body-${t.id}-${c.number}.json`);
      await writeFile(body, checkpointBytes(c));
      const { stdout } = await run('openssl', ['ts', '-verify', '-data', body, '-in', path.join(root, keys.token), '-CAfile', tsa.caFile]);
      expect(stdout).toContain('Verification: OK');
    }
    expect((await readdir(path.join(root, `tenant_id=${t.id}`, 'checkpoints'))).sort()).toEqual(
      ['0000000000000001.json', '0000000000000001.tsr', '0000000000000002.json', '0000000000000002.tsr', '0000000000000003.json', '0000000000000003.tsr'],
    );

    const report = await verify(t.id, env);
    expect(report).toMatchObject({ ok: true, problems: [] });
    expect(report.anchors.checkpoints).toMatchObject({ configured: true, anchored_head: 3, database_head: 3, anchors_checked: 3, timestamps_checked: 3, pending: 0 });
    expect((await integrityStatus(testSql(), t.id, env)).anchors).toMatchObject({ configured: true, time_stamping: true, anchored_through: 3, timestamped_through: 3, pending: 0, last_error: null });
  });

  it('finds a tail cut off with the owner rights (checkpoints, ledger, events, sequence), naming the checkpoint; without anchors it would pass', async () => {
    const { env, vars } = anchorEnv('cut');
    const t = await tenantWithCheckpoints(120, 30);
    await anchorEverything(testSql(), env, [t.id]);
    await cutOffTail(t.id, 2);

    // The database alone looks intact: that is the attack.
    const blind = await verifyTenant(testSql(), t.id, { keys: trustedKeys(), record: false });
    expect(blind).toMatchObject({ ok: true, checkpoints_checked: 2, events_checked: 60 });

    const report = await verify(t.id, env);
    expect(report.ok).toBe(false);
    expect(report.anchors.checkpoints).toMatchObject({ anchored_head: 4, database_head: 2 });
    expect(report.problems).toEqual([
      expect.objectContaining({ kind: 'anchor', checkpoint: 3, seq: 61, detail: expect.stringContaining('checkpoints 3–4 are anchored outside it: a tail of the trail was cut off') }),
    ]);

    // The command a person runs says the same, and exits 1.
    const cli = await runCli(['verify', '--tenant', t.id], vars);
    expect(cli.code, cli.stderr).toBe(1);
    expect(cli.stdout).toMatch(/TAMPERING FOUND/);
    expect(cli.stdout).toMatch(/anchor\s+checkpoint 3 seq 61 the database ends at checkpoint 2/);
  });

  it('catches a new checkpoint sealed with the real key on top of a cut-off tail: anchoring refuses it and verify names it', async () => {
    const { env } = anchorEnv('resealed');
    const t = await tenantWithCheckpoints(90, 30);
    await anchorEverything(testSql(), env, [t.id]);
    await cutOffTail(t.id, 1);
    await addEvents(t.id, 45);
    const resealed = await sealTenant(testSql(), t.id, signer(), { maxEvents: 30 });
    expect(resealed.map((c) => c.number)).toEqual([2, 3]);

    const anchoring = await anchorEverything(testSql(), env, [t.id], resealed);
    expect(anchoring.failures).toEqual([expect.objectContaining({ kind: 'checkpoint', number: 2, error: expect.stringContaining('is not the one anchored') })]);
    expect((await integrityStatus(testSql(), t.id, env)).anchors).toMatchObject({ anchored_through: 3, failing_number: 2, last_error: expect.stringContaining('nothing was overwritten') });

    const report = await verify(t.id, env);
    expect(report.ok).toBe(false);
    expect(report.problems.filter((p) => p.kind === 'anchor').map((p) => [p.checkpoint, p.detail.includes('differs from the one anchored')])).toEqual([
      [2, true],
      [3, true],
    ]);
  });

  it('catches a checkpoint rewritten and re-signed with the real signing key', async () => {
    const { env } = anchorEnv('resigned');
    const t = await tenantWithCheckpoints(60, 30);
    await anchorEverything(testSql(), env, [t.id]);
    const [, second] = await listCheckpoints(testSql(), t.id);
    const forged = { ...second!, sealed_at: '2020-01-01T00:00:00.000000Z' };
    const hash = checkpointHash(forged);
    const signature = signer().sign(checkpointBytes(forged));
    await asSuperuser(superuserSql(), [
      `update oms_audit.checkpoints set sealed_at = '${forged.sealed_at}', checkpoint_hash = decode('${hash}', 'hex'), signature = decode('${signature}', 'base64') where tenant_id = '${t.id}' and number = 2`,
    ]);
    const report = await verify(t.id, env);
    // The chain in the database is consistent and validly signed; only the anchor tells.
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'anchor', checkpoint: 2, detail: expect.stringContaining('rewritten') })]);
  });

  it('refuses a time-stamp token for another hash, one from an untrusted TSA, and a replaced anchor object', async () => {
    const { env, root } = anchorEnv('tokens');
    const t = await tenantWithCheckpoints(90, 30);
    await anchorEverything(testSql(), env, [t.id]);
    const token = (n: number) => path.join(root, anchorKeys('checkpoint', t.id, n).token);
    // Checkpoint 2's (genuine) token put in place of checkpoint 3's.
    await rm(token(3));
    await copyFile(token(2), token(3));
    let report = await verify(t.id, env);
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'timestamp', checkpoint: 3, detail: expect.stringContaining('time-stamps another hash') })]);

    // Trusting only another TSA's certificate: every token is refused.
    const distrusting = anchorEnv('tokens', { ANCHOR_TSA_CA_FILE: otherTsa.caFile }).env;
    report = await verify(t.id, distrusting);
    expect(report.problems.filter((p) => p.kind === 'timestamp').map((p) => p.checkpoint)).toEqual([1, 2, 3]);
    expect(report.problems[0]!.detail).toMatch(/does not verify against a trusted TSA certificate/);

    // A missing token, and an anchor object replaced by someone with write access to the storage but not the key
    // (seen after the grace period, when a missing token is no longer "on its way").
    await rm(token(1));
    const object = path.join(root, anchorKeys('checkpoint', t.id, 2).object);
    const [, second] = await listCheckpoints(testSql(), t.id);
    await chmod(object, 0o644);
    await writeFile(object, checkpointObject({ ...second!, merkle_root: 'ab'.repeat(32) } as SignedCheckpoint));
    report = await verifyTenant(testSql(), t.id, { keys: trustedKeys(), record: false, env, now: new Date(Date.now() + 3600_000) });
    expect(report.problems.map((p) => [p.kind, p.checkpoint])).toEqual(
      expect.arrayContaining([
        ['timestamp', 1],
        ['anchor', 2],
      ]),
    );
    expect(report.problems.find((p) => p.kind === 'anchor')!.detail).toMatch(/not a valid signed checkpoint: its fields do not hash/);
  });

  it('loses nothing when the TSA or the storage fails: anchors what it can, reports, and catches up on the next run', async () => {
    const { env, root } = anchorEnv('failures');
    const t = await tenantWithCheckpoints(60, 30);
    tsa.setFailing(true);
    try {
      const down = await anchorEverything(testSql(), env, [t.id]);
      expect(down).toMatchObject({ anchored: 2, timestamped: 0 });
      expect(down.failures).toEqual([expect.objectContaining({ kind: 'checkpoint', number: 1, error: expect.stringContaining('time stamp not obtained: the time-stamp authority answered HTTP 503') })]);
    } finally {
      tsa.setFailing(false);
    }
    // The storage refuses writes (its tenant folder is in the way): the new checkpoint waits in the database.
    await addEvents(t.id, 10);
    await sealTenant(testSql(), t.id, signer());
    const folder = path.join(root, `tenant_id=${t.id}`, 'checkpoints');
    await rename(folder, `${folder}.away`);
    await writeFile(folder, 'in the way');
    const blocked = await anchorEverything(testSql(), env, [t.id]);
    expect(blocked.failures.map((f) => f.number)).toEqual([3, 1]);
    expect((await integrityStatus(testSql(), t.id, env)).anchors).toMatchObject({ anchored_through: 2, pending: 1, failing_number: 3 });
    // Verification cannot read the anchors: it fails loudly instead of calling the trail intact.
    await expect(verify(t.id, env)).rejects.toThrow(/the anchors at file:.* cannot be read, so the trail cannot be checked against them: .*(not a directory|ENOTDIR)/);

    // Storage back: the waiting checkpoint is anchored and every one time-stamped.
    await rm(folder);
    await rename(`${folder}.away`, folder);
    const healed = await anchorEverything(testSql(), env, [t.id]);
    expect(healed).toMatchObject({ anchored: 1, timestamped: 3, failures: [] });
    expect(await verify(t.id, env)).toMatchObject({ ok: true });
    expect((await integrityStatus(testSql(), t.id, env)).anchors).toMatchObject({ anchored_through: 3, timestamped_through: 3, last_error: null });
  });

  it('lets the sealer write the anchors at once and the time stamps in a run of their own, none skipped', async () => {
    const { env } = anchorEnv('split');
    const t = await tenantWithCheckpoints(40, 20);
    const sealed = await sealTenant(testSql(), t.id, signer());
    expect(await anchorEverything(testSql(), env, [t.id], sealed, { timestamps: false })).toMatchObject({ anchored: 2, timestamped: 0, failures: [] });
    await addEvents(t.id, 5);
    expect(await anchorEverything(testSql(), env, [t.id], await sealTenant(testSql(), t.id, signer()), { timestamps: false })).toMatchObject({ anchored: 1, timestamped: 0 });
    expect(await anchorEverything(testSql(), env, [t.id])).toMatchObject({ anchored: 0, timestamped: 3, failures: [] });
    expect((await verify(t.id, env)).anchors.checkpoints).toMatchObject({ anchors_checked: 3, timestamps_checked: 3 });
  });

  it('reports a checkpoint left unanchored past the grace period', async () => {
    const { env } = anchorEnv('grace', { ANCHOR_GRACE_SECONDS: '60' });
    const t = await tenantWithCheckpoints(30, 30);
    const within = await verify(t.id, env);
    expect(within).toMatchObject({ ok: true, anchors: { checkpoints: { pending: 1 } } });
    const later = await verifyTenant(testSql(), t.id, { keys: trustedKeys(), record: false, env, now: new Date(Date.now() + 120_000) });
    expect(later.problems).toEqual([expect.objectContaining({ kind: 'anchor', checkpoint: 1, detail: expect.stringContaining('has no anchor outside the database') })]);
  });
});
