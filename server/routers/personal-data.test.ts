/** personalData.* through createCaller: only a tenant admin signed in to the console erases, after typing the subject again. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createContextInner } from '@/server/context.ts';
import { createCallerFactory } from '@/server/trpc.ts';
import type { Caller, TenantRole } from '@/server/auth/caller.ts';
import { ERASED } from '@/supabase/functions/_shared/personal-data.ts';
import { event, newTenant, testSql } from '@/test/fixtures.ts';
import { declarePersonalData } from '@/server/services/personal/settings.ts';
import { placeHold, releaseHold } from '@/server/services/retention/policy.ts';
import { appRouter } from './_app.ts';

const createCaller = createCallerFactory(appRouter);
const userIn = (tenantId: string, role: TenantRole): Caller => ({
  kind: 'user',
  userId: randomUUID(),
  email: `${role}-${randomUUID().slice(0, 8)}@example.test`,
  tenantId,
  memberships: [{ tenantId, tenantName: 't', role }],
});
const api = (caller: Caller) => createCaller(createContextInner({ caller, sql: testSql() }));

describe('personalData router', () => {
  it('erases a subject for an admin who confirms it, records the admin as the actor, and refuses everyone else', async () => {
    const t = await newTenant('personal-router');
    await declarePersonalData(testSql(), t.id, 'operator:test', { outsideRetention: true });
    const writer = api({ kind: 'api_key', keyId: randomUUID(), tenantId: t.id, scopes: ['events:write', 'events:read'] });
    await writer.events.logBulk({ events: [event({ actor_type: 'TRADER', actor_id: 'frank@broker.example', ip_address: '192.0.2.77', context: { email: 'frank.client@example.net' } })] });
    const admin = userIn(t.id, 'admin');
    expect(await api(admin).personalData.settings()).toMatchObject({ outsideRetention: true, contextPaths: ['client_name', 'email', 'phone'] });

    const request = { subject_id: 'frank@broker.example', reason: 'GDPR request 7', confirm: 'frank@broker.example' };
    await expect(api(userIn(t.id, 'auditor')).personalData.erase(request)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(writer.personalData.erase(request)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(api(admin).personalData.erase({ ...request, confirm: 'frank' })).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('nothing was changed') });
    expect((await writer.events.list({ limit: 10 })).events[0]).toMatchObject({ actor_id: 'frank@broker.example' });

    // A console viewer sees the event with its personal data masked; an auditor sees it opened.
    const viewerPage = (await api(userIn(t.id, 'viewer')).events.list({ limit: 10, order: 'asc' })).events[0]!;
    expect(viewerPage).toMatchObject({ actor_id: '[personal]', ip_address: '[personal]', context: { email: '[personal]' } });
    expect(await api(userIn(t.id, 'viewer')).events.get({ id: viewerPage.id })).toMatchObject({ actor_id: '[personal]' });
    expect((await api(userIn(t.id, 'auditor')).events.list({ limit: 10, order: 'asc' })).events[0]).toMatchObject({ actor_id: 'frank@broker.example', ip_address: '192.0.2.77' });

    const result = await api(admin).personalData.erase(request);
    expect(result).toMatchObject({ erased: true, events: 1 });
    const events = (await writer.events.list({ limit: 20, order: 'asc' })).events;
    expect(events[0]).toMatchObject({ actor_id: ERASED, ip_address: ERASED, context: { email: ERASED } });
    // The erasure event names the admin (whose own identifier is personal data too, opened for readers).
    expect(events.find((e) => e.event_type === 'AUDIT_PERSONAL_DATA_ERASED')).toMatchObject({ id: result.erasure_event_id, actor_id: admin.kind === 'user' ? admin.email : '', written_by: `console:${admin.kind === 'user' ? admin.userId : ''}` });
  });

  it('previews an erasure for admins only: what a hold refuses, then erasable, then erased; changes nothing', async () => {
    const t = await newTenant('personal-preview');
    await declarePersonalData(testSql(), t.id, 'operator:test', { outsideRetention: true });
    const writer = api({ kind: 'api_key', keyId: randomUUID(), tenantId: t.id, scopes: ['events:write', 'events:read'] });
    await writer.events.logBulk({ events: [event({ actor_type: 'TRADER', actor_id: 'gwen@broker.example', object_type: 'ORDER', object_id: 'ORD-GWEN-1' })] });
    const admin = api(userIn(t.id, 'admin'));
    const ask = { subject_id: 'gwen@broker.example' };
    for (const role of ['auditor', 'viewer'] as const) await expect(api(userIn(t.id, role)).personalData.preview(ask)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(writer.personalData.preview(ask)).rejects.toMatchObject({ code: 'FORBIDDEN' });

    expect(await admin.personalData.preview({ subject_id: 'nobody@broker.example' })).toMatchObject({ status: 'unknown_subject', keys: [] });
    const hold = await placeHold(testSql(), { tenantId: t.id, reason: 'inquiry', objectType: 'ORDER', objectId: 'ORD-GWEN-1', actor: 'test' });
    const blocked = await admin.personalData.preview(ask);
    expect(blocked).toMatchObject({ status: 'blocked', block: { holds: [{ id: hold.id, reason: 'inquiry', events: 1, archived_events: 0 }], checked: { hot_events: 1, archived_events: 0 } } });
    expect(blocked.keys.filter((k) => !k.erased_at)).toHaveLength(1);
    await releaseHold(testSql(), { tenantId: t.id, id: hold.id, reason: 'closed', actor: 'test' });
    expect(await admin.personalData.preview(ask)).toMatchObject({ status: 'erasable', block: { holds: [], retention: [] } });
    expect((await writer.events.list({ limit: 10, object_id: 'ORD-GWEN-1' })).events[0]).toMatchObject({ actor_id: 'gwen@broker.example' });

    const erased = await admin.personalData.erase({ ...ask, reason: 'request', confirm: ask.subject_id });
    expect(await admin.personalData.preview(ask)).toMatchObject({ status: 'erased', keys: [{ erasure_event_id: erased.erasure_event_id }] });
  });
});
