/**
 * Sealing: closes checkpoints over everything a tenant has committed. Runs in
 * the server every few seconds, from `oms-audit seal`, or from cron; several at
 * once are safe (a per-tenant advisory lock), and sealing never changes events.
 */
import { CHECKPOINT_VERSION, checkpointBytes, checkpointHash, GENESIS_HASH, type CheckpointBody, type SignedCheckpoint } from '@/supabase/functions/_shared/checkpoint.ts';
import type { Sql, TxSql } from '@/supabase/functions/_shared/db.ts';
import { merkleRoot, toHex } from '@/supabase/functions/_shared/merkle.ts';
import { nowTimestamp } from '@/supabase/functions/_shared/timestamps.ts';
import type { Signer } from './signing-key.ts';

/** Most events under one checkpoint: proofs stay at most 16 hashes long and cheap to build. */
export const MAX_CHECKPOINT_EVENTS = 65_536;

const CHECKPOINT_COLUMNS = `tenant_id, number, seq_from, seq_to, event_count as count, encode(merkle_root, 'hex') as merkle_root,
  encode(prev_hash, 'hex') as prev_hash, sealed_at, key_id, encode(checkpoint_hash, 'hex') as hash,
  encode(signature, 'base64') as signature`;

export function toSignedCheckpoint(row: Record<string, unknown>): SignedCheckpoint {
  return {
    version: CHECKPOINT_VERSION,
    tenant_id: row.tenant_id as string,
    number: Number(row.number),
    seq_from: Number(row.seq_from),
    seq_to: Number(row.seq_to),
    count: Number(row.count),
    merkle_root: row.merkle_root as string,
    prev_hash: row.prev_hash as string,
    sealed_at: row.sealed_at as string,
    key_id: row.key_id as string,
    hash: row.hash as string,
    signature: (row.signature as string).replace(/\n/g, ''),
  };
}

export async function listCheckpoints(sql: Sql | TxSql, tenantId: string, range: { fromNumber?: number; toNumber?: number } = {}): Promise<SignedCheckpoint[]> {
  const rows = await sql`
    select ${sql.unsafe(CHECKPOINT_COLUMNS)} from oms_audit.checkpoints
    where tenant_id = ${tenantId}
      and number >= ${range.fromNumber ?? 1} and number <= ${range.toNumber ?? Number.MAX_SAFE_INTEGER}
    order by number`;
  return rows.map(toSignedCheckpoint);
}

/** The checkpoint covering `seq`, if sealed. */
export async function checkpointCovering(sql: Sql | TxSql, tenantId: string, seq: number): Promise<SignedCheckpoint | null> {
  const [row] = await sql`
    select ${sql.unsafe(CHECKPOINT_COLUMNS)} from oms_audit.checkpoints
    where tenant_id = ${tenantId} and seq_to >= ${seq} order by seq_to limit 1`;
  return row && Number(row.seq_from) <= seq ? toSignedCheckpoint(row) : null;
}

/** Checkpoints whose seq ranges overlap from..to, in order. */
export async function checkpointsOverlapping(sql: Sql | TxSql, tenantId: string, from: number, to: number): Promise<SignedCheckpoint[]> {
  const rows = await sql`
    select ${sql.unsafe(CHECKPOINT_COLUMNS)} from oms_audit.checkpoints
    where tenant_id = ${tenantId} and seq_to >= ${from} and seq_from <= ${to}
    order by number`;
  return rows.map(toSignedCheckpoint);
}

export async function latestCheckpoint(sql: Sql | TxSql, tenantId: string): Promise<SignedCheckpoint | null> {
  const [row] = await sql`
    select ${sql.unsafe(CHECKPOINT_COLUMNS)} from oms_audit.checkpoints
    where tenant_id = ${tenantId} order by number desc limit 1`;
  return row ? toSignedCheckpoint(row) : null;
}

/** Event hashes of seq from..to, in seq order, from the ledger. */
export async function ledgerHashes(sql: Sql | TxSql, tenantId: string, from: number, to: number): Promise<{ seq: number; hash: Uint8Array }[]> {
  const rows = await sql`
    select seq, event_hash from public.audit_ledger
    where tenant_id = ${tenantId} and seq between ${from} and ${to} order by seq`;
  return rows.map((r) => ({ seq: r.seq as number, hash: new Uint8Array(r.event_hash as Buffer) }));
}

/**
 * Seals one checkpoint over the tenant's next unsealed events (at most
 * MAX_CHECKPOINT_EVENTS). Returns null when there is nothing to seal.
 */
