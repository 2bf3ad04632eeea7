/** system.overview: a tenant's ingest by minute (its own events only), partition sizes, and who may see them. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Caller, TenantRole } from '@/server/auth/caller.ts';
import { createContextInner } from '@/server/context.ts';
import { createCallerFactory } from '@/server/trpc.ts';
import { event, newMember, newTenant, testSql } from '@/test/fixtures.ts';
import { appRouter } from './_app.ts';

const createCaller = createCallerFactory(appRouter);
const api = (caller: Caller) => createCaller(createContextInner({ caller, sql: testSql() }));

async function member(tenant: { id: string }, role: TenantRole): Promise<Caller> {
  const { user } = await newMember(tenant.id, role);
  return { kind: 'user', userId: user.id, email: user.email, memberships: user.memberships, tenantId: tenant.id };
}

describe('system.overview', () => {
  it("counts the tenant's events by minute of arrival, and nobody else's", async () => {
    const [tenant, other] = await Promise.all([newTenant('system'), newTenant('system-other')]);
    const writer = (tenantId: string) => api({ kind: 'api_key', keyId: randomUUID(), tenantId, scopes: ['events:write'] });
    await writer(tenant.id).events.logBulk({ events: Array.from({ length: 7 }, () => event()) });
    await writer(tenant.id).events.logBulk({ events: [event(), event()] });
    await writer(other.id).events.logBulk({ events: Array.from({ length: 5 }, () => event()) });

    const overview = await api(await member(tenant, 'admin')).system.overview();
    expect(overview.ingest.minutes).toHaveLength(60);
    expect(overview.ingest.total).toBe(9);
    const expected = await testSql()`
      select extract(epoch from date_trunc('minute', received_at))::float8 * 1000 as minute_ms, count(*)::int as n
      from public.audit_events where tenant_id = ${tenant.id} group by 1`;
    const nonZero = overview.ingest.minutes.filter((m) => m.events > 0).map((m) => [m.minute, m.events]);
    expect(nonZero).toEqual(expected.map((r) => [new Date(Number(r.minute_ms)).toISOString(), r.n]).sort());

    const month = new Date().toISOString().slice(0, 7);
    const current = overview.partitions.find((p) => p.month === month);
    expect(current?.name).toBe(`audit_events_${month.replace('-', '_')}`);
    expect(current!.bytes).toBeGreaterThan(0);
  });

  it('is for admins: a viewer and an auditor are refused', async () => {
    const tenant = await newTenant('system-roles');
    await expect(api(await member(tenant, 'viewer')).system.overview()).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(api(await member(tenant, 'auditor')).system.overview()).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });
});
