/** Per-credential rate limits of the server; the token bucket itself is shared with the edge function. */
import { RateLimiter } from '@/supabase/functions/_shared/rate-limit.ts';

export { RateLimiter };

const holder = globalThis as typeof globalThis & { __omsAuditLimiters?: { write: RateLimiter; read: RateLimiter } };

/** Writes are metered in events, reads in requests, per API key or user. */
export function enforceRateLimit(subject: string, kind: 'write' | 'read', cost: number, limits: { writeEventsPerSec: number; readRequestsPerSec: number }): void {
  holder.__omsAuditLimiters ??= { write: new RateLimiter(limits.writeEventsPerSec), read: new RateLimiter(limits.readRequestsPerSec) };
  holder.__omsAuditLimiters[kind].take(subject, cost);
}

/** Forgets the limiters (tests that change the limits). */
export function resetRateLimiters(): void {
  holder.__omsAuditLimiters = undefined;
}
