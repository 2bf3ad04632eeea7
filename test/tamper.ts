/**
 * Attacks with full database rights, for the tests of what detects them:
 * statements run as the database's superuser with the append-only triggers of
 * the tables they touch switched off for the transaction only (then restored
 * to exactly their mode before, ENABLE or ENABLE ALWAYS), as an owner could.
 */
import { inject } from 'vitest';
import { connect, type Sql } from '@/supabase/functions/_shared/db.ts';

const TAMPERED = ['public.audit_ledger', 'public.audit_events', 'oms_audit.checkpoints', 'oms_audit.retention_records', 'oms_audit.archive_parts', 'oms_audit.tenant_sequences'];

let superuser: Sql | undefined;
/** The test database as its superuser: the administrator's URL where the test setup provides one. */
export function superuserSql(): Sql {
  const adminUrl = (inject as unknown as (key: string) => string | undefined)('adminDatabaseUrl');
  superuser ??= connect(adminUrl ?? inject('databaseUrl'), { max: 2, applicationName: 'oms-audit-test-attacker' });
  return superuser;
}

const RESTORE: Record<string, string> = { O: 'enable trigger', A: 'enable always trigger', R: 'enable replica trigger', D: 'disable trigger' };

/** Runs statements as an attacker with every database right (`sql` must be a superuser's or owner's connection). */
export async function asSuperuser(sql: Sql, statements: string[]): Promise<void> {
  await sql.begin(async (tx) => {
    // In the write path's order (ledger before events), so concurrent writers wait rather than deadlock.
    const triggers = await tx`
      select g.tgrelid::regclass::text as rel, g.tgname, g.tgenabled
      from unnest(${TAMPERED}::text[]) with ordinality as u(name, i)
      join pg_trigger g on g.tgrelid = to_regclass(u.name) and not g.tgisinternal and g.tgparentid = 0
      order by u.i, g.tgname`;
    for (const t of triggers) await tx.unsafe(`alter table ${t.rel as string} disable trigger ${t.tgname as string}`);
    for (const s of statements) await tx.unsafe(s);
    for (const t of triggers) await tx.unsafe(`alter table ${t.rel as string} ${RESTORE[t.tgenabled as string]} ${t.tgname as string}`);
  });
}

/**
 * Cuts the newest events off a tenant's trail as someone with the database's
 * owner rights could: their checkpoints, ledger rows and events are deleted and
 * the tenant's sequence wound back, leaving a consistent-looking shorter trail.
 */
export async function cutOffTail(tenantId: string, keepThroughCheckpoint: number, sql: Sql = superuserSql()): Promise<{ keptSeq: number }> {
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
