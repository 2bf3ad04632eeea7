/**
 * Events as the write path stored them under schema version 1 (before events
 * recorded their writer): no written_by, hashed in the version 1 form. Tests
 * use them to prove that a trail written over several versions verifies.
 */
import { parseBatch, type AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { eventHash } from '@/supabase/functions/_shared/event-hash.ts';
import { stampEvents } from '@/supabase/functions/_shared/ingest.ts';
import { monthOf } from '@/supabase/functions/_shared/timestamps.ts';

export async function writeVersion1Events(sql: Sql, tenantId: string, events: AuditEventRequest[], observed = { ip: '::ffff:10.0.0.9', userAgent: 'legacy-client/1' }): Promise<string[]> {
  const { rows } = stampEvents(tenantId, parseBatch({ events }, events.length), observed, { kind: 'operator', name: 'test' });
  const legacy = rows.map(({ contextJson, hash: _hash, written_by: _writtenBy, ...row }) => {
    const v1 = { ...row, schema_version: 1, written_by: null };
    return { ...v1, context: contextJson, hash: eventHash(v1, contextJson) };
  });
  // Asked of this database every time: the write path's per-process cache of known months may describe another one.
  for (const month of new Set(legacy.map((r) => monthOf(r.occurred_at)))) await sql`select oms_audit.ensure_month_partition(${month}::date)`;
  await sql.begin(async (tx) => {
    await tx`select set_config('request.jwt.claims', ${JSON.stringify({ tenant_id: tenantId })}, true)`;
    const [{ last }] = (await tx`select oms_audit.lock_tenant_sequence()::bigint as last`) as unknown as [{ last: number }];
    for (const [i, r] of legacy.entries()) {
      const seq = last + 1 + i;
      await tx`insert into public.audit_ledger (tenant_id, seq, id, occurred_at, event_hash) values (${tenantId}, ${seq}, ${r.id}, ${r.occurred_at}, decode(${r.hash}, 'hex'))`;
      await tx`
        insert into public.audit_events (id, tenant_id, seq, occurred_at, received_at, schema_version, actor_type, actor_id, object_type, object_id,
          event_type, outcome, source, request_id, ip_address, user_agent, device_fingerprint, observed_ip, observed_user_agent, context)
        values (${r.id}, ${tenantId}, ${seq}, ${r.occurred_at}, ${r.received_at}, 1, ${r.actor_type}, ${r.actor_id}, ${r.object_type}, ${r.object_id},
          ${r.event_type}, ${r.outcome}, ${r.source}, ${r.request_id}, ${r.ip_address}, ${r.user_agent}, ${r.device_fingerprint}, ${r.observed_ip},
          ${r.observed_user_agent}, ${r.context}::text::jsonb)`;
    }
  });
  return legacy.map((r) => r.id);
}
