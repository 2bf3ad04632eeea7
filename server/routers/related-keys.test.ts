/**
 * The whole order's keys per tenant: two tenants whose events name their
 * orders under different context keys get each its own whole order — in the
 * object's timeline, its count and shape, and its export (whose manifest
 * records the keys) — once an admin has set the keys; the change is an
 * administration event with the keys before and after, only admins may make
 * it, and a key that is not a field name changes nothing.
 */
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import type { Caller } from '@/server/auth/caller.ts';
import { createContextInner } from '@/server/context.ts';
import { createCallerFactory } from '@/server/trpc.ts';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { appendEvents } from '@/supabase/functions/_shared/ingest.ts';
import { RELATED_CONTEXT_KEYS } from '@/supabase/functions/_shared/filters.ts';
import { baseUrl, call, event, newMember, newTenant, testSql } from '@/test/fixtures.ts';
import { appRouter } from './_app.ts';

const createCaller = createCallerFactory(appRouter);
const api = (caller: Caller) => createCaller(createContextInner({ caller, sql: testSql(), observed: { ip: '10.1.2.3', userAgent: 'related-keys-test' } }));

const at = (minute: number) => `2026-11-03T14:${String(minute).padStart(2, '0')}:00.000000Z`;

/** The same trail in each tenant: ORD-1, a fill naming it as order_id, another as ord_ref, a child naming it as parent_order_id. */
async function tenantWithOrder(label: string) {
  const t = await newTenant(label);
  const events = [
    event({ occurred_at: at(0), object_type: 'ORDER', object_id: 'ORD-1', event_type: 'CREATE', context: { symbol: 'MSFT', quantity: 200 } }),
    event({ occurred_at: at(1), object_type: 'EXECUTION', object_id: 'EXE-A', event_type: 'FILL', context: { order_id: 'ORD-1', last_qty: 100, last_px: 410.5 } }),
    event({ occurred_at: at(2), object_type: 'EXECUTION', object_id: 'EXE-B', event_type: 'FILL', context: { ord_ref: 'ORD-1', last_qty: 100, last_px: 410.75 } }),
    event({ occurred_at: at(3), object_type: 'ORDER', object_id: 'ORD-1-C', event_type: 'CREATE', context: { parent_order_id: 'ORD-1' } }),
    event({ occurred_at: at(4), object_type: 'EXECUTION', object_id: 'EXE-X', event_type: 'FILL', context: { ord_ref: 'ORD-2' } }),
  ];
  await appendEvents(testSql(), { tenantId: t.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events }, 500), { ip: null, userAgent: 'test' }, 'cli');
  const { user } = await newMember(t.id, 'admin');
  const admin = api({ kind: 'user', userId: user.id, email: user.email, memberships: user.memberships, tenantId: t.id });
  return { t, admin, adminEmail: user.email };
}

const ids = (events: { object_id: string }[]) => events.map((e) => e.object_id);
const timeline = { object_type: 'ORDER', object_id: 'ORD-1', related: true, order: 'asc' as const, limit: 100 };

async function exportedIds(readKey: string, query: string) {
  const res = await fetch(`${baseUrl()}/api/v1/audit/events/export?format=csv&${query}`, { headers: { authorization: `Bearer ${readKey}` } });
  expect(res.status).toBe(200);
  const rows = parse(await res.text(), { columns: true }) as { object_id: string }[];
  const manifest = await call('GET', res.headers.get('x-audit-manifest')!.replace(baseUrl(), ''), { key: readKey });
  return { ids: ids(rows), manifest: manifest.body as { status: string; row_count: number; filters: Record<string, unknown> } };
}

