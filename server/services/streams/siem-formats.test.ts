/**
 * Splunk HEC and Datadog streams posted to real local HTTP receivers (the
 * headers and body shapes those services take), and S3 NDJSON streams into a
 * real S3-compatible server (s3rver). Each receiver's copy verifies with the
 * standalone verifier.
 */
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTenant, testSql } from '@/test/fixtures.ts';
import { startS3, type S3Server } from '@/test/retention.ts';
import { deliverUntilCaughtUp, folderOf, publicKeyFile, runStreamVerifier, seal, startReceiver, TEST_ACTOR, testWorkerSettings, writeEvents } from '@/test/streams.ts';
import { BATCH_TYPE, s3ObjectKey } from '@/verifier/stream-format.ts';
import { signer } from '@/server/services/integrity/signing-key.ts';
import { createStream, getStream } from './streams.ts';
import { deliverStreams } from './worker.ts';

process.env.STREAM_ALLOW_PRIVATE_NETWORKS = 'true';

let keyDir: string;
let keyFile: string;
let s3: S3Server;
beforeAll(async () => {
  keyDir = await mkdtemp(path.join(tmpdir(), 'oms-audit-stream-key-'));
  keyFile = await publicKeyFile(keyDir);
  s3 = await startS3();
});
afterAll(async () => {
  await rm(keyDir, { recursive: true, force: true });
  await s3?.stop();
});

async function sealedTenant(label: string, events: number) {
  const sql = testSql();
  const t = await newTenant(label);
  await writeEvents(sql, t.id, events, label);
  await seal(sql, t.id, 150);
  return t;
}

