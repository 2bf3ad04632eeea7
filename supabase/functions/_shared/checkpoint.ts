/**
 * Signed checkpoints: per tenant, each checkpoint covers the next consecutive
 * range of seq, holds the Merkle root of those events' hashes and the hash of
 * the previous checkpoint, and is signed with the operator's Ed25519 key.
 * What is hashed and signed is the RFC 8785 canonical JSON of the body below.
 */
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';

export const CHECKPOINT_VERSION = 1;
export const GENESIS_HASH = '0'.repeat(64);

export interface CheckpointBody {
  version: number;
  tenant_id: string;
  /** 1, 2, 3… per tenant. */
  number: number;
  seq_from: number;
  seq_to: number;
  count: number;
  /** Hex RFC 6962 root over the event hashes of seq_from..seq_to, in seq order. */
  merkle_root: string;
  /** Hex hash of the previous checkpoint; 64 zeros for the first. */
  prev_hash: string;
  sealed_at: string;
  /** Fingerprint of the signing key (see keyIdOf). */
  key_id: string;
}

export interface SignedCheckpoint extends CheckpointBody {
  /** Hex SHA-256 of the canonical body. */
  hash: string;
  /** Base64 Ed25519 signature of the canonical body. */
  signature: string;
}

export function checkpointBody(c: CheckpointBody): CheckpointBody {
  return {
    version: c.version,
    tenant_id: c.tenant_id,
    number: c.number,
    seq_from: c.seq_from,
    seq_to: c.seq_to,
    count: c.count,
    merkle_root: c.merkle_root,
    prev_hash: c.prev_hash,
    sealed_at: c.sealed_at,
    key_id: c.key_id,
  };
}

export function checkpointBytes(c: CheckpointBody): Buffer {
  return Buffer.from(canonicalJson(checkpointBody(c)), 'utf8');
}

export function checkpointHash(c: CheckpointBody): string {
  return createHash('sha256').update(checkpointBytes(c)).digest('hex');
}

/** Key fingerprint: hex SHA-256 of the public key's DER SubjectPublicKeyInfo. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ format: 'der', type: 'spki' })).digest('hex');
}

export function publicKeyFromPem(pem: string): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('The public key is not an Ed25519 key');
  return key;
}

export function signatureValid(c: SignedCheckpoint, publicKey: KeyObject): boolean {
  try {
    return verify(null, checkpointBytes(c), publicKey, Buffer.from(c.signature, 'base64'));
  } catch {
    return false;
  }
}
