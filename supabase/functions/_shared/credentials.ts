/**
 * The one credential parser, shared by the Node server and the audit-logger
 * edge function: which credential a request presents (`Authorization: Bearer`
 * or Supabase's `apikey` header), API-key checks, the tenant a request names
 * (`x-oms-tenant-id`), what the server observed of the client (IP and user
 * agent, X-Forwarded-For only behind a trusted proxy), and how each kind of
 * caller maps to the writer recorded on its events and to its rate-limit
 * subject. Transports add only what is theirs: the server's console sessions
 * (server/auth/credentials.ts), the edge function's service-role tokens
 * (audit-logger/auth.ts).
 */
import { looksLikeApiKey, type ApiKeyCache, type ApiKeyScope } from './api-keys.ts';
import type { Sql } from './db.ts';
import { AuditError } from './errors.ts';
import type { ObservedClient } from './ingest.ts';
import { canonicalIp } from './ip.ts';
import { ROUND_TRIP_HEADER } from './clock.ts';
import { LIMITS } from './limits.ts';
import { unhandled, type WriteCaller, type Writer } from './writers.ts';

/** The tenant a request names: required with a service-role token, checked against any other credential. */
export const TENANT_HEADER = 'x-oms-tenant-id';
/** Earlier name of TENANT_HEADER on the server's API, still accepted with the same meaning. */
export const TENANT_HEADER_ALIAS = 'x-oms-tenant';
/** Set by the Node server from the socket; whatever a client sends under this name is replaced. */
export const OBSERVED_IP_HEADER = 'x-oms-observed-ip';
/** Request ids: what is accepted from `x-request-id` and becomes the default request_id of events. */
export const REQUEST_ID_HEADER = 'x-request-id';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Short and plain (letters, digits, . _ : -): safe in logs, headers and the stored event. */
export function validRequestId(value: string): boolean {
  return /^[A-Za-z0-9._:-]{1,128}$/.test(value);
}

export function looksLikeJwt(token: string): boolean {
  return JWT.test(token);
}

/** What a request presents, before anything is looked up. */
export type PresentedCredential =
  | { kind: 'none' }
  | { kind: 'api_key'; secret: string }
  | { kind: 'jwt'; token: string; header: 'authorization' | 'apikey' }
  | { kind: 'unknown' };

/**
 * What the credential parser reads of a request's headers: Fetch's Headers, or
 * a lighter view of Node's parsed headers (server/http/single-event.ts).
 */
export type HeaderReader = Pick<Headers, 'get'>;

/**
 * Reads `Authorization: Bearer <token>` and `apikey: <token>`. An API key in
 * either wins (supabase-js sends the project's anon key in one of them); then a
 * JWT (the bearer's, else the apikey's). A malformed Authorization header is 401.
 */
export function presentedCredential(headers: HeaderReader): PresentedCredential {
  const auth = headers.get('authorization');
  let bearer: string | null = null;
  if (auth) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (!match) throw new AuditError('unauthorized', 'Authorization header must be "Bearer <API key or token>"');
    bearer = match[1]!;
  }
  const apikey = headers.get('apikey')?.trim() || null;
  for (const token of [bearer, apikey]) if (token && looksLikeApiKey(token)) return { kind: 'api_key', secret: token };
  if (bearer && looksLikeJwt(bearer)) return { kind: 'jwt', token: bearer, header: 'authorization' };
  if (apikey && looksLikeJwt(apikey)) return { kind: 'jwt', token: apikey, header: 'apikey' };
  return bearer || apikey ? { kind: 'unknown' } : { kind: 'none' };
}

/** The tenant named by `x-oms-tenant-id` (or its alias), lower-cased; 400 if it is not a UUID or the two disagree. */
export function namedTenant(headers: HeaderReader): string | null {
  const named = headers.get(TENANT_HEADER)?.trim().toLowerCase() || null;
  const alias = headers.get(TENANT_HEADER_ALIAS)?.trim().toLowerCase() || null;
  if (named && alias && named !== alias) {
    throw new AuditError('invalid_request', `${TENANT_HEADER} and ${TENANT_HEADER_ALIAS} name different tenants`, [
      { field: TENANT_HEADER, message: `differs from ${TENANT_HEADER_ALIAS}` },
    ]);
  }
  const tenant = named ?? alias;
  if (tenant !== null && !UUID.test(tenant)) {
    const field = named ? TENANT_HEADER : TENANT_HEADER_ALIAS;
    throw new AuditError('invalid_request', `${field} must be a tenant id (a UUID)`, [{ field, message: 'must be a UUID' }]);
  }
  return tenant;
}

