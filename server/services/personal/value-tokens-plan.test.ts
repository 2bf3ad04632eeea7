/**
 * The plan of a search by value tokens alone (docs/personal-data.md, "Value
 * tokens"): a subject's events (`subject_id=…`) are looked up in the partial
 * GIN index on `personal -> 'tokens'`, never by scanning the tenant's events;
 * the index holds only rows that carry tokens, so an unsealing tenant's rows
 * add nothing to it. (The read path, under row-level security, reaches the same
 * index through oms_audit.events_with_tokens; an equality that may also match a
 * value stored in clear compares that column on the clear actors' events only:
 * sealed-search-equivalence.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { withTenant, type TenantClaims } from '@/supabase/functions/_shared/db.ts';
import { event, newTenant, testSql } from '@/test/fixtures.ts';
import { logEvents } from '../ingest.ts';
import { whereClause } from '../query.ts';
import { compilePostgres } from '../filters/postgres.ts';
import { withBlindIndex } from './search.ts';
import { declarePersonalData } from './settings.ts';

describe('value token search plan', () => {
  it('reads a subject\'s events through the tokens index, and finds a rare sealed IP address', async () => {
    const t = await newTenant('value-token-plan');
    await declarePersonalData(testSql(), t.id, 'operator:test', { outsideRetention: true });
    const claims: TenantClaims = { tenant_id: t.id, sub: 'test', role: 'authenticated' };
    const events = Array.from({ length: 2000 }, (_, i) =>
      event({ actor_type: 'TRADER', actor_id: `trader-${i % 40}`, ip_address: i % 500 === 7 ? '198.51.100.7' : `10.0.${i % 200}.1`, subject_id: `client-${i % 400}`, context: { email: `c${i % 300}@example.net` } }),
    );
    for (let i = 0; i < events.length; i += 500) {
      await logEvents(testSql(), { tenantId: t.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events: events.slice(i, i + 500) }, 500), { ip: null, userAgent: 'test' }, 'rest');
    }
    const partitions = await testSql()`select distinct tableoid::regclass::text as name from public.audit_events where tenant_id = ${t.id}`;
    for (const p of partitions) await testSql().unsafe(`analyze ${p.name as string}`);
    const byIp = await withBlindIndex(testSql(), t.id, { ip_address: '198.51.100.7' });
    expect(byIp.sealed_values!['["/ip_address","198.51.100.7"]']).toHaveLength(2); // one per trader who used it (trader-7 and trader-27)
    const filters = await withBlindIndex(testSql(), t.id, { subject_id: 'client-7' });
    const tokens = filters.sealed_values!['["/subject_id","client-7"]']!;
    expect(tokens).toHaveLength(1);
    const { found, foundByIp } = await withTenant(testSql(), claims, async (tx) => {
      const found = await tx`select count(*)::int as n from public.audit_events where ${whereClause(tx, t.id, filters)}`;
      const foundByIp = await tx`select count(*)::int as n from public.audit_events where ${whereClause(tx, t.id, byIp)}`;
      return { found: found[0]!.n as number, foundByIp: foundByIp[0]!.n as number };
    });
    expect(found).toBe(5);
    expect(foundByIp).toBe(4);

    expect(compilePostgres(t.id, { op: 'tokens', values: [...tokens] }).strings.join('?')).toContain("(personal ? 'tokens' and (personal -> 'tokens') ?| ?::text[])");
    // The compiled token condition is the index's form: with the tenant's index out of the way (a tenant this
    // small in a shared test database is estimated at a handful of rows), the tokens index serves it.
    const plan = await testSql().begin(async (tx) => {
      await tx`set local enable_seqscan = off`;
      await tx`set local enable_indexscan = off`;
      const rows = await tx.unsafe(`explain (format json) select seq from public.audit_events where personal ? 'tokens' and (personal -> 'tokens') ?| $1::text[]`, [tokens as string[]]);
      return JSON.stringify(rows[0]!['QUERY PLAN']);
    });
    type Node = { 'Relation Name'?: string; 'Node Type': string; 'Index Name'?: string; Plans?: Node[] };
    const indexes: string[] = [];
    const walk = (n: Node) => {
      if (n['Index Name']) indexes.push(n['Index Name']);
      n.Plans?.forEach(walk);
    };
    walk((JSON.parse(plan) as { Plan: Node }[])[0]!.Plan);
    expect(indexes.length).toBeGreaterThan(0);
    expect(indexes.every((name) => /expr_idx|tokens/.test(name)), plan).toBe(true);

    // Only rows with tokens are in the index (its predicate: personal ? 'tokens').
    const [definition] = await testSql()`select pg_get_indexdef('public.audit_events_personal_tokens_idx'::regclass) as d`;
    expect(definition!.d).toMatch(/USING gin \(+personal -> 'tokens'::text\)+ WHERE \(personal \? 'tokens'::text\)/);
  });
});
