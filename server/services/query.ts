/**
 * The read path. Every statement runs inside withTenant(): as the
 * `authenticated` role with the caller's claims, so row-level security
 * confines it to one tenant even if a filter were wrong. Pages are keyset
 * pages over (occurred_at, seq), served by the partitions' primary key
 * (tenant_id, occurred_at, seq) or the object and actor indexes.
 */
import type { AuditEvent } from '@/supabase/functions/_shared/contract.ts';
import { EVENT_FIELDS } from '@/supabase/functions/_shared/contract.ts';
import { becomeTenant, withTenant, type Sql, type TenantClaims, type TxSql } from '@/supabase/functions/_shared/db.ts';
import { asUnavailable } from '@/supabase/functions/_shared/errors.ts';
import { filterExpr, filtersOf, type EventFilters, type ListEventsInput, type SealedFilters } from '@/supabase/functions/_shared/filters.ts';
import { decodeCursor, encodeCursor, filterFingerprint } from './cursor.ts';
import { wherePostgres } from './filters/postgres.ts';
import { revealEvents } from './personal/reveal.ts';
import { searchHooks, withBlindIndex } from './personal/search.ts';
import { archivedPage, archivedParts, findArchivedEvent, mergePages, partsForPage } from './archived-events.ts';
import { monthsHolding, withinMonths } from './event-months.ts';
import { withRelatedKeys } from './related-keys.ts';

export const EVENT_COLUMNS = EVENT_FIELDS.join(', ');

export interface EventPage {
  /** Events read from a month's archive carry `archived: true`. */
  events: (AuditEvent & { archived?: boolean })[];
  next_cursor: string | null;
}

/** The WHERE condition for a filter set (tenant first, so every plan starts inside the tenant): the filter tree, compiled. */
export function whereClause(tx: TxSql | Sql, tenantId: string, f: EventFilters) {
  return wherePostgres(tx, tenantId, filterExpr(f), { tokenLookup: true });
}

/**
 * The same condition over a restored month (restored_events): the clear actor
 * list (personal/clear-actors.ts) names the hot months' actors, so there a
 * sealed value's column is compared on every event, which finds the same
 * events; value tokens are tested on each row (the lookup reads audit_events).
 */
export function restoredWhereClause(tx: TxSql | Sql, tenantId: string, f: EventFilters) {
  const { clear_actors: _hotMonthsOnly, ...filters } = f as SealedFilters;
  return wherePostgres(tx, tenantId, filterExpr(filters));
}

// Plan every read for its values: a cached generic plan cannot tell a rare symbol or event type from a
// common one and may walk the tenant's whole time index to find a handful of rows.
const planForValues = (tx: TxSql) => tx`select set_config('plan_cache_mode', 'force_custom_plan', true)`;


export async function inTenant<T>(sql: Sql, claims: TenantClaims, fn: (tx: TxSql) => Promise<T>): Promise<T> {
  try {
    return await withTenant(sql, claims, async (tx) => {
      await planForValues(tx);
      return fn(tx);
    });
  } catch (err) {
    throw asUnavailable(err);
  }
}

/**
 * A search in one snapshot (docs/personal-data.md, "Search cost"): a
 * repeatable-read, read-only transaction that first resolves the filter set's
 * sealed values as the server's own role (personal/search.ts: the tenant's
 * declaration, the keys holding each value, the clear actors), then runs `fn`
 * as the tenant under row-level security. Every statement sees the same
 * committed events, so an actor, key or declaration whose first event commits
 * meanwhile is in both the look-ups and the search or in neither: the search
 * is never short of what its snapshot holds. One transaction: the same on a
 * replica and through a transaction pooler.
 */
export async function inSearchSnapshot<T>(sql: Sql, claims: TenantClaims, filters: EventFilters, fn: (tx: TxSql, sealed: SealedFilters) => Promise<T>): Promise<T> {
  try {
    return (await sql.begin('isolation level repeatable read read only', async (tx) => {
      const sealed = await withBlindIndex(tx, claims.tenant_id, filters);
      await searchHooks.resolved?.();
      await becomeTenant(tx, claims);
      await planForValues(tx);
      return fn(tx, sealed);
    })) as T;
  } catch (err) {
    throw asUnavailable(err);
  }
}

