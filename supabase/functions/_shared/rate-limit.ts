/**
 * Per-credential token buckets: sustained `ratePerSec`, bursts up to twice that.
 * A refused request learns when to come back (Retry-After).
 */
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
