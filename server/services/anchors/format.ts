/**
 * The anchor layout (docs/integrity.md, "Anchors"): every signed checkpoint and
 * retention record is also written, once, as an object outside PostgreSQL,
 * under the tenant's folder of the anchor location, with its RFC 3161 token
 * beside it:
 *
 *   tenant_id=<uuid>/checkpoints/<number, 16 digits>.json   RFC 8785 JSON of the signed checkpoint
 *   tenant_id=<uuid>/checkpoints/<number, 16 digits>.tsr    DER TimeStampResp over SHA-256(canonical body)
 *   tenant_id=<uuid>/retention-records/<number>.json / .tsr  the same for retention records
 *
 * The object's bytes are canonical, so the same checkpoint always gives the
 * same bytes (a retried write finds an identical object) and anyone can
 * recompute them.
 */
import { canonicalJson } from '@/supabase/functions/_shared/canonical-json.ts';
import { checkpointBody, checkpointBytes, type SignedCheckpoint } from '@/supabase/functions/_shared/checkpoint.ts';

export type AnchorKind = 'checkpoint' | 'retention_record';

const FOLDER: Record<AnchorKind, string> = { checkpoint: 'checkpoints', retention_record: 'retention-records' };

/** A signed item to anchor: a checkpoint or a retention record. */
export interface AnchorItem {
  kind: AnchorKind;
  tenant_id: string;
  number: number;
  /** Hex SHA-256 of `body`. */
  hash: string;
  /** The canonical body: what the operator's key signs and the TSA time-stamps. */
  body: Buffer;
  /** The anchor object: canonical JSON of the signed item (body, hash, signature). */
  object: Buffer;
  /** When it was sealed or issued (its own claim). */
  at: string;
}

export const NUMBER_DIGITS = 16;

export function tenantFolder(kind: AnchorKind, tenantId: string): string {
  return `tenant_id=${tenantId}/${FOLDER[kind]}/`;
}

export function anchorKeys(kind: AnchorKind, tenantId: string, number: number): { object: string; token: string } {
  const base = `${tenantFolder(kind, tenantId)}${String(number).padStart(NUMBER_DIGITS, '0')}`;
  return { object: `${base}.json`, token: `${base}.tsr` };
}

/** The number and file type of a key in a tenant's folder, or null for anything else. */
export function parseAnchorKey(folder: string, key: string): { number: number; type: 'object' | 'token' } | null {
  if (!key.startsWith(folder)) return null;
  const m = new RegExp(`^(\\d{${NUMBER_DIGITS}})\\.(json|tsr)$`).exec(key.slice(folder.length));
  return m ? { number: Number(m[1]), type: m[2] === 'json' ? 'object' : 'token' } : null;
}

export function checkpointObject(c: SignedCheckpoint): Buffer {
  return Buffer.from(canonicalJson({ ...checkpointBody(c), hash: c.hash, signature: c.signature }), 'utf8');
}

export function checkpointAnchorItem(c: SignedCheckpoint): AnchorItem {
  return { kind: 'checkpoint', tenant_id: c.tenant_id, number: c.number, hash: c.hash, body: checkpointBytes(c), object: checkpointObject(c), at: c.sealed_at };
}
