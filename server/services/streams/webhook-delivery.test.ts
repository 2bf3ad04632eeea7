/**
 * Webhook streams against real HTTP receivers on loopback: a receiver that
 * fails (500), never answers (timeout), answers slowly, and one that is killed
 * and restarted mid-stream (the example receiver, as its own process). Every
 * event arrives at least once, in seq order, duplicates carry the same id and
 * content, every request verifies with a Standard Webhooks library, and the
 * receiver's copy verifies against the signed checkpoints with the standalone
 * verifier — which also names what an edited or missing delivery lacks.
 */
import { mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTenant, testSql } from '@/test/fixtures.ts';
import { freePort } from '@/test/ports.ts';
import {
  deliverUntilCaughtUp,
  folderOf,
  publicKeyFile,
  runStreamVerifier,
  seal,
  startExampleReceiver,
  startReceiver,
  TEST_ACTOR,
  testWorkerSettings,
  writeEvents,
  type ReceivedRequest,
} from '@/test/streams.ts';
import { signer } from '@/server/services/integrity/signing-key.ts';
import type { StreamBatch } from '@/verifier/stream-format.ts';
import { createStream, getStream } from './streams.ts';
import { deliverStreams } from './worker.ts';

// Receivers listen on loopback over plain HTTP: allowed for these tests only.
process.env.STREAM_ALLOW_PRIVATE_NETWORKS = 'true';

let keyDir: string;
let keyFile: string;
beforeAll(async () => {
  keyDir = await mkdtemp(path.join(tmpdir(), 'oms-audit-stream-key-'));
  keyFile = await publicKeyFile(keyDir);
});
afterAll(() => rm(keyDir, { recursive: true, force: true }));

const batchOf = (r: ReceivedRequest) => JSON.parse(r.body) as StreamBatch['header'] & { events: { id: string; seq: number }[] };

/** Each request either repeats the previous batch (a retry) or starts right after it: seq order, never skipping. */
function expectInSeqOrder(requests: ReceivedRequest[], startSeq: number) {
  let previous: { from: number; to: number } | null = null;
  for (const r of requests) {
    const b = batchOf(r);
    expect(b.events.map((e) => e.seq)).toEqual(Array.from({ length: b.seq_to - b.seq_from + 1 }, (_, i) => b.seq_from + i));
    if (!previous) expect(b.seq_from).toBe(startSeq);
    else expect([previous.from, previous.to + 1]).toContain(b.seq_from);
    previous = { from: b.seq_from, to: b.seq_to };
  }
}

