/**
 * One credential parser on every entry point: the tenant a request names is
 * read from `x-oms-tenant-id` (alias `x-oms-tenant`) by the server's REST,
 * single-event and tRPC endpoints and by the edge function alike, and a
 * credential bound to another tenant is refused the same way everywhere.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { addMembership } from '@/server/services/users.ts';
import { baseUrl, call, countEvents, event, newMember, newTenant, testSql } from '@/test/fixtures.ts';

const functionUrl = () => `${inject('functionsBaseUrl')}/functions/v1/audit-logger`;

async function post(url: string, key: string, body: unknown, headers: Record<string, string>) {
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as { error?: { code: string; issues?: { field: string }[] } } };
}

describe('the tenant header', () => {
  it('is checked against an API key by REST, single events, tRPC and the edge function alike', async () => {
    const [a, b] = await Promise.all([newTenant('header-a'), newTenant('header-b')]);
    const endpoints = [
      { url: `${baseUrl()}/api/v1/audit/events`, body: () => ({ events: [event()] }), created: 201 },
      { url: `${baseUrl()}/api/v1/audit/event`, body: () => event(), created: 201 },
      { url: `${baseUrl()}/api/trpc/events.logBulk`, body: () => ({ events: [event()] }), created: 200 },
      { url: functionUrl(), body: () => ({ events: [event()] }), created: 201 },
    ];
    for (const { url, body, created } of endpoints) {
      const own = await post(url, a.key, body(), { 'x-oms-tenant-id': a.id });
      expect(own.status, url).toBe(created);
      const other = await post(url, a.key, body(), { 'x-oms-tenant-id': b.id });
      expect(other.status, url).toBe(403);
      const alias = await post(url, a.key, body(), { 'x-oms-tenant': b.id });
      expect(alias.status, url).toBe(403);
      const malformed = await post(url, a.key, body(), { 'x-oms-tenant-id': "' or 1=1 --" });
      expect(malformed.status, url).toBe(400);
    }
    expect(await countEvents(a.id)).toBe(endpoints.length);
    expect(await countEvents(b.id)).toBe(0);
  });

  it('chooses the active tenant of a signed-in user calling the API with a bearer token', async () => {
    const [a, b] = await Promise.all([newTenant('header-user-a'), newTenant('header-user-b')]);
    const { user, email, password } = await newMember(a.id, 'auditor', { email: `header-${randomUUID()}@example.com` });
    await addMembership(testSql(), { tenantId: b.id, userId: user.id, role: 'viewer', createdBy: 'test' });
    const signIn = await call('POST', '/api/auth/sign-in', { body: { email, password } });
    const bearer = { authorization: `Bearer ${signIn.body.access_token}` };
    // Auditors may export in tenant A; viewers may not in tenant B: which tenant is active shows in the answer.
    const exportIn = (headers: Record<string, string>) => call('GET', '/api/v1/audit/events/export?format=csv', { headers: { ...bearer, ...headers } });
    expect((await exportIn({ 'x-oms-tenant-id': b.id })).status).toBe(403);
    expect((await exportIn({ 'x-oms-tenant': b.id })).status).toBe(403);
    const conflicting = await exportIn({ 'x-oms-tenant-id': a.id, 'x-oms-tenant': b.id });
    expect(conflicting.status).toBe(400);
    expect(conflicting.body.error.issues[0].field).toBe('x-oms-tenant-id');
    const list = await call('GET', '/api/v1/audit/events?limit=1', { headers: { ...bearer, 'x-oms-tenant-id': b.id } });
    expect(list.status).toBe(200);
    expect((await call('GET', '/api/v1/audit/events?limit=1', { headers: { ...bearer, 'x-oms-tenant-id': (await newTenant()).id } })).status).toBe(403);
  });
});
