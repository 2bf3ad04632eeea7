/**
 * Who may write through the function, and for which tenant:
 *
 * - an app: its tenant API key, as `Authorization: Bearer omsk_…` or in Supabase's
 *   `apikey` header (what supabase-js sends). The tenant is the key's; the key
 *   needs the events:write scope.
 * - a trusted back-end: a service-role JWT of the project (HS256, signed with
 *   the project's JWT secret) and the tenant named explicitly in `x-oms-tenant-id`.
 *
 * The project's anon key, a user's session token, or a tenant in the payload
 * grant nothing.
 */
import { jwtVerify } from 'jose';
import { API_KEY_PREFIX, type ApiKeyCache } from '../_shared/api-keys.ts';
import type { Sql } from '../_shared/db.ts';
import { AuditError } from '../_shared/errors.ts';
import type { WriteCaller } from '../_shared/ingest.ts';

export const TENANT_HEADER = 'x-oms-tenant-id';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/;

export interface Authenticator {
  sql: Sql;
  keys: ApiKeyCache;
  /** The project's JWT secret; without it service-role tokens are refused. */
  jwtSecret?: string;
  tenants: TenantCache;
}

/** Tenants known to exist, remembered briefly (service-role writes name one per request). */
export class TenantCache {
  private readonly known = new Map<string, number>();
  constructor(private readonly ttlMs: number) {}

  async exists(sql: Sql, tenantId: string): Promise<boolean> {
    const now = Date.now();
    if ((this.known.get(tenantId) ?? 0) > now) return true;
    const rows = await sql`select 1 from oms_audit.tenants where id = ${tenantId}`;
    if (!rows.length) return false;
    if (this.known.size > 10_000) this.known.clear();
    this.known.set(tenantId, now + this.ttlMs);
    return true;
  }
}

function bearer(headers: Headers): string | null {
  const auth = headers.get('authorization');
  if (!auth) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
  if (!match) throw new AuditError('unauthorized', 'Authorization header must be "Bearer <API key>"');
  return match[1]!;
}

export async function authenticate(headers: Headers, auth: Authenticator): Promise<WriteCaller> {
  const token = bearer(headers);
  const apikey = headers.get('apikey')?.trim() || null;
  const key = [token, apikey].find((t) => t?.startsWith(API_KEY_PREFIX));
  if (key) return await fromApiKey(headers, key, auth);
  if (token && JWT.test(token)) return await fromServiceRole(headers, token, auth);
  if (token || apikey) {
    throw new AuditError('unauthorized', 'Unknown credential: send a tenant API key as "Authorization: Bearer omsk_…"');
  }
  throw new AuditError('unauthorized', 'Authentication required: send Authorization: Bearer <API key>');
}

async function fromApiKey(headers: Headers, key: string, auth: Authenticator): Promise<WriteCaller> {
  const record = await auth.keys.verify(auth.sql, key);
  if (!record) throw new AuditError('unauthorized', 'Unknown API key');
  if (record.revoked) throw new AuditError('unauthorized', 'This API key has been revoked');
  if (!record.scopes.includes('events:write')) throw new AuditError('forbidden', 'This credential lacks the permission events:write');
  const named = headers.get(TENANT_HEADER)?.trim().toLowerCase();
  if (named && named !== record.tenantId) {
    throw new AuditError('tenant_mismatch', `${TENANT_HEADER} names another tenant than the API key's`, [
      { field: TENANT_HEADER, message: 'differs from the tenant of the credential' },
    ]);
  }
  return { tenantId: record.tenantId, principal: `key:${record.id}` };
}

async function fromServiceRole(headers: Headers, token: string, auth: Authenticator): Promise<WriteCaller> {
  if (!auth.jwtSecret) {
    throw new AuditError('unauthorized', 'This deployment accepts tenant API keys only (no JWT secret is configured)');
  }
  let role: unknown;
  try {
    const { payload } = await jwtVerify(token, new TextEncoder().encode(auth.jwtSecret), { algorithms: ['HS256'] });
    role = payload.role;
  } catch {
    throw new AuditError('unauthorized', 'Invalid or expired token');
  }
  if (role !== 'service_role') {
    // The anon key and users' session tokens are valid JWTs of the project, but name no tenant.
    throw new AuditError('unauthorized', 'Only a tenant API key or a service-role token may write audit events; this token has neither');
  }
  const tenantId = headers.get(TENANT_HEADER)?.trim().toLowerCase();
  if (!tenantId) {
    throw new AuditError('invalid_request', `A service-role token must name the tenant in the ${TENANT_HEADER} header`, [
      { field: TENANT_HEADER, message: 'is required with a service-role token' },
    ]);
  }
  if (!UUID.test(tenantId)) throw new AuditError('invalid_request', `${TENANT_HEADER} must be a UUID`, [{ field: TENANT_HEADER, message: 'must be a UUID' }]);
  if (!(await auth.tenants.exists(auth.sql, tenantId))) throw new AuditError('not_found', `No tenant ${tenantId}`);
  return { tenantId, principal: 'service' };
}
