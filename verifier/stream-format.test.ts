/**
 * The stream wire format: each format's encoding reads back to the same header
 * and events, and the test vector of docs/streams.md (a batch statement signed
 * with the RFC 8032 test key) holds.
 */
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '@/supabase/functions/_shared/canonical-json.ts';
import { keyIdOf } from '@/supabase/functions/_shared/checkpoint.ts';
import { webhookSignature } from '@/server/services/streams/webhook-signature.ts';
import { decodeDelivery, STREAM_FORMAT_NAMES, STREAM_FORMATS, statementOf, type StreamBatch } from './stream-format.ts';

const RFC8032_SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';

const batch: StreamBatch = {
  header: {
    type: 'oms-audit.stream.batch',
    version: 1,
    stream_id: 's',
    tenant_id: 't',
    batch_id: 's:1-2',
    start_seq: 1,
    seq_from: 1,
    seq_to: 2,
    event_count: 2,
    key_id: 'k',
    signature: 'sig',
    public_key: 'pem',
    checkpoints: [{ version: 1, tenant_id: 't', number: 1, seq_from: 1, seq_to: 2, count: 2, merkle_root: 'r', prev_hash: '0'.repeat(64), sealed_at: '2026-12-07T10:00:00.000000Z', key_id: 'k', hash: 'h', signature: 'c' }],
    proofs: [],
  },
  events: [
    { id: 'a', tenant_id: 't', seq: 1, occurred_at: '2026-12-07T09:59:59.123456Z', context: { note: 'line\nbreak "quoted" ü' } },
    { id: 'b', tenant_id: 't', seq: 2, occurred_at: '2026-12-07T09:59:59.500000Z', context: {} },
  ],
};

describe('stream formats', () => {
  it.each(STREAM_FORMAT_NAMES)('%s reads back to the same header and events', (name) => {
    const decoded = decodeDelivery(STREAM_FORMATS[name].encode(batch, { host: 'h', index: 'i', service: 's', tags: 'env:prod' }));
    expect(decoded.unknown).toEqual([]);
    expect(decoded.headers).toEqual([batch.header]);
    expect(decoded.events).toEqual(batch.events);
  });

  it('names values that are neither a header nor an event', () => {
    expect(decodeDelivery('{"hello":1}\nnot json\n').unknown).toEqual(['line 1', 'line 2 (not JSON)']);
  });

  it('holds the test vectors of docs/streams.md', () => {
    const key = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(RFC8032_SEED, 'hex')]), format: 'der', type: 'pkcs8' });
    const publicKey = createPublicKey(key);
    expect(publicKey.export({ format: 'der', type: 'spki' }).toString('base64')).toBe('MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=');
    const keyId = keyIdOf(publicKey);
    expect(keyId).toBe('06e3fd8fda29bb60ab59557de61edb0aecdb231134be30e75b455f8e1b792fa9');
    const bytes = canonicalJson(
      statementOf({ ...batch.header, stream_id: '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b', tenant_id: '0c9a8b7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d', batch_id: '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b:101-200', start_seq: 1, seq_from: 101, seq_to: 200, event_count: 100, key_id: keyId }),
    );
    expect(bytes).toBe(
      '{"batch_id":"6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b:101-200","event_count":100,"key_id":"06e3fd8fda29bb60ab59557de61edb0aecdb231134be30e75b455f8e1b792fa9","seq_from":101,"seq_to":200,"start_seq":1,"stream_id":"6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b","tenant_id":"0c9a8b7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d","type":"oms-audit.stream.batch","version":1}',
    );
    const signature = 'ooL1Fg6GyFZ4bgUpSC/ghACxnTIUkgsG7LRLmhraehP0h0xC431s7XtEtl9NtCbBGe7yo/p7v90u3C3mXeYGCw==';
    expect(sign(null, Buffer.from(bytes), key).toString('base64')).toBe(signature);
    expect(verify(null, Buffer.from(bytes), publicKey, Buffer.from(signature, 'base64'))).toBe(true);

    const secret = `whsec_${Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString('base64')}`;
    expect(secret).toBe('whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=');
    expect(webhookSignature(secret, '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b:101-200', 1796601600, '{"type":"oms-audit.stream.batch","version":1}')).toBe('v1,EKdbECRxk7nUcQPoE0AbKl1L+xwxqh5UJ6XOA+s02B4=');
  });
});
