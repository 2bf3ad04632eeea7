/**
 * Where a sealing tenant's sealed values can still be stored in clear
 * (docs/personal-data.md, "Search cost"): only on events whose actor is stored
 * in clear. An event of a human actor, sealed, holds its actor's reference
 * (`pd2:<subject ref>:<key id>`) as actor_id, and in place of each sealed value
 * a reference or nothing; so an equality on a sealed value needs its column
 * compared only on the events of the tenant's clear actors — services, other
 * non-human actors, and everyone's events from before the tenant sealed — and
 * finds the sealed events by their value tokens. Listing those actors (a few
 * index probes) lets PostgreSQL read their events through the actor index and
 * the tokens through theirs, instead of testing every event of the tenant.
 *
 * The list holds the actor ids outside the references' range ('pd2:' up to
 * 'pd2;', byte order), found by skipping through the actor index one distinct
 * id at a time, plus the few ids inside that range that events written before
 * the tenant declared hold in clear (an actor id that merely begins "pd2:"),
 * which the declaration recorded (oms_audit.declare_sealing): from its commit
 * on the database refuses the tenant's unsealed batches, so no other can be
 * stored. The caller reads it in the snapshot of the search it serves
 * (query.ts `inSearchSnapshot`), so an actor whose first event commits
 * meanwhile is in both or in neither.
 */
import type { AnySql } from '@/supabase/functions/_shared/db.ts';
import type { SealedFilters } from '@/supabase/functions/_shared/filters.ts';
import { contextPointer, ENVELOPE_PREFIX, PERSONAL_IP_FIELDS } from '@/supabase/functions/_shared/personal-data.ts';
import type { SealingRecord } from './settings.ts';

/** The references' range of actor ids, in byte order: from the envelope prefix up to the prefix with its last character's successor. */
const REFERENCES_FROM = ENVELOPE_PREFIX;
const REFERENCES_TO = ENVELOPE_PREFIX.slice(0, -1) + String.fromCharCode(ENVELOPE_PREFIX.charCodeAt(ENVELOPE_PREFIX.length - 1) + 1);

/** The most clear actor ids one search lists; a tenant with more compares the column on every event, as before. */
export const MAX_CLEAR_ACTORS = 200;

/** The sealed places whose column a sealed-actor event never holds a value in (besides declared context members). */
const ACTOR_PLACES = [...PERSONAL_IP_FIELDS, 'user_agent', 'device_fingerprint', 'observed_user_agent'].map((f) => '/' + f);

/**
 * The clear actors of a sealing tenant's hot months and the places whose
 * column only their events can match, for SealedFilters.clear_actors; null
 * for a tenant whose declaration recorded nothing (nothing is confined).
 * `sql` must be the search's own snapshot, `record` read in it.
 */
export async function clearActors(sql: AnySql, tenantId: string, record: SealingRecord): Promise<SealedFilters['clear_actors'] | null> {
  if (!record.clearReferenceLikeActors) return null;
  const pointers = [...ACTOR_PLACES, ...(record.contextPathsThroughout ?? []).map(contextPointer)];
  // Below and above the references' range, skipping through the actor index one distinct id at a time.
  const rows = await sql<{ actor_id: string }[]>`
    (with recursive below(actor_id) as (
       select min(actor_id) from public.audit_events where tenant_id = ${tenantId} and actor_id < ${REFERENCES_FROM}
       union all
       select (select min(e.actor_id) from public.audit_events e where e.tenant_id = ${tenantId} and e.actor_id > b.actor_id and e.actor_id < ${REFERENCES_FROM})
       from below b where b.actor_id is not null)
     select actor_id from below where actor_id is not null limit ${MAX_CLEAR_ACTORS + 1})
    union all
    (with recursive above(actor_id) as (
       select min(actor_id) from public.audit_events where tenant_id = ${tenantId} and actor_id >= ${REFERENCES_TO}
       union all
       select (select min(e.actor_id) from public.audit_events e where e.tenant_id = ${tenantId} and e.actor_id > a.actor_id)
       from above a where a.actor_id is not null)
     select actor_id from above where actor_id is not null limit ${MAX_CLEAR_ACTORS + 1})`;
  const actors = [...rows.map((r) => r.actor_id), ...record.clearReferenceLikeActors];
  return { actors: actors.length > MAX_CLEAR_ACTORS ? null : actors, pointers };
}
