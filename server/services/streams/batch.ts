/**
 * Builds a stream's next batch: which sealed events it holds (a contiguous
 * seq range, cut at a checkpoint boundary when one falls inside, and bounded
 * in events and bytes), the events as the API returns them, the signed
 * checkpoints covering them, audit paths for events whose checkpoint the batch
 * does not hold whole, and the operator's signature over what the batch is.
 * Only events under a signed checkpoint are ever sent. Events are read through
 * the tenant's row-level security, from PostgreSQL or, for archived months,
 * from their archive.
 */
import { canonicalJson } from '@/supabase/functions/_shared/canonical-json.ts';
import type { SignedCheckpoint } from '@/supabase/functions/_shared/checkpoint.ts';
import { EVENT_FIELDS } from '@/supabase/functions/_shared/contract.ts';
import { withTenant, type Sql, type TxSql } from '@/supabase/functions/_shared/db.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { inclusionProofs, toHex } from '@/supabase/functions/_shared/merkle.ts';
import { findArchivedEvent } from '@/server/services/archived-events.ts';
import { checkpointsOverlapping, ledgerHashes } from '@/server/services/integrity/checkpoints.ts';
import type { Signer } from '@/server/services/integrity/signing-key.ts';
import { BATCH_TYPE, BATCH_VERSION, batchId, statementOf, STREAM_FORMATS, type BatchStatement, type EventProof, type StreamBatch, type StreamEvent, type StreamFormatName } from '@/verifier/stream-format.ts';

export interface BatchStream {
  id: string;
  tenant_id: string;
  format: StreamFormatName;
  start_seq: number;
  batch_size: number;
}

/** The last seq under a signed checkpoint (0: nothing sealed yet). */
export async function sealedThrough(sql: Sql, tenantId: string): Promise<number> {
  const [row] = await sql`select coalesce(max(seq_to), 0)::bigint as seq from oms_audit.checkpoints where tenant_id = ${tenantId}`;
  return Number(row!.seq);
}

/**
 * The seq range of the next batch after `delivered`, or null when everything
 * sealed is delivered. Ends at a checkpoint boundary when one falls inside the
 * range, so that batches hold whole checkpoints and need no audit paths.
 */
export async function planRange(sql: Sql, stream: BatchStream, delivered: number, sealed: number): Promise<{ from: number; to: number } | null> {
  const from = delivered + 1;
  if (from > sealed) return null;
  let to = Math.min(sealed, from + Math.min(stream.batch_size, STREAM_FORMATS[stream.format].maxEvents) - 1);
  const covering = await checkpointsOverlapping(sql, stream.tenant_id, from, to);
  const boundaries = covering.map((c) => c.seq_to).filter((end) => end >= from && end <= to);
  if (boundaries.length && !boundaries.includes(to)) to = Math.max(...boundaries);
  return { from, to };
}

/**
 * The stored events of seq from..to in seq order: a range of the ledger's primary key gives each seq's
 * partition key, and each event is then one primary-key lookup in its month's partition.
 */
export function batchEventsQuery(tx: TxSql, tenantId: string, from: number, to: number) {
  // LATERAL … LIMIT 1 keeps the lookup per ledger row (a nested loop with run-time partition pruning):
  // a plain join may be planned as a hash join over all the tenant's events of a month.
  return tx`
    select ${tx.unsafe(EVENT_FIELDS.map((f) => `e.${f}`).join(', '))}
    from public.audit_ledger l
    cross join lateral (
      select * from public.audit_events x
      where x.tenant_id = l.tenant_id and x.occurred_at = l.occurred_at and x.seq = l.seq
      limit 1
    ) e
    where l.tenant_id = ${tenantId} and l.seq between ${from} and ${to}
    order by l.seq`;
}