async function sealNext(sql: Sql, tenantId: string, key: Signer, maxEvents: number): Promise<SignedCheckpoint | null> {
  return sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtextextended(${'oms_audit.seal:' + tenantId}, 0))`;
    const last = await latestCheckpoint(tx, tenantId);
    const from = (last?.seq_to ?? 0) + 1;
    const rows = await ledgerHashes(tx, tenantId, from, from + maxEvents - 1);
    if (!rows.length) return null;
    // The ledger must continue where the last checkpoint ended, without gaps; otherwise
    // something removed events, and sealing over the hole would hide it.
    rows.forEach((r, i) => {
      if (r.seq !== from + i) throw new Error(`tenant ${tenantId}: the ledger has a gap before seq ${r.seq}; not sealing (run oms-audit verify)`);
    });
    const body: CheckpointBody = {
      version: CHECKPOINT_VERSION,
      tenant_id: tenantId,
      number: (last?.number ?? 0) + 1,
      seq_from: from,
      seq_to: from + rows.length - 1,
      count: rows.length,
      merkle_root: toHex(merkleRoot(rows.map((r) => r.hash))),
      prev_hash: last?.hash ?? GENESIS_HASH,
      sealed_at: nowTimestamp().iso,
      key_id: key.keyId,
    };
    const signed: SignedCheckpoint = { ...body, hash: checkpointHash(body), signature: key.sign(checkpointBytes(body)) };
    await tx`
      insert into oms_audit.checkpoints
        (tenant_id, number, seq_from, seq_to, event_count, merkle_root, prev_hash, sealed_at, key_id, checkpoint_hash, signature)
      values (${tenantId}, ${signed.number}, ${signed.seq_from}, ${signed.seq_to}, ${signed.count},
        decode(${signed.merkle_root}, 'hex'), decode(${signed.prev_hash}, 'hex'), ${signed.sealed_at}::timestamptz,
        ${signed.key_id}, decode(${signed.hash}, 'hex'), decode(${signed.signature}, 'base64'))`;
    return signed;
  });
}

/** Seals everything the tenant has committed so far. */
export async function sealTenant(sql: Sql, tenantId: string, key: Signer, options: { maxEvents?: number } = {}): Promise<SignedCheckpoint[]> {
  const sealed: SignedCheckpoint[] = [];
  for (;;) {
    const next = await sealNext(sql, tenantId, key, options.maxEvents ?? MAX_CHECKPOINT_EVENTS);
    if (!next) return sealed;
    sealed.push(next);
  }
}

/** Tenants with committed events that no checkpoint covers yet. */
export async function tenantsToSeal(sql: Sql): Promise<string[]> {
  const rows = await sql`
    select s.tenant_id
    from oms_audit.tenant_sequences s
    left join lateral (
      select c.seq_to from oms_audit.checkpoints c where c.tenant_id = s.tenant_id order by c.number desc limit 1
    ) c on true
    where s.last_seq > coalesce(c.seq_to, 0)`;
  return rows.map((r) => r.tenant_id as string);
}

export interface SealSummary {
  tenants: number;
  checkpoints: SignedCheckpoint[];
  failures: { tenant_id: string; error: string }[];
}

/** Seals every tenant that needs it; one tenant's failure does not stop the others. */
export async function sealAll(sql: Sql, key: Signer, tenantIds?: string[]): Promise<SealSummary> {
  const tenants = tenantIds ?? (await tenantsToSeal(sql));
  const summary: SealSummary = { tenants: tenants.length, checkpoints: [], failures: [] };
  for (const tenantId of tenants) {
    try {
      summary.checkpoints.push(...(await sealTenant(sql, tenantId, key)));
    } catch (err) {
      summary.failures.push({ tenant_id: tenantId, error: (err as Error).message });
    }
  }
  return summary;
}

/** Oldest committed event not yet under a checkpoint: how far sealing lags. */
export async function sealLagSeconds(sql: Sql): Promise<number> {
  const [row] = await sql`
    select coalesce(extract(epoch from now() - min(l.received_at)), 0)::float8 as lag
    from (
      select s.tenant_id, coalesce(c.seq_to, 0) + 1 as next_seq
      from oms_audit.tenant_sequences s
      left join lateral (select seq_to from oms_audit.checkpoints c where c.tenant_id = s.tenant_id order by number desc limit 1) c on true
      where s.last_seq > coalesce(c.seq_to, 0)
    ) pending
    join lateral (
      select e.received_at from public.audit_ledger x
      join public.audit_events e on e.tenant_id = x.tenant_id and e.occurred_at = x.occurred_at and e.seq = x.seq
      where x.tenant_id = pending.tenant_id and x.seq = pending.next_seq
    ) l on true`;
  return Number(row?.lag ?? 0);
}
