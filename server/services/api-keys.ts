/** API keys: created (secret shown once), listed, revoked. Verification lives in _shared. */
import { API_KEY_SCOPES, generateApiKey, type ApiKeyScope } from '@/supabase/functions/_shared/api-keys.ts';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { personSql } from './people.ts';

export interface ApiKeyInfo {
  id: string;
  tenant_id: string;
  name: string;
  prefix: string;
  scopes: ApiKeyScope[];
  created_at: string;
  created_by: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}

export interface CreatedApiKey extends ApiKeyInfo {
  /** The secret: returned once, never stored. */
  key: string;
}

/** created_by is read as the person's email (server/services/people.ts). */
const COLUMNS = `id, tenant_id, name, prefix, scopes, created_at, ${personSql('api_keys.created_by')} as created_by, revoked_at, last_used_at`;

export function parseScopes(scopes: readonly string[]): ApiKeyScope[] {
  const unknown = scopes.filter((s) => !(API_KEY_SCOPES as readonly string[]).includes(s));
  if (unknown.length || scopes.length === 0) {
    throw new AuditError('invalid_request', `Scopes must be one or more of ${API_KEY_SCOPES.join(', ')}${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}`);
  }
  return [...new Set(scopes)] as ApiKeyScope[];
}

export async function createApiKey(
  sql: Sql,
  input: { tenantId: string; scopes: readonly string[]; name?: string; createdBy?: string },
): Promise<CreatedApiKey> {
  const scopes = parseScopes(input.scopes);
  const generated = generateApiKey();
  const name = input.name?.trim() || `key ${generated.prefix}`;
  try {
    const [row] = await sql`
      insert into oms_audit.api_keys (tenant_id, name, prefix, secret_hash, scopes, created_by)
      values (${input.tenantId}, ${name}, ${generated.prefix}, decode(${generated.hashHex}, 'hex'), ${sql.array(scopes)}::text[], ${input.createdBy ?? null})
      returning ${sql.unsafe(COLUMNS)}`;
    return { ...(row as unknown as ApiKeyInfo), key: generated.secret };
  } catch (err) {
    if ((err as { code?: string }).code === '23503') throw new AuditError('not_found', `No tenant ${input.tenantId}`);
    throw err;
  }
}

export async function listApiKeys(sql: Sql, tenantId: string): Promise<ApiKeyInfo[]> {
  return (await sql`
    select ${sql.unsafe(COLUMNS)} from oms_audit.api_keys
    where tenant_id = ${tenantId} order by created_at desc`) as unknown as ApiKeyInfo[];
}

/** Revokes a key; with `tenantId`, only a key of that tenant. Revoking twice keeps the first time. */
export async function revokeApiKey(sql: Sql, input: { id: string; tenantId?: string }): Promise<ApiKeyInfo> {
  const [row] = await sql`
    update oms_audit.api_keys set revoked_at = coalesce(revoked_at, now())
    where id = ${input.id} ${input.tenantId ? sql`and tenant_id = ${input.tenantId}` : sql``}
    returning ${sql.unsafe(COLUMNS)}`;
  if (!row) throw new AuditError('not_found', `No API key ${input.id}`);
  return row as unknown as ApiKeyInfo;
}
