/**
 * Equality search on sealed personal data (docs/personal-data.md, "Search"):
 *
 * - actors: an actor id a tenant that seals compares for equality — the
 *   `actor_id` filter, or `actor = …` / `actor IN (…)` anywhere in the query
 *   language — also finds the actor's sealed events by the reference they hold
 *   in its place (`pd2:<ref>:<key id>`), limited to keys not destroyed. The
 *   reference is an exact value of actor_id: served by the actor index, and
 *   filed as it is in the actor month map (event-months.ts).
 * - every other sealed value (IP addresses, user agents, device fingerprint,
 *   subject id, declared context members): the value's index (HMAC under the
 *   tenant's index key) names the live keys that hold it
 *   (oms_audit.personal_value_keys); under each, the value's token, which the
 *   events carry in `personal.tokens` (GIN index; archived months read the same
 *   member from their Parquet parts).
 *
 * The same equality also compares the value's column, for events holding it in
 * clear (a service's, or from before the tenant sealed): only on the events of
 * the tenant's clear actors (clear-actors.ts), which the actor index reads,
 * since an event with a sealed actor never holds the value in clear.
 *
 * Either way an erased subject is found nowhere, while later events about the
 * same person (under a new key) are. Conditions other than equality on a
 * declared context member cannot match a sealed value and are refused, saying so.
 */
import type { AnySql } from '@/supabase/functions/_shared/db.ts';
import { invalid } from '@/supabase/functions/_shared/errors.ts';
import { isContextPath, type FilterExpr } from '@/supabase/functions/_shared/filter-tree.ts';
import { actorEqualityValues, filterExpr, personalEqualities, type EventFilters, type SealedFilters } from '@/supabase/functions/_shared/filters.ts';
import { contextPointer, referenceOf, subjectRef, tokenInput, valueIndex, valueToken } from '@/supabase/functions/_shared/personal-data.ts';
import { clearActors } from './clear-actors.ts';
import { existingTenantKeys, keysById } from './keys.ts';
import { personalSettings, settingsIn } from './settings.ts';
import { tokenKey } from './value-tokens.ts';

/**
 * Resolves a filter set's sealed values in `sql`, which must be the snapshot the
 * search then reads (query.ts `inSearchSnapshot`, the export's snapshot): the
 * tenant's declaration, the live keys holding each value and the clear actors
 * are all read there, so an event, key or declaration committed meanwhile is
 * either seen by all of them and the search, or by none. Read only: a tenant
 * without keys has sealed nothing, and its filters stay as they are.
 */
export async function withBlindIndex(sql: AnySql, tenantId: string, filters: EventFilters): Promise<SealedFilters> {
  const actors = actorEqualityValues(filters);
  const settings = await settingsIn(sql, tenantId);
  if (!settings) return filters;
  const declared = new Set(settings.contextPaths.map(contextPointer));
  refuseNonEquality(filterExpr(filters), declared);
  const equalities = personalEqualities(filters, declared);
  if (!actors.length && !equalities.length) return filters;
  const keys = await existingTenantKeys(sql, tenantId);
  if (!keys) return filters;
  const { indexKey } = keys;
  const out: SealedFilters = { ...filters };
  if (actors.length) {
    const refs = new Map(actors.map((a) => [a, subjectRef(indexKey, a)]));
    const live = await sql<{ key_id: string; subject_ref: string }[]>`
      select key_id, subject_ref from oms_audit.subject_keys
      where tenant_id = ${tenantId} and subject_ref = any(${[...new Set(refs.values())]}::text[]) and erased_at is null`;
    const sealed: Record<string, string[]> = {};
    for (const [actor, ref] of refs) sealed[actor] = live.filter((k) => k.subject_ref === ref).map((k) => referenceOf({ subjectRef: ref, keyId: k.key_id }));
    out.sealed_actors = sealed;
  }
  if (equalities.length) {
    out.sealed_values = await valueTokens(sql, tenantId, indexKey, equalities.map((q) => tokenInput(q.pointer, q.value)));
    // The column side of each equality read from the clear actors' events only (clear-actors.ts).
    const clear = await clearActors(sql, tenantId, settings.record);
    if (clear) out.clear_actors = clear;
  }
  return out;
}

/**
 * Refuses, before anything starts, a condition other than equality on a context
 * member the tenant declares personal (as this process last read the
 * declaration; the search's own snapshot checks again): an export answers such
 * a request 400 without recording a failed export.
 */
export async function refuseSealedNonEquality(sql: AnySql, tenantId: string, filters: EventFilters): Promise<void> {
  const settings = await personalSettings(sql, tenantId);
  if (settings) refuseNonEquality(filterExpr(filters), new Set(settings.contextPaths.map(contextPointer)));
}

/** For tests: `resolved` runs between the sealed-value look-ups and the search (or export), in the open snapshot. */
export const searchHooks: { resolved?: () => Promise<void> } = {};

/** For each token input, its token under every live key holding that value. */
async function valueTokens(sql: AnySql, tenantId: string, indexKey: Uint8Array, inputs: string[]): Promise<Record<string, string[]>> {
  const byIndex = new Map(inputs.map((input) => [valueIndex(indexKey, input), input]));
  const holders = await sql<{ value_index: string; key_id: string }[]>`
    select v.value_index, v.key_id
    from oms_audit.personal_value_keys v
    join oms_audit.subject_keys k on k.key_id = v.key_id and k.erased_at is null
    where v.tenant_id = ${tenantId} and v.value_index = any(${[...byIndex.keys()]}::text[])`;
  const keys = await keysById(sql, tenantId, holders.map((h) => h.key_id));
  const out: Record<string, string[]> = Object.fromEntries(inputs.map((input) => [input, []]));
  for (const h of holders) {
    const key = keys.get(h.key_id);
    if (!key?.key) continue; // destroyed meanwhile
    const input = byIndex.get(h.value_index)!;
    out[input]!.push(valueToken(tokenKey(key), input));
  }
  return out;
}

/**
 * A sealed context member holds its subject's reference, never its value, so a
 * prefix, case-insensitive or range condition on it cannot find sealed events:
 * refused with a sentence rather than answered with a silent nothing.
 */
function refuseNonEquality(expr: FilterExpr, declared: ReadonlySet<string>): void {
  const visit = (e: FilterExpr): void => {
    if (e.op === 'and' || e.op === 'or') return e.args.forEach(visit);
    if (e.op === 'not') return visit(e.arg);
    if ((e.op === 'prefix' || e.op === 'ieq' || e.op === 'iprefix' || e.op === 'range') && isContextPath(e.field)) {
      const path = e.field.context.join('.');
      if (declared.has(contextPointer(path))) {
        throw invalid([{ field: 'q', message: `${path} is personal data this tenant seals: only equality (=, != or IN) can find its values; "~", "*" and <, > never match them` }], 'query');
      }
    }
  };
  visit(expr);
}