/** `masked`: personal data is shown as "[personal]" (a viewer without the right to it, docs/personal-data.md). */
export async function listEvents(sql: Sql, claims: TenantClaims, input: ListEventsInput, scope = 'list', reveal: { masked?: boolean } = {}): Promise<EventPage> {
  const asked = filtersOf(input);
  const desc = input.order === 'desc';
  const page = await inSearchSnapshot(sql, claims, asked, async (tx, sealed): Promise<EventPage> => {
    // The whole order reads the tenant's related keys; the cursor is bound to them, so a change of keys restarts paging.
    const keyed = await withRelatedKeys(tx, asked);
    // Bound to the tenant too: another tenant's cursor is refused, not reinterpreted.
    const fingerprint = filterFingerprint(`${scope}:${claims.tenant_id}`, keyed);
    const filters: SealedFilters = sealed === asked ? keyed : { ...keyed, sealed_actors: sealed.sealed_actors, sealed_values: sealed.sealed_values, clear_actors: sealed.clear_actors };
    const after = input.cursor ? decodeCursor(input.cursor, input.order, fingerprint) : null;
    const where = whereClause(tx, claims.tenant_id, filters);
    // One object's or one actor's events: only the months that hold them are read.
    const months = await monthsHolding(tx, claims.tenant_id, filters);
    const keyset = after
      ? desc
        ? tx`and (occurred_at, seq) < (${after.occurred_at}::timestamptz, ${after.seq}::bigint)`
        : tx`and (occurred_at, seq) > (${after.occurred_at}::timestamptz, ${after.seq}::bigint)`
      : tx``;
    const hot = months?.length === 0 ? [] : ((await tx`
      select ${tx.unsafe(EVENT_COLUMNS)}
      from public.audit_events
      where ${where} ${withinMonths(tx, months)} ${keyset}
      order by ${desc ? tx`occurred_at desc, seq desc` : tx`occurred_at asc, seq asc`}
      limit ${input.limit + 1}`) as unknown as AuditEvent[]);
    // Months that left PostgreSQL for their archive: read with the same filters and keyset, merged in order.
    const query = { tenantId: claims.tenant_id, filters, order: input.order, after, limit: input.limit + 1 };
    const parts = partsForPage(await archivedParts(tx, filters), query, hot);
    const rows = parts.length ? mergePages<AuditEvent>(hot, await archivedPage(tx, parts, query), input.order, input.limit + 1) : hot;
    const more = rows.length > input.limit;
    const events = more ? rows.slice(0, input.limit) : rows;
    const last = events[events.length - 1];
    return { events, next_cursor: more && last ? encodeCursor(last, input.order, fingerprint) : null };
  });
  await revealEvents(sql, claims.tenant_id, page.events, reveal);
  return page;
}

/**
 * One event: its personal data opened for the reader, or, with `stored`, exactly
 * as stored and hashed (sealed), which is what a proof is checked against.
 */
export async function getEvent(sql: Sql, claims: TenantClaims, id: string, options: { stored?: boolean; masked?: boolean } = {}): Promise<AuditEvent | null> {
  const event = await inTenant(sql, claims, async (tx) => {
    // The ledger knows the event's partition key; the lookup then touches one partition.
    const [row] = await tx`
      select ${tx.unsafe(EVENT_FIELDS.map((f) => `e.${f}`).join(', '))}
      from public.audit_ledger l
      join public.audit_events e on e.tenant_id = l.tenant_id and e.occurred_at = l.occurred_at and e.seq = l.seq
      where l.tenant_id = ${claims.tenant_id} and l.id = ${id}`;
    if (row) return row as unknown as AuditEvent;
    // Not in PostgreSQL: the ledger still knows where it was, so its archive can be read.
    const [position] = await tx`select occurred_at, seq from public.audit_ledger where tenant_id = ${claims.tenant_id} and id = ${id}`;
    return position ? findArchivedEvent(tx, claims.tenant_id, position as unknown as { occurred_at: string; seq: number }) : null;
  });
  if (event && !options.stored) await revealEvents(sql, claims.tenant_id, [event], { masked: options.masked });
  return event;
}

/** An object's whole history, oldest first by default, in keyset pages; with `related`, the events naming it too. */
export async function objectHistory(
  sql: Sql,
  claims: TenantClaims,
  input: { object_type: string; object_id: string; cursor?: string; limit: number; order: 'asc' | 'desc'; related?: boolean },
  reveal: { masked?: boolean } = {},
): Promise<EventPage> {
  const filters = input.related ? { about: input.object_id, about_type: input.object_type } : { object_type: input.object_type, object_id: input.object_id };
  return listEvents(sql, claims, { ...filters, cursor: input.cursor, limit: input.limit, order: input.order }, input.related ? 'related' : 'history', reveal);
}
