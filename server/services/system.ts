/** What the console's System page shows of the store: a tenant's ingest rate, and partition sizes. */
import { withTenant, type Sql, type TenantClaims } from '@/supabase/functions/_shared/db.ts';

const MINUTE = 60_000;

/**
 * The tenant's events by minute of received_at over the hour up to `now`:
 * 60 whole minutes, the current one last, minutes without events as 0.
 * Row-level security keeps it to the tenant of the claims.
 */
export async function ingestPerMinute(sql: Sql, claims: TenantClaims, now = new Date()) {
  const last = Math.floor(now.getTime() / MINUTE) * MINUTE;
  const from = new Date(last - 59 * MINUTE);
  const to = new Date(last + MINUTE);
  const rows = await withTenant(sql, claims, (tx) => tx`
    select extract(epoch from date_trunc('minute', received_at))::float8 * 1000 as minute_ms, count(*)::int as events
    from public.audit_events
    where received_at >= ${from.toISOString()}::timestamptz and received_at < ${to.toISOString()}::timestamptz
    group by 1`);
  const counts = new Map(rows.map((r) => [Number(r.minute_ms), r.events as number]));
  const minutes = Array.from({ length: 60 }, (_, i) => {
    const t = from.getTime() + i * MINUTE;
    return { minute: new Date(t).toISOString(), events: counts.get(t) ?? 0 };
  });
  return { from: from.toISOString(), to: to.toISOString(), minutes, total: minutes.reduce((a, m) => a + m.events, 0) };
}

/** Month partitions of audit_events with their size on disk (table, indexes, TOAST): all tenants together. */
export async function partitionSizes(sql: Sql) {
  const rows = await sql`
    select c.relname as name, pg_total_relation_size(c.oid)::float8 as bytes
    from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = 'public.audit_events'::regclass
    order by c.relname`;
  return rows.map((r) => {
    const name = r.name as string;
    const match = /_(\d{4})_(\d{2})$/.exec(name);
    return { name, month: match ? `${match[1]}-${match[2]}` : name, bytes: Number(r.bytes) };
  });
}
