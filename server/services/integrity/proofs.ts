/**
 * Inclusion proofs: everything a third party needs to check, without us, that
 * one event is part of the tenant's signed trail — the event, its hash, its
 * Merkle audit path, the covering checkpoint (signed) and the chain of
 * checkpoints from there to the latest.
 */
import type { KeyObject } from 'node:crypto';
import { checkpointHash, signatureValid, type SignedCheckpoint } from '@/supabase/functions/_shared/checkpoint.ts';
import type { AuditEvent } from '@/supabase/functions/_shared/contract.ts';
import type { Sql, TenantClaims } from '@/supabase/functions/_shared/db.ts';
import { eventHash, isHashVersion, type HashableEvent } from '@/supabase/functions/_shared/event-hash.ts';
import { fromHex, inclusionProof, merkleRoot, rootFromProof, toHex } from '@/supabase/functions/_shared/merkle.ts';
import { getEvent } from '@/server/services/query.ts';
import { checkpointCovering, ledgerHashes, listCheckpoints } from './checkpoints.ts';

/** Checkpoints after the covering one returned with a proof; more via the checkpoints API. */
export const PROOF_CHAIN_LIMIT = 100;

export interface EventProof {
  status: 'sealed' | 'pending';
  event: AuditEvent;
  /** Hex SHA-256 of the event's canonical form, recomputed from the stored fields. */
  event_hash: string;
  /**
   * Whether the recomputed hash equals the ledger's, the path leads to the checkpoint's root,
   * the checkpoint hashes to its recorded hash, and its signature is valid for a trusted key.
   */
  verified: boolean;
  checkpoint: SignedCheckpoint | null;
  /** Position of the event among the checkpoint's events (seq - seq_from). */
  leaf_index: number | null;
  tree_size: number | null;
  /** Hex sibling hashes from the leaf up (RFC 9162 §2.1.3). */
  audit_path: string[];
  /** The covering checkpoint and those after it, oldest first, each linking to the one before. */
  chain: SignedCheckpoint[];
  chain_truncated: boolean;
}

export async function eventProof(sql: Sql, claims: TenantClaims, id: string, keys: Map<string, KeyObject>): Promise<EventProof | null> {
  const event = await getEvent(sql, claims, id, { stored: true });
  if (!event) return null;
  const tenantId = claims.tenant_id;
  // An event claiming a schema version no event was written under cannot be the one that was signed.
  const recomputed = isHashVersion(event.schema_version) ? eventHash(event as HashableEvent) : '';
  const [ledger] = await sql`select encode(event_hash, 'hex') as hash from public.audit_ledger where tenant_id = ${tenantId} and seq = ${event.seq}`;
  const checkpoint = await checkpointCovering(sql, tenantId, event.seq);
  if (!checkpoint) {
    return { status: 'pending', event, event_hash: recomputed, verified: false, checkpoint: null, leaf_index: null, tree_size: null, audit_path: [], chain: [], chain_truncated: false };
  }
  const leaves = (await ledgerHashes(sql, tenantId, checkpoint.seq_from, checkpoint.seq_to)).map((l) => l.hash);
  const index = event.seq - checkpoint.seq_from;
  const path = inclusionProof(leaves, index);
  const root = rootFromProof(fromHex(recomputed), index, leaves.length, path);
  const chain = await listCheckpoints(sql, tenantId, { fromNumber: checkpoint.number, toNumber: checkpoint.number + PROOF_CHAIN_LIMIT - 1 });
  const [latest] = await sql`select max(number)::bigint as n from oms_audit.checkpoints where tenant_id = ${tenantId}`;
  return {
    status: 'sealed',
    event,
    event_hash: recomputed,
    verified:
      ledger?.hash === recomputed &&
      root !== null &&
      toHex(root) === checkpoint.merkle_root &&
      toHex(merkleRoot(leaves)) === checkpoint.merkle_root &&
      checkpointHash(checkpoint) === checkpoint.hash &&
      keys.has(checkpoint.key_id) &&
      signatureValid(checkpoint, keys.get(checkpoint.key_id)!),
    checkpoint,
    leaf_index: index,
    tree_size: leaves.length,
    audit_path: path.map(toHex),
    chain,
    chain_truncated: Number(latest?.n ?? 0) > checkpoint.number + PROOF_CHAIN_LIMIT - 1,
  };
}
