/**
 * Exponential backoff with full jitter: the n-th retry waits a random time in
 * [0, min(max, base · 2ⁿ)], so many clients coming back after an outage spread
 * out instead of arriving together; never less than the server's Retry-After.
 */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

export function backoffDelay(attempt: number, options: BackoffOptions, retryAfterSeconds?: number, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt, 30));
  const jittered = random() * ceiling;
  return Math.max(jittered, (retryAfterSeconds ?? 0) * 1000);
}
