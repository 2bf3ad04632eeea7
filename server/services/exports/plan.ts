/**
 * Which months an export reads from where, in export order. Months whose
 * partition was dropped are read from their archive files (DuckDB over
 * Parquet, restored months included: the archive is what was verified);
 * everything else from PostgreSQL, in as few COPY statements as possible: one
 * per run of hot months between archived ones. An archived month that also
 * has rows in PostgreSQL (events that arrived after it was archived, waiting
 * for their own part) is read from both, merged by DuckDB.
 *
 * Months are disjoint ranges of occurred_at, so segments in month order give
 * the export's order (occurred_at, seq) without a global sort.
 */
import { and, occurredAtBounds, type FilterExpr } from '@/supabase/functions/_shared/filter-tree.ts';
import type { SortOrder } from '@/supabase/functions/_shared/filters.ts';
import type { TxSql } from '@/supabase/functions/_shared/db.ts';
import { archivedParts, type ArchivedPartRef } from '../archived-events.ts';
import { nextMonth } from '../retention/context.ts';

export type Segment =
  | { kind: 'hot'; from: string | null; to: string | null }
  | { kind: 'archived'; month: string; from: string; to: string; parts: ArchivedPartRef[]; hotRows: boolean };

export interface ExpiredMonth {
  month: string;
  parts: number[];
  row_count: number;
}

export interface ExportPlan {
  segments: Segment[];
  /** Archived parts read, by month (YYYY-MM). */
  archived: Map<string, ArchivedPartRef[]>;
  /** Months in range whose archives ended their retention: their events are not in the export. */
  expired: ExpiredMonth[];
}

const monthStart = (month: string) => `${month.slice(0, 7)}-01T00:00:00.000000Z`;

export async function planExport(tx: TxSql, tenantId: string, expr: FilterExpr, order: SortOrder): Promise<ExportPlan> {
  const bounds = occurredAtBounds(expr);
  const parts = await archivedParts(tx, { from: bounds.from ?? undefined, to: bounds.to ?? undefined });
  const archived = new Map<string, ArchivedPartRef[]>();
  for (const p of parts) archived.set(p.month.slice(0, 7), [...(archived.get(p.month.slice(0, 7)) ?? []), p]);

  const segments: Segment[] = [];
  let cursor: string | null = bounds.from;
  for (const [month, monthParts] of [...archived].sort(([a], [b]) => a.localeCompare(b))) {
    const from = monthStart(month);
    const to = monthStart(nextMonth(`${month}-01`));
    if (cursor === null || cursor < from) segments.push({ kind: 'hot', from: cursor, to: from });
    const [row] = await tx`select exists (select 1 from public.audit_events where tenant_id = ${tenantId} and occurred_at >= ${from}::timestamptz and occurred_at < ${to}::timestamptz) as hot`;
    segments.push({ kind: 'archived', month, from, to, parts: monthParts, hotRows: row!.hot as boolean });
    cursor = to;
  }
  if (cursor === null || bounds.to === null || cursor < bounds.to) segments.push({ kind: 'hot', from: cursor, to: bounds.to });

  const expiredRows = await tx`
    select to_char(month, 'YYYY-MM') as month, part, row_count from oms_audit.tenant_expired_parts(${bounds.from}::timestamptz, ${bounds.to}::timestamptz)`;
  const expired = new Map<string, ExpiredMonth>();
  for (const r of expiredRows) {
    const m = expired.get(r.month as string) ?? { month: r.month as string, parts: [], row_count: 0 };
    m.parts.push(Number(r.part));
    m.row_count += Number(r.row_count ?? 0);
    expired.set(m.month, m);
  }
  return { segments: order === 'desc' ? segments.reverse() : segments, archived, expired: [...expired.values()] };
}

/** The segment's rows of `expr`: the filter and the segment's time range. */
export function segmentExpr(expr: FilterExpr, segment: { from: string | null; to: string | null }): FilterExpr {
  const range = { op: 'range' as const, field: 'occurred_at' as const, ...(segment.from ? { gte: segment.from } : {}), ...(segment.to ? { lt: segment.to } : {}) };
  return segment.from || segment.to ? and(expr, range) : expr;
}
