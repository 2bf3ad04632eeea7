/**
 * The values a tenant uses for event type, object type, actor type and
 * source, for the console's pickers. Read from the tenant's latest events
 * (bounded, served by the (tenant_id, occurred_at, seq) key) and cached briefly,
 * so the cost does not grow with the size of the trail.
 */
import type { Sql, TenantClaims } from '@/supabase/functions/_shared/db.ts';
import { inTenant } from './query.ts';

export interface Facets {
  event_types: string[];
  object_types: string[];
  actor_types: string[];
  sources: string[];
}

export const FACET_SAMPLE_ROWS = 50_000;
const TTL_MS = 60_000;
const cache = new Map<string, { at: number; facets: Facets }>();

export async function tenantFacets(sql: Sql, claims: TenantClaims): Promise<Facets> {
  const hit = cache.get(claims.tenant_id);
  if (hit && Date.now() - hit.at < TTL_MS) return hit.facets;
  const facets = await inTenant(sql, claims, async (tx) => {
    const [row] = await tx`
      with recent as (
        select event_type, object_type, actor_type, source from public.audit_events
        where tenant_id = ${claims.tenant_id}
        order by occurred_at desc, seq desc
        limit ${FACET_SAMPLE_ROWS}
      )
      select
        coalesce(array_agg(distinct event_type), '{}') as event_types,
        coalesce(array_agg(distinct object_type), '{}') as object_types,
        coalesce(array_agg(distinct actor_type), '{}') as actor_types,
        coalesce(array_agg(distinct source) filter (where source is not null), '{}') as sources
      from recent`;
    return row as unknown as Facets;
  });
  if (cache.size > 1000) cache.clear();
  cache.set(claims.tenant_id, { at: Date.now(), facets });
  return facets;
}
