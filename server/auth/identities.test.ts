/**
 * Console identities stay with the person and in their tenant. Each case is an
 * attack that must fail: a tenant admin taking over an account another tenant
 * relies on, an invitation used twice, late or after it was withdrawn, a
 * session used after sign-out, a disabled member still reaching the tenant,
 * an answer or a cost that tells known emails from unknown ones, and a
 * password changed without the current one.
 *
 * Admins act over HTTP (the console's tRPC endpoint with cookie + CSRF).
 * Password steps run in-process against the same database, so the server's
 * per-address sign-in limit (shared by every test file on 127.0.0.1) is not
 * what they measure; one HTTP sign-in checks the server path too.
 */
import { createHash, randomBytes, randomUUID, scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import type { ObservedClient } from '@/supabase/functions/_shared/ingest.ts';
import { ARGON2_PARAMETERS, passwordWork } from '@/server/auth/passwords.ts';
import { acceptInvitation } from '@/server/services/invitations.ts';
import { signIn } from '@/server/services/sign-in.ts';
import { addMembership } from '@/server/services/users.ts';
import { adminSql, baseUrl, call, newMember, newTenant, testSql, TEST_PASSWORD, type TestMember } from '@/test/fixtures.ts';

/** A client address of its own per call, so the in-process sign-in limit never interferes. */
const from = (): ObservedClient => ({ ip: `10.${randomBytes(3).join('.')}`, userAgent: 'identities-test' });

async function trpc(who: { cookie: string; csrf: string }, procedure: string, input?: unknown, extra: Record<string, string> = {}) {
  const mutation = !/\.(list|invitations|sessions|me)$/.test(procedure);
  if (!mutation) {
    const query = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`;
    return call('GET', `/api/trpc/${procedure}${query}`, { headers: { cookie: who.cookie, ...extra } });
  }
  return call('POST', `/api/trpc/${procedure}`, { headers: { cookie: who.cookie, 'x-csrf-token': who.csrf, ...extra }, body: input ?? {} });
}

async function refusal(promise: Promise<unknown>): Promise<AuditError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AuditError);
  return err as AuditError;
}

const tokenOf = (path: string) => path.split('#')[1]!;

/** Signs in over HTTP, waiting out the per-address limit that all test files share. */
async function httpAttempt(email: string, password: string) {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${baseUrl()}/api/auth/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
    if (res.status === 429 && attempt < 12) {
      await new Promise((r) => setTimeout(r, (Number(res.headers.get('retry-after')) || 1) * 1000));
      continue;
    }
    return { status: res.status, text: await res.text(), cookies: res.headers.getSetCookie() };
  }
}

async function httpSignIn(email: string, password: string) {
  const res = await httpAttempt(email, password);
  expect(res.status, res.text).toBe(200);
  const jar = res.cookies.map((c) => c.split(';')[0]).join('; ');
  return { cookie: jar, csrf: decodeURIComponent(/oms_csrf=([^;]*)/.exec(jar)![1]!), token: JSON.parse(res.text).access_token as string };
}

const me = (headers: Record<string, string>) => call('GET', '/api/trpc/session.me', { headers });


describe('invitations', () => {
  it("cross-tenant takeover fails: another tenant's admin cannot set, learn or use the person's password", async () => {
    const [a, b] = await Promise.all([newTenant('takeover-a'), newTenant('takeover-b')]);
    const [adminA, adminB] = await Promise.all([newMember(a.id, 'admin'), newMember(b.id, 'admin')]);
    const victim = `victim-${randomUUID()}@example.com`;
    const victimPassword = 'only the victim knows this';

    // Admin of A invites; nothing in the answer or the procedure takes a password.
    const invitedA = await trpc(adminA, 'users.invite', { email: victim, role: 'admin', password: 'chosen by admin A' });
    expect(invitedA.status).toBe(400); // an unknown field is refused, not ignored
    const okA = await trpc(adminA, 'users.invite', { email: victim, role: 'admin' });
    expect(okA.status).toBe(200);
    // The person chooses their own password with A's link.
    const joinedA = await acceptInvitation(testSql(), tokenOf(okA.body.result.data.path), { as: 'new_account', password: victimPassword }, from());
    expect(joinedA.user.memberships.map((m) => m.tenantId)).toEqual([a.id]);

    // Admin of B invites the same email and holds the link (as an admin of B would).
    const invitedB = await trpc(adminB, 'users.invite', { email: victim, role: 'viewer' });
    expect(invitedB.status).toBe(200);
    const linkB = tokenOf(invitedB.body.result.data.path);
    // With B's link, B's admin can neither set a new password on the existing account…
    const setPassword = await refusal(acceptInvitation(testSql(), linkB, { as: 'new_account', password: 'chosen by admin B' }, from()));
    expect(setPassword.status).toBe(400);
    // …nor join it without its password…
    expect((await refusal(acceptInvitation(testSql(), linkB, { as: 'existing_account', password: 'chosen by admin B' }, from()))).status).toBe(401);
    // …nor by being signed in as someone else (B's admin, with the link).
    const asAdminB = await call('POST', '/api/auth/invitation/accept', { headers: { cookie: adminB.cookie, 'x-csrf-token': adminB.csrf }, body: { token: linkB, as: 'signed_in' } });
    expect(asAdminB.status).toBe(403);
    // Neither admin's password opens the account; the person's does, and still reaches only A.
    for (const guess of ['chosen by admin A', 'chosen by admin B', TEST_PASSWORD]) {
      expect((await refusal(signIn(testSql(), { email: victim, password: guess }, from()))).status).toBe(401);
    }
    expect((await signIn(testSql(), { email: victim, password: victimPassword }, from())).user.memberships.map((m) => m.tenantId)).toEqual([a.id]);

    // The person joins B only by proving they own the account: signed in as it, over HTTP.
    const session = await signIn(testSql(), { email: victim, password: victimPassword }, from());
    const cookie = `oms_session=${encodeURIComponent(session.token)}`;
    const { csrfTokenFor } = await import('./session.ts');
    const accepted = await call('POST', '/api/auth/invitation/accept', { headers: { cookie, 'x-csrf-token': csrfTokenFor(session.sessionId) }, body: { token: linkB, as: 'signed_in' } });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    expect(accepted.body.tenant).toEqual({ id: b.id, name: b.name, role: 'viewer' });
    const me = await call('GET', '/api/trpc/session.me', { headers: { cookie } });
    expect(me.body.result.data.tenants.map((t: { id: string }) => t.id).sort()).toEqual([a.id, b.id].sort());
    // Each tenant's trail records its own side.
    const trailB = await call('GET', '/api/v1/audit/events?event_type=AUDIT_INVITATION&order=asc', { key: b.readKey });
    expect(trailB.body.events.map((e: { actor_id: string; context: { action: string } }) => [e.actor_id, e.context.action])).toEqual([
      [adminB.email, 'created'],
      [victim, 'accepted'],
    ]);
  });

  it('refuses an invitation that has expired, has been used, or was withdrawn; two uses at once give one member', async () => {
    const t = await newTenant('invitation-states');
    const admin = await newMember(t.id, 'admin');
    const invite = async () => {
      const res = await trpc(admin, 'users.invite', { email: `p-${randomUUID()}@example.com`, role: 'viewer' });
      expect(res.status).toBe(200);
      return { id: res.body.result.data.invitation.id as string, token: tokenOf(res.body.result.data.path) };
    };
    const accept = (token: string) => call('POST', '/api/auth/invitation/accept', { body: { token, as: 'new_account', password: TEST_PASSWORD } });

    // Expired: 72 hours after it was made.
    const late = await invite();
    const [row] = await testSql()`select extract(epoch from expires_at - created_at)::int as lifetime from oms_audit.invitations where id = ${late.id}`;
    expect(row!.lifetime).toBe(72 * 3600);
    await adminSql()`update oms_audit.invitations set created_at = now() - interval '73 hours', expires_at = now() - interval '1 hour' where id = ${late.id}`;
    const expired = await accept(late.token);
    expect(expired.status).toBe(404);
    expect(expired.body.error.message).toMatch(/expired/);
    expect((await call('POST', '/api/auth/invitation', { body: { token: late.token } })).status).toBe(404);

    // Used: the second acceptance is refused, even with another password.
    const once = await invite();
    expect((await accept(once.token)).status).toBe(200);
    const again = await call('POST', '/api/auth/invitation/accept', { body: { token: once.token, as: 'new_account', password: 'another long password' } });
    expect(again.status).toBe(404);
    expect(again.body.error.message).toMatch(/used already/);

    // Withdrawn by an admin of the tenant (and not by an admin of another).
    const withdrawn = await invite();
    const stranger = await newMember((await newTenant('invitation-stranger')).id, 'admin');
    expect((await trpc(stranger, 'users.revokeInvitation', { id: withdrawn.id })).status).toBe(404);
    expect((await trpc(admin, 'users.revokeInvitation', { id: withdrawn.id })).status).toBe(200);
    const refused = await accept(withdrawn.token);
    expect(refused.status).toBe(404);
    expect(refused.body.error.message).toMatch(/withdrawn/);
    const listed = await trpc(admin, 'users.invitations');
    expect(listed.body.result.data.find((i: { id: string }) => i.id === withdrawn.id).status).toBe('revoked');

    // A made-up or truncated link.
    expect((await accept(`omsi_${randomBytes(32).toString('base64url')}`)).status).toBe(404);
    expect((await accept(once.token.slice(0, -2))).status).toBe(404);

    // The same link twice at once: exactly one account joins.
    const raced = await invite();
    const results = await Promise.all([accept(raced.token), accept(raced.token)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 404]);
    expect((await trpc(admin, 'users.list')).body.result.data).toHaveLength(3);
  });

  it('stores only a hash of the link, which is shown once', async () => {
    const t = await newTenant('invitation-hash');
    const admin = await newMember(t.id, 'admin');
    const res = await trpc(admin, 'users.invite', { email: `h-${randomUUID()}@example.com`, role: 'auditor' });
    const token = tokenOf(res.body.result.data.path);
    expect(token).toMatch(/^omsi_[A-Za-z0-9_-]{43}$/);
    const [row] = await testSql()`select to_jsonb(i)::text as everything, token_hash from oms_audit.invitations i where id = ${res.body.result.data.invitation.id}`;
    expect(row!.everything).not.toContain(token.slice(5));
    expect(Buffer.from(row!.token_hash as Uint8Array).toString('hex')).toBe(createHash('sha256').update(token).digest('hex'));
    // The list never shows it again.
    expect(JSON.stringify((await trpc(admin, 'users.invitations')).body)).not.toContain(token.slice(5));
  });
});

describe('no enumeration', () => {
  it('answers an invitation the same for an email with an account elsewhere and an unknown one', async () => {
    const [mine, elsewhere] = await Promise.all([newTenant('enum-mine'), newTenant('enum-elsewhere')]);
    const admin = await newMember(mine.id, 'admin');
    const known = await newMember(elsewhere.id, 'viewer');
    const unknown = `nobody-${randomUUID()}@example.com`;
    const shape = (body: { result: { data: Record<string, unknown> & { invitation: Record<string, unknown> } } }, email: string) => {
      const d = body.result.data;
      const { id: _id, email: e, created_at: _c, expires_at: _x, ...invitation } = d.invitation;
      expect(e).toBe(email);
      return { ...d, path: String(d.path).replace(/#.*/, '#…'), invitation };
    };
    const forKnown = await trpc(admin, 'users.invite', { email: known.email, role: 'viewer' });
    const forUnknown = await trpc(admin, 'users.invite', { email: unknown, role: 'viewer' });
    expect([forKnown.status, forUnknown.status]).toEqual([200, 200]);
    expect(shape(forKnown.body, known.email)).toEqual(shape(forUnknown.body, unknown));
  });

  it('refuses a wrong password and an unknown email with the same answer after the same password work', async () => {
    const t = await newTenant('enum-sign-in');
    const known = await newMember(t.id, 'viewer');
    const unknown = `nobody-${randomUUID()}@example.com`;
    const current = `argon2id m=${ARGON2_PARAMETERS.memoryCost},t=${ARGON2_PARAMETERS.timeCost},p=${ARGON2_PARAMETERS.parallelism}`;

    const attempt = async (email: string) => {
      const before = passwordWork.verifications;
      const err = await refusal(signIn(testSql(), { email, password: 'not the password' }, from()));
      return { status: err.status, code: err.code, message: err.message, verifications: passwordWork.verifications - before, scheme: passwordWork.lastScheme };
    };
    const answers = [await attempt(known.email), await attempt(unknown)];
    expect(answers[0]).toEqual({ status: 401, code: 'unauthorized', message: 'Wrong email or password', verifications: 1, scheme: current });
    expect(answers[1]).toEqual(answers[0]);

    // Accepting an invitation with "my existing account" answers the same for an email with no account.
    const admin = await newMember(t.id, 'admin');
    const accept = async (email: string) => {
      const res = await trpc(admin, 'users.invite', { email, role: 'viewer' });
      const before = passwordWork.verifications;
      const err = await refusal(acceptInvitation(testSql(), tokenOf(res.body.result.data.path), { as: 'existing_account', password: 'not the password' }, from()));
      return { status: err.status, message: err.message, verifications: passwordWork.verifications - before, scheme: passwordWork.lastScheme };
    };
    const other = await newMember((await newTenant('enum-other')).id, 'viewer');
    const viaInvitation = [await accept(other.email), await accept(`nobody-${randomUUID()}@example.com`)];
    expect(viaInvitation[0]).toEqual({ status: 401, message: 'Wrong email or password', verifications: 1, scheme: current });
    expect(viaInvitation[1]).toEqual(viaInvitation[0]);

    // Over HTTP: the same status and body, and no cookie, for both.
    const overHttp = [await httpAttempt(known.email, 'not the password'), await httpAttempt(unknown, 'not the password')];
    expect(overHttp[0]).toEqual({ status: 401, text: JSON.stringify({ error: { code: 'unauthorized', message: 'Wrong email or password' } }), cookies: [] });
    expect(overHttp[1]).toEqual(overHttp[0]);
  });
});

describe('sessions', () => {
  it('sign-out ends the session on the server: its cookie and its token are refused afterwards', async () => {
    const t = await newTenant('sign-out');
    const m = await newMember(t.id, 'viewer');
    const s = await httpSignIn(m.email, m.password);
    expect((await me({ cookie: s.cookie })).status).toBe(200);
    expect((await me({ authorization: `Bearer ${s.token}` })).status).toBe(200);
    const out = await call('POST', '/api/auth/sign-out', { headers: { cookie: s.cookie } });
    expect(out.status).toBe(200);
    expect(out.headers.getSetCookie().some((c) => /^oms_session=;/.test(c))).toBe(true);
    // A copy of the cookie (or the token) kept from before is worthless now.
    expect((await me({ cookie: s.cookie })).status).toBe(401);
    expect((await me({ authorization: `Bearer ${s.token}` })).status).toBe(401);
    expect((await call('GET', '/api/v1/audit/events?limit=1', { headers: { authorization: `Bearer ${s.token}`, 'x-oms-tenant': t.id } })).status).toBe(401);
    // The member's other session is untouched.
    expect((await me({ cookie: m.cookie })).status).toBe(200);
    // Signing out a bearer token ends it too.
    const other = await newMember(t.id, 'viewer');
    expect((await call('POST', '/api/auth/sign-out', { headers: { authorization: `Bearer ${other.token}` } })).status).toBe(200);
    expect((await me({ cookie: other.cookie })).status).toBe(401);
  });

  it('sign out everywhere ends every session of the user (and needs the CSRF token)', async () => {
    const t = await newTenant('everywhere');
    const m = await newMember(t.id, 'auditor');
    const { startSession } = await import('@/server/services/sessions.ts');
    const second = await startSession(testSql(), m.user, from(), 'password');
    const bystander = await newMember(t.id, 'auditor');
    const noCsrf = await call('POST', '/api/auth/sign-out', { headers: { cookie: m.cookie }, body: { everywhere: true } });
    expect(noCsrf.status).toBe(403);
    expect((await me({ cookie: m.cookie })).status).toBe(200);
    const sessions = await trpc(m, 'account.sessions');
    expect(sessions.body.result.data.map((s: { current: boolean }) => s.current).sort()).toEqual([false, true]);

    const out = await call('POST', '/api/auth/sign-out', { headers: { cookie: m.cookie, 'x-csrf-token': m.csrf }, body: { everywhere: true } });
    expect(out.status).toBe(200);
    expect(out.body.ended_sessions).toBe(2);
    expect((await me({ cookie: m.cookie })).status).toBe(401);
    expect((await me({ authorization: `Bearer ${second.token}` })).status).toBe(401);
    expect((await me({ cookie: bystander.cookie })).status).toBe(200);
  });

  it('a member disabled by an admin is out of that tenant at once, and only that tenant', async () => {
    const [a, b] = await Promise.all([newTenant('disable-a'), newTenant('disable-b')]);
    const adminA = await newMember(a.id, 'admin');
    const adminB = await newMember(b.id, 'admin');
    const m = await newMember(a.id, 'auditor');
    await addMembership(testSql(), { tenantId: b.id, userId: m.user.id, role: 'viewer', createdBy: 'test' });
    const readIn = (tenantId: string) => call('GET', '/api/v1/audit/events?limit=1', { headers: { authorization: `Bearer ${m.token}`, 'x-oms-tenant': tenantId } });
    expect([(await readIn(a.id)).status, (await readIn(b.id)).status]).toEqual([200, 200]);

    // B's admin cannot act on A's membership; A's admin cannot act on a member only B has.
    expect((await trpc(adminB, 'users.disable', { user_id: adminA.user.id })).status).toBe(404);
    expect((await trpc(adminA, 'users.disable', { user_id: adminB.user.id })).status).toBe(404);
    expect((await trpc(adminA, 'users.setRole', { user_id: adminB.user.id, role: 'viewer' })).status).toBe(404);
    expect((await trpc(adminA, 'users.remove', { user_id: adminB.user.id })).status).toBe(404);

    const disabled = await trpc(adminA, 'users.disable', { user_id: m.user.id });
    expect(disabled.status).toBe(200);
    expect(disabled.body.result.data.disabled_at).toEqual(expect.any(String));
    // The very next request: refused in A, still fine in B, and the console falls back to B.
    expect((await readIn(a.id)).status).toBe(403);
    expect((await readIn(b.id)).status).toBe(200);
    const after = await me({ cookie: m.cookie });
    expect(after.body.result.data.tenants.map((x: { id: string }) => x.id)).toEqual([b.id]);
    expect(after.body.result.data.tenant.id).toBe(b.id);

    expect((await trpc(adminA, 'users.enable', { user_id: m.user.id })).status).toBe(200);
    expect((await readIn(a.id)).status).toBe(200);
    const trail = await call('GET', '/api/v1/audit/events?event_type=AUDIT_MEMBERSHIP&order=asc', { key: a.readKey });
    expect(trail.body.events.map((e: { object_id: string; context: { action: string } }) => [e.object_id, e.context.action])).toEqual([
      [m.email, 'disabled'],
      [m.email, 'enabled'],
    ]);
  });

  it('keeps one enabled admin: the last cannot be disabled, demoted or removed', async () => {
    const t = await newTenant('last-admin');
    const admin = await newMember(t.id, 'admin');
    for (const [procedure, input] of [
      ['users.disable', { user_id: admin.user.id }],
      ['users.setRole', { user_id: admin.user.id, role: 'auditor' }],
      ['users.remove', { user_id: admin.user.id }],
    ] as const) {
      const res = await trpc(admin, procedure, input);
      expect(res.status, procedure).toBe(400);
      expect(res.body.error.message).toMatch(/at least one admin/);
    }
    // A second admin who is disabled does not count.
    const second = await newMember(t.id, 'admin');
    expect((await trpc(admin, 'users.disable', { user_id: second.user.id })).status).toBe(200);
    expect((await trpc(admin, 'users.setRole', { user_id: admin.user.id, role: 'viewer' })).status).toBe(400);
  });
});

describe('passwords', () => {
  it('a password change needs the current password, and ends the other sessions', async () => {
    const t = await newTenant('change-password');
    const m: TestMember = await newMember(t.id, 'viewer');
    const { startSession } = await import('@/server/services/sessions.ts');
    const elsewhere = await startSession(testSql(), m.user, from(), 'password');

    const wrong = await trpc(m, 'account.changePassword', { current_password: 'not my password', new_password: 'a brand new password' });
    expect(wrong.status).toBe(403);
    const weak = await trpc(m, 'account.changePassword', { current_password: m.password, new_password: 'short' });
    expect(weak.status).toBe(400);
    // Nothing changed: the old password still signs in, and the other session still works.
    expect((await signIn(testSql(), { email: m.email, password: m.password }, from())).user.id).toBe(m.user.id);
    expect((await me({ authorization: `Bearer ${elsewhere.token}` })).status).toBe(200);

    const changed = await trpc(m, 'account.changePassword', { current_password: m.password, new_password: 'a brand new password' });
    expect(changed.status).toBe(200);
    expect(changed.body.result.data.ended_sessions).toBeGreaterThanOrEqual(2);
    expect((await me({ cookie: m.cookie })).status).toBe(200);
    expect((await me({ authorization: `Bearer ${elsewhere.token}` })).status).toBe(401);
    expect((await refusal(signIn(testSql(), { email: m.email, password: m.password }, from()))).status).toBe(401);
    const fresh = await httpSignIn(m.email, 'a brand new password');
    expect((await me({ cookie: fresh.cookie })).status).toBe(200);
  });

  it('upgrades a hash of an earlier release (scrypt N=2^15) to argon2id at the next sign-in', async () => {
    const t = await newTenant('rehash');
    const m = await newMember(t.id, 'viewer');
    const salt = randomBytes(16);
    const legacy = `scrypt$32768$8$1$${salt.toString('base64url')}$${scryptSync(m.password.normalize('NFKC'), salt, 32, { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }).toString('base64url')}`;
    await testSql()`update oms_audit.users set password_hash = ${legacy} where id = ${m.user.id}`;
    // A wrong password leaves the old hash in place.
    await refusal(signIn(testSql(), { email: m.email, password: 'not the password' }, from()));
    expect((await testSql()`select password_hash from oms_audit.users where id = ${m.user.id}`)[0]!.password_hash).toBe(legacy);

    await signIn(testSql(), { email: m.email, password: m.password }, from());
    const [row] = await testSql()`select password_hash from oms_audit.users where id = ${m.user.id}`;
    expect(row!.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect((await signIn(testSql(), { email: m.email, password: m.password }, from())).user.id).toBe(m.user.id);
  });
});

describe('sign-in redirect', () => {
  it('sends a signed-in visitor of /sign-in?next=… only to a path on this site', async () => {
    const t = await newTenant('redirect');
    const m = await newMember(t.id, 'viewer');
    const cases: [string, string][] = [
      ['/%5Cevil.example', '/'],
      ['//evil.example', '/'],
      ['/%2F%2Fevil.example', '/'],
      ['/%2Fevil.example', '/'],
      ['/%09/evil.example', '/'],
      ['https://evil.example/', '/'],
      ['/\\evil.example', '/'],
      ['/exports?x=1', '/exports?x=1'],
    ];
    for (const [next, want] of cases) {
      const res = await fetch(`${baseUrl()}/sign-in?next=${encodeURIComponent(next)}`, { headers: { cookie: m.cookie }, redirect: 'manual' });
      expect(res.status, next).toBeGreaterThanOrEqual(300);
      expect(res.status, next).toBeLessThan(400);
      const location = new URL(res.headers.get('location')!, baseUrl());
      expect(location.origin, next).toBe(baseUrl());
      expect(`${location.pathname}${location.search}`, next).toBe(want);
    }
  });
});
