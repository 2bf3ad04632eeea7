/**
 * How many events match a filter set, hot and archived months alike: exact up
 * to COUNT_CAP (counting stops there, so the cost is bounded whatever the
 * trail's size), otherwise "more than COUNT_CAP". Archived months are counted
 * in their Parquet files (restored ones in PostgreSQL), listed in the same
 * transaction after the hot count, so each event is counted once.
 */
import type { Sql, TenantClaims } from '@/supabase/functions/_shared/db.ts';
import type { EventFilters } from '@/supabase/functions/_shared/filters.ts';
import { inSearchSnapshot, whereClause } from './query.ts';
import { archivedCount, archivedParts } from './archived-events.ts';
import { withRelatedKeys } from './related-keys.ts';

export const COUNT_CAP = 100_000;

export interface EventCount {
  /** Exact when `exact`; otherwise a lower bound (COUNT_CAP). */
  count: number;
  exact: boolean;
}

export async function countMatching(sql: Sql, claims: TenantClaims, requested: EventFilters, cap = COUNT_CAP): Promise<EventCount> {
  return inSearchSnapshot(sql, claims, requested, async (tx, sealed) => {
    const filters = await withRelatedKeys(tx, sealed);
    const [row] = await tx`
      select count(*)::int as n from (
        select 1 from public.audit_events where ${whereClause(tx, claims.tenant_id, filters)} limit ${cap + 1}
      ) as capped`;
    const hot = row!.n as number;
    const n = hot > cap ? hot : hot + (await archivedCount(tx, await archivedParts(tx, filters), claims.tenant_id, filters, cap - hot));
    return n > cap ? { count: cap, exact: false } : { count: n, exact: true };
  });
}
