/**
 * Context filters against the real database: the indexed rewrite returns exactly
 * what plain jsonb containment returns (types included), stays in its tenant,
 * pages in keyset order, and can use the field's btree index.
 */
import { describe, expect, it } from 'vitest';
import { withTenant, type TenantClaims } from '@/supabase/functions/_shared/db.ts';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { event, newTenant, testSql } from '@/test/fixtures.ts';
import { logEvents } from './ingest.ts';
import { countMatching } from './count.ts';
import { listEvents, whereClause } from './query.ts';
import { indexedStringFields, INDEXED_CONTEXT_FIELDS, textOnlyFromString } from './context-filter.ts';
import { compilePostgres } from './filters/postgres.ts';

const claimsOf = (tenantId: string): TenantClaims => ({ tenant_id: tenantId, sub: 'test', role: 'authenticated' });

// Values that look alike as text but differ as JSON: the rewrite must not blur them.
const CONTEXTS: Record<string, unknown>[] = [
  { symbol: 'AAPL', side: 'BUY', account: 'ACC-1' },
  { symbol: 'AAPL', side: 'SELL', account: 'ACC-2', client_order_id: 'C-1' },
  { symbol: 'aapl' },
  { symbol: ['AAPL'] },
  { symbol: '["AAPL"]' },
  { symbol: { ticker: 'AAPL' } },
  { symbol: '150', client_order_id: '150' },
  { symbol: 150, client_order_id: 150 },
  { symbol: 150.0 },
  { symbol: 'true', account: 'true' },
  { symbol: true, account: true },
  { symbol: null, account: null },
  { symbol: 'null' },
  { symbol: '' },
  { symbol: '{"ticker": "AAPL"}' },
  { symbol: 'Zürich “quoted”', account: "O'Brien; drop table x" },
  { account: 'ACC-1', side: 'BUY' },
  { nested: { symbol: 'AAPL' } },
  {},
];

const FILTERS: Record<string, unknown>[] = [
  { symbol: 'AAPL' },
  { symbol: 'aapl' },
  { symbol: '150' },
  { symbol: 150 },
  { symbol: 'true' },
  { symbol: true },
  { symbol: null },
  { symbol: 'null' },
  { symbol: '' },
  { symbol: ['AAPL'] },
  { symbol: { ticker: 'AAPL' } },
  { symbol: '{"ticker": "AAPL"}' },
  { symbol: '["AAPL"]' },
  { symbol: 'Zürich “quoted”' },
  { symbol: 'AAPL', side: 'BUY' },
  { symbol: 'AAPL', account: 'ACC-1' },
  { symbol: 'AAPL', account: 'ACC-2' },
  { account: 'ACC-1' },
  { account: 'true' },
  { account: "O'Brien; drop table x" },
  { client_order_id: '150' },
  { client_order_id: 150 },
  { side: 'BUY' },
  { nested: { symbol: 'AAPL' } },
];

async function seed(tenantId: string, copies: number) {
  const events = Array.from({ length: copies }, (_, round) =>
    CONTEXTS.map((context, i) => event({ occurred_at: new Date(Date.UTC(2026, 9, 1 + (i % 20), round, i)).toISOString(), context })),
  ).flat();
  for (let i = 0; i < events.length; i += 500) {
    await logEvents(testSql(), { tenantId, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events: events.slice(i, i + 500) }, 500), { ip: null, userAgent: 'test' }, 'rest');
  }
}

/** The meaning of a context filter: plain containment, nothing else. */
async function byContainment(tenantId: string, context: Record<string, unknown>): Promise<number[]> {
  const rows = await testSql()`
    select seq from public.audit_events
    where tenant_id = ${tenantId} and context @> ${testSql().json(context as never)}::jsonb
    order by occurred_at desc, seq desc`;
  return rows.map((r) => Number(r.seq));
}