describe('related keys per tenant (the whole order)', () => {
  it('gives two tenants with different keys different whole orders, in the timeline, count, shape and export', async () => {
    const a = await tenantWithOrder('related-a');
    const b = await tenantWithOrder('related-b');
    expect(await a.admin.relatedKeys.get()).toEqual({ keys: [...RELATED_CONTEXT_KEYS], updated_at: null, updated_by: null });

    const set = await b.admin.relatedKeys.set({ keys: ['ord_ref', 'parent_order_id', 'ord_ref'] });
    expect(set.keys).toEqual(['ord_ref', 'parent_order_id']);
    // The person by email, never by internal id.
    expect(set.updated_by).toBe(b.adminEmail);
    // Tenant A kept the default keys: setting B's changed nothing of A's.
    expect((await a.admin.relatedKeys.get()).keys).toEqual([...RELATED_CONTEXT_KEYS]);

    expect(ids((await a.admin.events.objectHistory(timeline)).events)).toEqual(['ORD-1', 'EXE-A', 'ORD-1-C']);
    expect(ids((await b.admin.events.objectHistory(timeline)).events)).toEqual(['ORD-1', 'EXE-B', 'ORD-1-C']);

    const about = { about: 'ORD-1', about_type: 'ORDER' };
    expect(await a.admin.events.count(about)).toEqual({ count: 3, exact: true });
    expect(await b.admin.events.count(about)).toEqual({ count: 3, exact: true });
    const shapeB = await b.admin.events.shape(about);
    expect(shapeB.facets.object_type).toEqual(expect.arrayContaining([{ value: 'EXECUTION', count: 1 }, { value: 'ORDER', count: 2 }]));

    const exportA = await exportedIds(a.t.readKey, 'about=ORD-1&about_type=ORDER');
    const exportB = await exportedIds(b.t.readKey, 'about=ORD-1&about_type=ORDER');
    expect(exportA.ids).toEqual(['ORD-1', 'EXE-A', 'ORD-1-C']);
    expect(exportB.ids).toEqual(['ORD-1', 'EXE-B', 'ORD-1-C']);
    // The manifest says which keys the export read.
    expect(exportA.manifest).toMatchObject({ status: 'complete', row_count: 3, filters: { about: 'ORD-1', about_keys: [...RELATED_CONTEXT_KEYS] } });
    expect(exportB.manifest).toMatchObject({ status: 'complete', row_count: 3, filters: { about: 'ORD-1', about_keys: ['ord_ref', 'parent_order_id'] } });
    // Keys given with the request still win over the tenant's.
    expect((await exportedIds(b.t.readKey, 'about=ORD-1&about_type=ORDER&about_keys=order_id')).ids).toEqual(['ORD-1', 'EXE-A']);
  });

  it('records the change as an administration event, refuses non-admins and bad keys without changing anything', async () => {
    const { t, admin, adminEmail } = await tenantWithOrder('related-audit');
    await admin.relatedKeys.set({ keys: ['ord_ref'] });

    const activity = await admin.events.activity({});
    const [change] = activity.events;
    expect(change).toMatchObject({ actor_id: adminEmail, event_type: 'AUDIT_RELATED_KEYS', object_type: 'AUDIT_RELATED_KEYS', object_id: t.id, outcome: 'success' });
    expect(change!.context).toMatchObject({ before: [...RELATED_CONTEXT_KEYS], after: ['ord_ref'] });

    for (const role of ['viewer', 'auditor'] as const) {
      const { user } = await newMember(t.id, role);
      const member = api({ kind: 'user', userId: user.id, email: user.email, memberships: user.memberships, tenantId: t.id });
      expect((await member.relatedKeys.get()).keys).toEqual(['ord_ref']);
      await expect(member.relatedKeys.set({ keys: ['order_id'] })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    }
    for (const keys of [[], ['a.b'], ['context->>x'], Array.from({ length: 11 }, (_, i) => `k${i}`)]) {
      await expect(admin.relatedKeys.set({ keys })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    }
    expect((await admin.relatedKeys.get()).keys).toEqual(['ord_ref']);
    expect((await admin.events.activity({})).events.filter((e) => e.event_type === 'AUDIT_RELATED_KEYS')).toHaveLength(1);
  });
});
