/**
 * A tenant's declaration of its personal data (docs/personal-data.md): which
 * actor types are people, which context members are personal, and whether
 * its retention policy leaves personal fields outside the retention duty. A
 * tenant without a declaration writes schema version 2 events, unsealed.
 */
import type { AnySql, Sql } from '@/supabase/functions/_shared/db.ts';
import { DEFAULT_CONTEXT_PATHS, DEFAULT_HUMAN_ACTOR_TYPES, type PersonalDataSettings } from '@/supabase/functions/_shared/personal-data.ts';
import { SETTINGS_CACHE_MS } from '@/supabase/functions/_shared/personal-seal.ts';

const holder = globalThis as typeof globalThis & { __omsAuditPersonalSettings?: Map<string, { settings: PersonalDataSettings | null; until: number }> };
const cache = () => (holder.__omsAuditPersonalSettings ??= new Map());

/** The tenant's settings, through this process's cache (SETTINGS_CACHE_MS) unless `fresh`. */
export async function personalSettings(sql: AnySql, tenantId: string, fresh = false): Promise<PersonalDataSettings | null> {
  const now = performance.now();
  const hit = cache().get(tenantId);
  if (!fresh && hit && hit.until > now) return hit.settings;
  const read = await settingsIn(sql, tenantId);
  const settings = read && { humanActorTypes: read.humanActorTypes, contextPaths: read.contextPaths, outsideRetention: read.outsideRetention };
  cache().set(tenantId, { settings, until: now + SETTINGS_CACHE_MS });
  return settings;
}

/** The tenant's settings as `sql`'s snapshot holds them (a search's, perhaps on a replica): the cache is left alone. */
export async function settingsIn(sql: AnySql, tenantId: string): Promise<(PersonalDataSettings & { record: SealingRecord }) | null> {
  const [row] = await sql<{ human_actor_types: string[]; context_paths: string[]; outside_retention: boolean; paths: string[] | null; actors: string[] | null }[]>`
    select human_actor_types, context_paths, outside_retention, context_paths_throughout as paths, clear_reference_like_actors as actors
    from oms_audit.personal_data_settings where tenant_id = ${tenantId}`;
  if (!row) return null;
  return {
    humanActorTypes: row.human_actor_types,
    contextPaths: row.context_paths,
    outsideRetention: row.outside_retention,
    record: { contextPathsThroughout: row.paths, clearReferenceLikeActors: row.actors },
  };
}

/** Drops the cached settings of a tenant (the database refused a batch this process did not seal). */
export function forgetPersonalSettings(tenantId: string): void {
  cache().delete(tenantId);
}

/** What a search may confine a sealed value's column to (clear-actors.ts), as the tenant's settings record it. */
export interface SealingRecord {
  /** The context paths declared in every declaration since the tenant's first (null: not known, declared before this was kept). */
  contextPathsThroughout: readonly string[] | null;
  /** Actor ids beginning "pd2:" stored in clear before the first declaration (null: not recorded). */
  clearReferenceLikeActors: readonly string[] | null;
}

/**
 * Declares (or changes) the tenant's personal data; new events are sealed from its commit on: a server that has not
 * noticed it yet has its unsealed batches refused by the database, and seals them (ingest.ts).
 */
export async function declarePersonalData(
  sql: Sql,
  tenantId: string,
  by: string,
  input: Partial<PersonalDataSettings> = {},
): Promise<PersonalDataSettings> {
  const settings: PersonalDataSettings = {
    humanActorTypes: (input.humanActorTypes ?? DEFAULT_HUMAN_ACTOR_TYPES).map((t) => t.toUpperCase()),
    contextPaths: [...(input.contextPaths ?? DEFAULT_CONTEXT_PATHS)],
    outsideRetention: input.outsideRetention ?? false,
  };
  for (const path of settings.contextPaths) {
    if (!/^[^.]+(\.[^.]+)*$/.test(path)) throw new RangeError(`context path "${path}" must be member names joined by dots`);
  }
  // context_paths_throughout: the first declaration's paths, narrowed by every later one (null stays null: not known).
  // oms_audit.declare_sealing: from this commit on the database refuses the tenant's unsealed batches, and the first
  // declaration records what was stored in clear before it (the migration of that function).
  await sql.begin(async (tx) => {
    await tx`
    insert into oms_audit.personal_data_settings (tenant_id, human_actor_types, context_paths, outside_retention, updated_by, context_paths_throughout)
    values (${tenantId}, ${settings.humanActorTypes}, ${settings.contextPaths}, ${settings.outsideRetention}, ${by}, ${settings.contextPaths})
    on conflict (tenant_id) do update set human_actor_types = excluded.human_actor_types, context_paths = excluded.context_paths,
      outside_retention = excluded.outside_retention, updated_at = now(), updated_by = excluded.updated_by,
      context_paths_throughout = case when personal_data_settings.context_paths_throughout is not null then
        array(select p from unnest(personal_data_settings.context_paths_throughout) as p where p = any(excluded.context_paths)) end`;
    await tx`select oms_audit.declare_sealing(${tenantId})`;
  });
  cache().set(tenantId, { settings, until: performance.now() + SETTINGS_CACHE_MS });
  return settings;
}
