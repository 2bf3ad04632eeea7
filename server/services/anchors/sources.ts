/** What gets anchored: checkpoints and retention records, each read from its table in number order. */
import type { SignedCheckpoint } from '@/supabase/functions/_shared/checkpoint.ts';
import type { AnySql, Sql } from '@/supabase/functions/_shared/db.ts';
import type { Env } from '@/server/env.ts';
import { listCheckpoints } from '@/server/services/integrity/checkpoints.ts';
import { recordAnchorItem, listRecords } from '@/server/services/retention/records.ts';
import { anchorPending, type AnchorSource, type AnchorSummary } from './anchoring.ts';
import { checkpointAnchorItem } from './format.ts';

const only = (sql: AnySql, tenantIds?: string[]) => (tenantIds ? sql`where tenant_id = any(${tenantIds}::uuid[])` : sql``);

export const CHECKPOINT_SOURCE: AnchorSource = {
  kind: 'checkpoint',
  // The primary key (tenant_id, number) answers each tenant's newest with one index probe.
  heads: async (sql, tenantIds) =>
    (
      await sql`
        select t.id as tenant_id, c.number as head from oms_audit.tenants t
        join lateral (select number from oms_audit.checkpoints c where c.tenant_id = t.id order by number desc limit 1) c on true
        ${tenantIds ? sql`where t.id = any(${tenantIds}::uuid[])` : sql``}`
    ).map((r) => ({ tenant_id: r.tenant_id as string, head: Number(r.head) })),
  items: async (sql, tenantId, from, to) => (await listCheckpoints(sql, tenantId, { fromNumber: from, toNumber: to })).map(checkpointAnchorItem),
};

export const RETENTION_RECORD_SOURCE: AnchorSource = {
  kind: 'retention_record',
  heads: async (sql, tenantIds) =>
    (await sql`select tenant_id, max(number) as head from oms_audit.retention_records ${only(sql, tenantIds)} group by tenant_id`).map((r) => ({
      tenant_id: r.tenant_id as string,
      head: Number(r.head),
    })),
  items: async (sql, tenantId, from, to) => (await listRecords(sql, tenantId, { fromNumber: from, toNumber: to })).map(recordAnchorItem),
};

/**
 * Anchors every checkpoint and retention record not yet anchored (of the given
 * tenants, or all), and the checkpoints just sealed whatever the bookkeeping
 * says, so a tail sealed again under numbers already anchored is refused at once.
 */
export function anchorEverything(sql: Sql, env: Env, tenantIds?: string[], justSealed: SignedCheckpoint[] = [], options: { timestamps?: boolean } = {}): Promise<AnchorSummary> {
  const fresh = justSealed.map((c) => ({ kind: 'checkpoint' as const, tenant_id: c.tenant_id, number: c.number }));
  return anchorPending(sql, env, [CHECKPOINT_SOURCE, RETENTION_RECORD_SOURCE], tenantIds, fresh, options);
}
