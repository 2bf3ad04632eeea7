/**
 * Where every event of a tenant is, month by month: hot in PostgreSQL, in a
 * verified archive, restored, or expired, checked against the ledger (which
 * keeps one row per event forever), so a missing event shows as
 * `events_unaccounted` and a gap in seq as `seq_gaps`. Both must be 0.
 */
import type { AnySql } from '@/supabase/functions/_shared/db.ts';
import { nextMonth } from './context.ts';
import { partsOf, type ArchivePart } from './parts.ts';
import { getPolicy, holdsOverlapping, listHolds, type LegalHold, type RetentionPolicy } from './policy.ts';

export type MonthState = 'hot' | 'archived' | 'verified' | 'restored' | 'expired';

export interface MonthStatus {
  /** YYYY-MM */
  month: string;
  /**
   * hot: only in PostgreSQL; archived: archive written, rows still in PostgreSQL (or its verification failed);
   * verified: archive verified and the month removed from PostgreSQL; restored: verified and loaded back for an
   * investigation; expired: deleted after the retention period.
   */
  state: MonthState;
  events_ledger: number;
  events_hot: number;
  events_archived: number;
  events_restored: number;
  events_expired: number;
  /** Ledger events found nowhere: must be 0. */
  events_unaccounted: number;
  parts: { part: number; state: string; rows: number | null; sha256: string | null; bytes: number | null; storage_url: string; key: string; verified_at: string | null; problem: string | null }[];
  verified_at: string | null;
  retain_until: string | null;
  holds: string[];
}

export interface TenantCompliance {
  tenant_id: string;
  tenant_name: string;
  policy: RetentionPolicy;
  seq: { first: number | null; last: number | null; events: number; gaps: number };
  holds: LegalHold[];
  months: MonthStatus[];
}

export interface ComplianceReport {
  generated_at: string;
  tenants: TenantCompliance[];
}

const label = (month: string) => month.slice(0, 7);

export async function tenantMonths(sql: AnySql, tenantId: string, holds: LegalHold[]): Promise<MonthStatus[]> {
  const ledger = await sql`
    select to_char(date_trunc('month', occurred_at at time zone 'UTC'), 'YYYY-MM') as month, count(*)::bigint as n
    from public.audit_ledger where tenant_id = ${tenantId} group by 1`;
  const hot = await sql`
    select to_char(date_trunc('month', occurred_at at time zone 'UTC'), 'YYYY-MM') as month, count(*)::bigint as n
    from public.audit_events where tenant_id = ${tenantId} group by 1`;
  const restored = await sql`
    select to_char(month, 'YYYY-MM') as month, row_count from oms_audit.restores where tenant_id = ${tenantId} and released_at is null`;
  const parts = await partsOf(sql, { tenantId });
  const months = new Set<string>([...ledger.map((r) => r.month as string), ...parts.map((p) => label(p.month))]);
  const get = (rows: readonly Record<string, unknown>[], month: string, field = 'n') => Number(rows.find((r) => r.month === month)?.[field] ?? 0);

  return [...months].sort().map((month) => {
    const mine = parts.filter((p) => label(p.month) === month);
    const sum = (states: string[]) => mine.filter((p) => states.includes(p.state)).reduce((n, p) => n + (p.row_count ?? 0), 0);
    const events_ledger = get(ledger, month);
    const events_hot = get(hot, month);
    const events_archived = sum(['dropped']);
    const events_expired = mine.filter((p) => (p.state === 'expired' || p.state === 'expiring') && p.dropped_at).reduce((n, p) => n + (p.row_count ?? 0), 0);
    const events_restored = get(restored, month, 'row_count');
    const open = mine.some((p) => ['writing', 'written', 'verified'].includes(p.state) || (p.state === 'failed' && !p.problem?.startsWith('superseded')));
    const state: MonthState =
      events_restored > 0 ? 'restored'
      : events_hot > 0 ? (open ? 'archived' : 'hot')
      : events_archived > 0 ? 'verified'
      : events_expired > 0 ? 'expired'
      : 'hot';
    const first = `${month}-01`;
    const verified = mine.filter((p) => p.verified_at).map((p) => p.verified_at!).sort();
    return {
      month,
      state,
      events_ledger,
      events_hot,
      events_archived,
      events_restored,
      events_expired,
      events_unaccounted: events_ledger - events_hot - events_archived - events_expired,
      parts: mine.map((p: ArchivePart) => ({ part: p.part, state: p.state, rows: p.row_count, sha256: p.data_sha256, bytes: p.data_bytes, storage_url: p.storage_url, key: p.data_key, verified_at: p.verified_at, problem: p.problem })),
      verified_at: verified.at(-1) ?? null,
      retain_until: mine.map((p) => p.retain_until).filter(Boolean).sort().at(-1) ?? null,
      holds: holdsOverlapping(holds, `${first}T00:00:00.000000Z`, `${nextMonth(first)}T00:00:00.000000Z`).map((h) => h.id),
    };
  });
}

