/**
 * What a hostile tenant admin, a hostile receiver or someone with the
 * database could try with a stream, written as tests: pointing it at this
 * machine or the internal network (directly or through DNS), reading
 * credentials back, moving an encrypted credential onto another stream, two
 * workers on one stream. Also the signature scheme against the Standard
 * Webhooks reference vector, rotation, backoff, 410 Gone, and the tenant's
 * own record of every change.
 */
import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { connect } from '@/supabase/functions/_shared/db.ts';
import { inject } from 'vitest';
import { newTenant, testSql } from '@/test/fixtures.ts';
import { seal, startReceiver, TEST_ACTOR, testWorkerSettings, writeEvents } from '@/test/streams.ts';
import { signer } from '@/server/services/integrity/signing-key.ts';
import { decryptSecret, encryptSecret } from './secrets.ts';
import { sendBatch } from './destination.ts';
import { changeStreamSecret, createStream, getStream, listStreams, pauseStream, removeStream, resumeStream } from './streams.ts';
import { webhookSignature } from './webhook-signature.ts';
import { deliverStreams, retryDelayMs } from './worker.ts';

// This file runs as an operator would by default: public destinations only.
process.env.STREAM_ALLOW_PRIVATE_NETWORKS = 'false';

/**
 * A webhook stream created with a public URL (all this file's operator allows), then pointed by the
 * database at a loopback receiver: the workers here run with private networks allowed.
 */
async function localWebhook(tenantId: string, receiverUrl: string, input: { name: string; batch_size?: number }) {
  const created = await createStream(testSql(), tenantId, { format: 'webhook', url: 'https://siem.example.com/', start: 'beginning', ...input }, TEST_ACTOR);
  await testSql()`update oms_audit.log_streams set settings = ${testSql().json({ url: receiverUrl })} where id = ${created.stream.id}`;
  return created;
}

const webhook = (url: string) => ({ format: 'webhook' as const, name: `hook-${randomUUID().slice(0, 8)}`, url });

describe('stream destinations', () => {
  it('refuses URLs that reach this machine or the internal network, plain http, and credentials in the URL', async () => {
    const t = await newTenant('stream-ssrf');
    for (const url of ['http://siem.example.com/hook', 'https://169.254.169.254/latest/meta-data', 'https://10.1.2.3/', 'https://127.0.0.1:8443/', 'https://[::1]/', 'https://[::ffff:127.0.0.1]/', 'https://user:pass@siem.example.com/']) {
      await expect(createStream(testSql(), t.id, webhook(url), TEST_ACTOR), url).rejects.toMatchObject({ code: 'invalid_request' });
    }
    await expect(createStream(testSql(), t.id, { format: 's3_ndjson', name: 's3', bucket: 'audit-bucket', endpoint: 'http://127.0.0.1:9000', access_key_id: 'a', secret_access_key: 'b' }, TEST_ACTOR)).rejects.toMatchObject({ code: 'invalid_request' });
    const ok = await createStream(testSql(), t.id, webhook('https://siem.example.com/hook?token=abc123'), TEST_ACTOR);
    // The query string (receivers put tokens there) is never shown back.
    expect(ok.stream.destination).toBe('https://siem.example.com/hook');
    expect(JSON.stringify(await listStreams(testSql(), t.id))).not.toContain('abc123');
  });

  it('refuses, when connecting, a name that resolves to a loopback address', async () => {
    const receiver = await startReceiver();
    try {
      const outcome = await sendBatch(
        { format: 'webhook', settings: { url: `https://localhost:${receiver.port}/` }, credential: { secret: 'whsec_' + Buffer.alloc(32).toString('base64') }, webhookSecrets: [], streamId: randomUUID(), batchId: 'b', seqFrom: 1, seqTo: 1, body: '{}' },
        { timeoutMs: 2000, allowPrivateNetworks: false },
      );
      expect(outcome).toMatchObject({ ok: false, kind: 'refused' });
      expect((outcome as { message: string }).message).toMatch(/localhost resolves to (127\.0\.0\.1|::1)/);
      expect(receiver.requests).toEqual([]);
    } finally {
      await receiver.stop();
    }
  });
});

