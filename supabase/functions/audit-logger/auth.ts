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
 * grant nothing. Reading the headers, API keys and the tenant header are the
 * shared credential parser's (../_shared/credentials.ts), as on the server;
 * service-role tokens are this function's own.
 */
import { jwtVerify } from 'jose';
import type { ApiKeyCache } from '../_shared/api-keys.ts';
import { apiKeyCaller, namedTenant, presentedCredential, TENANT_HEADER, type ApiKeyCaller, type ServiceRoleCaller } from '../_shared/credentials.ts';
import type { Sql } from '../_shared/db.ts';
import { AuditError } from '../_shared/errors.ts';

export { TENANT_HEADER };

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

/** The writing caller of a request: an API key with events:write, or a service-role token naming its tenant. */
export async function authenticate(headers: Headers, auth: Authenticator): Promise<ApiKeyCaller | ServiceRoleCaller> {
  const presented = presentedCredential(headers);
  switch (presented.kind) {
    case 'api_key': {
      const caller = await apiKeyCaller(auth.keys, auth.sql, presented.secret, headers);
      if (!caller.scopes.includes('events:write')) throw new AuditError('forbidden', 'This credential lacks the permission events:write');
      return caller;
    }
    case 'jwt':
      // Supabase's apikey header carries the project's anon key; only a bearer token can be a service role.
      if (presented.header === 'authorization') return await fromServiceRole(headers, presented.token, auth);
      break;
    case 'unknown':
    case 'none':
      break;
  }
  if (presented.kind !== 'none') {
    throw new AuditError('unauthorized', 'Unknown credential: send a tenant API key as "Authorization: Bearer omsk_…"');
  }
  throw new AuditError('unauthorized', 'Authentication required: send Authorization: Bearer <API key>');
}

async function fromServiceRole(headers: Headers, token: string, auth: Authenticator): Promise<ServiceRoleCaller> {
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
  const tenantId = namedTenant(headers);
  if (!tenantId) {
    throw new AuditError('invalid_request', `A service-role token must name the tenant in the ${TENANT_HEADER} header`, [
      { field: TENANT_HEADER, message: 'is required with a service-role token' },
    ]);
  }
  if (!(await auth.tenants.exists(auth.sql, tenantId))) throw new AuditError('not_found', `No tenant ${tenantId}`);
  return { kind: 'service_role', tenantId };
}
