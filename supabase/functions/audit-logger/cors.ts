/**
 * CORS: browsers call the function directly (the seed's frontends do). Credentials
 * travel in headers, never cookies, so any origin may be allowed by default.
 */

/** What supabase-js sends, the tenant header of service-role writes, and the SDK's measured round trip (clock evidence). */
const ALLOWED_HEADERS = 'authorization, apikey, content-type, x-client-info, x-region, x-retry-count, x-request-id, x-oms-tenant-id, x-oms-tenant, x-audit-round-trip-ms';

export function corsHeaders(origin: string | null, allowed: string): Record<string, string> {
  const headers: Record<string, string> = { 'access-control-expose-headers': 'retry-after' };
  if (allowed.trim() === '*') {
    headers['access-control-allow-origin'] = '*';
  } else {
    headers.vary = 'Origin';
    const list = allowed.split(',').map((o) => o.trim());
    if (origin && list.includes(origin)) headers['access-control-allow-origin'] = origin;
  }
  return headers;
}

export function preflightHeaders(origin: string | null, allowed: string): Record<string, string> {
  return {
    ...corsHeaders(origin, allowed),
    'access-control-allow-methods': 'POST, OPTIONS',
    'access-control-allow-headers': ALLOWED_HEADERS,
    'access-control-max-age': '86400',
  };
}
