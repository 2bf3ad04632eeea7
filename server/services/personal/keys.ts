/**
 * The key store of personal data (docs/personal-data.md): per (tenant,
 * subject) an AES-256 data key, wrapped (AES-256-GCM) by the tenant's key,
 * itself wrapped by the master key, which lives outside the database
 * (OMS_AUDIT_MASTER_KEY, OMS_AUDIT_MASTER_KEY_FILE, or a file generated in the
 * data folder). A dump of the database therefore opens nothing, and a
 * destroyed subject key is gone from every copy made afterwards.
 *
 * Wrapped blob: 12-byte nonce ‖ ciphertext ‖ 16-byte tag, with the key's
 * place (tenant, key id) as associated data so a wrapped key moved to another
 * row does not open.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AnySql, Sql } from '@/supabase/functions/_shared/db.ts';
import type { SubjectKey } from '@/supabase/functions/_shared/personal-data.ts';
import { subjectRef } from '@/supabase/functions/_shared/personal-data.ts';
import { dataPath } from '@/server/db/open.ts';
import { env, type Env } from '@/server/env.ts';
import { forgetValueTokens } from './value-tokens.ts';

export class MasterKeyError extends Error {
  override name = 'MasterKeyError';
}

const holder = globalThis as typeof globalThis & {
  __omsAuditMasterKey?: { key: Buffer; id: string; generated: boolean };
  __omsAuditTenantKeys?: Map<string, TenantKeys>;
  __omsAuditSubjectKeyCache?: Map<string, { key: SubjectKey; checked: number }>;
  __omsAuditSubjectRefCache?: Map<string, string>;
};

/** First 16 hex digits of SHA-256 of a master key: names it without revealing it. */
export const masterKeyIdOf = (key: Uint8Array) => createHash('sha256').update(key).digest('hex').slice(0, 16);

function decodeKey(text: string, where: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== 32) throw new MasterKeyError(`${where} does not hold a master key: expected 32 bytes in base64 (openssl rand -base64 32), found ${key.length} bytes`);
  return key;
}

/** The master key: OMS_AUDIT_MASTER_KEY, OMS_AUDIT_MASTER_KEY_FILE, or generated once into <data dir>/secrets/master-key. */
export function masterKey(e: Env = env()): { key: Buffer; id: string; generated: boolean } {
  if (holder.__omsAuditMasterKey) return holder.__omsAuditMasterKey;
  let key: Buffer;
  let generated = false;
  if (e.OMS_AUDIT_MASTER_KEY) key = decodeKey(e.OMS_AUDIT_MASTER_KEY, 'OMS_AUDIT_MASTER_KEY');
  else if (e.OMS_AUDIT_MASTER_KEY_FILE) {
    if (!existsSync(e.OMS_AUDIT_MASTER_KEY_FILE)) throw new MasterKeyError(`OMS_AUDIT_MASTER_KEY_FILE ${e.OMS_AUDIT_MASTER_KEY_FILE} does not exist`);
    key = decodeKey(readFileSync(e.OMS_AUDIT_MASTER_KEY_FILE, 'utf8'), `OMS_AUDIT_MASTER_KEY_FILE ${e.OMS_AUDIT_MASTER_KEY_FILE}`);
  } else {
    const file = dataPath(e, 'secrets', 'master-key');
    if (!existsSync(file)) {
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      try {
        writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
        generated = true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    key = decodeKey(readFileSync(file, 'utf8'), file);
  }
  holder.__omsAuditMasterKey = { key, id: masterKeyIdOf(key), generated };
  return holder.__omsAuditMasterKey;
}

/** Forgets the keys this process holds (tests that change the master key). */
export function forgetKeys(): void {
  holder.__omsAuditMasterKey = undefined;
  holder.__omsAuditTenantKeys?.clear();
  holder.__omsAuditSubjectKeyCache?.clear();
  holder.__omsAuditSubjectRefCache?.clear();
  forgetValueTokens();
}

function wrap(wrappingKey: Uint8Array, secret: Uint8Array, place: string): Buffer {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', wrappingKey, nonce);
  cipher.setAAD(Buffer.from(place, 'utf8'));
  return Buffer.concat([nonce, cipher.update(secret), cipher.final(), cipher.getAuthTag()]);
}

function unwrap(wrappingKey: Uint8Array, blob: Uint8Array, place: string): Buffer {
  const data = Buffer.from(blob);
  const decipher = createDecipheriv('aes-256-gcm', wrappingKey, data.subarray(0, 12));
  decipher.setAAD(Buffer.from(place, 'utf8'));
  decipher.setAuthTag(data.subarray(data.length - 16));
  return Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()]);
}

export interface TenantKeys {
  /** Wraps the tenant's subject keys. */
  wrapKey: Buffer;
  /** Keys the blind index (subject refs). */
  indexKey: Buffer;
}

