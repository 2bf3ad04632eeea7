/** Inclusion proofs over HTTP, checked the way a third party would: only with the public key. */
import { verify as verifySignature } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkpointBytes, checkpointHash, publicKeyFromPem, type SignedCheckpoint } from '@/supabase/functions/_shared/checkpoint.ts';
import { eventHash } from '@/supabase/functions/_shared/event-hash.ts';
import { fromHex, rootFromProof, toHex } from '@/supabase/functions/_shared/merkle.ts';
import { call, event, newTenant, testSql } from '@/test/fixtures.ts';
import { sealTenant } from './checkpoints.ts';
import { signer } from './signing-key.ts';

describe('GET /api/v1/audit/events/:id/proof', () => {
  it('proves an event is in the signed trail, checkable with only the public key', async () => {
    const t = await newTenant('proof');
    const written = await call('POST', '/api/v1/audit/events', { key: t.key, body: { events: Array.from({ length: 37 }, (_, i) => event({ context: { i } })) } });
    const id = written.body.ids[20];

    const pending = await call('GET', `/api/v1/audit/events/${id}/proof`, { key: t.readKey });
    expect(pending.status).toBe(200);
    expect(pending.body).toMatchObject({ status: 'pending', checkpoint: null, verified: false });

    await sealTenant(testSql(), t.id, signer());
    const { body: proof } = await call('GET', `/api/v1/audit/events/${id}/proof`, { key: t.readKey });
    expect(proof).toMatchObject({ status: 'sealed', verified: true, leaf_index: 20, tree_size: 37, chain_truncated: false });

    // What a regulator does with the proof and the published key.
    const { body: published } = await call('GET', '/api/integrity/public-key');
    expect(published).toMatchObject({ algorithm: 'Ed25519', key_id: signer().keyId });
    const publicKey = publicKeyFromPem(published.public_key_pem);
    const recomputed = eventHash(proof.event);
    expect(recomputed).toBe(proof.event_hash);
    const root = rootFromProof(fromHex(recomputed), proof.leaf_index, proof.tree_size, proof.audit_path.map(fromHex));
    const checkpoint: SignedCheckpoint = proof.checkpoint;
    expect(toHex(root!)).toBe(checkpoint.merkle_root);
    expect(checkpointHash(checkpoint)).toBe(checkpoint.hash);
    expect(verifySignature(null, checkpointBytes(checkpoint), publicKey, Buffer.from(checkpoint.signature, 'base64'))).toBe(true);
    expect(proof.chain[0]).toEqual(checkpoint);

    // A changed field no longer reaches the signed root.
    const altered = eventHash({ ...proof.event, actor_id: 'someone-else' });
    expect(toHex(rootFromProof(fromHex(altered), proof.leaf_index, proof.tree_size, proof.audit_path.map(fromHex))!)).not.toBe(checkpoint.merkle_root);
  });

  it("does not prove another tenant's event, and lists only the caller's checkpoints", async () => {
    const [a, b] = await Promise.all([newTenant(), newTenant()]);
    const written = await call('POST', '/api/v1/audit/events', { key: a.key, body: { events: [event()] } });
    await sealTenant(testSql(), a.id, signer());
    expect((await call('GET', `/api/v1/audit/events/${written.body.ids[0]}/proof`, { key: b.key })).status).toBe(404);
    expect((await call('GET', '/api/v1/audit/checkpoints', { key: b.key })).body).toEqual({ checkpoints: [], next_from_number: null, latest_number: 0 });
    const own = await call('GET', '/api/v1/audit/checkpoints', { key: a.key });
    expect(own.body.checkpoints).toEqual([expect.objectContaining({ tenant_id: a.id, number: 1, seq_from: 1, seq_to: 1 })]);
  });
});
