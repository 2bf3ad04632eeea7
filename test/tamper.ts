/**
 * Attacks with full database rights, as the tests of tamper detection need
 * them: statements run as the superuser with the append-only triggers bypassed
 * (session_replication_role = replica, and the ENABLE ALWAYS triggers of the
 * named tables switched off for the transaction only).
 */
import type { Sql } from '@/supabase/functions/_shared/db.ts';

export async function asSuperuser(sql: Sql, statements: string[], alwaysTriggers: { table: string; triggers: string[] }[] = []): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    for (const t of alwaysTriggers) for (const name of t.triggers) await tx.unsafe(`alter table ${t.table} disable trigger ${name}`);
    for (const s of statements) await tx.unsafe(s);
    for (const t of alwaysTriggers) for (const name of t.triggers) await tx.unsafe(`alter table ${t.table} enable always trigger ${name}`);
  });
}

/**
 * Cuts the newest events off a tenant's trail as someone with the database's
 * owner rights could: their checkpoints, ledger rows and events are deleted and
 * the tenant's sequence wound back, leaving a consistent-looking shorter trail.
 */
export async function cutOffTail(sql: Sql, tenantId: string, keepThroughCheckpoint: number): Promise<{ keptSeq: number }> {
  const [kept] = await sql`select seq_to from oms_audit.checkpoints where tenant_id = ${tenantId} and number = ${keepThroughCheckpoint}`;
  const keptSeq = Number(kept!.seq_to);
  await asSuperuser(sql, [
    `delete from oms_audit.checkpoints where tenant_id = '${tenantId}' and number > ${keepThroughCheckpoint}`,
    `delete from public.audit_events where tenant_id = '${tenantId}' and seq > ${keptSeq}`,
    `delete from public.audit_ledger where tenant_id = '${tenantId}' and seq > ${keptSeq}`,
    `update oms_audit.tenant_sequences set last_seq = ${keptSeq} where tenant_id = '${tenantId}'`,
  ]);
  return { keptSeq };
}
