/** retention.* through createCaller (roles and permissions, typed outputs) and the compliance report over HTTP. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createContextInner } from '@/server/context.ts';
import { createCallerFactory } from '@/server/trpc.ts';
import type { Caller, TenantRole } from '@/server/auth/caller.ts';
import { baseUrl, call, event, newTenant, testSql } from '@/test/fixtures.ts';
import { appRouter } from './_app.ts';

const createCaller = createCallerFactory(appRouter);
const userIn = (tenantId: string, role: TenantRole): Caller => ({
  kind: 'user',
  userId: randomUUID(),
  email: `${role}@example.test`,
  tenantId,
  memberships: [{ tenantId, tenantName: 't', role }],
});
const api = (caller: Caller) => createCaller(createContextInner({ caller, sql: testSql() }));

describe('retention router', () => {
  it('shows auditors the policy, holds, months and report, and lets only admins change them', async () => {
    const t = await newTenant('retention-router');
    const admin = userIn(t.id, 'admin');
    const auditor = api(userIn(t.id, 'auditor'));
    await api({ kind: 'api_key', keyId: randomUUID(), tenantId: t.id, scopes: ['events:write'] }).events.logBulk({ events: [event(), event()] });

    expect(await auditor.retention.policy()).toMatchObject({ tenant_id: t.id, hot_months: 13, total_years: 10, is_default: true });
    await expect(auditor.retention.setPolicy({ total_years: 12 })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(api(userIn(t.id, 'viewer')).retention.policy()).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(api(admin).retention.setPolicy({ total_years: 2 })).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining("operator's minimum") });
    expect(await api(admin).retention.setPolicy({ hot_months: 24, total_years: 12 })).toMatchObject({ hot_months: 24, total_years: 12, updated_by: `user:${admin.kind === 'user' ? admin.userId : ''}` });

    const hold = await api(admin).retention.addHold({ reason: 'FINRA 2024-17', object_type: 'order', object_id: 'ORD-1', from: '2024-01-01', to: '2024-12-31' });
    expect(hold).toMatchObject({ object_type: 'ORDER', object_id: 'ORD-1', from: '2024-01-01T00:00:00.000000Z', to: '2025-01-01T00:00:00.000000Z', active: true });
    await expect(auditor.retention.addHold({ reason: 'x' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(api(admin).retention.addHold({ reason: ' ', object_id: 'x' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect((await auditor.retention.holds()).map((h) => h.id)).toEqual([hold.id]);
    expect(await api(admin).retention.releaseHold({ id: hold.id, reason: 'closed' })).toMatchObject({ active: false, release_reason: 'closed' });
    expect(await auditor.retention.holds()).toEqual([]);
    expect(await auditor.retention.holds({ include_released: true })).toHaveLength(1);

    const months = await auditor.retention.months();
    const thisMonth = new Date().toISOString().slice(0, 7);
    expect(months.find((m) => m.month === thisMonth)).toMatchObject({ state: 'hot', events_hot: 5, events_ledger: 5, events_unaccounted: 0 });
    const report = await auditor.retention.report();
    expect(report).toMatchObject({ tenant_id: t.id, seq: { first: 1, last: 5, events: 5, gaps: 0 }, policy: { hot_months: 24 } });
    expect(await auditor.retention.restores()).toEqual([]);
    await expect(api(admin).retention.restore({ month: '2020-01' })).rejects.toMatchObject({ code: 'NOT_FOUND' });

    // Changes are events of the tenant's own trail.
    const trail = await auditor.events.list({ source: 'oms-audit-retention', order: 'asc' });
    expect(trail.events.map((e) => `${e.object_type}/${e.event_type}`)).toEqual(['RETENTION_POLICY/UPDATE', 'LEGAL_HOLD/CREATE', 'LEGAL_HOLD/RELEASE']);
  });

  it('serves the compliance report as JSON and CSV to read keys, not to write-only keys', async () => {
    const t = await newTenant('retention-report');
    await call('POST', '/api/v1/audit/events', { key: t.writeKey, body: { events: [event(), event()] } });
    const res = await call('GET', '/api/v1/retention/report', { key: t.readKey });
    expect(res.status).toBe(200);
    expect(res.body.tenants[0]).toMatchObject({ tenant_id: t.id, seq: { events: 2, gaps: 0 } });
    const csv = await fetch(`${baseUrl()}/api/v1/retention/report?format=csv`, { headers: { authorization: `Bearer ${t.readKey}` } });
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const lines = (await csv.text()).trimEnd().split('\r\n');
    expect(lines[0]).toMatch(/^tenant_id,tenant_name,month,state,events_ledger,events_hot,events_archived/);
    expect(lines[1]).toContain(`${t.id},${t.name},${new Date().toISOString().slice(0, 7)},hot,2,2,0`);
    expect((await call('GET', '/api/v1/retention/report', { key: t.writeKey })).status).toBe(403);
    expect((await call('GET', '/api/v1/retention/report?format=xml', { key: t.readKey })).status).toBe(400);
  });
});