const derive = (tenantKey: Uint8Array, info: string) => Buffer.from(hkdfSync('sha256', tenantKey, Buffer.alloc(0), info, 32));

function mismatch(tenantId: string, storedId: string, configured: { id: string; generated: boolean }): MasterKeyError {
  return new MasterKeyError(
    `The personal-data keys of tenant ${tenantId} are wrapped by master key ${storedId}, but this process has master key ${configured.id}` +
      (configured.generated ? ' (generated just now: the original master key file is missing)' : '') +
      ': give every server and CLI host the same OMS_AUDIT_MASTER_KEY or OMS_AUDIT_MASTER_KEY_FILE. Nothing was decrypted.',
  );
}

/** The tenant's keys, created on first use. */
export async function tenantKeys(sql: Sql, tenantId: string): Promise<TenantKeys> {
  return (await readTenantKeys(sql, tenantId, true))!;
}

/** The tenant's keys, or null if it has none yet (so it has sealed nothing): for a read-only snapshot. */
export async function existingTenantKeys(sql: AnySql, tenantId: string): Promise<TenantKeys | null> {
  return readTenantKeys(sql, tenantId, false);
}

async function readTenantKeys(sql: AnySql, tenantId: string, create: boolean): Promise<TenantKeys | null> {
  const cache = (holder.__omsAuditTenantKeys ??= new Map());
  const cached = cache.get(tenantId);
  if (cached) return cached;
  const master = masterKey();
  let [row] = await sql<{ master_key_id: string; wrapped: Buffer }[]>`
    select master_key_id, wrapped from oms_audit.tenant_data_keys where tenant_id = ${tenantId}`;
  if (!row && !create) return null;
  if (!row) {
    const wrapped = wrap(master.key, randomBytes(32), `oms-audit.tenant_data_keys:${tenantId}`);
    await sql`insert into oms_audit.tenant_data_keys (tenant_id, master_key_id, wrapped)
              values (${tenantId}, ${master.id}, ${wrapped}) on conflict (tenant_id) do nothing`;
    [row] = await sql<{ master_key_id: string; wrapped: Buffer }[]>`
      select master_key_id, wrapped from oms_audit.tenant_data_keys where tenant_id = ${tenantId}`;
  }
  if (row!.master_key_id !== master.id) throw mismatch(tenantId, row!.master_key_id, master);
  let tenantKey: Buffer;
  try {
    tenantKey = unwrap(master.key, row!.wrapped, `oms-audit.tenant_data_keys:${tenantId}`);
  } catch {
    throw new MasterKeyError(`The personal-data key of tenant ${tenantId} does not open with master key ${master.id}: it was changed or moved. Nothing was decrypted.`);
  }
  const keys = { wrapKey: derive(tenantKey, 'oms-audit subject-key wrapping'), indexKey: derive(tenantKey, 'oms-audit blind index') };
  cache.set(tenantId, keys);
  return keys;
}

/** Refuses to start with a master key that does not wrap the stored tenant keys (a clear error, never garbage later). */
export async function checkMasterKey(sql: Sql): Promise<void> {
  const rows = await sql<{ tenant_id: string; master_key_id: string }[]>`
    select tenant_id, master_key_id from oms_audit.tenant_data_keys order by created_at limit 1000`;
  if (!rows.length) return;
  const master = masterKey();
  const wrong = rows.find((r) => r.master_key_id !== master.id);
  if (wrong) throw mismatch(wrong.tenant_id, wrong.master_key_id, master);
}

export async function refOf(sql: Sql, tenantId: string, subjectId: string): Promise<string> {
  return subjectRef((await tenantKeys(sql, tenantId)).indexKey, subjectId);
}

const keyPlace = (tenantId: string, keyId: string) => `oms-audit.subject_keys:${tenantId}:${keyId}`;

/**
 * The write path keeps unwrapped subject keys in memory, per (tenant, subject),
 * in a bounded LRU, and checks every RECHECK_MS — one query per batch for the keys
 * due — that they were not destroyed meanwhile (an erasure in another process), so
 * a later event about an erased person gets a new key within that time.
 */
const RECHECK_MS = 2000;
const MAX_CACHED_KEYS = 50_000;
const MAX_CACHED_REFS = 100_000;

function lruGet<K, V>(cache: Map<K, V>, k: K): V | undefined {
  const v = cache.get(k);
  if (v !== undefined) {
    cache.delete(k);
    cache.set(k, v);
  }
  return v;
}

function lruSet<K, V>(cache: Map<K, V>, k: K, v: V, max: number): void {
  cache.delete(k);
  cache.set(k, v);
  if (cache.size > max) for (const old of cache.keys()) {
    cache.delete(old);
    if (cache.size <= max) break;
  }
}

