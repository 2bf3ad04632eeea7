/**
 * The plan of a stream's batch read (every batch of every stream runs it): a
 * range of the ledger's primary key, then one primary-key lookup per event in
 * its month's partition; never a scan of the tenant's events.
 */
import { describe, expect, it } from 'vitest';
import { withTenant } from '@/supabase/functions/_shared/db.ts';
import { newTenant, testSql } from '@/test/fixtures.ts';
import { writeEvents } from '@/test/streams.ts';
import { batchEventsQuery } from './batch.ts';

type Node = { 'Relation Name'?: string; 'Node Type': string; 'Index Name'?: string; Plans?: Node[] };

describe('stream batch read plan', () => {
  it('reads the ledger by its primary key and each event by its partition\'s primary key', async () => {
    const t = await newTenant('stream-plan');
    await writeEvents(testSql(), t.id, 2000);
    await testSql()`analyze public.audit_ledger`;
    const partitions = await testSql()`select distinct tableoid::regclass::text as name from public.audit_events where tenant_id = ${t.id}`;
    for (const p of partitions) await testSql().unsafe(`analyze ${p.name as string}`);
    const plan = await withTenant(testSql(), { tenant_id: t.id, sub: 'test', role: 'authenticated' }, async (tx) => {
      const rows = await tx`explain (format json) ${batchEventsQuery(tx, t.id, 1001, 1500)}`;
      return (rows[0]!['QUERY PLAN'] as { Plan: Node }[])[0]!.Plan;
    });
    const nodes: Node[] = [];
    const walk = (n: Node) => {
      nodes.push(n);
      n.Plans?.forEach(walk);
    };
    walk(plan);
    // The ledger through its primary key (an index scan, or a bitmap over it for a long range).
    expect(nodes.some((n) => n['Index Name'] === 'audit_ledger_pkey')).toBe(true);
    expect(nodes.filter((n) => n['Relation Name'] === 'audit_ledger').map((n) => n['Node Type'])).not.toContain('Seq Scan');
    const ours = new Set(partitions.map((p) => (p.name as string).replace(/^oms_audit\./, '')));
    const events = nodes.filter((n) => ours.has(n['Relation Name']!));
    expect(events.length).toBeGreaterThan(0);
    for (const n of events) expect(n['Node Type']).toMatch(/Index Scan|Index Only Scan/);
  });
});
