/**
 * Retention records: the operator's signed statement of why events are absent
 * from PostgreSQL (docs/retention.md, "Proof of archiving and expiry").
 *
 *   archived  the events with these seqs are in this archive file (its SHA-256),
 *             read back from storage and checked against the ledger when issued
 *   expired   they were deleted because the tenant's policy then in force ended
 *             their retention, with no legal hold covering them
 *
 * Per tenant the records form a chain like checkpoints (number, prev_hash), each
 * signed with the operator's Ed25519 key over the RFC 8785 JSON of its body and
 * anchored outside the database. Verification accepts an event's absence only
 * where a valid record accounts for it, so editing the archive catalog (its
 * state, its hashes) or the database's copy of a record proves nothing.
 */
import { createHash, verify as verifySignature, type KeyObject } from 'node:crypto';
import { canonicalJson } from '@/supabase/functions/_shared/canonical-json.ts';
import { GENESIS_HASH } from '@/supabase/functions/_shared/checkpoint.ts';
import type { AnySql, TxSql } from '@/supabase/functions/_shared/db.ts';
import { toHex } from '@/supabase/functions/_shared/merkle.ts';
import { nowTimestamp } from '@/supabase/functions/_shared/timestamps.ts';
import type { AnchorItem } from '@/server/services/anchors/format.ts';
import { RootBuilder } from '@/server/services/integrity/root-builder.ts';
import type { Signer } from '@/server/services/integrity/signing-key.ts';
import type { ArchivePart } from './parts.ts';

export const RECORD_VERSION = 1;
export type RecordKind = 'archived' | 'expired';
/** How the record was established: read back and checked; decided under the policy; taken from the catalog at upgrade. */
export type RecordBasis = 'read-back' | 'policy' | 'catalog-at-upgrade';

export interface RecordArchive {
  storage_url: string;
  data_key: string;
  data_sha256: string;
  data_bytes: number | null;
  manifest_key: string;
  manifest_sha256: string | null;
}

export interface RecordPolicy {
  hot_months: number;
  total_years: number;
  /** The month's end plus total_years: when retention ended. */
  retention_ended: string;
}

export interface RecordBody {
  version: number;
  kind: RecordKind;
  basis: RecordBasis;
  tenant_id: string;
  number: number;
  prev_hash: string;
  issued_at: string;
  key_id: string;
  /** YYYY-MM */
  month: string;
  part: number;
  /** The seqs accounted for, as ascending, disjoint, non-adjacent inclusive ranges. */
  seq_ranges: [number, number][];
  count: number;
  /** RFC 6962 root over the events' hashes (from the ledger) in seq order. */
  events_root: string;
  archive: RecordArchive;
  /** The policy that ended retention (expired records); null for archived ones. */
  policy: RecordPolicy | null;
}

export interface SignedRecord extends RecordBody {
  hash: string;
  signature: string;
}

const BODY_FIELDS = ['version', 'kind', 'basis', 'tenant_id', 'number', 'prev_hash', 'issued_at', 'key_id', 'month', 'part', 'seq_ranges', 'count', 'events_root', 'archive', 'policy'] as const;

export function recordBody(r: RecordBody): RecordBody {
  return Object.fromEntries(BODY_FIELDS.map((f) => [f, r[f]])) as unknown as RecordBody;
}

export const recordBytes = (r: RecordBody): Buffer => Buffer.from(canonicalJson(recordBody(r)), 'utf8');
export const recordHash = (r: RecordBody): string => createHash('sha256').update(recordBytes(r)).digest('hex');

export function recordSignatureValid(r: SignedRecord, key: KeyObject): boolean {
  try {
    return verifySignature(null, recordBytes(r), key, Buffer.from(r.signature, 'base64'));
  } catch {
    return false;
  }
}

export function recordAnchorItem(r: SignedRecord): AnchorItem {
  return {
    kind: 'retention_record',
    tenant_id: r.tenant_id,
    number: r.number,
    hash: r.hash,
    body: recordBytes(r),
    object: Buffer.from(canonicalJson({ ...recordBody(r), hash: r.hash, signature: r.signature }), 'utf8'),
    at: r.issued_at,
  };
}

/** Ascending seqs → ranges [from, to]. */
export function toRanges(seqs: readonly number[]): [number, number][] {
  const ranges: [number, number][] = [];
  for (const seq of seqs) {
    const last = ranges[ranges.length - 1];
    if (last && seq === last[1] + 1) last[1] = seq;
    else if (!last || seq > last[1]) ranges.push([seq, seq]);
  }
  return ranges;
}

export const rangesCount = (ranges: readonly [number, number][]): number => ranges.reduce((n, [a, b]) => n + b - a + 1, 0);

/** The archive part a record describes, in the catalog's shape, for reading it back. */
export function partOfRecord(r: SignedRecord): ArchivePart {
  const ranges = r.seq_ranges;
  // Σ seq over the ranges, as the manifest writes it (a decimal string).
  const sum = ranges.reduce((s, [a, b]) => s + ((BigInt(a) + BigInt(b)) * BigInt(b - a + 1)) / 2n, 0n);
  return {
    tenant_id: r.tenant_id,
    month: `${r.month}-01`,
    part: r.part,
    state: 'dropped',
    storage_url: r.archive.storage_url,
    data_key: r.archive.data_key,
    manifest_key: r.archive.manifest_key,
    row_count: r.count,
    min_seq: ranges[0]?.[0] ?? null,
    max_seq: ranges[ranges.length - 1]?.[1] ?? null,
    seq_sum: sum.toString(),
    min_occurred_at: null,
    max_occurred_at: null,
    data_bytes: r.archive.data_bytes,
    data_sha256: r.archive.data_sha256,
    manifest_sha256: r.archive.manifest_sha256,
    retain_until: null,
    object_lock: false,
    created_at: r.issued_at,
    written_at: null,
    verified_at: null,
    dropped_at: null,
    expired_at: null,
    problem: null,
  };
}

