/**
 * Equality search on sealed personal data (a blind index, docs/personal-data.md):
 * an actor id a tenant that seals compares for equality — the `actor_id`
 * filter, or `actor = …` / `actor IN (…)` anywhere in the query language — also
 * finds the actor's sealed events by the subject ref their envelopes begin with
 * (`pd1:<ref>:<key id>:`), limited to keys not destroyed, so an erased subject
 * is found nowhere while later events about the same person (under a new key)
 * are. The prefix is served by the actor index; the actor month map holds the
 * same prefixes (event-months.ts).
 */
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { actorEqualityValues, type EventFilters, type SealedFilters } from '@/supabase/functions/_shared/filters.ts';
import { ENVELOPE_PREFIX, subjectRef } from '@/supabase/functions/_shared/personal-data.ts';
import { tenantKeys } from './keys.ts';
import { personalSettings } from './settings.ts';

export async function withBlindIndex(sql: Sql, tenantId: string, filters: EventFilters): Promise<SealedFilters> {
  const actors = actorEqualityValues(filters);
  if (!actors.length || !(await personalSettings(sql, tenantId))) return filters;
  const { indexKey } = await tenantKeys(sql, tenantId);
  const refs = new Map(actors.map((a) => [a, subjectRef(indexKey, a)]));
  const live = await sql<{ key_id: string; subject_ref: string }[]>`
    select key_id, subject_ref from oms_audit.subject_keys
    where tenant_id = ${tenantId} and subject_ref = any(${[...new Set(refs.values())]}::text[]) and erased_at is null`;
  const sealed: Record<string, string[]> = {};
  for (const [actor, ref] of refs) sealed[actor] = live.filter((k) => k.subject_ref === ref).map((k) => `${ENVELOPE_PREFIX}${ref}:${k.key_id}:`);
  return { ...filters, sealed_actors: sealed };
}
