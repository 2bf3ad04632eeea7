/** Plans of the list query's filters: each starts inside the tenant, on an index that serves it. */
import { describe, expect, it } from 'vitest';
import { withTenant, type TenantClaims } from '@/supabase/functions/_shared/db.ts';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { event, newTenant, testSql } from '@/test/fixtures.ts';
import { logEvents } from './ingest.ts';
import { whereClause } from './query.ts';

describe('list query plans', () => {
  it('walk the event-type index for a rare event type, within the tenant', async () => {
    const t = await newTenant('event-type-plan');
    const claims: TenantClaims = { tenant_id: t.id, sub: 'test', role: 'authenticated' };
    const events = Array.from({ length: 1500 }, (_, i) => event({ event_type: i % 300 === 0 ? 'RISK_REJECT' : 'FILL' }));
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
});
