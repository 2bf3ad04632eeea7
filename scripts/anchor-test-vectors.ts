/**
 * Writes docs/test-vectors/anchors/: byte-exact examples of an anchored
 * checkpoint, two retention records and a monitor state file, signed with a
 * published test key (Ed25519 signatures are deterministic, so the files are
 * reproducible), and an RFC 3161 token from a local openssl TSA over the
 * checkpoint's body. server/services/anchors/vectors.test.ts checks the code
 * against these files; run this only when the format changes on purpose.
 *
 *   node --import tsx scripts/anchor-test-vectors.ts
 */
import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { checkpointBytes, checkpointHash, keyIdOf, type CheckpointBody } from '@/supabase/functions/_shared/checkpoint.ts';
import { anchorKeys, checkpointObject } from '@/server/services/anchors/format.ts';
import { requestTimestamp } from '@/server/services/anchors/timestamp.ts';
import { recordAnchorItem, recordBytes, recordHash, type RecordBody } from '@/server/services/retention/records.ts';
import { startTsa } from '@/test/tsa.ts';

const OUT = 'docs/test-vectors/anchors';
/** The test key: PKCS #8 of the Ed25519 seed 00 01 02 … 1f. Never a real key. */
const SEED = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const privateKey = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), SEED]), format: 'der', type: 'pkcs8' });
const publicKey = createPublicKey(privateKey);
const keyId = keyIdOf(publicKey);
const signB64 = (bytes: Buffer) => sign(null, bytes, privateKey).toString('base64');
const TENANT = '0190f3c1-5a7e-7b2c-9d4e-123456789abc';

async function main() {
  await mkdir(OUT, { recursive: true });
  await writeFile(`${OUT}/test-key.pem`, privateKey.export({ format: 'pem', type: 'pkcs8' }));
  await writeFile(`${OUT}/test-key.pub.pem`, publicKey.export({ format: 'pem', type: 'spki' }));

  const body: CheckpointBody = {
    version: 1,
    tenant_id: TENANT,
    number: 7,
    seq_from: 3001,
    seq_to: 3500,
    count: 500,
    merkle_root: 'a3f1c2d4e5b60718293a4b5c6d7e8f90112233445566778899aabbccddeeff00',
    prev_hash: '5d41402abc4b2a76b9719d911017c592ae4f0c0e5b3ad1e1f1d3c5a7b9e0f123',
    sealed_at: '2026-12-07T09:30:00.123456Z',
    key_id: keyId,
  };
  const canonical = checkpointBytes(body);
  const checkpoint = { ...body, hash: checkpointHash(body), signature: signB64(canonical) };
  const keys = anchorKeys('checkpoint', TENANT, checkpoint.number);
  await writeFile(
    `${OUT}/checkpoint.json`,
    JSON.stringify(
      {
        description: 'An anchored checkpoint: key, canonical body (what is signed and time-stamped), hash, signature, anchor object bytes.',
        public_key_fingerprint: keyId,
        checkpoint_body: body,
        canonical_body: canonical.toString('utf8'),
        hash: checkpoint.hash,
        signature: checkpoint.signature,
        anchor_object_key: keys.object,
        anchor_token_key: keys.token,
        anchor_object: checkpointObject(checkpoint).toString('utf8'),
      },
      null,
      2,
    ) + '\n',
  );

  const archived: RecordBody = {
    version: 1,
    kind: 'archived',
    basis: 'read-back',
    tenant_id: TENANT,
    number: 1,
    prev_hash: '0'.repeat(64),
    issued_at: '2026-12-07T10:00:00.000001Z',
    key_id: keyId,
    month: '2025-10',
    part: 1,
    seq_ranges: [
      [1, 180],
      [185, 190],
    ],
    count: 186,
    events_root: '9c1185a5c5e9fc54612808977ee8f548b2258d31b1c2b7d5c3f1a2e3d4c5b6a7',
    archive: {
      storage_url: 's3://oms-audit-archive/archives',
      data_key: `tenant_id=${TENANT}/month=2025-10/part-0001.parquet`,
      data_sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      data_bytes: 48213,
      manifest_key: `tenant_id=${TENANT}/month=2025-10/part-0001.manifest.json`,
      manifest_sha256: '2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae',
    },
    policy: null,
  };
  const archivedSigned = { ...archived, hash: recordHash(archived), signature: signB64(recordBytes(archived)) };
  const expired: RecordBody = {
    ...archived,
    kind: 'expired',
    basis: 'policy',
    number: 2,
    prev_hash: archivedSigned.hash,
    issued_at: '2032-11-01T06:00:00.000000Z',
    policy: { hot_months: 13, total_years: 7, retention_ended: '2032-11-01T00:00:00.000000Z' },
  };
  const expiredSigned = { ...expired, hash: recordHash(expired), signature: signB64(recordBytes(expired)) };
  await writeFile(
    `${OUT}/retention-records.json`,
    JSON.stringify(
      [archivedSigned, expiredSigned].map((r) => ({
        record_body: Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'hash' && k !== 'signature')),
        canonical_body: recordBytes(r).toString('utf8'),
        hash: r.hash,
        signature: r.signature,
        anchor_object_key: anchorKeys('retention_record', TENANT, r.number).object,
        anchor_object: recordAnchorItem(r).object.toString('utf8'),
      })),
      null,
      2,
    ) + '\n',
  );

  await writeFile(
    `${OUT}/monitor-state.json`,
    JSON.stringify(
      {
        format: 'oms-audit-monitor-state',
        version: 1,
        url: 'https://audit.example.com',
        tenant_id: TENANT,
        pinned_keys: [{ key_id: keyId, public_key_pem: publicKey.export({ format: 'pem', type: 'spki' }).toString() }],
        checkpoint,
        accepted_at: '2026-12-07T09:31:02.000Z',
      },
      null,
      2,
    ) + '\n',
  );

  // A real RFC 3161 token over the checkpoint's canonical body, from a throwaway openssl TSA, with its CA certificate.
  const tsa = await startTsa({ key: 'rsa' });
  try {
    await writeFile(`${OUT}/checkpoint-body.json`, canonical);
    await writeFile(`${OUT}/checkpoint.tsr`, await requestTimestamp(tsa.url, canonical));
    await copyFile(tsa.caFile, `${OUT}/tsa-ca.pem`);
  } finally {
    await tsa.stop();
  }
  console.log(`wrote ${OUT}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