function toSignedRecord(row: Record<string, unknown>): SignedRecord {
  const body = JSON.parse(row.body as string) as RecordBody;
  return { ...body, hash: (row.record_hash as Buffer).toString('hex'), signature: (row.signature as Buffer).toString('base64') };
}

export async function listRecords(sql: AnySql, tenantId: string, range: { fromNumber?: number; toNumber?: number } = {}): Promise<SignedRecord[]> {
  const rows = await sql`
    select body, record_hash, signature from oms_audit.retention_records
    where tenant_id = ${tenantId} and number >= ${range.fromNumber ?? 1} and number <= ${range.toNumber ?? Number.MAX_SAFE_INTEGER}
    order by number`;
  return rows.map(toSignedRecord);
}

/** The newest record of a kind for an archive part (with that data file, when given). */
export async function findRecord(sql: AnySql, where: { tenantId: string; kind: RecordKind; month: string; part: number; dataSha256?: string | null }): Promise<SignedRecord | null> {
  const rows = await sql`
    select body, record_hash, signature from oms_audit.retention_records
    where tenant_id = ${where.tenantId} and kind = ${where.kind} and month = ${where.month}::date and part = ${where.part}
    order by number desc`;
  return rows.map(toSignedRecord).find((r) => !where.dataSha256 || r.archive.data_sha256 === where.dataSha256) ?? null;
}

/** Root over the ledger's event hashes of the given seqs, in seq order (ranges read one at a time). */
async function eventsRoot(tx: AnySql, tenantId: string, ranges: [number, number][]): Promise<{ root: string; count: number }> {
  const builder = new RootBuilder();
  for (const [from, to] of ranges) {
    const cursor = tx`select event_hash from public.audit_ledger where tenant_id = ${tenantId} and seq between ${from} and ${to} order by seq`.cursor(10_000);
    for await (const rows of cursor as AsyncIterable<Record<string, unknown>[]>) for (const r of rows) builder.push(r.event_hash as Buffer);
  }
  return { root: builder.count ? toHex(builder.root()) : GENESIS_HASH, count: builder.count };
}

export interface RecordInput {
  tenantId: string;
  kind: RecordKind;
  basis: RecordBasis;
  part: ArchivePart;
  seqRanges: [number, number][];
  policy: RecordPolicy | null;
}

/** Signs and stores the tenant's next record, inside the caller's transaction. */
export async function issueRecord(tx: TxSql, input: RecordInput, key: Signer): Promise<SignedRecord> {
  const { part } = input;
  if (!input.seqRanges.length) throw new Error(`no events to record for ${part.month.slice(0, 7)} part ${part.part}`);
  if (!part.data_sha256) throw new Error(`archive part ${part.data_key} has no recorded SHA-256`);
  await tx`select pg_advisory_xact_lock(hashtextextended(${'oms_audit.records:' + input.tenantId}, 0))`;
  const [last] = await tx`select number, encode(record_hash, 'hex') as hash from oms_audit.retention_records where tenant_id = ${input.tenantId} order by number desc limit 1`;
  const events = await eventsRoot(tx, input.tenantId, input.seqRanges);
  const expected = rangesCount(input.seqRanges);
  if (events.count !== expected) throw new Error(`the ledger holds ${events.count} of the ${expected} seqs to record for ${part.month.slice(0, 7)} part ${part.part}`);
  const body: RecordBody = {
    version: RECORD_VERSION,
    kind: input.kind,
    basis: input.basis,
    tenant_id: input.tenantId,
    number: Number(last?.number ?? 0) + 1,
    prev_hash: (last?.hash as string | undefined) ?? GENESIS_HASH,
    issued_at: nowTimestamp().iso,
    key_id: key.keyId,
    month: part.month.slice(0, 7),
    part: part.part,
    seq_ranges: input.seqRanges,
    count: expected,
    events_root: events.root,
    archive: {
      storage_url: part.storage_url,
      data_key: part.data_key,
      data_sha256: part.data_sha256,
      data_bytes: part.data_bytes === null ? null : Number(part.data_bytes),
      manifest_key: part.manifest_key,
      manifest_sha256: part.manifest_sha256,
    },
    policy: input.policy,
  };
  const bytes = recordBytes(body);
  const record: SignedRecord = { ...body, hash: createHash('sha256').update(bytes).digest('hex'), signature: key.sign(bytes) };
  await tx`
    insert into oms_audit.retention_records (tenant_id, number, kind, month, part, body, record_hash, signature, issued_at)
    values (${record.tenant_id}, ${record.number}, ${record.kind}, ${part.month}::date, ${record.part}, ${bytes.toString('utf8')},
      decode(${record.hash}, 'hex'), decode(${record.signature}, 'base64'), ${record.issued_at}::timestamptz)`;
  return record;
}
