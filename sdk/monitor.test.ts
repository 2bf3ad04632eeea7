/**
 * The independent monitor, run as a real process (oms-audit monitor) against
 * the real server over HTTP: it accepts honest growth, and exits 1 naming the
 * checkpoint on a rollback (a cut-off tail) and on a fork (a history sealed
 * again with the real key); it refuses to run without a pinned key and rejects
 * checkpoints signed by a key other than the pinned one.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealTenant } from '@/server/services/integrity/checkpoints.ts';
import { signer } from '@/server/services/integrity/signing-key.ts';
import { runCli } from '@/test/cli.ts';
import { baseUrl, call, event, newTenant, testSql, type TestTenant } from '@/test/fixtures.ts';
import { cutOffTail } from '@/test/tamper.ts';
import { MONITOR_STATE_FORMAT, monitorCheckpoints, type MonitorState } from './monitor.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'oms-audit-monitor-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function write(t: TestTenant, n: number) {
  const res = await call('POST', '/api/v1/audit/events', { key: t.writeKey, body: { events: Array.from({ length: n }, () => event()) } });
  expect(res.status).toBe(201);
  return sealTenant(testSql(), t.id, signer());
}

const monitor = (t: TestTenant, state: string, pin: string[]) => runCli(['monitor', '--url', baseUrl(), '--key', t.readKey, '--state', state, ...pin, '--json']);
const outcome = (run: { stdout: string }) => JSON.parse(run.stdout) as { ok: boolean; outcome: string; checkpoint: number | null; message: string };

describe('oms-audit monitor', () => {
  it('accepts honest growth, and names the checkpoint on a rollback and on a fork', async () => {
    const t = await newTenant('monitor');
    const state = path.join(dir, `${t.id}.json`);
    // The fingerprint, as the Integrity page shows it and the operator publishes it.
    const pin = ['--fingerprint', signer().keyId];
    await write(t, 5);

    let run = await monitor(t, state, pin);
    expect(run.code, run.stderr).toBe(0);
    expect(outcome(run)).toMatchObject({ ok: true, outcome: 'first', checkpoint: 1 });
    const saved = JSON.parse(await readFile(state, 'utf8')) as MonitorState;
    expect(saved).toMatchObject({ format: MONITOR_STATE_FORMAT, version: 1, url: baseUrl(), tenant_id: t.id, checkpoint: { number: 1, seq_to: 5 }, pinned_keys: [{ key_id: signer().keyId }] });

    await write(t, 3);
    await write(t, 4);
    run = await monitor(t, state, []); // the pin is remembered
    expect(outcome(run)).toMatchObject({ ok: true, outcome: 'grown', checkpoint: 3, message: expect.stringContaining('2 newer than checkpoint 1') });
    run = await monitor(t, state, []);
    expect(outcome(run)).toMatchObject({ ok: true, outcome: 'unchanged', checkpoint: 3 });

    // The database owner cuts the last two checkpoints off: the server now serves a shorter trail.
    await cutOffTail(t.id, 1);
    run = await monitor(t, state, []);
    expect(run.code).toBe(1);
    expect(outcome(run)).toMatchObject({ ok: false, outcome: 'rollback', checkpoint: 3, message: expect.stringContaining("the server's newest checkpoint is 1, behind checkpoint 3") });
    // Nothing is forgotten: the state still holds checkpoint 3.
    expect((JSON.parse(await readFile(state, 'utf8')) as MonitorState).checkpoint.number).toBe(3);

    // …and seals a different history over it with the real key, as long as the one remembered.
    await write(t, 2);
    await write(t, 2);
    run = await monitor(t, state, []);
    expect(run.code).toBe(1);
    expect(outcome(run)).toMatchObject({ ok: false, outcome: 'fork', checkpoint: 3, message: expect.stringContaining('the history was rewritten and signed again') });
    run = await runCli(['monitor', '--url', baseUrl(), '--key', t.readKey, '--state', state]);
    expect(run.stdout).toMatch(/^ALERT fork: the server's checkpoint 3 /);
  });

  it('needs a pinned key, and rejects checkpoints signed by any other', async () => {
    const t = await newTenant('monitor-pin');
    await write(t, 2);
    const unpinned = await monitor(t, path.join(dir, `${t.id}-none.json`), []);
    expect(unpinned.code).toBe(2);
    expect(unpinned.stderr).toMatch(/no key is pinned/);

    const wrongFingerprint = await monitor(t, path.join(dir, `${t.id}-fp.json`), ['--fingerprint', 'ab'.repeat(32)]);
    expect(wrongFingerprint.code).toBe(2);
    expect(wrongFingerprint.stderr).toMatch(/publishes no public key with fingerprint abab/);

    const otherPem = path.join(dir, 'other.pem');
    await writeFile(otherPem, generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }));
    const other = await monitor(t, path.join(dir, `${t.id}-other.json`), ['--public-key', otherPem]);
    expect(other.code).toBe(1);
    expect(outcome(other)).toMatchObject({ outcome: 'invalid', checkpoint: 1, message: expect.stringContaining('not pinned') });
  });

  it('is the same function in the SDK, with a fetch of the caller’s choosing', async () => {
    const t = await newTenant('monitor-sdk');
    await write(t, 3);
    const requests: string[] = [];
    const tracking: typeof fetch = (input, init) => {
      requests.push(String(input));
      return fetch(input, init);
    };
    const first = await monitorCheckpoints({ url: baseUrl(), apiKey: t.readKey, state: null, publicKeysPem: [signer().publicKeyPem], fetch: tracking });
    expect(first).toMatchObject({ ok: true, outcome: 'first', number: 1, accepted: 1 });
    expect(requests.every((r) => r.startsWith(`${baseUrl()}/api/v1/audit/checkpoints?from_number=1`))).toBe(true);
    await write(t, 1);
    expect(await monitorCheckpoints({ url: baseUrl(), apiKey: t.readKey, state: first.state, fetch: tracking })).toMatchObject({ ok: true, outcome: 'grown', number: 2, accepted: 1 });
  });
});
