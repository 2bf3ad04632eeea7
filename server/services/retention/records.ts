/**
 * Retention records: the operator's signed statement of why events are absent
 * from PostgreSQL (docs/retention.md, "Proof of archiving and expiry").
 *
 *   archived  the events with these seqs are in this archive file (its SHA-256),
 *             read back from storage and checked against the ledger when issued
 *   expired   they were deleted because the tenant's policy then in force ended
 *             their retention, with no legal hold covering them
 *   erased    a data subject's keys were destroyed (crypto-shredding): which,
 *             when, by whom, tied to the erasure's own event (its seq)
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
export type RecordKind = 'archived' | 'expired' | 'erased';
/** How the record was established: read back and checked; decided under the policy; taken from the catalog at upgrade; an erasure made. */
export type RecordBasis = 'read-back' | 'policy' | 'catalog-at-upgrade' | 'erasure';

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

/** What an erased record states (docs/retention.md, "Erasures"): which subject keys were destroyed, when, by whom. */
export interface RecordErasure {
  /** The subject's keyed pseudonym (never its identifier). */
  subject_ref: string;
  /** The data keys destroyed, ascending. */
  key_ids: string[];
  erased_at: string;
  /** console:<user id> or operator:<name>. */
  erased_by: string;
  /** The AUDIT_PERSONAL_DATA_ERASED event (its seq is the record's one seq). */
  erasure_event_id: string;
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
  /** YYYY-MM (null for an erased record) */
  month: string | null;
  part: number | null;
  /** The seqs accounted for, as ascending, disjoint, non-adjacent inclusive ranges. */
  seq_ranges: [number, number][];
  count: number;
  /** RFC 6962 root over the events' hashes (from the ledger) in seq order. */
  events_root: string;
  archive: RecordArchive | null;
  /** The policy that ended retention (expired records); null for archived ones. */
  policy: RecordPolicy | null;
  /** Erased records only (absent from the others' bodies). */
  erasure?: RecordErasure;
}

export interface SignedRecord extends RecordBody {
  hash: string;
  signature: string;
}

const BODY_FIELDS = ['version', 'kind', 'basis', 'tenant_id', 'number', 'prev_hash', 'issued_at', 'key_id', 'month', 'part', 'seq_ranges', 'count', 'events_root', 'archive', 'policy'] as const;

export function recordBody(r: RecordBody): RecordBody {
  const body = Object.fromEntries(BODY_FIELDS.map((f) => [f, r[f]])) as unknown as RecordBody;
  return r.erasure === undefined ? body : { ...body, erasure: r.erasure };
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
  if (!r.archive || r.month === null || r.part === null) throw new Error(`retention record ${r.number} (${r.kind}) names no archive part`);
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
  return rows.map(toSignedRecord).find((r) => !where.dataSha256 || r.archive?.data_sha256 === where.dataSha256) ?? null;
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
  return signAndStore(
    tx,
    {
      kind: input.kind,
      basis: input.basis,
      tenant_id: input.tenantId,
      month: part.month.slice(0, 7),
      part: part.part,
      seq_ranges: input.seqRanges,
      archive: {
        storage_url: part.storage_url,
        data_key: part.data_key,
        data_sha256: part.data_sha256,
        data_bytes: part.data_bytes === null ? null : Number(part.data_bytes),
        manifest_key: part.manifest_key,
        manifest_sha256: part.manifest_sha256,
      },
      policy: input.policy,
    },
    `${part.month.slice(0, 7)} part ${part.part}`,
    key,
  );
}

/**
 * Signs and stores an erased record (docs/retention.md, "Erasures"): the subject's keys destroyed,
 * when and by whom, tied to the AUDIT_PERSONAL_DATA_ERASED event (its seq, its hash as the events
 * root), inside the transaction that destroys the keys.
 */
export async function issueErasureRecord(tx: TxSql, input: { tenantId: string; erasureSeq: number; erasure: RecordErasure }, key: Signer): Promise<SignedRecord> {
  return signAndStore(
    tx,
    { kind: 'erased', basis: 'erasure', tenant_id: input.tenantId, month: null, part: null, seq_ranges: [[input.erasureSeq, input.erasureSeq]], archive: null, policy: null, erasure: { ...input.erasure, key_ids: [...input.erasure.key_ids].sort() } },
    `the erasure of subject ${input.erasure.subject_ref}`,
    key,
  );
}

/** The erased record of an erasure event, if one was issued. */
export async function findErasureRecord(sql: AnySql, tenantId: string, erasureEventId: string): Promise<SignedRecord | null> {
  const rows = await sql`
    select body, record_hash, signature from oms_audit.retention_records
    where tenant_id = ${tenantId} and kind = 'erased' and body::json->'erasure'->>'erasure_event_id' = ${erasureEventId}`;
  return rows.map(toSignedRecord)[0] ?? null;
}

type UnchainedBody = Omit<RecordBody, 'version' | 'number' | 'prev_hash' | 'issued_at' | 'key_id' | 'count' | 'events_root'>;

/** Chains (number, prev_hash), roots the seqs' ledger hashes, signs and stores a record body. */
async function signAndStore(tx: TxSql, fields: UnchainedBody, what: string, key: Signer): Promise<SignedRecord> {
  const tenantId = fields.tenant_id;
  await tx`select pg_advisory_xact_lock(hashtextextended(${'oms_audit.records:' + tenantId}, 0))`;
  const [last] = await tx`select number, encode(record_hash, 'hex') as hash from oms_audit.retention_records where tenant_id = ${tenantId} order by number desc limit 1`;
  const events = await eventsRoot(tx, tenantId, fields.seq_ranges);
  const expected = rangesCount(fields.seq_ranges);
  if (events.count !== expected) throw new Error(`the ledger holds ${events.count} of the ${expected} seqs to record for ${what}`);
  const body: RecordBody = {
    version: RECORD_VERSION,
    kind: fields.kind,
    basis: fields.basis,
    tenant_id: tenantId,
    number: Number(last?.number ?? 0) + 1,
    prev_hash: (last?.hash as string | undefined) ?? GENESIS_HASH,
    issued_at: nowTimestamp().iso,
    key_id: key.keyId,
    month: fields.month,
    part: fields.part,
    seq_ranges: fields.seq_ranges,
    count: expected,
    events_root: events.root,
    archive: fields.archive,
    policy: fields.policy,
    ...(fields.erasure ? { erasure: fields.erasure } : {}),
  };
  const bytes = recordBytes(body);
  const record: SignedRecord = { ...body, hash: createHash('sha256').update(bytes).digest('hex'), signature: key.sign(bytes) };
  await tx`
    insert into oms_audit.retention_records (tenant_id, number, kind, month, part, body, record_hash, signature, issued_at)
    values (${record.tenant_id}, ${record.number}, ${record.kind}, ${record.month === null ? null : `${record.month}-01`}::date, ${record.part}, ${bytes.toString('utf8')},
      decode(${record.hash}, 'hex'), decode(${record.signature}, 'base64'), ${record.issued_at}::timestamptz)`;
  return record;
}
