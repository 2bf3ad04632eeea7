/** Saved searches: a named console query string, shared with everyone in the tenant (row-level security by tenant). */
import type { Sql, TenantClaims } from '@/supabase/functions/_shared/db.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { inTenant } from './query.ts';

export interface SavedSearch {
  id: string;
  name: string;
  query: string;
  created_by: string;
  created_by_email: string;
  created_at: string;
}

const COLUMNS = 'id, name, query, created_by, created_by_email, created_at';

export async function listSavedSearches(sql: Sql, claims: TenantClaims): Promise<SavedSearch[]> {
  return inTenant(sql, claims, async (tx) => (await tx`select ${tx.unsafe(COLUMNS)} from public.saved_searches order by lower(name), created_at`) as unknown as SavedSearch[]);
}

export async function createSavedSearch(sql: Sql, claims: TenantClaims, input: { name: string; query: string; userId: string; email: string }): Promise<SavedSearch> {
  const name = input.name.trim();
  if (!name) throw new AuditError('invalid_request', 'Give the search a name', [{ field: 'name', message: 'must not be empty' }]);
  const query = input.query.replace(/^\?/, '');
  return inTenant(sql, claims, async (tx) => {
    const [row] = await tx`
      insert into public.saved_searches (tenant_id, name, query, created_by, created_by_email)
      values (${claims.tenant_id}, ${name}, ${query}, ${input.userId}, ${input.email})
      returning ${tx.unsafe(COLUMNS)}`;
    return row as unknown as SavedSearch;
  });
}

/** Its author or an admin may delete a saved search. */
export async function deleteSavedSearch(sql: Sql, claims: TenantClaims, input: { id: string; userId: string; isAdmin: boolean }): Promise<void> {
  await inTenant(sql, claims, async (tx) => {
    const [row] = await tx`select created_by from public.saved_searches where id = ${input.id}`;
    if (!row) throw new AuditError('not_found', 'No such saved search');
    if (row.created_by !== input.userId && !input.isAdmin) throw new AuditError('forbidden', 'Only its author or an admin can delete a saved search');
    await tx`delete from public.saved_searches where id = ${input.id}`;
  });
}
