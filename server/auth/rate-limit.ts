/** The server's per-caller rate limits (one set per process); the charging itself is shared with the edge function. */
import { RateLimiter, RateLimits } from '@/supabase/functions/_shared/rate-limit.ts';
import { env } from '@/server/env.ts';
import type { Caller } from './caller.ts';

export { RateLimiter };

const holder = globalThis as typeof globalThis & { __omsAuditRateLimits?: RateLimits };

/** Charges the caller's rate limit: writes in events, reads in requests (429 with Retry-After). REST and tRPC both call this. */
export function chargeRate(caller: Caller, kind: 'write' | 'read', cost = 1): void {
  const { RATE_LIMIT_WRITE_EVENTS_PER_SEC, RATE_LIMIT_READ_REQUESTS_PER_SEC } = env();
  holder.__omsAuditRateLimits ??= new RateLimits({ writeEventsPerSec: RATE_LIMIT_WRITE_EVENTS_PER_SEC, readRequestsPerSec: RATE_LIMIT_READ_REQUESTS_PER_SEC });
  holder.__omsAuditRateLimits.charge(caller, kind, cost);
}

/** Forgets the limiters (tests that change the limits). */
export function resetRateLimiters(): void {
  holder.__omsAuditRateLimits = undefined;
}