describe('webhook streams', () => {
  it('delivers every sealed event at least once, in order, through failures, a timeout and a slow receiver, and the copy verifies', async () => {
    const sql = testSql();
    const t = await newTenant('stream-webhook');
    await writeEvents(sql, t.id, 700);
    await seal(sql, t.id, 300); // checkpoints of 300, 300, 100
    await writeEvents(sql, t.id, 450);
    await seal(sql, t.id, 1000); // one of 450: larger than a batch, so batches carry audit paths

    // Request 1 fails, 2 succeeds, 3 gets no answer (but the receiver kept it: a duplicate follows), 4 is slow.
    const receiver = await startReceiver((n) => (n === 1 ? { status: 500, body: 'boom' } : n === 3 ? 'hang' : n === 4 ? { status: 200, delayMs: 600 } : { status: 204 }));
    const { stream, secret } = await createStream(sql, t.id, { format: 'webhook', name: 'siem', url: `${receiver.url}/hook`, start: 'beginning', batch_size: 250 }, TEST_ACTOR);
    expect(secret).toMatch(/^whsec_/);
    expect(stream).toMatchObject({ status: 'delivering', start_seq: 1, delivered_seq: 0, sealed_seq: 1150, pending_events: 1150 });

    const settings = testWorkerSettings({ requestTimeoutMs: 1000 });
    // The first round ends on the 500: recorded, retried later, the cursor unmoved.
    await deliverStreams(sql, settings, signer(), [stream.id]);
    const afterFailure = await getStream(sql, t.id, stream.id);
    expect(afterFailure).toMatchObject({ status: 'retrying', delivered_seq: 0, attempts: 1, inflight: { seq_from: 1, seq_to: 250 } });
    expect(afterFailure.last_error).toContain('500');

    const done = await deliverUntilCaughtUp(sql, t.id, stream.id, settings);
    expect(done).toMatchObject({ status: 'up_to_date', delivered_seq: 1150, pending_events: 0, attempts: 0, last_error: null, failing_since: null, inflight: null });
    await receiver.stop();

    // In order, retries repeating the same range; a batch ends at a checkpoint boundary inside its range (300, 700).
    expectInSeqOrder(receiver.requests, 1);
    expect(receiver.acknowledged().map((r) => [batchOf(r).seq_from, batchOf(r).seq_to])).toEqual([[1, 250], [251, 300], [301, 550], [551, 700], [701, 950], [951, 1150]]);
    expect(batchOf(receiver.requests[1]!).batch_id).toBe(batchOf(receiver.requests[0]!).batch_id);
    // The hung request's batch was sent again: the same batch id, the same bytes.
    expect(receiver.requests[3]!.headers['webhook-id']).toBe(receiver.requests[2]!.headers['webhook-id']);
    expect(receiver.requests[3]!.body).toBe(receiver.requests[2]!.body);

    // Every request is signed per Standard Webhooks (checked with that project's own library).
    const wh = new Webhook(secret!);
    for (const r of receiver.requests) {
      expect(() => wh.verify(r.body, r.headers as Record<string, string>)).not.toThrow();
      expect(r.headers['content-type']).toBe('application/json');
    }
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(receiver.requests[0]!.body, receiver.requests[0]!.headers as Record<string, string>)).toThrow();

    // Every seq once or more; copies of one seq are the same event.
    const seen = new Map<number, string>();
    for (const r of receiver.requests) for (const e of batchOf(r).events) {
      if (seen.has(e.seq)) expect(e.id).toBe(seen.get(e.seq));
      seen.set(e.seq, e.id);
    }
    expect([...seen.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 1150 }, (_, i) => i + 1));

    // The receiver kept every request it got (acknowledged or not): the verifier accepts the duplicates.
    const copy = await folderOf(receiver.requests.map((r) => r.body));
    try {
      const ok = await runStreamVerifier(['--public-key', keyFile, copy.dir]);
      expect(ok.code, ok.stdout + ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(new RegExp(`VERIFIED: stream ${stream.id}: every event of seq 1 to 1150 present`));
      expect(ok.stdout).toMatch(/\(1150 events, [1-9]\d* duplicate copies by id\)/);

      // The fingerprint alone suffices: the deliveries carry the key, trusted only if it is the one named.
      expect((await runStreamVerifier(['--fingerprint', signer().keyId, copy.dir])).code).toBe(0);
      expect((await runStreamVerifier(['--fingerprint', 'ab'.repeat(32), copy.dir])).code).toBe(1);

      // An edited event: named by seq and id.
      const files = (await readdir(copy.dir)).sort();
      const last = path.join(copy.dir, files[files.length - 1]!);
      const original = await readFile(last, 'utf8');
      const edited = JSON.parse(original) as { events: { seq: number; id: string; context: { qty: number } }[] };
      const victim = edited.events[5]!;
      victim.context.qty += 1;
      for (const f of files) {
        const other = JSON.parse(await readFile(path.join(copy.dir, f), 'utf8')) as { events: { seq: number }[] };
        if (f !== files[files.length - 1] && other.events.some((e) => e.seq === victim.seq)) await unlink(path.join(copy.dir, f));
      }
      await writeFile(last, JSON.stringify(edited));
      const tampered = await runStreamVerifier(['--public-key', keyFile, copy.dir]);
      expect(tampered.code).toBe(1);
      expect(tampered.stdout).toContain(`seq ${victim.seq}`);
      expect(tampered.stdout).toMatch(/modified/);
    } finally {
      await copy.remove();
    }

    // A lost delivery: the seqs it held are named as missing.
    const acknowledged = receiver.acknowledged().map((r) => r.body);
    const lost = batchOf(receiver.acknowledged()[1]!);
    const partial = await folderOf(acknowledged.filter((_, i) => i !== 1));
    try {
      const missing = await runStreamVerifier(['--public-key', keyFile, partial.dir]);
      expect(missing.code).toBe(1);
      expect(missing.stdout).toContain(`seq ${lost.seq_from} is missing`);
    } finally {
      await partial.remove();
    }
  });

  it('resumes after the receiver is killed and restarted mid-stream, and the example receiver\'s folder verifies', async () => {
    const sql = testSql();
    const t = await newTenant('stream-restart');
    await writeEvents(sql, t.id, 3000);
    await seal(sql, t.id, 200);
    const dir = await mkdtemp(path.join(tmpdir(), 'oms-audit-receiver-'));
    const port = await freePort();
    const settings = testWorkerSettings({ runBudgetMs: 60_000 });
    const { stream, secret } = await createStream(sql, t.id, { format: 'webhook', name: 'example', url: `http://127.0.0.1:${port}/`, start: 'beginning', batch_size: 100 }, TEST_ACTOR);
    let receiver = await startExampleReceiver(port, dir, secret!);
    try {
      // Kill the receiver while the worker delivers; deliver on against the dead port; start it again.
      const round = deliverStreams(sql, settings, signer(), [stream.id]);
      while ((await readdir(dir)).filter((f) => f.endsWith('.json')).length < 3) await new Promise((r) => setTimeout(r, 2));
      await receiver.stop('SIGKILL');
      await round;
      await deliverStreams(sql, settings, signer(), [stream.id]);
      const down = await getStream(sql, t.id, stream.id);
      expect(down.status).toBe('retrying');
      expect(down.delivered_seq).toBeLessThan(3000);
      expect(down.last_error).toMatch(/ECONNREFUSED|ECONNRESET|socket hang up/);

      receiver = await startExampleReceiver(port, dir, secret!, signer().keyId);
      const done = await deliverUntilCaughtUp(sql, t.id, stream.id, settings);
      expect(done).toMatchObject({ status: 'up_to_date', delivered_seq: 3000 });

      // One file per batch, and the folder verifies as a complete stream.
      const files = await readdir(dir);
      expect(files.filter((f) => f.endsWith('.partial'))).toEqual([]);
      const result = await runStreamVerifier(['--public-key', keyFile, dir]);
      expect(result.code, result.stdout).toBe(0);
      expect(result.stdout).toContain('every event of seq 1 to 3000 present');
      // The restarted receiver ran the verifier itself once the deliveries paused.
      const deadline = Date.now() + 20_000;
      while (!receiver.output().includes('every event of seq 1 to 3000 present') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(receiver.output()).toContain('VERIFIED: stream');

      // The example receiver refuses a forged request and stores nothing for it.
      const forged = await fetch(receiver.url, {
        method: 'POST',
        headers: { 'webhook-id': 'forged', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': 'v1,' + Buffer.alloc(32).toString('base64') },
        body: '{}',
      });
      expect(forged.status).toBe(401);
      expect(await readdir(dir)).toEqual(files);
    } finally {
      await receiver.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('bounds each batch by the bytes of its events (never below one event), and the bounded batches verify', async () => {
    const sql = testSql();
    const t = await newTenant('stream-bytes');
    await writeEvents(sql, t.id, 40);
    await seal(sql, t.id);
    const receiver = await startReceiver();
    try {
      const { stream } = await createStream(sql, t.id, { format: 'webhook', name: 'small', url: receiver.url, start: 'beginning', batch_size: 1000 }, TEST_ACTOR);
      const maxBatchBytes = 1500;
      await deliverUntilCaughtUp(sql, t.id, stream.id, testWorkerSettings({ maxBatchBytes }));
      const batches = receiver.requests.map(batchOf);
      expect(batches.length).toBeGreaterThan(5);
      for (const b of batches) {
        const bytes = b.events.reduce((n, e) => n + JSON.stringify(e).length, 0);
        expect(b.events.length === 1 || bytes <= maxBatchBytes, `batch ${b.batch_id}: ${bytes} bytes`).toBe(true);
      }
      expectInSeqOrder(receiver.requests, 1);
      const copy = await folderOf(receiver.requests.map((r) => r.body));
      try {
        expect((await runStreamVerifier(['--public-key', keyFile, copy.dir])).code).toBe(0);
      } finally {
        await copy.remove();
      }
    } finally {
      await receiver.stop();
    }
  });
});
