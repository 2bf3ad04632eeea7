/**
 * Every event of a filter set, hot and archived alike, as a stream of pages of
 * event objects in (occurred_at, seq) order, for code that wants the events
 * themselves (tools, tests). It walks the same keyset pages as the query API,
 * so archived months are included without the caller knowing where each month
 * is kept. (Export files are written by COPY and DuckDB directly: export.ts.)
 */
import type { AuditEvent } from '@/supabase/functions/_shared/contract.ts';
import type { Sql, TenantClaims } from '@/supabase/functions/_shared/db.ts';
import type { EventFilters, SortOrder } from '@/supabase/functions/_shared/filters.ts';
import { LIMITS } from '@/supabase/functions/_shared/limits.ts';
import { listEvents } from './query.ts';

export async function* streamEvents(
  sql: Sql,
  claims: TenantClaims,
  filters: EventFilters,
  options: { order?: SortOrder; pageSize?: number } = {},
): AsyncGenerator<(AuditEvent & { archived?: boolean })[]> {
  let cursor: string | undefined;
  for (;;) {
    const page = await listEvents(sql, claims, { ...filters, order: options.order ?? 'asc', limit: options.pageSize ?? LIMITS.maxPageSize, cursor }, 'stream');
    if (page.events.length) yield page.events;
    if (!page.next_cursor) return;
    cursor = page.next_cursor;
  }
}
