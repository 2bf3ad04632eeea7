import { describe, expect, it } from 'vitest';
import { call } from '@/test/fixtures.ts';

describe('GET /api/health', () => {
  it('reports the database reachable and no migration pending', async () => {
    const res = await call('GET', '/api/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', database: 'ok', migrations: { applied: expect.any(Number), pending: [] } });
  });
});
