/**
 * From request headers to a Caller. Accepts `Authorization: Bearer <key>` and
 * Supabase's `apikey: <key>` header (what supabase-js sends).
 */
import { ApiKeyCache } from '@/supabase/functions/_shared/api-keys.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import type { ObservedClient } from '@/supabase/functions/_shared/ingest.ts';
import { canonicalIp } from '@/supabase/functions/_shared/ip.ts';
import { db } from '@/server/db/client.ts';
import { env } from '@/server/env.ts';
import type { Caller } from './caller.ts';

const holder = globalThis as typeof globalThis & { __omsAuditKeyCache?: ApiKeyCache };

export function apiKeyCache(): ApiKeyCache {
  holder.__omsAuditKeyCache ??= new ApiKeyCache(env().API_KEY_CACHE_SECONDS * 1000);
  return holder.__omsAuditKeyCache;
}

export function bearerToken(headers: Headers): string | null {
  const auth = headers.get('authorization');
  if (auth) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (!match) throw new AuditError('unauthorized', 'Authorization header must be "Bearer <API key>"');
    return match[1]!;
  }
  return headers.get('apikey')?.trim() || null;
}

export async function callerFromApiKey(token: string): Promise<Caller> {
  const record = await apiKeyCache().verify(db(), token);
  if (!record) throw new AuditError('unauthorized', 'Unknown API key');
  if (record.revoked) throw new AuditError('unauthorized', 'This API key has been revoked');
  return { kind: 'api_key', keyId: record.id, tenantId: record.tenantId, scopes: record.scopes };
}

export async function resolveCaller(headers: Headers): Promise<Caller> {
  const token = bearerToken(headers);
  if (!token) return { kind: 'anonymous' };
  return callerFromApiKey(token);
}

/** Header our HTTP server sets from the socket; anything a client sends under this name is replaced. */
export const OBSERVED_IP_HEADER = 'x-oms-observed-ip';

export function observedClient(headers: Headers): ObservedClient {
  let ip: string | null = null;
  if (env().TRUST_PROXY) {
    const forwarded = headers.get('x-forwarded-for')?.split(',')[0]?.trim();
    if (forwarded) ip = canonicalIp(forwarded);
  }
  ip ??= canonicalIp(headers.get(OBSERVED_IP_HEADER) ?? '');
  const ua = headers.get('user-agent');
  const userAgent = ua && !/[\u0000-\u001f\u007f]/.test(ua) ? ua.slice(0, 1024) : null;
  return { ip, userAgent };
}