/** The events of seq from..to, in seq order, every field as stored; archived months are read from their archive. */
async function readEvents(sql: Sql, tenantId: string, from: number, to: number): Promise<StreamEvent[]> {
  const claims = { tenant_id: tenantId, sub: 'oms-audit-stream', role: 'authenticated' as const };
  return withTenant(sql, claims, async (tx) => {
    const rows = (await batchEventsQuery(tx, tenantId, from, to)) as unknown as StreamEvent[];
    if (rows.length === to - from + 1) return rows;
    const found = new Map(rows.map((r) => [r.seq, r]));
    const ledger = await tx`select seq, occurred_at from public.audit_ledger where tenant_id = ${tenantId} and seq between ${from} and ${to} order by seq`;
    const out: StreamEvent[] = [];
    for (let seq = from; seq <= to; seq++) {
      let event = found.get(seq);
      if (!event) {
        const position = ledger.find((l) => Number(l.seq) === seq);
        const archived = position ? await findArchivedEvent(tx, tenantId, { occurred_at: position.occurred_at as string, seq }) : null;
        if (!archived) throw new AuditError('internal', `seq ${seq} of tenant ${tenantId} is neither in PostgreSQL nor in an archive (run oms-audit verify)`);
        const { archived: _mark, ...stored } = archived;
        event = stored as unknown as StreamEvent;
      }
      out.push(event);
    }
    return out;
  });
}

/** Ordered as the API returns events (canonical field order). */
const ordered = (e: StreamEvent): StreamEvent => Object.fromEntries(EVENT_FIELDS.map((f) => [f, e[f] ?? null])) as StreamEvent;

/** Leaf hashes of recently used checkpoints: consecutive batches of one large checkpoint read its leaves once. */
export type LeafCache = Map<number, Uint8Array[]>;

async function leavesOf(sql: Sql, c: SignedCheckpoint, cache: LeafCache): Promise<Uint8Array[]> {
  let leaves = cache.get(c.number);
  if (!leaves) {
    leaves = (await ledgerHashes(sql, c.tenant_id, c.seq_from, c.seq_to)).map((l) => l.hash);
    if (cache.size >= 2) cache.delete(cache.keys().next().value!);
    cache.set(c.number, leaves);
  }
  return leaves;
}

/**
 * The batch of seq from..to. Unless `exact` (a retry, which must resend the
 * same range), the range is shortened where its events' JSON would pass
 * `maxBytes` (never below one event).
 */
export async function buildBatch(
  sql: Sql,
  stream: BatchStream,
  range: { from: number; to: number },
  options: { maxBytes: number; exact: boolean; signer: Signer; leafCache: LeafCache },
): Promise<StreamBatch> {
  let events = (await readEvents(sql, stream.tenant_id, range.from, range.to)).map(ordered);
  if (!options.exact) {
    let bytes = 0;
    const fits = events.findIndex((e, i) => (bytes += JSON.stringify(e).length) > options.maxBytes && i > 0);
    if (fits > 0) events = events.slice(0, fits);
  }
  const seqFrom = range.from;
  const seqTo = range.from + events.length - 1;
  const checkpoints = await checkpointsOverlapping(sql, stream.tenant_id, seqFrom, seqTo);
  if (!checkpoints.length || checkpoints[0]!.seq_from > seqFrom || checkpoints[checkpoints.length - 1]!.seq_to < seqTo) {
    throw new AuditError('internal', `seq ${seqFrom}–${seqTo} of tenant ${stream.tenant_id} is not all under signed checkpoints`);
  }
  const proofs: EventProof[] = [];
  for (const c of checkpoints) {
    if (c.seq_from >= seqFrom && c.seq_to <= seqTo) continue;
    const first = Math.max(c.seq_from, seqFrom);
    const last = Math.min(c.seq_to, seqTo);
    const indices = Array.from({ length: last - first + 1 }, (_, i) => first + i - c.seq_from);
    const paths = inclusionProofs(await leavesOf(sql, c, options.leafCache), indices);
    for (const index of indices) proofs.push({ seq: c.seq_from + index, checkpoint: c.number, leaf_index: index, audit_path: paths.get(index)!.map(toHex) });
  }
  const statement: BatchStatement = {
    type: BATCH_TYPE,
    version: BATCH_VERSION,
    stream_id: stream.id,
    tenant_id: stream.tenant_id,
    batch_id: batchId(stream.id, seqFrom, seqTo),
    start_seq: stream.start_seq,
    seq_from: seqFrom,
    seq_to: seqTo,
    event_count: events.length,
    key_id: options.signer.keyId,
  };
  const signature = options.signer.sign(Buffer.from(canonicalJson(statementOf(statement))));
  return { header: { ...statement, signature, public_key: options.signer.publicKeyPem, checkpoints, proofs }, events };
}
