/**
 * Equality search on sealed personal data (a blind index, docs/personal-data.md):
 * an actor id a tenant that seals compares for equality — the `actor_id`
 * filter, or `actor = …` / `actor IN (…)` anywhere in the query language — also
 * finds the actor's sealed events by the reference they hold in its place
 * (`pd2:<ref>:<key id>`), limited to keys not destroyed, so an erased subject
 * is found nowhere while later events about the same person (under a new key)
 * are. The reference is an exact value of actor_id: served by the actor index,
 * and filed as it is in the actor month map (event-months.ts).
 */
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { actorEqualityValues, type EventFilters, type SealedFilters } from '@/supabase/functions/_shared/filters.ts';
import { referenceOf, subjectRef } from '@/supabase/functions/_shared/personal-data.ts';
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
  for (const [actor, ref] of refs) sealed[actor] = live.filter((k) => k.subject_ref === ref).map((k) => referenceOf({ subjectRef: ref, keyId: k.key_id }));
  return { ...filters, sealed_actors: sealed };
}
