/**
 * Administration on the record: every administrative change made in the
 * console (API keys, invitations, roles, removals, retention policy, legal
 * holds, verification runs) is an event of the tenant's trail naming the
 * person by email, and the Activity view lists them for admins only.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Caller } from '@/server/auth/caller.ts';
import { createContextInner } from '@/server/context.ts';
import { createCallerFactory } from '@/server/trpc.ts';
import { event, newMember, newTenant, testSql } from '@/test/fixtures.ts';
import { appRouter } from './_app.ts';

const createCaller = createCallerFactory(appRouter);
const api = (caller: Caller) => createCaller(createContextInner({ caller, sql: testSql(), observed: { ip: '10.1.2.3', userAgent: 'administration-test' } }));

async function memberCaller(tenantId: string, role: 'viewer' | 'auditor' | 'admin') {
  const { user } = await newMember(tenantId, role);
  const caller: Caller = { kind: 'user', userId: user.id, email: user.email, memberships: user.memberships, tenantId };
  return { caller, user };
}

describe('administration on the record', () => {
  it('records every administrative change with the acting person, and lists them in Activity', async () => {
    const t = await newTenant('administration');
    const { caller, user: adminUser } = await memberCaller(t.id, 'admin');
    const admin = api(caller);
    await api({ kind: 'api_key', keyId: randomUUID(), tenantId: t.id, scopes: ['events:write'] }).events.logBulk({ events: [event(), event()] });

    const key = await admin.apiKeys.create({ name: 'reporting', scopes: ['events:read'] });
    await admin.apiKeys.revoke({ id: key.id });
    const invited = `invitee-${randomUUID()}@example.com`;
    await admin.users.invite({ email: invited, role: 'auditor' });
    const { user: member } = await newMember(t.id, 'viewer');
    await admin.users.setRole({ user_id: member.id, role: 'auditor' });
    await admin.users.remove({ user_id: member.id });
    await admin.retention.setPolicy({ total_years: 11 });
    const hold = await admin.retention.addHold({ reason: 'SEC inquiry 2026-17', object_type: 'ORDER', object_id: 'ORD-1' });
    await admin.retention.releaseHold({ id: hold.id, reason: 'Inquiry closed by letter of 2026-12-01' });
    const report = await admin.integrity.verify();

    const activity = await admin.events.activity({});
    const entries = activity.events.map((e) => [e.actor_id, e.object_type, e.event_type, e.context.action ?? null]);
    expect(entries).toEqual([
      [adminUser.email, 'AUDIT_TRAIL', 'AUDIT_VERIFICATION', null],
      [adminUser.email, 'LEGAL_HOLD', 'RELEASE', null],
      [adminUser.email, 'LEGAL_HOLD', 'CREATE', null],
      [adminUser.email, 'RETENTION_POLICY', 'UPDATE', null],
      [adminUser.email, 'CONSOLE_USER', 'AUDIT_MEMBERSHIP', 'removed'],
      [adminUser.email, 'CONSOLE_USER', 'AUDIT_MEMBERSHIP', 'role_changed'],
      [adminUser.email, 'INVITATION', 'AUDIT_INVITATION', 'created'],
      [adminUser.email, 'API_KEY', 'AUDIT_API_KEY', 'revoked'],
      [adminUser.email, 'API_KEY', 'AUDIT_API_KEY', 'created'],
    ]);
    expect(activity.next_cursor).toBeNull();
    const [verification, release, , , , , , , created] = activity.events;
    expect(verification!.context).toMatchObject({ ok: report.ok, events_checked: report.events_checked, user_id: adminUser.id });
    expect(verification!.outcome).toBe(report.ok ? 'success' : 'failure');
    expect(release!.context).toMatchObject({ reason: 'Inquiry closed by letter of 2026-12-01', placed_reason: 'SEC inquiry 2026-17', user_id: adminUser.id });
    expect(release!.actor_type).toBe('USER');
    // The key's secret is never in the trail; what identifies it is.
    expect(created!.context).toMatchObject({ name: 'reporting', prefix: key.prefix, scopes: ['events:read'] });
    expect(JSON.stringify(activity.events)).not.toContain(key.key);
    // Every entry was written by the console on behalf of this person, or by retention for them.
    expect(new Set(activity.events.map((e) => e.written_by))).toEqual(new Set([`console:${adminUser.id}`, 'operator:retention']));

    // Ordinary events are not administration; keyset pages walk the rest.
    const firstTwo = await admin.events.activity({ limit: 2 });
    expect(firstTwo.events.map((e) => e.id)).toEqual(activity.events.slice(0, 2).map((e) => e.id));
    const rest = await admin.events.activity({ limit: 100, cursor: firstTwo.next_cursor! });
    expect(rest.events.map((e) => e.id)).toEqual(activity.events.slice(2).map((e) => e.id));

    // People are shown by email wherever the console names who did something.
    const holds = await admin.retention.holds({ include_released: true });
    expect(holds[0]).toMatchObject({ created_by: adminUser.email, released_by: adminUser.email });
    expect((await admin.retention.policy()).updated_by).toBe(adminUser.email);
    expect((await admin.integrity.status()).last_verification?.verified_by).toBe(adminUser.email);
    expect((await admin.apiKeys.list()).find((k) => k.id === key.id)?.created_by).toBe(adminUser.email);
    expect((await admin.users.invitations()).find((i) => i.email === invited)?.created_by).toBe(adminUser.email);
  });

  it('refuses to release a legal hold without a written reason, and the hold stays', async () => {
    const t = await newTenant('hold-release');
    const { caller } = await memberCaller(t.id, 'admin');
    const admin = api(caller);
    const hold = await admin.retention.addHold({ reason: 'FINRA 2026-3' });
    for (const reason of [undefined, '', '   ']) {
      await expect(admin.retention.releaseHold({ id: hold.id, reason } as { id: string; reason: string })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    }
    expect((await admin.retention.holds()).map((h) => h.id)).toEqual([hold.id]);
    expect((await admin.events.activity({})).events.map((e) => e.event_type)).toEqual(['CREATE']);
  });

  it('shows the activity to admins only', async () => {
    const t = await newTenant('activity-roles');
    for (const role of ['viewer', 'auditor'] as const) {
      const { caller } = await memberCaller(t.id, role);
      await expect(api(caller).events.activity({})).rejects.toMatchObject({ code: 'FORBIDDEN' });
    }
  });
});
