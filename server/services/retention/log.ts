/**
 * What retention does is recorded twice: in oms_audit.retention_log, in the
 * same transaction as the change itself, and in the tenant's own audit trail,
 * through the normal write path, with the log row's id as the event id. If the
 * process dies between the two, the next flush writes the missing events; an
 * event written twice is a duplicate and stored once.
 */
import { randomUUID } from 'node:crypto';
import { parseBatch, type AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import type { AnySql, Sql } from '@/supabase/functions/_shared/db.ts';
import { appendEvents } from '@/supabase/functions/_shared/ingest.ts';
// Registers the sealer of personal data with the write path.
import '@/server/services/personal/seal.ts';
import { LIMITS } from '@/supabase/functions/_shared/limits.ts';
import { personSql, userIdOfPrincipal } from '../people.ts';

export type RetentionAction =
  | 'policy_change'
  | 'hold_place'
  | 'hold_release'
  | 'archive'
  | 'verify_failed'
  | 'partition_drop'
  | 'expire'
  | 'restore'
  | 'restore_release';

const EVENT_OF: Record<RetentionAction, { object_type: string; event_type: string; outcome?: 'failure' }> = {
  policy_change: { object_type: 'RETENTION_POLICY', event_type: 'UPDATE' },
  hold_place: { object_type: 'LEGAL_HOLD', event_type: 'CREATE' },
  hold_release: { object_type: 'LEGAL_HOLD', event_type: 'RELEASE' },
  archive: { object_type: 'ARCHIVE', event_type: 'ARCHIVE' },
  verify_failed: { object_type: 'ARCHIVE', event_type: 'VERIFY', outcome: 'failure' },
  partition_drop: { object_type: 'ARCHIVE', event_type: 'PARTITION_DROP' },
  expire: { object_type: 'ARCHIVE', event_type: 'EXPIRE' },
  restore: { object_type: 'ARCHIVE', event_type: 'RESTORE' },
  restore_release: { object_type: 'ARCHIVE', event_type: 'RESTORE_RELEASE' },
};

export interface LogEntry {
  tenantId: string | null;
  action: RetentionAction;
  /** YYYY-MM-01 for month operations. */
  month?: string | null;
  /** The object the event is about (a hold id, the tenant id); default: the month. */
  objectId?: string;
  actor: string;
  detail: Record<string, unknown>;
}

/** Records an entry inside the caller's transaction; returns its id (the audit event's id). */
export async function recordRetention(tx: AnySql, entry: LogEntry): Promise<string> {
  const id = randomUUID();
  const detail = { ...entry.detail, ...(entry.objectId ? { object_id: entry.objectId } : {}) };
  await tx`
    insert into oms_audit.retention_log (id, tenant_id, action, month, actor, detail)
    values (${id}, ${entry.tenantId}, ${entry.action}, ${entry.month ?? null}, ${entry.actor}, ${tx.json(detail as never)})`;
  return id;
}

interface LogRow {
  id: string;
  tenant_id: string;
  at: string;
  action: RetentionAction;
  month: string | null;
  actor: string;
  /** The actor's email when the actor is a console user, else the actor. */
  actor_name: string;
  detail: Record<string, unknown>;
}

function eventOf(row: LogRow): AuditEventRequest {
  const kind = EVENT_OF[row.action];
  const { object_id: objectId, ...context } = row.detail;
  // A person acting in the console is named by email, as in the console's own events, with their id in the context.
  const userId = userIdOfPrincipal(row.actor);
  if (userId) context.user_id = userId;
  return {
    id: row.id,
    occurred_at: row.at,
    actor_type: row.actor.startsWith('user:') ? 'USER' : 'SERVICE',
    actor_id: row.actor_name,
    object_type: kind.object_type,
    object_id: typeof objectId === 'string' ? objectId : row.month ? row.month.slice(0, 7) : row.tenant_id,
    event_type: kind.event_type,
    outcome: kind.outcome ?? 'success',
    source: 'oms-audit-retention',
    context: { ...context, ...(row.month ? { month: row.month.slice(0, 7) } : {}) },
  };
}

/** Writes every logged retention action not yet in its tenant's trail (of one tenant, or all). */
export async function flushRetentionEvents(sql: Sql, tenantId?: string): Promise<number> {
  const rows = (await sql`
    select r.id, r.tenant_id, r.at, r.action, r.month::text as month, r.actor, ${sql.unsafe(personSql('r.actor'))} as actor_name, r.detail
    from oms_audit.retention_log r
    where r.tenant_id is not null ${tenantId ? sql`and r.tenant_id = ${tenantId}` : sql``}
      and not exists (select 1 from public.audit_ledger l where l.tenant_id = r.tenant_id and l.id = r.id)
    order by r.at, r.id`) as unknown as LogRow[];
  const byTenant = new Map<string, LogRow[]>();
  for (const row of rows) byTenant.set(row.tenant_id, [...(byTenant.get(row.tenant_id) ?? []), row]);
  let written = 0;
  for (const [tenant, entries] of byTenant) {
    for (let i = 0; i < entries.length; i += LIMITS.apiBatch) {
      const batch = parseBatch({ events: entries.slice(i, i + LIMITS.apiBatch).map(eventOf) }, LIMITS.apiBatch);
      const result = await appendEvents(sql, { tenantId: tenant, writer: { kind: 'operator', name: 'retention' } }, batch, { ip: null, userAgent: null }, 'cli');
      written += result.created_count;
    }
  }
  return written;
}
