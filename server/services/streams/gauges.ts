/** Every log stream's delivery state, for the metrics scrape (all tenants, one query). */
import type { Sql } from '@/supabase/functions/_shared/db.ts';

export interface StreamGauge {
  id: string;
  tenant_id: string;
  format: string;
  state: 'active' | 'paused';
  failing_for_seconds: number | null;
  pending_events: number;
}

export async function streamGauges(sql: Sql): Promise<StreamGauge[]> {
  const rows = await sql`
    select s.id, s.tenant_id, s.format, s.state,
      extract(epoch from now() - s.failing_since)::float8 as failing_for_seconds,
      greatest(coalesce(c.sealed, 0) - s.delivered_seq, 0)::bigint as pending_events
    from oms_audit.log_streams s
    left join lateral (select max(seq_to) as sealed from oms_audit.checkpoints where tenant_id = s.tenant_id) c on true`;
  return rows.map((r) => ({ ...(r as unknown as StreamGauge), failing_for_seconds: r.failing_for_seconds === null ? null : Number(r.failing_for_seconds), pending_events: Number(r.pending_events) }));
}
