/** Plans of the list query's filters: each starts inside the tenant, on an index that serves it. */
import { describe, expect, it } from 'vitest';
import { withTenant, type TenantClaims } from '@/supabase/functions/_shared/db.ts';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { event, newTenant, testSql } from '@/test/fixtures.ts';
import { logEvents } from './ingest.ts';
import { whereClause } from './query.ts';

/** The i-th of a test's events, a minute apart within `month` (YYYY-MM). */
const inMonth = (month: string, i: number) => new Date(Date.parse(`${month}-01T00:00:00Z`) + i * 60_000).toISOString();

describe('list query plans', () => {
  it('walk the event-type index for a rare event type, within the tenant', async () => {
    const t = await newTenant('event-type-plan');
    const claims: TenantClaims = { tenant_id: t.id, sub: 'test', role: 'authenticated' };
    // In a month of their own: the partition's statistics then describe this tenant, whatever other tests write meanwhile.
    const events = Array.from({ length: 1500 }, (_, i) => event({ event_type: i % 300 === 0 ? 'RISK_REJECT' : 'FILL', occurred_at: inMonth('2007-03', i) }));
    for (let i = 0; i < events.length; i += 500) {
      await logEvents(testSql(), { tenantId: t.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events: events.slice(i, i + 500) }, 500), { ip: null, userAgent: 'test' }, 'rest');
    }
    const partitions = await testSql()`select distinct tableoid::regclass::text as name from public.audit_events where tenant_id = ${t.id}`;
    for (const p of partitions) await testSql().unsafe(`analyze ${p.name as string}`);
    const plan = await withTenant(testSql(), claims, async (tx) => {
      const rows = await tx`explain (format json) select seq from public.audit_events where ${whereClause(tx, t.id, { event_type: ['RISK_REJECT'] })} order by occurred_at desc, seq desc limit 50`;
      return JSON.stringify(rows[0]!['QUERY PLAN']);
    });
    // Every partition holding the tenant's events is read through the index, never scanned; tiny partitions of
    // other tests without statistics may be planned either way and say nothing about this query.
    type Node = { 'Relation Name'?: string; 'Node Type': string; 'Index Cond'?: string; Plans?: Node[] };
    const scans: Node[] = [];
    const walk = (n: Node) => {
      if (n['Relation Name']) scans.push(n);
      n.Plans?.forEach(walk);
    };
    walk((JSON.parse(plan) as { Plan: Node }[])[0]!.Plan);
    const ours = new Set(partitions.map((p) => (p.name as string).replace(/^oms_audit\./, '')));
    const relevant = scans.filter((n) => ours.has(n['Relation Name']!));
    expect(relevant.length).toBe(ours.size);
    for (const n of relevant) {
      expect(n['Node Type']).toMatch(/Index/);
      expect(n['Index Cond']).toMatch(/^\(\(tenant_id = '[0-9a-f-]+'::uuid\) AND \(event_type = 'RISK_REJECT'::text\)\)$/);
    }
  });

  it('read the whole order (about) through indexes, never a scan of the tenant', async () => {
    const t = await newTenant('about-plan');
    const claims: TenantClaims = { tenant_id: t.id, sub: 'test', role: 'authenticated' };
    const events = Array.from({ length: 3000 }, (_, i) =>
      i % 3 === 0
        ? event({ object_type: 'ORDER', object_id: `ORD-${i}`, occurred_at: inMonth('2007-04', i) })
        : event({ object_type: 'EXECUTION', object_id: `EXE-${i}`, context: { order_id: `ORD-${i - (i % 3)}`, last_qty: 100, last_px: 1.5 }, occurred_at: inMonth('2007-04', i) }),
    );
    for (let i = 0; i < events.length; i += 500) {
      await logEvents(testSql(), { tenantId: t.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events: events.slice(i, i + 500) }, 500), { ip: null, userAgent: 'test' }, 'rest');
    }
    const partitions = await testSql()`select distinct tableoid::regclass::text as name from public.audit_events where tenant_id = ${t.id}`;
    for (const p of partitions) await testSql().unsafe(`analyze ${p.name as string}`);
    const plan = await withTenant(testSql(), claims, async (tx) => {
      const rows = await tx`explain (format json) select seq from public.audit_events where ${whereClause(tx, t.id, { about: 'ORD-300', about_type: 'ORDER' })} order by occurred_at asc, seq asc limit 1001`;
      return JSON.stringify(rows[0]!['QUERY PLAN']);
    });
    type Node = { 'Relation Name'?: string; 'Node Type': string; 'Index Name'?: string; Plans?: Node[] };
    const nodes: Node[] = [];
    const walk = (n: Node) => {
      nodes.push(n);
      n.Plans?.forEach(walk);
    };
    walk((JSON.parse(plan) as { Plan: Node }[])[0]!.Plan);
    const ours = new Set(partitions.map((p) => (p.name as string).replace(/^oms_audit\./, '')));
    expect(nodes.filter((n) => n['Node Type'] === 'Seq Scan' && ours.has(n['Relation Name']!))).toEqual([]);
    const indexes = new Set(nodes.map((n) => n['Index Name']).filter(Boolean));
    expect([...indexes].some((name) => /context_order_id/.test(name!)), plan).toBe(true);
    expect([...indexes].some((name) => /object_idx|pkey/.test(name!)), plan).toBe(true);
  });
});
