/**
 * GET /api/integrity/public-key — the Ed25519 key that signs checkpoints, for
 * anyone to verify proofs and export bundles. Publish its fingerprint out of
 * band too (a regulator should not take it only from the server it checks).
 */
import { json, route } from '@/server/http/rest.ts';
import { signer, trustedKeys } from '@/server/services/integrity/signing-key.ts';

export const dynamic = 'force-dynamic';

export const GET = route(async () => {
  const current = signer();
  return json({
    algorithm: 'Ed25519',
    key_id: current.keyId,
    fingerprint_sha256: current.keyId,
    public_key_pem: current.publicKeyPem,
    trusted_keys: [...trustedKeys()].map(([keyId, key]) => ({ key_id: keyId, public_key_pem: key.export({ format: 'pem', type: 'spki' }).toString() })),
  });
});