describe('context filters', () => {
  it('return exactly what jsonb containment returns, for every type of value', async () => {
    const t = await newTenant('context-filter');
    const other = await newTenant('context-filter-other');
    await seed(t.id, 3);
    await seed(other.id, 1);
    for (const context of FILTERS) {
      const expected = await byContainment(t.id, context);
      const page = await listEvents(testSql(), claimsOf(t.id), { context, limit: 1000, order: 'desc' });
      expect({ context, seqs: page.events.map((e) => e.seq) }).toEqual({ context, seqs: expected });
      expect(page.events.every((e) => e.tenant_id === t.id)).toBe(true);
      expect(await countMatching(testSql(), claimsOf(t.id), { context })).toEqual({ count: expected.length, exact: true });
    }
    // Sanity: the cases that look alike as text really are told apart.
    expect((await byContainment(t.id, { symbol: 'AAPL' })).length).toBe(6);
    expect((await byContainment(t.id, { symbol: '150' })).length).toBe(3);
    expect((await byContainment(t.id, { symbol: 150 })).length).toBe(6);
  });

  it('page in keyset order through the indexed rewrite', async () => {
    const t = await newTenant('context-pages');
    await seed(t.id, 4);
    const expected = await byContainment(t.id, { symbol: 'AAPL' });
    const seen: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await listEvents(testSql(), claimsOf(t.id), { context: { symbol: 'AAPL' }, limit: 3, order: 'desc', cursor });
      seen.push(...page.events.map((e) => e.seq));
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(expected);
  });

  it('rewrite only string values of indexed fields', () => {
    expect(indexedStringFields({ symbol: 'AAPL', account: 150, client_order_id: null, side: 'BUY', venue: 'XNAS' })).toEqual([['symbol', 'AAPL']]);
    expect(indexedStringFields({ symbol: ['AAPL'], account: true })).toEqual([]);
  });

  it('have an indexed column, computed from the context, for every field the service rewrites', async () => {
    const indexes = await testSql()`select indexdef from pg_indexes where schemaname = 'public' and tablename = 'audit_events'`;
    for (const [field, column] of Object.entries(INDEXED_CONTEXT_FIELDS)) {
      expect(indexes.map((i) => i.indexdef as string)).toContainEqual(expect.stringContaining(`(tenant_id, ${column}, occurred_at, seq) WHERE (${column} IS NOT NULL)`));
      const [generated] = await testSql()`
        select pg_get_expr(d.adbin, d.adrelid) as expr from pg_attrdef d join pg_attribute a on a.attrelid = d.adrelid and a.attnum = d.adnum
        where d.adrelid = 'public.audit_events'::regclass and a.attname = ${column}`;
      expect(generated?.expr).toBe(`(context ->> '${field}'::text)`);
    }
  });

  it('let the planner walk the field index within the tenant', async () => {
    const t = await newTenant('context-plan');
    const events = Array.from({ length: 1500 }, (_, i) => event({ context: { symbol: i % 100 === 0 ? 'RARE' : `SYM${i % 7}`, side: 'BUY' } }));
    for (let i = 0; i < events.length; i += 500) {
      await logEvents(testSql(), { tenantId: t.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events: events.slice(i, i + 500) }, 500), { ip: null, userAgent: 'test' }, 'rest');
    }
    const partitions = await testSql()`select distinct tableoid::regclass::text as name from public.audit_events where tenant_id = ${t.id}`;
    for (const p of partitions) await testSql().unsafe(`vacuum (analyze) ${p.name as string}`);
    const plan = await withTenant(testSql(), claimsOf(t.id), async (tx) => {
      const where = whereClause(tx, t.id, { context: { symbol: 'RARE' } });
      const rows = await tx`explain (format json) select seq from public.audit_events where ${where} order by occurred_at desc, seq desc limit 50`;
      return JSON.stringify(rows[0]!['QUERY PLAN']);
    });
    expect(plan).toMatch(/"Index Cond":"\(\(tenant_id = '[0-9a-f-]+'::uuid\) AND \(context_symbol = 'RARE'::text\)\)"/);
    expect(plan).not.toMatch(/Seq Scan/);
    // A count of a plain string reads the index alone (the rows were vacuumed, so their pages are all-visible).
    const countPlan = await withTenant(testSql(), claimsOf(t.id), async (tx) => {
      const rows = await tx`explain (format json) select count(*) from (select 1 from public.audit_events where ${whereClause(tx, t.id, { context: { symbol: 'SYM3' } })} limit 100001) c`;
      return JSON.stringify(rows[0]!['QUERY PLAN']);
    });
    expect(countPlan).toMatch(/"Node Type":"Index Only Scan"/);
    expect(countPlan).not.toMatch(/@>/);
    expect(compilePostgres(t.id, { op: 'contains', value: { symbol: 'AAPL', qty: 1 } }).strings.join('$')).toBe('tenant_id = $::uuid and (context_symbol = $ and context @> $::text::jsonb)');
  });

  it('test only the indexed column where its text can only be that string, so a count reads the index alone', () => {
    const sql = (value: Record<string, unknown>) => compilePostgres('00000000-0000-0000-0000-000000000000', { op: 'contains', value }).strings.join('$');
    expect(sql({ symbol: 'AAPL' })).toBe('tenant_id = $::uuid and (context_symbol = $ and true)');
    expect(sql({ symbol: 'AAPL', account: 'ACC-1' })).toBe('tenant_id = $::uuid and (context_symbol = $ and context_account = $ and true)');
    // Text another JSON type also has: containment decides.
    for (const value of ['150', '-1', 'true', 'false', 'null', '["AAPL"]', '{"ticker": "AAPL"}']) {
      expect(sql({ symbol: value })).toBe('tenant_id = $::uuid and (context_symbol = $ and context @> $::text::jsonb)');
    }
    expect(textOnlyFromString('')).toBe(true);
    expect(textOnlyFromString('Zürich “quoted”')).toBe(true);
    expect(textOnlyFromString('.5')).toBe(true);
    expect(textOnlyFromString('0.5')).toBe(false);
  });
});