export async function tenantCompliance(sql: AnySql, tenantId: string, minTotalYears: number): Promise<TenantCompliance> {
  const [tenant] = await sql`select id, name from oms_audit.tenants where id = ${tenantId}`;
  const [seq] = await sql`
    select min(l.seq) as first, max(l.seq) as last, count(*)::bigint as n, s.last_seq
    from oms_audit.tenant_sequences s left join public.audit_ledger l on l.tenant_id = s.tenant_id
    where s.tenant_id = ${tenantId} group by s.last_seq`;
  const holds = await listHolds(sql, tenantId, { includeReleased: true });
  const last = Number(seq?.last_seq ?? 0);
  const events = Number(seq?.n ?? 0);
  return {
    tenant_id: tenantId,
    tenant_name: (tenant?.name as string) ?? '',
    policy: await getPolicy(sql, tenantId, minTotalYears),
    seq: { first: (seq?.first as number) ?? null, last: last || null, events, gaps: last - events },
    holds,
    months: await tenantMonths(sql, tenantId, holds),
  };
}

export async function complianceReport(sql: AnySql, options: { tenantId?: string; minTotalYears: number }): Promise<ComplianceReport> {
  const ids = options.tenantId ? [options.tenantId] : (await sql`select id from oms_audit.tenants order by created_at, id`).map((r) => r.id as string);
  const tenants: TenantCompliance[] = [];
  for (const id of ids) tenants.push(await tenantCompliance(sql, id, options.minTotalYears));
  return { generated_at: new Date().toISOString(), tenants };
}

export const REPORT_CSV_COLUMNS = [
  'tenant_id', 'tenant_name', 'month', 'state', 'events_ledger', 'events_hot', 'events_archived', 'events_restored', 'events_expired',
  'events_unaccounted', 'tenant_seq_gaps', 'archive_parts', 'archive_sha256', 'verified_at', 'retain_until', 'problems', 'legal_holds',
] as const;

function csvField(value: unknown): string {
  const s = value === null || value === undefined ? '' : String(value);
  // A leading =, +, - or @ would be a formula in a spreadsheet.
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) || safe !== s ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** One line per tenant and month (RFC 4180, header row). */
export function complianceCsv(report: ComplianceReport): string {
  const lines = [REPORT_CSV_COLUMNS.join(',')];
  for (const t of report.tenants) {
    for (const m of t.months) {
      const live = m.parts.filter((p) => p.state !== 'failed' || !p.problem?.startsWith('superseded'));
      lines.push(
        [
          t.tenant_id, t.tenant_name, m.month, m.state, m.events_ledger, m.events_hot, m.events_archived, m.events_restored, m.events_expired,
          m.events_unaccounted, t.seq.gaps, live.length, live.map((p) => p.sha256 ?? '').filter(Boolean).join(' '), m.verified_at ?? '', m.retain_until ?? '',
          live.map((p) => p.problem).filter(Boolean).join('; '), m.holds.join(' '),
        ]
          .map(csvField)
          .join(','),
      );
    }
  }
  return lines.join('\r\n') + '\r\n';
}
