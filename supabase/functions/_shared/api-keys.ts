/**
 * API keys for apps: `omsk_` + 32 base64url characters (192 random bits).
 * Only the SHA-256 of a key is stored; lookups go by that hash. Shared by the
 * server and the edge function so both accept exactly the same keys.
 */
import { randomBytes } from 'node:crypto';
import { sha256Hex } from './event-hash.ts';
import type { Sql } from './db.ts';

export const API_KEY_PREFIX = 'omsk_';
export const API_KEY_SCOPES = ['events:write', 'events:read'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

export interface GeneratedKey {
  secret: string;
  /** Shown in lists so people can tell keys apart; not enough to use the key. */
  prefix: string;
  hashHex: string;
}

export function generateApiKey(): GeneratedKey {
  const secret = API_KEY_PREFIX + randomBytes(24).toString('base64url');
  return { secret, prefix: secret.slice(0, 12), hashHex: hashApiKey(secret) };
}

export function hashApiKey(secret: string): string {
  return sha256Hex(secret);
}

export function looksLikeApiKey(token: string): boolean {
  return token.startsWith(API_KEY_PREFIX) && token.length === API_KEY_PREFIX.length + 32;
}

export interface ApiKeyRecord {
  id: string;
  tenantId: string;
  scopes: ApiKeyScope[];
  revoked: boolean;
}

export async function findApiKey(sql: Sql, secret: string): Promise<ApiKeyRecord | null> {
  if (!looksLikeApiKey(secret)) return null;
  const rows = await sql`
    select id, tenant_id, scopes, revoked_at is not null as revoked
    from oms_audit.api_keys
    where secret_hash = decode(${hashApiKey(secret)}, 'hex')`;
  const row = rows[0];
  if (!row) return null;
  return { id: row.id as string, tenantId: row.tenant_id as string, scopes: row.scopes as ApiKeyScope[], revoked: row.revoked as boolean };
}

/**
 * Verified keys are trusted for `ttlMs` before they are looked up again, so a
 * busy key costs one query per interval, and a revocation takes effect within it.
 */
export class ApiKeyCache {
  private readonly entries = new Map<string, { record: ApiKeyRecord | null; expires: number }>();
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  async verify(sql: Sql, secret: string): Promise<ApiKeyRecord | null> {
    const hash = hashApiKey(secret);
    const now = Date.now();
    const hit = this.entries.get(hash);
    let record: ApiKeyRecord | null;
    if (hit && hit.expires > now) {
      record = hit.record;
    } else {
      record = await findApiKey(sql, secret);
      if (this.entries.size >= this.maxEntries) this.entries.clear();
      // Unknown keys are remembered only briefly, so a key created a moment ago works at once.
      this.entries.set(hash, { record, expires: now + (record ? this.ttlMs : Math.min(this.ttlMs, 1000)) });
    }
    if (record && !record.revoked) this.touch(sql, record.id, now);
    return record;
  }

  /** Forgets everything (after a revocation in this process). */
  clear(): void {
    this.entries.clear();
  }

  /** last_used_at, written at most once a minute per key. */
  private touch(sql: Sql, keyId: string, now: number): void {
    const last = this.touched.get(keyId) ?? 0;
    if (now - last < 60_000) return;
    this.touched.set(keyId, now);
    sql`update oms_audit.api_keys set last_used_at = now() where id = ${keyId}`.catch(() => this.touched.delete(keyId));
  }
}
