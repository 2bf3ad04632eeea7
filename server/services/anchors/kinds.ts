/** How verification reads an anchored checkpoint or retention record back, and when it accepts one. */
import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { checkpointHash, CHECKPOINT_VERSION, signatureValid, type SignedCheckpoint } from '@/supabase/functions/_shared/checkpoint.ts';
import { recordHash, recordSignatureValid, type SignedRecord } from '@/server/services/retention/records.ts';
import type { AnchoredKind } from './check.ts';
import { checkpointAnchorItem } from './format.ts';
import { recordAnchorItem } from '@/server/services/retention/records.ts';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const count = z.number().int().min(0);

const signedCheckpoint = z.strictObject({
  version: z.literal(CHECKPOINT_VERSION),
  tenant_id: z.string(),
  number: count,
  seq_from: count,
  seq_to: count,
  count,
  merkle_root: hex64,
  prev_hash: hex64,
  sealed_at: z.string(),
  key_id: hex64,
  hash: hex64,
  signature: z.string(),
});

const recordChain = {
  version: z.literal(1),
  tenant_id: z.string(),
  number: count,
  prev_hash: hex64,
  issued_at: z.string(),
  key_id: hex64,
  seq_ranges: z.array(z.tuple([count, count])),
  count,
  events_root: hex64,
  hash: hex64,
  signature: z.string(),
};

const signedRecord = z.union([
  z.strictObject({
    ...recordChain,
    kind: z.enum(['archived', 'expired']),
    basis: z.enum(['read-back', 'policy', 'catalog-at-upgrade']),
    month: z.string().regex(/^\d{4}-\d{2}$/),
    part: count,
    archive: z.strictObject({
      storage_url: z.string(),
      data_key: z.string(),
      data_sha256: hex64,
      data_bytes: count.nullable(),
      manifest_key: z.string(),
      manifest_sha256: hex64.nullable(),
    }),
    policy: z.strictObject({ hot_months: count, total_years: count, retention_ended: z.string() }).nullable(),
  }),
  // A subject's keys destroyed (docs/retention.md, "Erasures").
  z.strictObject({
    ...recordChain,
    kind: z.literal('erased'),
    basis: z.literal('erasure'),
    month: z.null(),
    part: z.null(),
    archive: z.null(),
    policy: z.null(),
    erasure: z.strictObject({ subject_ref: hex64, key_ids: z.array(z.uuid()).min(1), erased_at: z.string(), erased_by: z.string(), erasure_event_id: z.uuid() }),
  }),
]);

function signedBy(keys: Map<string, KeyObject>, keyId: string, valid: (key: KeyObject) => boolean): string | null {
  const key = keys.get(keyId);
  if (!key) return `it is signed by key ${keyId.slice(0, 16)}…, which is not trusted`;
  return valid(key) ? null : 'its signature is not valid';
}

export function checkpointKind(keys: Map<string, KeyObject>): AnchoredKind<SignedCheckpoint> {
  return {
    kind: 'checkpoint',
    label: 'checkpoint',
    toItem: checkpointAnchorItem,
    parse: (json) => {
      const parsed = signedCheckpoint.safeParse(json);
      return parsed.success ? parsed.data : 'it is not a signed checkpoint';
    },
    validate: (c) => (checkpointHash(c) !== c.hash ? 'its fields do not hash to its recorded hash' : signedBy(keys, c.key_id, (key) => signatureValid(c, key))),
  };
}

export function recordKind(keys: Map<string, KeyObject>): AnchoredKind<SignedRecord> {
  return {
    kind: 'retention_record',
    label: 'retention record',
    toItem: recordAnchorItem,
    parse: (json) => {
      const parsed = signedRecord.safeParse(json);
      return parsed.success ? (parsed.data as SignedRecord) : 'it is not a signed retention record';
    },
    validate: (r) => (recordHash(r) !== r.hash ? 'its fields do not hash to its recorded hash' : signedBy(keys, r.key_id, (key) => recordSignatureValid(r, key))),
  };
}
