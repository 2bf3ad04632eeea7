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
 * the tenant sealed hold in clear (an actor id that merely begins "pd2:"; read
 * once per process, see `referenceLikeClearActors`).
 */
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import type { SealedFilters } from '@/supabase/functions/_shared/filters.ts';
import { contextPointer, ENVELOPE_PREFIX, PERSONAL_IP_FIELDS, SEALED_SCHEMA_VERSION } from '@/supabase/functions/_shared/personal-data.ts';

/** The references' range of actor ids, in byte order: from the envelope prefix up to the prefix with its last character's successor. */
const REFERENCES_FROM = ENVELOPE_PREFIX;
const REFERENCES_TO = ENVELOPE_PREFIX.slice(0, -1) + String.fromCharCode(ENVELOPE_PREFIX.charCodeAt(ENVELOPE_PREFIX.length - 1) + 1);
import { contextPathsThroughout } from './settings.ts';

/** The most clear actor ids one search lists; a tenant with more compares the column on every event, as before. */
export const MAX_CLEAR_ACTORS = 200;

/**
 * How long after a tenant's first subject key no more of its events can be
 * written unsealed: a server notices a declaration within SETTINGS_CACHE_MS
 * (5 s); the rest is margin for a batch on its way. Before that, nothing is
 * confined (the column is compared on every event).
 */
export const SEALING_SETTLED_MS = 60_000;
let settledAfterMs = SEALING_SETTLED_MS;
/** Shortens SEALING_SETTLED_MS for tests, whose writes all come from the process that declared. */
export function setSealingSettledMs(ms: number): void {
  settledAfterMs = ms;
}

/** The sealed places whose column a sealed-actor event never holds a value in (besides declared context members). */
const ACTOR_PLACES = [...PERSONAL_IP_FIELDS, 'user_agent', 'device_fingerprint', 'observed_user_agent'].map((f) => '/' + f);

const holder = globalThis as typeof globalThis & { __omsAuditReferenceLikeActors?: Map<string, readonly string[]> };
/** Per tenant whose sealing has settled: its reference-like clear actor ids (fixed from then on). */
const settled = () => (holder.__omsAuditReferenceLikeActors ??= new Map());

/**
 * The clear actors of a sealing tenant's hot months and the places whose
 * column only their events can match, for SealedFilters.clear_actors; null
 * while the tenant's sealing has not settled (nothing is confined).
 */
export async function clearActors(sql: Sql, tenantId: string): Promise<SealedFilters['clear_actors'] | null> {
  const referenceLike = await referenceLikeClearActors(sql, tenantId);
  if (referenceLike === null) return null;
  const throughout = await contextPathsThroughout(sql, tenantId);
  const pointers = [...ACTOR_PLACES, ...(throughout ?? []).map(contextPointer)];
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
  const actors = [...rows.map((r) => r.actor_id), ...referenceLike];
  return { actors: actors.length > MAX_CLEAR_ACTORS ? null : actors, pointers };
}

/**
 * Actor ids in the references' range that events hold in clear: only events
 * not sealed can (a sealing tenant's events are refused an actor id beginning
 * "pd2:"), and a tenant stores none of those once its sealing has settled, so
 * the answer is read once per process (it reads the tenant's sealed actors'
 * events once). Null: not settled yet (or nothing sealed yet).
 */
async function referenceLikeClearActors(sql: Sql, tenantId: string): Promise<readonly string[] | null> {
  const known = settled().get(tenantId);
  if (known) return known;
  const [first] = await sql<{ settled: boolean | null }[]>`
    select now() - min(created_at) >= ${`${settledAfterMs} milliseconds`}::interval as settled
    from oms_audit.subject_keys where tenant_id = ${tenantId}`;
  if (!first?.settled) return null;
  const rows = await sql<{ actor_id: string }[]>`
    select distinct actor_id from public.audit_events
    where tenant_id = ${tenantId} and actor_id >= ${REFERENCES_FROM} and actor_id < ${REFERENCES_TO} and schema_version <> ${SEALED_SCHEMA_VERSION}`;
  const list = rows.map((r) => r.actor_id);
  settled().set(tenantId, list);
  return list;
}
