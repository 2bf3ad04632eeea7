/**
 * Signed verification results: what a verification covered and found, signed
 * with the operator's key and kept in oms_audit.integrity_verifications. An
 * incremental verification builds on the newest intact one whose signature
 * verifies with a trusted key — never on what the database merely says was
 * verified — and checks that the checkpoint it ended at is still the one in
 * the database before it goes on from there (docs/integrity.md).
 */
import { createHash, verify as verifySignature, type KeyObject } from 'node:crypto';
import { canonicalJson } from '@/supabase/functions/_shared/canonical-json.ts';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import type { Signer } from './signing-key.ts';

export const VERIFICATION_RECORD_VERSION = 1;

/** The signed body (RFC 8785 JSON), member by member. */
export interface VerificationRecord {
  version: 1;
  tenant_id: string;
  /** full: every checkpoint and event; incremental: those after `base`. */
  kind: 'full' | 'incremental';
  ok: boolean;
  /** Checkpoints whose events this run checked: numbers from…to (0…0: none). */
  checkpoint_from: number;
  checkpoint_to: number;
  /** Hash of checkpoint `verified_through`: what the next incremental run starts from. */
  verified_through: number;
  verified_through_hash: string | null;
  /** Events this run checked (the unsealed tail included), seq from…to. */
  seq_from: number;
  seq_to: number;
  events_checked: number;
  problem_count: number;
  /** The signed record this run built on (hash of its body), null for a full run. */
  base_hash: string | null;
  /** When the full verification this chain of runs rests on started. */
  full_verified_at: string;
  started_at: string;
  key_id: string;
}

export function recordBytes(r: VerificationRecord): Buffer {
  return Buffer.from(canonicalJson(r), 'utf8');
}

export function recordHash(r: VerificationRecord): string {
  return createHash('sha256').update(recordBytes(r)).digest('hex');
}

export function signRecord(r: VerificationRecord, signer: Signer): { text: string; signature: string } {
  const bytes = recordBytes(r);
  return { text: bytes.toString('utf8'), signature: signer.sign(bytes) };
}

export interface TrustedBase {
  record: VerificationRecord;
  hash: string;
  finished_at: string;
}

/**
 * The newest full or incremental verification of the tenant whose record is
 * signed by a trusted key and names this tenant. Rows whose record does not
 * verify are passed over. The caller builds on it only if it was intact: after
 * a run that found problems, the next one is full again.
 */
export async function trustedBase(sql: Sql, tenantId: string, keys: Map<string, KeyObject>): Promise<TrustedBase | null> {
  const rows = await sql`
    select record, signature, key_id, finished_at from oms_audit.integrity_verifications
    where tenant_id = ${tenantId} and record is not null and kind in ('full', 'incremental')
    order by id desc limit 50`;
  for (const row of rows) {
    const key = keys.get(row.key_id as string);
    if (!key) continue;
    let record: VerificationRecord;
    try {
      record = JSON.parse(row.record as string) as VerificationRecord;
    } catch {
      continue;
    }
    const bytes = recordBytes(record);
    // The text must be the canonical form of what it says, and the signature over exactly those bytes.
    if (bytes.toString('utf8') !== row.record) continue;
    if (!verifySignature(null, bytes, key, Buffer.from(row.signature as string, 'base64'))) continue;
    if (record.version !== VERIFICATION_RECORD_VERSION || record.tenant_id !== tenantId || record.key_id !== row.key_id) continue;
    if (record.kind !== 'full' && record.kind !== 'incremental') continue;
    return { record, hash: recordHash(record), finished_at: row.finished_at as string };
  }
  return null;
}
