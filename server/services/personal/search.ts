/**
 * Equality search on sealed personal data (a blind index, docs/personal-data.md):
 * `actor_id=…` of a tenant that seals finds the actor's events by the subject
 * ref their envelopes begin with (`pd1:<ref>:<key id>:`), limited to keys not
 * destroyed, so an erased subject is found nowhere while later events about the
 * same person (under a new key) are. The prefix is served by the actor index.
 */
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import type { EventFilters, SealedFilters } from '@/supabase/functions/_shared/filters.ts';
import { ENVELOPE_PREFIX } from '@/supabase/functions/_shared/personal-data.ts';
import { refOf } from './keys.ts';
import { personalSettings } from './settings.ts';

export async function withBlindIndex(sql: Sql, tenantId: string, filters: EventFilters): Promise<SealedFilters> {
  if (filters.actor_id === undefined || !(await personalSettings(sql, tenantId))) return filters;
  const ref = await refOf(sql, tenantId, filters.actor_id);
  const live = await sql<{ key_id: string }[]>`
    select key_id from oms_audit.subject_keys where tenant_id = ${tenantId} and subject_ref = ${ref} and erased_at is null`;
  return { ...filters, sealed_actor_prefixes: live.map((k) => `${ENVELOPE_PREFIX}${ref}:${k.key_id}:`) };
}
