/**
 * Erasures kept outside the database, so a restored backup cannot bring a
 * destroyed key back (docs/personal-data.md, "Backups"). Each destroyed key is
 * written once to the anchor location (ANCHOR_URL, or the archive location's
 * anchors/ folder) as `tenant_id=<tenant>/erasures/<key id>.json`; at start the
 * server and the CLI destroy again every key listed there that the database
 * holds live — which only happens after a backup from before the erasure was
 * restored.
 */
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import type { Env } from '@/server/env.ts';
import { anchorStorage, writeOnce } from '@/server/services/anchors/store.ts';

export interface ErasureAnchor {
  tenant_id: string;
  key_id: string;
  subject_ref: string;
  erased_at: string;
  erased_by: string;
  erasure_event_id: string;
}

const folderOf = (tenantId: string) => `tenant_id=${tenantId}/erasures/`;

/** Writes the erasure of each key; false when no anchor location is configured. */
export async function anchorErasures(env: Env, erasures: ErasureAnchor[]): Promise<boolean> {
  const storage = await anchorStorage(env);
  if (!storage) return false;
  for (const e of erasures) {
    const outcome = await writeOnce(storage, `${folderOf(e.tenant_id)}${e.key_id}.json`, Buffer.from(JSON.stringify(e) + '\n'), 'application/json', null);
    if (outcome.status === 'conflict') throw new Error(`the erasure of key ${e.key_id} is already anchored with other content at ${storage.url}`);
  }
  return true;
}

/** Destroys again every live key whose erasure is anchored; returns the keys destroyed. */
export async function reapplyErasures(sql: Sql, env: Env): Promise<string[]> {
  const tenants = await sql<{ tenant_id: string }[]>`select distinct tenant_id from oms_audit.subject_keys where erased_at is null`;
  if (!tenants.length) return [];
  const storage = await anchorStorage(env);
  if (!storage) return [];
  const destroyed: string[] = [];
  for (const { tenant_id: tenantId } of tenants) {
    const keys = (await storage.list(folderOf(tenantId))).filter((k) => k.endsWith('.json'));
    if (!keys.length) continue;
    const ids = keys.map((k) => k.slice(k.lastIndexOf('/') + 1, -'.json'.length));
    const live = new Set(
      (await sql<{ key_id: string }[]>`select key_id from oms_audit.subject_keys where tenant_id = ${tenantId} and key_id = any(${ids}::uuid[]) and erased_at is null`).map((r) => r.key_id),
    );
    for (const key of keys) {
      const anchor = JSON.parse((await storage.getBytes(key)).toString('utf8')) as ErasureAnchor;
      if (anchor.tenant_id !== tenantId || !live.has(anchor.key_id)) continue;
      const rows = await sql`select oms_audit.destroy_subject_key(${tenantId}, ${anchor.key_id}, ${`reapplied:${anchor.erased_by}`}, ${anchor.erasure_event_id}) as key_id`;
      destroyed.push(...rows.map((r) => r.key_id as string));
    }
  }
  return destroyed;
}
