/**
 * Value tokens reach archived months: a month of sealed events is archived to
 * Parquet and dropped from PostgreSQL; equality on an IP address, a declared
 * context member and the subject id still finds its events there (the DuckDB
 * side of the one filter compiler reads `personal.tokens` from the part), in
 * pages, counts and the search's shape alike; after the person's key is destroyed the archived
 * events are found by none of their values, while a new event about the person
 * (under a new key) is. An unsealing tenant's archived addresses (parts whose
 * rows carry no tokens) are found by their stored text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBatch, type AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import { listEventsInput, type EventFiltersInput } from '@/supabase/functions/_shared/filters.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { monthLabel, retentionDatabase, timeInMonth, type RetentionDb } from '@/test/retention.ts';
import { logEvents } from '../ingest.ts';
import { listEvents } from '../query.ts';
import { countMatching } from '../count.ts';
import { searchShape } from '../search-shape.ts';
import { archiveMonth } from '../retention/archive.ts';
import { retentionContext, type RetentionContext } from '../retention/context.ts';
import { withRetentionLock } from '../retention/parts.ts';
import { eraseSubject } from './erase.ts';
import { declarePersonalData } from './settings.ts';

let db: RetentionDb;
let ctx: RetentionContext;
beforeAll(async () => {
  db = await retentionDatabase();
  ctx = await retentionContext(db.sql, db.env(), { actor: 'test-retention' });
});
afterAll(() => db?.drop());

const trade = (actor: string, n: number, ip: string, extra: Partial<AuditEventRequest> = {}, monthsAgo = 16): AuditEventRequest => ({
  occurred_at: timeInMonth(monthsAgo, n),
  actor_type: 'TRADER',
  actor_id: actor,
  object_type: 'ORDER',
  object_id: `ORD-${n}`,
  event_type: 'CREATE',
  ip_address: ip,
  context: { email: `${actor}.client@example.net`, qty: n },
  ...extra,
});

describe('value tokens in archived months', () => {
  it('equality on sealed values finds archived events by their tokens, and nothing of an erased person', async () => {
    const tenant = await createTenant(db.sql, `value-search-archive-${Date.now()}`);
    const claims = { tenant_id: tenant.id, sub: 'test', role: 'authenticated' as const };
    await declarePersonalData(db.sql, tenant.id, 'operator:test', { contextPaths: ['email'], outsideRetention: true });
    const write = (events: AuditEventRequest[]) =>
      logEvents(db.sql, { tenantId: tenant.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events }, 10), { ip: '192.0.2.250', userAgent: 'gateway-ua' }, 'cli');
    await write([trade('dana', 1, '192.0.2.201', { subject_id: 'client-9' }), trade('eric', 2, '192.0.2.202'), trade('dana', 3, '192.0.2.201')]);
    const archived = await withRetentionLock(db.sql, { wait: false }, () => archiveMonth(ctx, `${monthLabel(16)}-01`, { drop: true }));
    expect(archived.outcome).toBe('dropped');

    const found = async (filters: EventFiltersInput) => {
      const page = await listEvents(db.sql, claims, listEventsInput.parse({ order: 'asc', ...filters }));
      const count = await countMatching(db.sql, claims, listEventsInput.parse(filters));
      expect(count.count, JSON.stringify(filters)).toBe(page.events.length);
      expect(page.events.every((e) => e.archived)).toBe(true);
      return page.events.map((e) => e.object_id);
    };
    expect(await found({ ip_address: '192.0.2.201' })).toEqual(['ORD-1', 'ORD-3']);
    // The search's shape counts the same events (archived months included).
    const shape = await searchShape(db.sql, claims, listEventsInput.parse({ ip_address: '192.0.2.201' }), { exact: true });
    expect(shape.buckets.reduce((n, b) => n + b.count, 0)).toBe(2);
    expect(await found({ q: 'email = "eric.client@example.net"' })).toEqual(['ORD-2']);
    // ORD-1 names a subject: its email is sealed under the client's key, ORD-3's under dana's; both hold the value.
    expect(await found({ context: { email: 'dana.client@example.net' } })).toEqual(['ORD-1', 'ORD-3']);
    expect(await found({ subject_id: 'client-9' })).toEqual(['ORD-1']);
    expect(await found({ q: 'observed_ip = 192.0.2.250 AND NOT ip_address = 192.0.2.202' })).toEqual(['ORD-1', 'ORD-3']);

    await eraseSubject(db.sql, { tenantId: tenant.id, subjectId: 'dana', reason: 'request', actor: { kind: 'operator', name: 'dpo' }, minTotalYears: 1, env: db.env() });
    expect(await found({ ip_address: '192.0.2.201' })).toEqual([]);
    expect(await found({ context: { email: 'dana.client@example.net' } })).toEqual(['ORD-1']);
    expect(await found({ subject_id: 'client-9' })).toEqual(['ORD-1']);
    expect(await found({ ip_address: '192.0.2.202' })).toEqual(['ORD-2']);

    // A new event about dana, in PostgreSQL under her new key: found, the archived ones still not.
    await write([trade('dana', 4, '192.0.2.201', { occurred_at: new Date().toISOString() })]);
    const page = await listEvents(db.sql, claims, listEventsInput.parse({ order: 'asc', ip_address: '192.0.2.201' }));
    expect(page.events.map((e) => [e.object_id, e.archived ?? false])).toEqual([['ORD-4', false]]);
  });

  it("an unsealing tenant's archived addresses are found by their stored text", async () => {
    const tenant = await createTenant(db.sql, `plain-ip-archive-${Date.now()}`);
    const claims = { tenant_id: tenant.id, sub: 'test', role: 'authenticated' as const };
    await logEvents(db.sql, { tenantId: tenant.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events: [trade('gus', 1, '2001:DB8::7', {}, 17), trade('hal', 2, '192.0.2.9', {}, 17)] }, 10), { ip: '192.0.2.250', userAgent: 'gw' }, 'cli');
    await withRetentionLock(db.sql, { wait: false }, () => archiveMonth(ctx, `${monthLabel(17)}-01`, { drop: true }));
    const page = await listEvents(db.sql, claims, listEventsInput.parse({ order: 'asc', ip_address: '2001:db8:0::7' }));
    expect(page.events.map((e) => [e.object_id, e.ip_address, e.archived])).toEqual([['ORD-1', '2001:db8::7', true]]);
    expect((await countMatching(db.sql, claims, listEventsInput.parse({ q: 'ip_address IN (192.0.2.9, 192.0.2.10)' }))).count).toBe(1);
  });
});
