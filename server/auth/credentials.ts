/**
 * From request headers to a Caller. Accepts, in this order:
 *   `Authorization: Bearer <API key>` or Supabase's `apikey: <key>` header (apps);
 *   `Authorization: Bearer <JWT>` (console users calling the API; tenant in `x-oms-tenant-id`);
 *   the console's session cookie (tenant chosen in the header, kept in a cookie).
 * Parsing the headers, checking API keys, the tenant header and the observed
 * client are the shared credential parser's (_shared/credentials.ts), the same
 * code the edge function runs; console users and sessions are the server's own.
 */
import { ApiKeyCache } from '@/supabase/functions/_shared/api-keys.ts';
import {
  apiKeyCaller,
  type HeaderReader,
  namedTenant,
  OBSERVED_IP_HEADER,
  observedClient as observedClientOf,
  presentedCredential,
  } from '@/supabase/functions/_shared/credentials.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import type { ObservedClient } from '@/supabase/functions/_shared/ingest.ts';
import { db } from '@/server/db/client.ts';
import { env } from '@/server/env.ts';
import { sessionUser } from '@/server/services/sessions.ts';
import { getUser } from '@/server/services/users.ts';
import type { Caller, Membership } from './caller.ts';
import { LOCAL_ISSUER, verifySessionToken, type SessionClaims } from './jwt.ts';
import { CSRF_HEADER, csrfMatches, readCookie, SESSION_COOKIE, TENANT_COOKIE } from './session.ts';

export { OBSERVED_IP_HEADER };

const holder = globalThis as typeof globalThis & { __omsAuditKeyCache?: ApiKeyCache };

export function apiKeyCache(): ApiKeyCache {
  holder.__omsAuditKeyCache ??= new ApiKeyCache(env().API_KEY_CACHE_SECONDS * 1000);
  return holder.__omsAuditKeyCache;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Memberships from the database (authoritative); a user only an external issuer knows brings them in the token. */
async function userMemberships(claims: SessionClaims): Promise<{ email: string; memberships: Membership[] }> {
  // A token this server signed is good only while its recorded session is (sign-out, password change, …).
  if (claims.iss === LOCAL_ISSUER) {
    if (!UUID.test(claims.sub) || !claims.sid) throw new AuditError('unauthorized', 'This session is not known; sign in again');
    const user = await sessionUser(db(), claims.sid, claims.sub.toLowerCase());
    return { email: user.email, memberships: user.memberships };
  }
  const user = UUID.test(claims.sub) ? await getUser(db(), claims.sub.toLowerCase()) : null;
  if (user) {
    if (user.disabled) throw new AuditError('unauthorized', 'This user is disabled');
    return { email: user.email, memberships: user.memberships };
  }
  if (claims.iss === LOCAL_ISSUER) throw new AuditError('unauthorized', 'This user no longer exists; sign in again');
  const ids = claims.tenants.map((t) => t.tenant_id).filter((id) => UUID.test(id));
  const names = ids.length ? await db()`select id, name from oms_audit.tenants where id = any(${ids}::uuid[])` : [];
  const nameOf = new Map(names.map((r) => [r.id as string, r.name as string]));
  return {
    email: claims.email,
    memberships: claims.tenants.filter((t) => nameOf.has(t.tenant_id)).map((t) => ({ tenantId: t.tenant_id, tenantName: nameOf.get(t.tenant_id)!, role: t.role })),
  };
}

/**
 * The active tenant: an explicit `x-oms-tenant-id` must be one of the user's
 * tenants (403 otherwise); the console's cookie falls back to the first
 * tenant when it names one the user has left.
 */
function activeTenant(headers: HeaderReader, memberships: Membership[]): string | null {
  const asked = namedTenant(headers);
  if (asked) {
    if (!memberships.some((m) => m.tenantId === asked)) throw new AuditError('forbidden', 'You are not a member of that tenant');
    return asked;
  }
  const remembered = readCookie(headers, TENANT_COOKIE)?.toLowerCase();
  if (remembered && memberships.some((m) => m.tenantId === remembered)) return remembered;
  return memberships[0]?.tenantId ?? null;
}

export async function callerFromJwt(token: string, headers: HeaderReader): Promise<{ caller: Caller; sessionId: string }> {
  const claims = await verifySessionToken(token);
  const { email, memberships } = await userMemberships(claims);
  return {
    caller: { kind: 'user', userId: claims.sub.toLowerCase(), email, memberships, tenantId: activeTenant(headers, memberships), sessionId: claims.iss === LOCAL_ISSUER ? claims.sid : undefined },
    sessionId: claims.sid,
  };
}

export type CredentialSource = 'none' | 'api_key' | 'bearer_jwt' | 'cookie';

export interface ResolvedCredential {
  caller: Caller;
  source: CredentialSource;
  /** The sign-in session (JWT `sid`), which the CSRF token is bound to. */
  sessionId?: string;
}

export async function resolveCredential(headers: HeaderReader): Promise<ResolvedCredential> {
  const presented = presentedCredential(headers);
  switch (presented.kind) {
    case 'api_key':
      return { caller: await apiKeyCaller(apiKeyCache(), db(), presented.secret, headers), source: 'api_key' };
    case 'jwt':
      return { ...(await callerFromJwt(presented.token, headers)), source: 'bearer_jwt' };
    case 'unknown':
      throw new AuditError('unauthorized', 'Unknown API key');
    case 'none':
      break;
  }
  const session = readCookie(headers, SESSION_COOKIE);
  if (session) return { ...(await callerFromJwt(session, headers)), source: 'cookie' };
  return { caller: { kind: 'anonymous' }, source: 'none' };
}

export async function resolveCaller(headers: HeaderReader): Promise<Caller> {
  return (await resolveCredential(headers)).caller;
}

/** What the server saw of the client; the socket's address comes in OBSERVED_IP_HEADER, set by our HTTP server. */
export function observedClient(headers: HeaderReader): ObservedClient {
  return observedClientOf(headers, { trustProxy: env().TRUST_PROXY, socketIp: headers.get(OBSERVED_IP_HEADER) });
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Cookie-authenticated requests that change something must echo the CSRF
 * token (bound to the session) in `x-csrf-token`: a page on another site can
 * make the browser send our cookie, but cannot read the token.
 */
export function checkCsrf(method: string, headers: HeaderReader, credential: ResolvedCredential): void {
  if (credential.source !== 'cookie' || SAFE_METHODS.has(method.toUpperCase())) return;
  if (!csrfMatches(credential.sessionId ?? '', headers.get(CSRF_HEADER))) {
    throw new AuditError('forbidden', 'Missing or invalid CSRF token: reload the page and try again');
  }
}
