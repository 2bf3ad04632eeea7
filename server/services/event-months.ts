/**
 * The months that can hold a filter set's events, when the filters pin one
 * object (object_type + object_id) or one actor (actor_id): read from the
 * per-tenant month maps that a trigger on audit_events keeps
 * (audit_object_months, audit_actor_months) for every month but the two open
 * ones, and for those from one index probe each. The read path then restricts
 * occurred_at to those months, so PostgreSQL prunes every other month
 * partition when it plans the query instead of probing each one's index.
 *
 * A sealed actor (schema version 3) is stored, and so mapped, as its subject's
 * reference (`pd2:<subject ref>:<key id>`), never as a plaintext: the blind
 * index (personal/search.ts) gives the references to look up.
 */
import type { TxSql } from '@/supabase/functions/_shared/db.ts';
import type { EventFilters, SealedFilters } from '@/supabase/functions/_shared/filters.ts';

/**
 * First days of UTC months, 'YYYY-MM-DD', ascending; null when the filters pin neither an object nor an actor.
 * Closed months come from the maps (and the same query names the two open months, which the maps leave
 * out, see the migration *_open_month_maps.sql); each open month is then asked with one probe of its own
 * partition's index, its bounds constants so that the plan touches that partition only.
 */
export async function monthsHolding(tx: TxSql, tenantId: string, f: EventFilters): Promise<string[] | null> {
  if (!pinsObjectOrActor(f)) return null;
  const { mapped, open } = splitMonths(await tx<MonthRow[]>`${monthMapQuery(tx, tenantId, f)}`);
  if (open.length) for (const r of await tx`${openMonthsProbe(tx, tenantId, f, open)}`) mapped.add(r.month as string);
  return [...mapped].sort();
}

type MonthRow = { month: string; open: boolean };

function pinsObjectOrActor(f: EventFilters): boolean {
  return (f.object_type !== undefined && f.object_id !== undefined) || f.actor_id !== undefined;
}

/** The months the maps list for the pinned object and/or actor, and the open months (rows with `open`). */
export function monthMapQuery(tx: TxSql, tenantId: string, f: EventFilters) {
  const object = f.object_type !== undefined && f.object_id !== undefined;
  const actor = f.actor_id !== undefined;
  return tx`
    select to_char(month, 'YYYY-MM-DD') as month, false as open from (
      ${object ? tx`select month from public.audit_object_months where tenant_id = ${tenantId} and object_type = ${f.object_type!} and object_id = ${f.object_id!}` : tx``}
      ${object && actor ? tx`intersect` : tx``}
      ${actor ? tx`select month from public.audit_actor_months where tenant_id = ${tenantId} and actor_id = any(${actorKeys(f)}::text[])` : tx``}
    ) m
    union all
    select to_char(o.month, 'YYYY-MM-DD'), true from oms_audit.open_map_months() as o(month)`;
}

/** Mapped months, and the open months the maps do not already list (those still to probe). */
export function splitMonths(rows: readonly MonthRow[]): { mapped: Set<string>; open: string[] } {
  const mapped = new Set(rows.filter((r) => !r.open).map((r) => r.month));
  return { mapped, open: rows.filter((r) => r.open && !mapped.has(r.month)).map((r) => r.month) };
}

/** Which of the `open` months hold an event of the pinned object and/or actor: one index probe per month. */
export function openMonthsProbe(tx: TxSql, tenantId: string, f: EventFilters, open: readonly string[]) {
  const object = f.object_type !== undefined && f.object_id !== undefined;
  const actor = f.actor_id !== undefined;
  const probes = open.map(
    (month) => tx`
      select ${month}::text as month where exists (
        select 1 from public.audit_events
        where tenant_id = ${tenantId}
          ${object ? tx`and object_type = ${f.object_type!} and object_id = ${f.object_id!}` : tx``}
          ${actor ? tx`and actor_id = any(${actorKeys(f)}::text[])` : tx``}
          and occurred_at >= ${`${month}T00:00:00Z`}::timestamptz and occurred_at < ${`${nextMonth(month)}T00:00:00Z`}::timestamptz)`,
  );
  return probes.reduce((all, probe) => tx`${all} union all ${probe}`);
}

/** The actor map's keys of the filtered actor: its id, and the references of its sealed events. */
function actorKeys(f: SealedFilters): string[] {
  return [f.actor_id!, ...(f.sealed_actors?.[f.actor_id!] ?? [])];
}

/** Adjacent months joined into [from, to) ranges of first days. */
export function monthRanges(months: readonly string[]): [string, string][] {
  const ranges: [string, string][] = [];
  for (const month of months) {
    const next = nextMonth(month);
    const last = ranges.at(-1);
    if (last && last[1] === month) last[1] = next;
    else ranges.push([month, next]);
  }
  return ranges;
}

function nextMonth(month: string): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, '0')}-01`;
}

/**
 * `and (occurred_at in those months)` with UTC bounds as timestamptz parameters, which a
 * custom plan (the read path forces them) sees as constants and prunes by at plan time;
 * nothing when `months` is null (no restriction). An empty list matches no row.
 */
export function withinMonths(tx: TxSql, months: readonly string[] | null) {
  if (months === null) return tx``;
  if (months.length === 0) return tx`and false`;
  const ranges = monthRanges(months).map(
    ([from, to]) => tx`(occurred_at >= ${`${from}T00:00:00Z`}::timestamptz and occurred_at < ${`${to}T00:00:00Z`}::timestamptz)`,
  );
  return tx`and (${ranges.reduce((all, range) => tx`${all} or ${range}`)})`;
}