/** The subject ref (blind index) of a subject id, from a bounded in-memory LRU (one HMAC per new subject). */
export function cachedSubjectRef(tenantId: string, indexKey: Uint8Array, subjectId: string): string {
  const cache = (holder.__omsAuditSubjectRefCache ??= new Map());
  const k = `${tenantId}\u0000${subjectId}`;
  let ref = lruGet(cache, k);
  if (ref === undefined) {
    ref = subjectRef(indexKey, subjectId);
    lruSet(cache, k, ref, MAX_CACHED_REFS);
  }
  return ref;
}

/** The live key of each subject (by ref), created where the subject has none. */
export async function liveSubjectKeys(sql: Sql, tenantId: string, refs: readonly string[]): Promise<Map<string, SubjectKey>> {
  const out = new Map<string, SubjectKey>();
  const cache = (holder.__omsAuditSubjectKeyCache ??= new Map());
  const now = performance.now();
  const due: { ref: string; keyId: string }[] = [];
  const missing: string[] = [];
  for (const ref of refs) {
    const hit = lruGet(cache, `${tenantId}:${ref}`);
    if (!hit) missing.push(ref);
    else {
      out.set(ref, hit.key);
      if (now - hit.checked > RECHECK_MS) due.push({ ref, keyId: hit.key.keyId });
    }
  }
  if (due.length) {
    const live = new Set(
      (await sql<{ key_id: string }[]>`
        select key_id from oms_audit.subject_keys
        where tenant_id = ${tenantId} and key_id = any(${due.map((d) => d.keyId)}::uuid[]) and erased_at is null`).map((r) => r.key_id),
    );
    for (const d of due) {
      if (live.has(d.keyId)) cache.get(`${tenantId}:${d.ref}`)!.checked = now;
      else {
        cache.delete(`${tenantId}:${d.ref}`);
        out.delete(d.ref);
        missing.push(d.ref);
      }
    }
  }
  if (!missing.length) return out;
  const { wrapKey } = await tenantKeys(sql, tenantId);
  const read = () => sql<{ key_id: string; subject_ref: string; wrapped: Buffer }[]>`
    select key_id, subject_ref, wrapped from oms_audit.subject_keys
    where tenant_id = ${tenantId} and subject_ref = any(${missing}::text[]) and erased_at is null`;
  let rows = await read();
  const without = missing.filter((ref) => !rows.some((r) => r.subject_ref === ref));
  if (without.length) {
    // New subjects: a key each (another process may create one at the same moment: one of them stays).
    const fresh = without.map((ref) => ({ ref, keyId: randomUUID(), key: randomBytes(32) }));
    await sql`
      insert into oms_audit.subject_keys (key_id, tenant_id, subject_ref, wrapped)
      select k, ${tenantId}, r, decode(w, 'base64')
      from unnest(${fresh.map((f) => f.keyId)}::uuid[], ${fresh.map((f) => f.ref)}::text[], ${fresh.map((f) => wrap(wrapKey, f.key, keyPlace(tenantId, f.keyId)).toString('base64'))}::text[]) as t(k, r, w)
      on conflict (tenant_id, subject_ref) where erased_at is null do nothing`;
    rows = await read();
  }
  for (const row of rows) {
    const key: SubjectKey = { keyId: row.key_id, subjectRef: row.subject_ref, key: unwrap(wrapKey, row.wrapped, keyPlace(tenantId, row.key_id)) };
    out.set(row.subject_ref, key);
    lruSet(cache, `${tenantId}:${row.subject_ref}`, { key, checked: now }, MAX_CACHED_KEYS);
  }
  return out;
}

/** The keys with these ids, for reading: a destroyed key comes back with `key: null`. Never cached. */
export async function keysById(sql: AnySql, tenantId: string, keyIds: readonly string[]): Promise<Map<string, SubjectKey>> {
  const out = new Map<string, SubjectKey>();
  if (!keyIds.length) return out;
  const rows = await sql<{ key_id: string; subject_ref: string; wrapped: Buffer | null }[]>`
    select key_id, subject_ref, wrapped from oms_audit.subject_keys
    where tenant_id = ${tenantId} and key_id = any(${[...new Set(keyIds)]}::uuid[])`;
  if (!rows.length) return out;
  const { wrapKey } = (await existingTenantKeys(sql, tenantId))!;
  for (const row of rows) {
    out.set(row.key_id, { keyId: row.key_id, subjectRef: row.subject_ref, key: row.wrapped ? unwrap(wrapKey, row.wrapped, keyPlace(tenantId, row.key_id)) : null });
  }
  return out;
}

/** Drops keys of this tenant from the write path's cache (after an erasure in this process). */
export function forgetSubjectKeys(tenantId: string): void {
  for (const k of holder.__omsAuditSubjectKeyCache?.keys() ?? []) if (k.startsWith(tenantId + ':')) holder.__omsAuditSubjectKeyCache!.delete(k);
}