describe('stream credentials', () => {
  it('are encrypted at rest, never listed, bound to their stream, and a credential moved to another stream does not decrypt', async () => {
    const sql = testSql();
    const t = await newTenant('stream-secrets');
    const token = `hec-${randomUUID()}`;
    const a = await createStream(sql, t.id, { format: 'splunk_hec', name: 'a', url: 'https://splunk.example.com:8088', token }, TEST_ACTOR);
    const b = await createStream(sql, t.id, webhook('https://siem.example.com/b'), TEST_ACTOR);
    expect(a.stream.destination).toBe('https://splunk.example.com:8088/services/collector/event');
    const rows = await sql`select id, secret, settings::text as settings from oms_audit.log_streams where tenant_id = ${t.id}`;
    for (const row of rows) {
      expect(Buffer.from(row.secret as Buffer).includes(Buffer.from(token))).toBe(false);
      expect(Buffer.from(row.secret as Buffer).includes(Buffer.from(b.secret!))).toBe(false);
      expect(row.settings).not.toContain(token);
    }
    const listed = JSON.stringify(await listStreams(sql, t.id));
    expect(listed).not.toContain(token);
    expect(listed).not.toContain(b.secret!);

    const blob = rows.find((r) => r.id === a.stream.id)!.secret as Buffer;
    expect(JSON.parse(decryptSecret(blob, a.stream.id))).toEqual({ token });
    expect(() => decryptSecret(blob, b.stream.id)).toThrow(/do not decrypt/);
    expect(() => decryptSecret(encryptSecret('x', a.stream.id, Buffer.alloc(32, 1)), a.stream.id)).toThrow(/another stream secrets key/);

    // Someone with the database copies stream a's credential onto stream b: b's deliveries fail, loudly, sending nothing.
    await writeEvents(sql, t.id, 3);
    await seal(sql, t.id);
    await sql`update oms_audit.log_streams set secret = ${blob}, start_seq = 1, delivered_seq = 0 where id = ${b.stream.id}`;
    await deliverStreams(sql, testWorkerSettings(), signer(), [b.stream.id]);
    const moved = await getStream(sql, t.id, b.stream.id);
    expect(moved.delivered_seq).toBe(0);
    expect(moved.last_error).toMatch(/do not decrypt/);
  });

  it('signs as Standard Webhooks does (the reference library\'s vector), and a rotation signs with both secrets for a day', async () => {
    // The reference vector of the Standard Webhooks JavaScript library.
    expect(webhookSignature('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');

    const sql = testSql();
    const t = await newTenant('stream-rotate');
    await writeEvents(sql, t.id, 5);
    await seal(sql, t.id);
    const receiver = await startReceiver();
    try {
      const created = await localWebhook(t.id, `${receiver.url}/`, { name: 'rotating' });
      const rotated = await changeStreamSecret(sql, t.id, { id: created.stream.id }, TEST_ACTOR);
      expect(rotated.secret).toMatch(/^whsec_/);
      expect(rotated.secret).not.toBe(created.secret);
      expect(Date.parse(rotated.stream.previous_secret_until!) - Date.now()).toBeGreaterThan(23 * 3600_000);
      await deliverStreams(sql, testWorkerSettings(), signer(), [created.stream.id]);
      const request = receiver.requests[0]!;
      expect(String(request.headers['webhook-signature']).split(' ')).toHaveLength(2);
      for (const secret of [created.secret!, rotated.secret!]) expect(() => new Webhook(secret).verify(request.body, request.headers as Record<string, string>)).not.toThrow();
    } finally {
      await receiver.stop();
    }
  });
});

describe('stream delivery rules', () => {
  it('backs off exponentially with jitter, capped, and never sooner than Retry-After', () => {
    const settings = { retryBaseMs: 1000, retryMaxMs: 60_000 };
    expect(retryDelayMs(1, settings, undefined, () => 0)).toBe(500);
    expect(retryDelayMs(1, settings, undefined, () => 1)).toBe(1000);
    expect(retryDelayMs(4, settings, undefined, () => 0)).toBe(4000);
    expect(retryDelayMs(4, settings, undefined, () => 1)).toBe(8000);
    expect(retryDelayMs(30, settings, undefined, () => 1)).toBe(60_000);
    expect(retryDelayMs(1, settings, 20, () => 0)).toBe(20_000);
  });

  it('gives each stream one worker at a time, across separate connection pools', async () => {
    const sql = testSql();
    const other = connect(inject('databaseUrl'), { max: 4, applicationName: 'oms-audit-test-second-worker' });
    const t = await newTenant('stream-lease');
    await writeEvents(sql, t.id, 60);
    await seal(sql, t.id, 10);
    let inFlight = 0;
    let most = 0;
    const receiver = await startReceiver(() => {
      most = Math.max(most, ++inFlight);
      setTimeout(() => inFlight--, 100);
      return { status: 204, delayMs: 100 };
    });
    try {
      const { stream } = await localWebhook(t.id, receiver.url, { name: 'leased', batch_size: 10 });
      const [first, second] = await Promise.all([deliverStreams(sql, testWorkerSettings(), signer(), [stream.id]), deliverStreams(other, testWorkerSettings(), signer(), [stream.id])]);
      expect([first.length, second.length].sort()).toEqual([0, 1]);
      expect(most).toBe(1);
      expect((await getStream(sql, t.id, stream.id)).delivered_seq).toBe(60);
    } finally {
      await receiver.stop();
      await other.end();
    }
  });

  it('pauses a stream whose receiver answers 410 Gone, keeping its cursor; records every change in the tenant\'s trail', async () => {
    const sql = testSql();
    const t = await newTenant('stream-gone');
    await writeEvents(sql, t.id, 4);
    await seal(sql, t.id);
    const receiver = await startReceiver(() => ({ status: 410 }));
    try {
      const { stream } = await localWebhook(t.id, receiver.url, { name: 'gone' });
      await deliverStreams(sql, testWorkerSettings(), signer(), [stream.id]);
      expect(await getStream(sql, t.id, stream.id)).toMatchObject({ state: 'paused', status: 'paused', paused_reason: 'the receiver answered 410 Gone', delivered_seq: 0 });
      await resumeStream(sql, t.id, stream.id, TEST_ACTOR);
      await pauseStream(sql, t.id, stream.id, TEST_ACTOR);
      await changeStreamSecret(sql, t.id, { id: stream.id }, TEST_ACTOR);
      await removeStream(sql, t.id, stream.id, TEST_ACTOR);
      await expect(getStream(sql, t.id, stream.id)).rejects.toMatchObject({ code: 'not_found' });
      const trail = await sql`select event_type, object_type, object_id from public.audit_events where tenant_id = ${t.id} and object_type = 'LOG_STREAM' order by seq`;
      expect(trail.map((e) => e.event_type)).toEqual(['AUDIT_STREAM_CREATE', 'AUDIT_STREAM_RESUME', 'AUDIT_STREAM_PAUSE', 'AUDIT_STREAM_SECRET_CHANGE', 'AUDIT_STREAM_REMOVE']);
      expect(new Set(trail.map((e) => e.object_id))).toEqual(new Set([stream.id]));
    } finally {
      await receiver.stop();
    }
  });
});
