/**
 * The published test vectors (docs/test-vectors/anchors/, written by
 * scripts/anchor-test-vectors.ts) against the code, byte for byte: canonical
 * bodies, hashes, Ed25519 signatures, anchor keys and objects, the monitor
 * state file, and a real RFC 3161 token over a checkpoint's body.
 */
import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkpointBytes, checkpointHash, keyIdOf, signatureValid, type CheckpointBody, type SignedCheckpoint } from '@/supabase/functions/_shared/checkpoint.ts';
import { readMonitorState } from '@/sdk/monitor.ts';
import { readKnownCheckpoint } from '@/verifier/verify-bundle.ts';
import { recordAnchorItem, recordBytes, recordHash, type RecordBody, type SignedRecord } from '@/server/services/retention/records.ts';
import { anchorKeys, checkpointObject } from './format.ts';
import { checkpointKind, recordKind } from './kinds.ts';
import { checkTimestamp, loadTrustedTsaCertificates } from './timestamp.ts';

const DIR = 'docs/test-vectors/anchors';
const read = (name: string) => readFileSync(`${DIR}/${name}`);
const json = <T>(name: string) => JSON.parse(read(name).toString('utf8')) as T;

const privateKey = createPrivateKey(read('test-key.pem'));
const publicKey = createPublicKey(read('test-key.pub.pem'));
const keys = new Map([[keyIdOf(publicKey), publicKey]]);
const sign64 = (bytes: Buffer) => sign(null, bytes, privateKey).toString('base64');

interface CheckpointVector {
  public_key_fingerprint: string;
  checkpoint_body: CheckpointBody;
  canonical_body: string;
  hash: string;
  signature: string;
  anchor_object_key: string;
  anchor_token_key: string;
  anchor_object: string;
}

interface RecordVector {
  record_body: RecordBody;
  canonical_body: string;
  hash: string;
  signature: string;
  anchor_object_key: string;
  anchor_object: string;
}

describe('anchor test vectors', () => {
  it('checkpoint: canonical body, hash, signature, anchor key and object', () => {
    const v = json<CheckpointVector>('checkpoint.json');
    expect(keyIdOf(createPublicKey(privateKey))).toBe(v.public_key_fingerprint);
    expect(checkpointBytes(v.checkpoint_body).toString('utf8')).toBe(v.canonical_body);
    expect(checkpointHash(v.checkpoint_body)).toBe(v.hash);
    expect(sign64(Buffer.from(v.canonical_body))).toBe(v.signature);
    const signed: SignedCheckpoint = { ...v.checkpoint_body, hash: v.hash, signature: v.signature };
    expect(signatureValid(signed, publicKey)).toBe(true);
    expect(anchorKeys('checkpoint', signed.tenant_id, signed.number)).toEqual({ object: v.anchor_object_key, token: v.anchor_token_key });
    expect(checkpointObject(signed).toString('utf8')).toBe(v.anchor_object);
    // What verification reads back from the anchor is accepted as is.
    const kind = checkpointKind(keys);
    const parsed = kind.parse(JSON.parse(v.anchor_object)) as SignedCheckpoint;
    expect(kind.validate(parsed)).toBeNull();
    expect(kind.validate({ ...parsed, seq_to: parsed.seq_to + 1 })).toMatch(/do not hash/);
  });

  it('retention records: canonical body, hash, signature, chain, anchor object', () => {
    const [archived, expired] = json<RecordVector[]>('retention-records.json') as [RecordVector, RecordVector];
    for (const v of [archived, expired]) {
      expect(recordBytes(v.record_body).toString('utf8')).toBe(v.canonical_body);
      expect(recordHash(v.record_body)).toBe(v.hash);
      expect(sign64(Buffer.from(v.canonical_body))).toBe(v.signature);
      const signed: SignedRecord = { ...v.record_body, hash: v.hash, signature: v.signature };
      expect(anchorKeys('retention_record', signed.tenant_id, signed.number).object).toBe(v.anchor_object_key);
      expect(recordAnchorItem(signed).object.toString('utf8')).toBe(v.anchor_object);
      const kind = recordKind(keys);
      expect(kind.validate(kind.parse(JSON.parse(v.anchor_object)) as SignedRecord)).toBeNull();
    }
    expect(expired.record_body.prev_hash).toBe(archived.hash);
  });

  it('monitor state file: readable by the monitor and by the bundle verifier as a known checkpoint', async () => {
    const state = (await readMonitorState(`${DIR}/monitor-state.json`))!;
    const known = readKnownCheckpoint(`${DIR}/monitor-state.json`);
    expect(known).toEqual(state.checkpoint);
    expect(state.pinned_keys[0]!.key_id).toBe(keyIdOf(createPublicKey(state.pinned_keys[0]!.public_key_pem)));
    expect(signatureValid(known, publicKey)).toBe(true);
    expect(known.hash).toBe(json<CheckpointVector>('checkpoint.json').hash);
  });

  it("time-stamp token: binds the checkpoint's canonical body, refused for another", async () => {
    const trusted = loadTrustedTsaCertificates(`${DIR}/tsa-ca.pem`);
    const body = read('checkpoint-body.json');
    expect(body.toString('utf8')).toBe(json<CheckpointVector>('checkpoint.json').canonical_body);
    expect(await checkTimestamp(read('checkpoint.tsr'), body, trusted)).toMatchObject({ ok: true, signer: 'CN=oms-audit test TSA' });
    expect(await checkTimestamp(read('checkpoint.tsr'), Buffer.concat([body, Buffer.from(' ')]), trusted)).toMatchObject({ ok: false, reason: expect.stringContaining('another hash') });
  });
});
