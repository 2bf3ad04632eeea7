/**
 * Anchors on S3-compatible storage (a real s3rver on loopback, through the AWS
 * SDK): under the archive location's anchors/ prefix, written once (a second
 * write of other bytes is refused, nothing replaced), time-stamped, and a
 * cut-off tail found through them.
 */
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { appendEvents } from '@/supabase/functions/_shared/ingest.ts';
import { parseEnv, type Env } from '@/server/env.ts';
import { storageAt } from '@/server/archive/storage.ts';
import { sealTenant } from '@/server/services/integrity/checkpoints.ts';
import { signer, trustedKeys } from '@/server/services/integrity/signing-key.ts';
import { verifyTenant } from '@/server/services/integrity/verify.ts';
import { event, newTenant, testSql } from '@/test/fixtures.ts';
import { startS3, type S3Server } from '@/test/retention.ts';
import { cutOffTail } from '@/test/tamper.ts';
import { startTsa, type TestTsa } from '@/test/tsa.ts';
import { anchorKeys } from './format.ts';
import { anchorEverything } from './sources.ts';
import { writeOnce } from './store.ts';

let s3: S3Server;
let tsa: TestTsa;
let env: Env;

beforeAll(async () => {
  [s3, tsa] = await Promise.all([startS3(), startTsa({ key: 'ec' })]);
  env = parseEnv({ DATABASE_URL: inject('databaseUrl'), ...s3.env, ANCHOR_TSA_URL: tsa.url, ANCHOR_TSA_CA_FILE: tsa.caFile });
});
afterAll(async () => {
  await s3?.stop();
  await tsa?.stop();
});

describe('anchors on S3', () => {
  it('writes checkpoints and tokens once under <archive>/anchors, verifies them, and finds a cut-off tail through them', async () => {
    const t = await newTenant('anchors-s3');
    const batch = parseBatch({ events: Array.from({ length: 75 }, (_, i) => event({ context: { i } })) }, 500);
    await appendEvents(testSql(), { tenantId: t.id, writer: { kind: 'operator', name: 'test' } }, batch, { ip: null, userAgent: null }, 'cli');
    await sealTenant(testSql(), t.id, signer(), { maxEvents: 25 });
    expect(await anchorEverything(testSql(), env, [t.id])).toMatchObject({ configured: true, anchored: 3, timestamped: 3, failures: [] });

    const client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    const listed = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `archives/anchors/tenant_id=${t.id}/` }));
    expect(listed.Contents!.map((o) => o.Key!.split('/').pop()).sort()).toEqual([
      '0000000000000001.json',
      '0000000000000001.tsr',
      '0000000000000002.json',
      '0000000000000002.tsr',
      '0000000000000003.json',
      '0000000000000003.tsr',
    ]);

    // Write-once: the same bytes are "present", other bytes a conflict, and the object is unchanged.
    const storage = await storageAt(`${s3.env.ARCHIVE_URL}/anchors`, env);
    const key = anchorKeys('checkpoint', t.id, 2).object;
    const original = (await storage.getBytesIfExists(key))!;
    expect(await writeOnce(storage, key, original, 'application/json', null)).toEqual({ status: 'present' });
    expect(await writeOnce(storage, key, Buffer.from('{"forged":true}'), 'application/json', null)).toMatchObject({ status: 'conflict' });
    expect((await storage.getBytesIfExists(key))!.equals(original)).toBe(true);

    const intact = await verifyTenant(testSql(), t.id, { keys: trustedKeys(), record: false, env });
    expect(intact).toMatchObject({ ok: true, anchors: { checkpoints: { location: `${s3.env.ARCHIVE_URL}/anchors`, anchored_head: 3, anchors_checked: 3, timestamps_checked: 3 } } });

    await cutOffTail(t.id, 1);
    const cut = await verifyTenant(testSql(), t.id, { keys: trustedKeys(), record: false, env });
    expect(cut.problems).toEqual([expect.objectContaining({ kind: 'anchor', checkpoint: 2, seq: 26, detail: expect.stringContaining('checkpoints 2–3 are anchored') })]);
  });
});