/** A credential bound to one tenant: a tenant named in the request must be that one (403 otherwise). */
export function requireNamedTenantIs(headers: HeaderReader, tenantId: string): void {
  const named = namedTenant(headers);
  if (named && named !== tenantId) {
    throw new AuditError('tenant_mismatch', `${TENANT_HEADER} names another tenant than the credential's`, [
      { field: TENANT_HEADER, message: 'differs from the tenant of the credential' },
    ]);
  }
}

export interface ApiKeyCaller {
  kind: 'api_key';
  keyId: string;
  tenantId: string;
  scopes: ApiKeyScope[];
}

export interface ServiceRoleCaller {
  kind: 'service_role';
  tenantId: string;
}

/** What this module needs of a console user (the server's caller carries more). */
export interface UserCallerLike {
  kind: 'user';
  userId: string;
  tenantId: string | null;
}

/** Every kind of caller any transport resolves. */
export type AnyCaller = { kind: 'anonymous' } | ApiKeyCaller | ServiceRoleCaller | UserCallerLike;

/** Looks up an API key (cached): 401 for an unknown or revoked key, and for a tenant header naming another tenant 403. */
export async function apiKeyCaller(keys: ApiKeyCache, sql: Sql, secret: string, headers: HeaderReader): Promise<ApiKeyCaller> {
  const record = await keys.verify(sql, secret);
  if (!record) throw new AuditError('unauthorized', 'Unknown API key');
  if (record.revoked) throw new AuditError('unauthorized', 'This API key has been revoked');
  requireNamedTenantIs(headers, record.tenantId);
  return { kind: 'api_key', keyId: record.id, tenantId: record.tenantId, scopes: record.scopes };
}

/** The writer a caller's events record (written_by). Exhaustive: a new kind of caller must be mapped here. */
export function writerOf(caller: AnyCaller): WriteCaller {
  let writer: Writer;
  switch (caller.kind) {
    case 'anonymous':
      throw new AuditError('unauthorized', 'Authentication required: send Authorization: Bearer <API key>');
    case 'api_key':
      writer = { kind: 'api_key', keyId: caller.keyId };
      break;
    case 'service_role':
      writer = { kind: 'service_role' };
      break;
    case 'user':
      writer = { kind: 'user', userId: caller.userId };
      break;
    default:
      return unhandled(caller);
  }
  if (!caller.tenantId) throw new AuditError('forbidden', 'No tenant for this credential');
  return { tenantId: caller.tenantId, writer };
}

/** Whom a caller is, for rate limits and the claims of its transactions. Exhaustive like writerOf. */
export function principalOf(caller: AnyCaller): string {
  switch (caller.kind) {
    case 'anonymous':
      return 'anonymous';
    case 'api_key':
      return `key:${caller.keyId}`;
    case 'service_role':
      return `service:${caller.tenantId}`;
    case 'user':
      return `user:${caller.userId}`;
    default:
      return unhandled(caller);
  }
}

// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * What the server saw of the client: its address (the first X-Forwarded-For
 * entry only when the server sits behind a proxy it trusts, else the socket's),
 * its user agent (without control characters, at most the contract's length), the request id, and the
 * network round trip the client reported (clock evidence, validated when events are stamped).
 */
export function observedClient(headers: HeaderReader, options: { trustProxy: boolean; socketIp: string | null | undefined }): ObservedClient {
  let ip: string | null = null;
  if (options.trustProxy) {
    const forwarded = headers.get('x-forwarded-for')?.split(',')[0]?.trim();
    if (forwarded) ip = canonicalIp(forwarded);
  }
  ip ??= canonicalIp(options.socketIp ?? '');
  const ua = headers.get('user-agent');
  const userAgent = ua && !CONTROL.test(ua) ? ua.slice(0, LIMITS.userAgentLength) : null;
  const id = headers.get(REQUEST_ID_HEADER);
  const roundTrip = headers.get(ROUND_TRIP_HEADER);
  return { ip, userAgent, requestId: id && validRequestId(id) ? id : null, ...(roundTrip === null ? {} : { roundTrip }) };
}
