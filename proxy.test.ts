/**
 * Security headers of the console's pages, signed in or not (CSP without
 * framing, no MIME sniffing), and CSRF tokens bound to their own session.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { baseUrl, call, event, newMember, newTenant } from '@/test/fixtures.ts';

async function adminSession() {
  const t = await newTenant('headers');
  const { cookie, csrf } = await newMember(t.id, 'admin');
  return { t, cookie, csrf };
}

function expectHardened(res: Response, page: string) {
  const csp = res.headers.get('content-security-policy') ?? '';
  const noFraming = /frame-ancestors 'none'/.test(csp) || res.headers.get('x-frame-options')?.toUpperCase() === 'DENY';
  expect(noFraming, `${page}: ${csp}`).toBe(true);
  expect(csp, page).toMatch(/default-src 'self'/);
  expect(csp, page).toMatch(/object-src 'none'/);
  expect(csp, page).not.toMatch(/script-src[^;]*'unsafe-inline'/);
  expect(res.headers.get('x-content-type-options'), page).toBe('nosniff');
}

describe('console pages', () => {
  it('carry a CSP that forbids framing, and nosniff, signed in or not', async () => {
    const { t, cookie } = await adminSession();
    const posted = await call('POST', '/api/v1/audit/events', { key: t.key, body: { events: [event()] } });
    const eventPage = `/events/${posted.body.ids[0]}`;
    for (const page of ['/', '/sign-in', eventPage, '/admin/users']) {
      for (const headers of [{}, { cookie }] as Record<string, string>[]) {
        const res = await fetch(`${baseUrl()}${page}`, { headers, redirect: 'manual' });
        expect(res.status, page).toBeLessThan(500);
        expectHardened(res, `${page} ${'cookie' in headers ? 'signed in' : 'anonymous'}`);
      }
    }
    // The event page itself renders for the signed-in admin.
    const rendered = await fetch(`${baseUrl()}${eventPage}`, { headers: { cookie } });
    expect(rendered.status).toBe(200);
    expect(rendered.headers.get('content-type')).toMatch(/^text\/html/);
    // Each page gets its own nonce: a script cannot reuse one seen earlier.
    const nonces = await Promise.all([1, 2].map(async () => /'nonce-([^']+)'/.exec((await fetch(`${baseUrl()}/sign-in`)).headers.get('content-security-policy') ?? '')?.[1]));
    expect(nonces[0]).toEqual(expect.any(String));
    expect(nonces[0]).not.toBe(nonces[1]);
  });
});

describe('CSRF tokens', () => {
  it("refuse cookie-authenticated mutations carrying another session's token", async () => {
    const [mine, theirs] = await Promise.all([adminSession(), adminSession()]);
    const attempts = [
      () => call('POST', '/api/trpc/apiKeys.create', { headers: { cookie: mine.cookie, 'x-csrf-token': theirs.csrf }, body: { name: 'csrf', scopes: ['events:read'] } }),
      () => call('POST', '/api/trpc/users.invite', { headers: { cookie: mine.cookie, 'x-csrf-token': '' }, body: { email: `x-${randomUUID()}@example.com`, role: 'viewer' } }),
      () => call('POST', '/api/auth/tenant', { headers: { cookie: mine.cookie, 'x-csrf-token': theirs.csrf }, body: { tenant_id: mine.t.id } }),
      // A GET carrying a mutation's input is not a way around it.
      () => call('GET', `/api/trpc/apiKeys.create?input=${encodeURIComponent(JSON.stringify({ name: 'csrf', scopes: ['events:read'] }))}`, { headers: { cookie: mine.cookie } }),
    ];
    for (const attempt of attempts) {
      const res = await attempt();
      expect([403, 405], JSON.stringify(res.body)).toContain(res.status);
    }
    const keys = await call('GET', '/api/trpc/apiKeys.list', { headers: { cookie: mine.cookie } });
    expect(keys.status).toBe(200);
    expect(keys.body.result.data.map((k: { name: string }) => k.name)).not.toContain('csrf');
    // With its own token the same call goes through.
    const own = await call('POST', '/api/trpc/apiKeys.create', { headers: { cookie: mine.cookie, 'x-csrf-token': mine.csrf }, body: { name: 'csrf', scopes: ['events:read'] } });
    expect(own.status).toBe(200);
  });
});
