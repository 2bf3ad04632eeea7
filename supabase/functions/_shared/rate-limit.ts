/**
 * Per-credential token buckets: sustained `ratePerSec`, bursts up to twice that.
 * A refused request learns when to come back (Retry-After).
 */
import { principalOf, type AnyCaller } from './credentials.ts';
import { AuditError } from './errors.ts';

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerSec: number,
    /** Most tokens a bucket holds (default: two seconds' worth). */
    private readonly burst = ratePerSec * 2,
  ) {}

  /** Takes `cost` tokens for `key`, or throws 429 with the seconds until they are available. */
  take(key: string, cost = 1): void {
    const capacity = this.burst;
    const now = performance.now();
    const bucket = this.buckets.get(key) ?? { tokens: capacity, at: now };
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSec);
    bucket.at = now;
    if (bucket.tokens < cost) {
      this.buckets.set(key, bucket);
      const wait = Math.max(1, Math.ceil((Math.min(cost, capacity) - bucket.tokens) / this.ratePerSec));
      throw new AuditError('rate_limited', `Rate limit exceeded for this credential; retry in ${wait} s`, [], wait);
    }
    bucket.tokens -= cost;
    this.buckets.set(key, bucket);
    if (this.buckets.size > 100_000) this.buckets.clear();
  }
}

/**
 * The one way every transport charges a caller (REST, tRPC, single events, the
 * edge function): writes cost one token per event, reads one per request, in
 * buckets per caller (principalOf: per API key, per user, per tenant for
 * service-role writes).
 */
export class RateLimits {
  private readonly limiters: Record<'write' | 'read', RateLimiter>;

  constructor(limits: { writeEventsPerSec: number; readRequestsPerSec: number }) {
    this.limiters = { write: new RateLimiter(limits.writeEventsPerSec), read: new RateLimiter(limits.readRequestsPerSec) };
  }

  /** Takes `cost` (events for writes, 1 for a read) from the caller's bucket, or throws 429 with Retry-After. */
  charge(caller: AnyCaller, kind: 'write' | 'read', cost = 1): void {
    this.limiters[kind].take(principalOf(caller), cost);
  }
}
