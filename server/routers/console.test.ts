/**
 * The console's procedures: every one checks its role in the active tenant;
 * searches and views by console users land in the tenant's own trail.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Caller, TenantRole } from '@/server/auth/caller.ts';
import { createContextInner } from '@/server/context.ts';
import { createCallerFactory } from '@/server/trpc.ts';
import { event, newMember, newTenant, testSql } from '@/test/fixtures.ts';
import { appRouter } from './_app.ts';

const createCaller = createCallerFactory(appRouter);

async function member(tenant: { id: string; name: string }, role: TenantRole): Promise<Caller> {
  const { user } = await newMember(tenant.id, role);
  return { kind: 'user', userId: user.id, email: user.email, memberships: user.memberships, tenantId: tenant.id };
}

const api = (caller: Caller) => createCaller(createContextInner({ caller, sql: testSql(), observed: { ip: '10.9.9.9', userAgent: 'console-test' } }));

type Api = ReturnType<typeof api>;
const id = randomUUID();

/** Every console procedure with the roles that may call it. */
const PROCEDURES: [string, TenantRole[], (a: Api) => Promise<unknown>][] = [
  ['session.me', ['viewer', 'auditor', 'admin'], (a) => a.session.me()],
  ['events.count', ['viewer', 'auditor', 'admin'], (a) => a.events.count({})],
  ['events.facets', ['viewer', 'auditor', 'admin'], (a) => a.events.facets()],
  ['savedSearches.list', ['viewer', 'auditor', 'admin'], (a) => a.savedSearches.list()],
  ['savedSearches.create', ['viewer', 'auditor', 'admin'], (a) => a.savedSearches.create({ name: 'mine', query: 'object_id=X' })],
  ['savedSearches.remove', ['viewer', 'auditor', 'admin'], (a) => a.savedSearches.remove({ id })],
  ['exports.list', ['auditor', 'admin'], (a) => a.exports.list()],
  ['exports.manifest', ['auditor', 'admin'], (a) => a.exports.manifest({ id })],
  ['apiKeys.list', ['admin'], (a) => a.apiKeys.list()],
  ['apiKeys.create', ['admin'], (a) => a.apiKeys.create({ name: 'k', scopes: ['events:read'] })],
  ['apiKeys.revoke', ['admin'], (a) => a.apiKeys.revoke({ id })],
  ['users.list', ['admin'], (a) => a.users.list()],
  ['users.invitations', ['admin'], (a) => a.users.invitations()],
  ['users.invite', ['admin'], (a) => a.users.invite({ email: `new-${randomUUID()}@example.com`, role: 'viewer' })],
  ['users.revokeInvitation', ['admin'], (a) => a.users.revokeInvitation({ id })],
  ['users.setRole', ['admin'], (a) => a.users.setRole({ user_id: id, role: 'viewer' })],
  ['users.disable', ['admin'], (a) => a.users.disable({ user_id: id })],
  ['users.enable', ['admin'], (a) => a.users.enable({ user_id: id })],
  ['users.remove', ['admin'], (a) => a.users.remove({ user_id: id })],
  ['system.overview', ['admin'], (a) => a.system.overview()],
  ['events.activity', ['admin'], (a) => a.events.activity({})],
];

describe('role checks', () => {
  it('lets each role call exactly the procedures its permissions allow', async () => {
    const tenant = await newTenant('roles');
    const callers = { viewer: await member(tenant, 'viewer'), auditor: await member(tenant, 'auditor'), admin: await member(tenant, 'admin') };
    for (const [name, allowed, call] of PROCEDURES) {
      for (const role of ['viewer', 'auditor', 'admin'] as const) {
        const outcome = await call(api(callers[role])).then(
          () => 'ok',
          (err: { code?: string }) => err.code,
        );
        if (allowed.includes(role)) expect(['ok', 'NOT_FOUND'], `${name} as ${role}`).toContain(outcome);
        else expect(outcome, `${name} as ${role}`).toBe('FORBIDDEN');
      }
      const anonymous = await call(api({ kind: 'anonymous' })).then(
        () => 'ok',
        (err: { code?: string }) => err.code,
      );
      expect(anonymous, `${name} anonymously`).toBe('UNAUTHORIZED');
    }
  });

  it("confines a user to their tenants: another tenant's data is invisible", async () => {
    const [a, b] = await Promise.all([newTenant('iso-a'), newTenant('iso-b')]);
    const writer = createCaller(createContextInner({ caller: { kind: 'api_key', keyId: randomUUID(), tenantId: b.id, scopes: ['events:write'] }, sql: testSql() }));
    const { ids } = await writer.events.logBulk({ events: [event({ object_id: 'B-ONLY' })] });
    const userOfA = await member(a, 'admin');
    await expect(api(userOfA).events.get({ id: ids[0]! })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await api(userOfA).events.list({ object_id: 'B-ONLY' })).events).toEqual([]);
    // Naming a tenant the user is not a member of gives nothing either.
    await expect(api({ ...userOfA, tenantId: b.id } as Caller).events.list({})).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('keeps at least one admin per tenant', async () => {
    const tenant = await newTenant('admins');
    const admin = await member(tenant, 'admin');
    if (admin.kind !== 'user') throw new Error('unreachable');
    await expect(api(admin).users.setRole({ user_id: admin.userId, role: 'viewer' })).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('at least one admin') });
    await expect(api(admin).users.remove({ user_id: admin.userId })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});

describe('the console audits itself', () => {
  it("records a user's searches (first page only) and event views in the tenant's trail", async () => {
    const tenant = await newTenant('self-audit');
    const writer = createCaller(createContextInner({ caller: { kind: 'api_key', keyId: randomUUID(), tenantId: tenant.id, scopes: ['events:write'] }, sql: testSql() }));
    const { ids } = await writer.events.logBulk({ events: [event({ object_id: 'ORD-SELF' }), event({ object_id: 'ORD-SELF' })] });
    const viewer = await member(tenant, 'viewer');
    if (viewer.kind !== 'user') throw new Error('unreachable');
    const first = await api(viewer).events.list({ object_id: 'ORD-SELF', limit: 1 });
    await api(viewer).events.list({ object_id: 'ORD-SELF', limit: 1, cursor: first.next_cursor! });
    await api(viewer).events.get({ id: ids[0]! });
    // Read with an API key, whose reads are not recorded.
    const reader = createCaller(createContextInner({ caller: { kind: 'api_key', keyId: randomUUID(), tenantId: tenant.id, scopes: ['events:read'] }, sql: testSql() }));
    const trail = await reader.events.list({ actor_id: viewer.email, order: 'asc' });
    expect(trail.events.map((e) => [e.event_type, e.object_type, e.object_id])).toEqual([
      ['AUDIT_SEARCH', 'AUDIT_TRAIL', tenant.id],
      ['AUDIT_VIEW', 'AUDIT_EVENT', ids[0]],
    ]);
    expect(trail.events[0]).toMatchObject({ actor_type: 'USER', source: 'oms-audit-console', observed_ip: '10.9.9.9', context: { user_id: viewer.userId, filters: { object_id: 'ORD-SELF' } } });
  });
});
