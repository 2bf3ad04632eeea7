/**
 * The whole order's keys, per tenant: the context keys under which the
 * tenant's events name the order they belong to (public.related_order_keys;
 * default RELATED_CONTEXT_KEYS). An `about` filter without its own
 * `about_keys` takes the tenant's keys here, before anything is compiled, so
 * the object page's timeline, its count, its shape and its export all read
 * the same keys through the one filter tree — and an export's manifest
 * records the keys it used.
 */
import type { Sql, TenantClaims, TxSql } from '@/supabase/functions/_shared/db.ts';
import { RELATED_CONTEXT_KEYS, type EventFilters } from '@/supabase/functions/_shared/filters.ts';
import { personSql } from './people.ts';
// query.ts reads the keys through withRelatedKeys; both sides use each other only inside functions.
import { inTenant } from './query.ts';

export interface RelatedKeys {
  keys: string[];
  /** Null while the tenant uses the default keys. */
  updated_at: string | null;
  /** Who set them (the person's email, or the principal of a tool), or null for the default. */
  updated_by: string | null;
}

export const DEFAULT_RELATED_KEYS: RelatedKeys = { keys: [...RELATED_CONTEXT_KEYS], updated_at: null, updated_by: null };

/** The caller's tenant's keys (row-level security picks the tenant). */
export async function readRelatedKeys(tx: TxSql): Promise<RelatedKeys> {
  const [row] = await tx`select keys, updated_at, updated_by from public.related_order_keys`;
  if (!row) return DEFAULT_RELATED_KEYS;
  return { keys: row.keys as string[], updated_at: row.updated_at as string, updated_by: row.updated_by as string };
}

/** Whether the filters take the tenant's keys: an `about` filter that names none of its own. */
const takesTenantKeys = (filters: EventFilters) => filters.about !== undefined && filters.about_keys === undefined;

/** The filters with the tenant's keys filled in where an `about` filter names none; others unchanged. */
export async function withRelatedKeys<F extends EventFilters>(tx: TxSql, filters: F): Promise<F> {
  if (!takesTenantKeys(filters)) return filters;
  return { ...filters, about_keys: (await readRelatedKeys(tx)).keys };
}

/** The tenant's keys, with the person who set them by email (people are never shown by internal id). */
export async function relatedKeys(sql: Sql, claims: TenantClaims): Promise<RelatedKeys> {
  return withPerson(sql, await inTenant(sql, claims, readRelatedKeys));
}

async function withPerson(sql: Sql, keys: RelatedKeys): Promise<RelatedKeys> {
  if (keys.updated_by === null) return keys;
  const [row] = await sql`select ${sql.unsafe(personSql('p.principal'))} as person from (select ${keys.updated_by}::text as principal) as p`;
  return { ...keys, updated_by: row!.person as string };
}

/** withRelatedKeys in its own transaction (for callers that open their snapshot later, such as exports). */
export async function resolveRelatedKeys<F extends EventFilters>(sql: Sql, claims: TenantClaims, filters: F): Promise<F> {
  return takesTenantKeys(filters) ? inTenant(sql, claims, (tx) => withRelatedKeys(tx, filters)) : filters;
}

/** Sets the tenant's keys; returns them before and after (the change is recorded by the caller). */
export async function setRelatedKeys(sql: Sql, claims: TenantClaims, keys: string[], updatedBy: string): Promise<{ before: RelatedKeys; after: RelatedKeys }> {
  return inTenant(sql, claims, async (tx) => {
    const before = await readRelatedKeys(tx);
    await tx`
      insert into public.related_order_keys (tenant_id, keys, updated_by)
      values (${claims.tenant_id}, ${keys}::text[], ${updatedBy})
      on conflict (tenant_id) do update set keys = excluded.keys, updated_at = now(), updated_by = excluded.updated_by`;
    return { before, after: await readRelatedKeys(tx) };
  }).then(async ({ before, after }) => ({ before, after: await withPerson(sql, after) }));
}
