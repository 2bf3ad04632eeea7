/** Sign-in over HTTP: cookies, bearer tokens, tenant choice, CSRF, and AUDIT_SIGN_IN events. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { addMembership } from '@/server/services/users.ts';
import { baseUrl, call, newMember, newTenant, testSql, TEST_PASSWORD as PASSWORD } from '@/test/fixtures.ts';

async function signIn(email: string, password = PASSWORD) {
  const res = await fetch(`${baseUrl()}/api/auth/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  const cookies = res.headers.getSetCookie();
  const jar = cookies.map((c) => c.split(';')[0]).join('; ');
  const csrf = decodeURIComponent(/oms_csrf=([^;]*)/.exec(jar)?.[1] ?? '');
  return { res, cookies, jar, csrf, body: await res.json() };
}

describe('sign-in', () => {
  it('issues an httpOnly SameSite session cookie and a token that work for the console and the API', async () => {
    const [a, b] = await Promise.all([newTenant('signin-a'), newTenant('signin-b')]);
    const email = `u-${randomUUID()}@example.com`;
    const { user } = await newMember(a.id, 'auditor', { email });
    await addMembership(testSql(), { tenantId: b.id, userId: user.id, role: 'viewer', createdBy: 'test' });
    const s = await signIn(email.toUpperCase());
    expect(s.res.status).toBe(200);
    const session = s.cookies.find((c) => c.startsWith('oms_session='))!;
    expect(session).toMatch(/HttpOnly/);
    expect(session).toMatch(/SameSite=Lax/);
    expect(s.cookies.find((c) => c.startsWith('oms_csrf='))).not.toMatch(/HttpOnly/);
    expect(s.body.tenants.map((t: { id: string; role: string }) => [t.id, t.role]).sort()).toEqual([[a.id, 'auditor'], [b.id, 'viewer']].sort());

    // Bearer JWT with an explicit tenant; a tenant the user is not in is refused.
    const bearer = { authorization: `Bearer ${s.body.access_token}` };
    expect((await call('GET', '/api/v1/audit/events?limit=1', { headers: { ...bearer, 'x-oms-tenant': b.id } })).status).toBe(200);
    expect((await call('GET', '/api/v1/audit/events/export?format=csv', { headers: { ...bearer, 'x-oms-tenant': b.id } })).status).toBe(403);
    expect((await call('GET', '/api/v1/audit/events?limit=1', { headers: { ...bearer, 'x-oms-tenant': (await newTenant()).id } })).status).toBe(403);

    // Cookie: reads need no CSRF token; mutations do.
    const me = await call('GET', '/api/trpc/session.me', { headers: { cookie: s.jar } });
    expect(me.status).toBe(200);
    const save = (headers: Record<string, string>) => call('POST', '/api/trpc/savedSearches.create', { headers: { cookie: s.jar, ...headers }, body: { name: 'n', query: 'a=b' } });
    expect((await save({})).status).toBe(403);
    expect((await save({ 'x-csrf-token': 'forged' })).status).toBe(403);
    expect((await save({ 'x-csrf-token': s.csrf })).status).toBe(200);

    // Switching tenant: only to one of the user's.
    const switched = await call('POST', '/api/auth/tenant', { headers: { cookie: s.jar, 'x-csrf-token': s.csrf }, body: { tenant_id: b.id } });
    expect(switched.status).toBe(200);
    expect((await call('POST', '/api/auth/tenant', { headers: { cookie: s.jar, 'x-csrf-token': s.csrf }, body: { tenant_id: (await newTenant()).id } })).status).toBe(403);

    // Both tenants recorded the sign-in.
    for (const t of [a, b]) {
      const trail = await call('GET', '/api/v1/audit/events?event_type=AUDIT_SIGN_IN', { key: t.readKey });
      expect(trail.body.events).toEqual([expect.objectContaining({ actor_id: email, outcome: 'success', object_type: 'CONSOLE_USER' })]);
    }
  });

  it('refuses wrong passwords the same way as unknown emails, recording the failure for known users', async () => {
    const t = await newTenant('signin-fail');
    const email = `f-${randomUUID()}@example.com`;
    await newMember(t.id, 'viewer', { email });
    const wrong = await signIn(email, 'not the password');
    const unknown = await signIn(`nobody-${randomUUID()}@example.com`);
    expect([wrong.res.status, unknown.res.status]).toEqual([401, 401]);
    expect(wrong.body.error.message).toBe(unknown.body.error.message);
    expect(wrong.cookies).toEqual([]);
    // Recorded after the answer, so that recording takes no time a caller could measure.
    await expect
      .poll(async () => (await call('GET', '/api/v1/audit/events?event_type=AUDIT_SIGN_IN', { key: t.readKey })).body.events, { timeout: 10_000 })
      .toEqual([expect.objectContaining({ actor_id: email, outcome: 'failure' })]);
    // A cross-site sign-in attempt is refused outright.
    const cross = await fetch(`${baseUrl()}/api/auth/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://evil.example' }, body: JSON.stringify({ email, password: PASSWORD }) });
    expect(cross.status).toBe(403);
  });
});