async function expectVerified(bodies: string[], events: number, extension = 'json') {
  const copy = await folderOf(bodies, extension);
  try {
    const result = await runStreamVerifier(['--public-key', keyFile, copy.dir]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain(`every event of seq 1 to ${events} present`);
  } finally {
    await copy.remove();
  }
}

describe('SIEM stream formats', () => {
  it('posts Splunk HEC events with the HEC token, one batch record then one record per event', async () => {
    const t = await sealedTenant('stream-splunk', 320);
    const receiver = await startReceiver(() => ({ status: 200, body: '{"text":"Success","code":0}' }));
    try {
      const { stream, secret } = await createStream(testSql(), t.id, { format: 'splunk_hec', name: 'splunk', url: receiver.url, token: 'hec-token-1234', index: 'audit', host: 'oms-prod', start: 'beginning', batch_size: 200 }, TEST_ACTOR);
      expect(secret).toBeNull();
      await deliverUntilCaughtUp(testSql(), t.id, stream.id, testWorkerSettings());
      expect(receiver.requests.length).toBeGreaterThanOrEqual(2);
      for (const r of receiver.requests) {
        expect(r.url).toBe('/services/collector/event');
        expect(r.headers.authorization).toBe('Splunk hec-token-1234');
        expect(r.headers['content-type']).toBe('application/json');
        const records = r.body.split('\n').map((line) => JSON.parse(line));
        expect(records[0]).toMatchObject({ source: 'oms-audit', sourcetype: 'oms-audit:batch', host: 'oms-prod', index: 'audit', event: { type: BATCH_TYPE, stream_id: stream.id } });
        for (const rec of records.slice(1)) {
          expect(Object.keys(rec)).toEqual(['time', 'host', 'source', 'sourcetype', 'index', 'event']);
          expect(rec).toMatchObject({ sourcetype: 'oms-audit:event', event: { tenant_id: t.id } });
          expect(rec.time).toBeCloseTo(Date.parse(rec.event.occurred_at) / 1000, 2);
        }
        expect(records.length - 1).toBe(records[0].event.event_count);
      }
      await expectVerified(receiver.requests.map((r) => r.body), 320, 'hec');
    } finally {
      await receiver.stop();
    }
  });

  it('posts Datadog log entries with the API key, the record as each entry\'s message', async () => {
    const t = await sealedTenant('stream-datadog', 260);
    const receiver = await startReceiver(() => ({ status: 202, body: '{}' }));
    try {
      const { stream } = await createStream(
        testSql(),
        t.id,
        { format: 'datadog', name: 'dd', url: `${receiver.url}/api/v2/logs`, api_key: 'dd-api-key-5678', service: 'trading-audit', tags: 'env:prod', start: 'beginning' },
        TEST_ACTOR,
      );
      await deliverUntilCaughtUp(testSql(), t.id, stream.id, testWorkerSettings());
      for (const r of receiver.requests) {
        expect(r.url).toBe('/api/v2/logs');
        expect(r.headers['dd-api-key']).toBe('dd-api-key-5678');
        expect(r.headers['content-type']).toBe('application/json');
        const entries = JSON.parse(r.body) as { ddsource: string; ddtags: string; service: string; message: string }[];
        expect(entries.length).toBeLessThanOrEqual(1000);
        expect(entries[0]).toMatchObject({ ddsource: 'oms-audit', service: 'trading-audit', ddtags: `oms_audit_stream:${stream.id},oms_audit_record:batch,env:prod` });
        expect(JSON.parse(entries[0]!.message)).toMatchObject({ type: BATCH_TYPE });
        for (const e of entries.slice(1)) {
          expect(e.ddtags).toBe(`oms_audit_stream:${stream.id},oms_audit_record:event,env:prod`);
          expect(JSON.parse(e.message)).toMatchObject({ tenant_id: t.id, seq: expect.any(Number) });
        }
      }
      await expectVerified(receiver.requests.map((r) => r.body), 260);
    } finally {
      await receiver.stop();
    }
  });

  it('writes S3 NDJSON objects in seq order into an S3-compatible bucket, and the downloaded objects verify', async () => {
    const t = await sealedTenant('stream-s3', 410);
    const { stream } = await createStream(
      testSql(),
      t.id,
      { format: 's3_ndjson', name: 's3', bucket: s3.bucket, prefix: 'streams/audit', endpoint: s3.endpoint, force_path_style: true, access_key_id: 'S3RVER', secret_access_key: 'S3RVER', start: 'beginning', batch_size: 300 },
      TEST_ACTOR,
    );
    expect(stream.destination).toBe(`s3://${s3.bucket}/streams/audit at ${new URL(s3.endpoint).host}`);
    const done = await deliverUntilCaughtUp(testSql(), t.id, stream.id, testWorkerSettings());
    expect(done.delivered_seq).toBe(410);

    const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    try {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `streams/audit/${stream.id}/` }));
      const keys = (listed.Contents ?? []).map((o) => o.Key!);
      // Batches end at checkpoint boundaries (150, 300) inside their range; keys sort in seq order.
      expect(keys).toEqual([s3ObjectKey('streams/audit', stream.id, 1, 300), s3ObjectKey('streams/audit', stream.id, 301, 410)]);
      const bodies = await Promise.all(keys.map(async (Key) => (await (await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key }))).Body!.transformToString())));
      const lines = bodies[0]!.trimEnd().split('\n').map((l) => JSON.parse(l));
      expect(lines[0]).toMatchObject({ type: BATCH_TYPE, seq_from: 1, seq_to: 300 });
      expect(lines.slice(1).map((e) => e.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
      await expectVerified(bodies, 410, 'ndjson');
    } finally {
      client.destroy();
    }
  });

  it('records an S3 failure (a missing bucket) for retry, without the credentials in the message', async () => {
    const t = await sealedTenant('stream-s3-fail', 20);
    const { stream } = await createStream(
      testSql(),
      t.id,
      { format: 's3_ndjson', name: 's3', bucket: 'no-such-bucket', endpoint: s3.endpoint, force_path_style: true, access_key_id: 'S3RVER', secret_access_key: 'S3RVER', start: 'beginning' },
      TEST_ACTOR,
    );
    await deliverStreams(testSql(), testWorkerSettings(), signer(), [stream.id]);
    const failed = await getStream(testSql(), t.id, stream.id);
    expect(failed).toMatchObject({ status: 'retrying', delivered_seq: 0 });
    expect(failed.last_error).toMatch(/S3 answered 404 NoSuchBucket/);
    expect(failed.last_error).not.toContain('S3RVER');
  });
});
