import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { RateLimiter } from '@/server/auth/rate-limit.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { event, newTenant } from '@/test/fixtures.ts';
import { startServer, type RunningServer } from '@/test/server.ts';

describe('RateLimiter', () => {
  it('allows a burst of twice the rate, then says when to come back', () => {
    const limiter = new RateLimiter(10);
    limiter.take('k', 20);
    try {
      limiter.take('k', 5);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(AuditError);
      expect((err as AuditError).status).toBe(429);
      expect((err as AuditError).retryAfter).toBe(1);
    }
    limiter.take('other', 20);
  });
});

describe('per-key limits over HTTP', () => {
  let server: RunningServer;
  beforeAll(async () => {
    // Low rates, so that refills during slow requests on a busy machine stay far below what the test spends.
    server = await startServer({ databaseUrl: inject('databaseUrl'), env: { RATE_LIMIT_WRITE_EVENTS_PER_SEC: '2', RATE_LIMIT_READ_REQUESTS_PER_SEC: '1' } });
  });
  afterAll(() => server?.stop());

  const post = (key: string, n: number) =>
    fetch(`${server.baseUrl}/api/v1/audit/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events: Array.from({ length: n }, () => event()) }),
    });

  it('answers 429 with Retry-After once a key exceeds its write or read rate, per key', async () => {
    const [t, other] = await Promise.all([newTenant(), newTenant()]);
    // A burst of twice the rate (4 events), then 3 more: refused unless 1.5 s passed in between.
    expect((await post(t.key, 4)).status).toBe(201);
    const limited = await post(t.key, 3);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await limited.json()).error.code).toBe('rate_limited');
    // Another key is not affected.
    expect((await post(other.key, 4)).status).toBe(201);

    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      statuses.push((await fetch(`${server.baseUrl}/api/v1/audit/events?limit=1`, { headers: { authorization: `Bearer ${t.readKey}` } })).status);
    }
    // A burst of 2 reads, then one a second: 8 reads in under 6 s meet a 429.
    expect(statuses.slice(0, 2)).toEqual([200, 200]);
    expect(statuses).toContain(429);
  });
});
