/**
 * Streams delivered by the running server's background loop (a server of its
 * own, on a database of its own, sealing every second): a receiver that goes
 * down for long makes the stream show as failing on the console's procedure
 * and in /api/metrics; when it comes back the stream resumes where it stopped,
 * and the receiver's copy verifies. The server's output never holds the secret.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTenant } from '@/server/services/tenants.ts';
import { hashPassword } from '@/server/auth/passwords.ts';
import { addMembership, createAccount } from '@/server/services/users.ts';
import { retentionDatabase, type RetentionDb } from '@/test/retention.ts';
import { startServer, type RunningServer } from '@/test/server.ts';
import { folderOf, publicKeyFile, runStreamVerifier, startReceiver, TEST_ACTOR, writeEvents, type Receiver } from '@/test/streams.ts';
import type { StreamBatch } from '@/verifier/stream-format.ts';
import { createStream, getStream, type StreamInfo } from './streams.ts';

// The same stream secrets key and failing threshold here (creating the stream) and in the server (delivering it).
const STREAM_ENV = { STREAM_SECRETS_KEY: randomBytes(32).toString('base64'), STREAM_ALLOW_PRIVATE_NETWORKS: 'true', STREAM_FAILING_AFTER_SECONDS: '2' };
Object.assign(process.env, STREAM_ENV);

let db: RetentionDb;
let server: RunningServer;
let receiver: Receiver;
let receiverDown = false;

beforeAll(async () => {
  db = await retentionDatabase();
  receiver = await startReceiver(() => (receiverDown ? { status: 503, body: 'maintenance' } : { status: 204 }));
  server = await startServer({
    databaseUrl: db.url,
    dataDir: path.join(db.dir, 'server'),
    env: {
      ...STREAM_ENV,
      OMS_AUDIT_SIGNING_KEY_FILE: inject('signingKeyFile'),
      INTEGRITY_SEAL_INTERVAL_SECONDS: '1',
      STREAM_POLL_INTERVAL_MS: '100',
      STREAM_RETRY_BASE_MS: '50',
      STREAM_RETRY_MAX_SECONDS: '1',
      STREAM_REQUEST_TIMEOUT_SECONDS: '2',
      RETENTION_RUN_EVERY_MINUTES: '0',
      OMS_AUDIT_FUNCTIONS: 'false',
    },
  });
});
afterAll(async () => {
  await server?.stop();
  await receiver?.stop();
  await db?.drop();
});

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function metricsText(): Promise<string> {
  return (await fetch(`${server.baseUrl}/api/metrics`)).text();
}

/** The console's own procedure, over HTTP, as a signed-in admin. */
async function consoleStreams(email: string, password: string): Promise<StreamInfo[]> {
  const signIn = await fetch(`${server.baseUrl}/api/auth/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  expect(signIn.status).toBe(200);
  const cookie = signIn.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const res = await fetch(`${server.baseUrl}/api/trpc/streams.list`, { headers: { cookie } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { result: { data: StreamInfo[] } }).result.data;
}

describe('streams in the server\'s background loop', () => {
  it('delivers, shows a long failure as failing in the console and metrics, and resumes where it stopped', async () => {
    const tenant = await createTenant(db.sql, `stream-loop-${Date.now()}`);
    const password = 'a long enough password';
    const email = `streams-admin-${Date.now()}@example.com`;
    const userId = (await createAccount(db.sql, { email, passwordHash: await hashPassword(password), createdBy: 'test' }))!;
    await addMembership(db.sql, { tenantId: tenant.id, userId, role: 'admin', createdBy: 'test' });
    const user = { email };
    await writeEvents(db.sql, tenant.id, 50);
    const { stream, secret } = await createStream(db.sql, tenant.id, { format: 'webhook', name: 'siem', url: `${receiver.url}/in`, start: 'beginning', batch_size: 20 }, TEST_ACTOR);
    // 50 events and the stream's own creation record.
    await until('the first 51 events are delivered', async () => (await getStream(db.sql, tenant.id, stream.id)).delivered_seq === 51);

    receiverDown = true;
    await writeEvents(db.sql, tenant.id, 30);
    await until('the stream is failing', async () => (await getStream(db.sql, tenant.id, stream.id)).status === 'failing');
    const failing = (await consoleStreams(user.email, password)).find((s) => s.id === stream.id)!;
    expect(failing).toMatchObject({ status: 'failing', delivered_seq: 51 });
    expect(failing.pending_events).toBeGreaterThanOrEqual(30);
    expect(failing.last_error).toContain('503');
    await until('metrics show it failing', async () => (await metricsText()).includes(`oms_audit_stream_failing{stream="${stream.id}",tenant="${tenant.id}",format="webhook"} 1`));
    // 30 events and the admin's console sign-in.
    const pending = new RegExp(`oms_audit_stream_pending_events\\{stream="${stream.id}",tenant="${tenant.id}",format="webhook"\\} (\\d+)`).exec(await metricsText());
    expect(Number(pending?.[1])).toBeGreaterThanOrEqual(30);

    receiverDown = false;
    // Console sign-ins are events of the tenant too: the stream carries them as well.
    await until('the stream catches up', async () => {
      const s = await getStream(db.sql, tenant.id, stream.id);
      return s.delivered_seq >= 81 && s.status === 'up_to_date';
    });
    const caughtUp = await getStream(db.sql, tenant.id, stream.id);
    expect(caughtUp).toMatchObject({ failing_since: null, last_error: null });
    expect((await consoleStreams(user.email, password)).find((s) => s.id === stream.id)?.status).toMatch(/up_to_date|delivering/);
    await until('metrics show it healthy', async () => (await metricsText()).includes(`oms_audit_stream_failing{stream="${stream.id}",tenant="${tenant.id}",format="webhook"} 0`));
    expect(await metricsText()).toMatch(new RegExp(`oms_audit_stream_deliveries_total\\{stream="${stream.id}",format="webhook",outcome="status"\\} [1-9]`));

    // What the receiver acknowledged: every seq in order, resumed at the batch that failed.
    const last = (await getStream(db.sql, tenant.id, stream.id)).delivered_seq;
    // One snapshot of what the receiver holds: later sign-ins keep adding batches, and the copy the verifier checks
    // must be the same requests the acknowledged seqs are counted from.
    const received = receiver.requests.filter((r) => r.status !== null);
    const acknowledged = received.filter((r) => r.status! >= 200 && r.status! < 300 && (JSON.parse(r.body) as StreamBatch['header']).stream_id === stream.id);
    const ranges = acknowledged.map((r) => JSON.parse(r.body) as StreamBatch['header']).map((b) => [b.seq_from, b.seq_to]);
    // Every seq once, in order, from 1; at least up to what the stream recorded (a batch the receiver has just
    // acknowledged may not be recorded yet, as later sign-ins keep adding events).
    const seqs = ranges.flatMap(([from, to]) => Array.from({ length: to! - from! + 1 }, (_, i) => from! + i));
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(seqs.length).toBeGreaterThanOrEqual(last);
    const keyDir = await mkdtemp(path.join(tmpdir(), 'oms-audit-stream-key-'));
    const copy = await folderOf(received.map((r) => r.body));
    try {
      const verified = await runStreamVerifier(['--public-key', await publicKeyFile(keyDir), copy.dir]);
      expect(verified.code, verified.stdout).toBe(0);
      const through = /every event of seq 1 to (\d+) present/.exec(verified.stdout);
      expect(Number(through?.[1])).toBe(seqs.length);
    } finally {
      await copy.remove();
      await rm(keyDir, { recursive: true, force: true });
    }
    expect(server.output()).not.toContain(secret!.slice('whsec_'.length));
  });
});
