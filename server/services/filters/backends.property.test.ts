/**
 * The filter tree means the same on every back end. One tenant's month is
 * both hot (PostgreSQL) and archived (the Parquet file the archiver writes);
 * random filter trees (fast-check, fixed seed) over fields, context paths,
 * AND/OR/NOT are run as a postgres.js page query, as the COPY statement
 * exports use (values in a transaction-local setting) and as DuckDB over the
 * Parquet file, and all three must return the same ids in the same order.
 */
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBatch, type AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import { connectionUrl, withTenant, type TenantClaims } from '@/supabase/functions/_shared/db.ts';
import type { ContextPath, FilterExpr, JsonScalar } from '@/supabase/functions/_shared/filter-tree.ts';
import { appendEvents } from '@/supabase/functions/_shared/ingest.ts';
import { copyOut } from '@/server/db/copy-out.ts';
import { literal, withDuckDB } from '@/server/archive/duckdb.ts';
import { exportMonth } from '@/server/archive/export.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { retentionDatabase, type RetentionDb } from '@/test/retention.ts';
import { compileDuck } from './duckdb.ts';
import { COPY_PARAMS_SETTING, wherePostgres, whereCopy } from './postgres.ts';

const MONTH = '2005-03';
const ACTORS = ['alice', 'Alice', 'ALICE', 'bob', 'Bob-2', 'älice', 'ÄLICE', "o'hara", '=cmd', 'al'];
const OBJECT_IDS = ['ORD-1', 'ORD-10', 'ORD-2', 'ord-1', 'ORD 3 "x"'];
const EVENT_TYPES = ['CREATE', 'UPDATE', 'CANCEL', 'FILL'];
const SOURCES = [null, 'oms', 'OMS', 'gateway'];
const AGENTS = [null, 'Mozilla/5.0', 'curl/8.5', 'mozilla'];
const SYMBOLS = ['AAPL', 'MSFT', 'aapl', null, 'ÄPFEL'];
const NUMBERS = [0, 1, -3, 0.1, 187.25, 100, 1000, 1e21, 2 ** 53 - 1];
const STATUSES = ['NEW', 'FILLED', 'filled', 'CANCELED'];
const IPS = ['192.0.2.1', '192.0.2.10', '2001:db8::a', '::ffff:10.0.0.1'];

/** A deterministic pseudo-random choice. */
function picker(seed: number) {
  let x = seed;
  return <T,>(list: readonly T[]): T => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return list[x % list.length]!;
  };
}

function contextOf(i: number): Record<string, unknown> {
  const pick = picker(i + 7);
  const c: Record<string, unknown> = {};
  const symbol = pick([...SYMBOLS, 'absent']);
  if (symbol !== 'absent') c.symbol = symbol;
  if (i % 3) c.qty = pick(NUMBERS);
  if (i % 4) c.px = pick(NUMBERS);
  if (i % 5 !== 1) c.after = { status: pick(STATUSES), qty: pick(NUMBERS), venue: pick(['XNAS', null]) };
  if (i % 2) c.tags = pick([['a', 'b'], ['b'], [1, 2], [{ k: 'v' }, 'a'], [], [['a']]]);
  if (i % 7 === 0) c.flag = pick([true, false]);
  if (i % 6 === 0) c.note = null;
  if (i % 8 === 0) c['a.b'] = pick(['dot', 'DOT']);
  if (i % 9 === 0) c['$x'] = pick([1, 'one']);
  if (i % 10 === 0) c['c/d~e'] = 'slash';
  if (i % 11 === 0) c.after = 'not an object';
  return c;
}

function eventOf(i: number): AuditEventRequest {
  const pick = picker(i);
  const day = 1 + (i % 28);
  return {
    actor_id: pick(ACTORS),
    actor_type: pick(['USER', 'SERVICE']),
    object_type: pick(['ORDER', 'FILL_REPORT']),
    object_id: pick(OBJECT_IDS),
    event_type: pick(EVENT_TYPES),
    outcome: pick(['success', 'failure']),
    occurred_at: `${MONTH}-${String(day).padStart(2, '0')}T${String(i % 24).padStart(2, '0')}:00:00.${String((i * 37) % 1000).padStart(3, '0')}${i % 13 === 0 ? '' : '123'}Z`,
    ...(pick(SOURCES) !== null ? { source: pick(SOURCES.filter((s) => s !== null)) as string } : {}),
    ...(i % 3 ? { request_id: `req-${i % 17}` } : {}),
    ...(pick(AGENTS) !== null ? { user_agent: pick(AGENTS.filter((s) => s !== null)) as string } : {}),
    ...(i % 4 ? { ip_address: IPS[Math.floor(i / 4) % IPS.length]! } : {}),
    context: contextOf(i),
  };
}

const scalar: fc.Arbitrary<JsonScalar> = fc.oneof(fc.constantFrom(...SYMBOLS, ...STATUSES, 'dot', 'one', 'slash', 'XNAS'), fc.constantFrom(...NUMBERS, 150, true, false, null));
const contextPath: fc.Arbitrary<ContextPath> = fc.constantFrom<string[]>(['symbol'], ['qty'], ['px'], ['after'], ['after', 'status'], ['after', 'qty'], ['after', 'venue'], ['tags'], ['flag'], ['note'], ['a.b'], ['$x'], ['c/d~e'], ['missing'], ['after', 'missing', 'deeper']).map((context) => ({ context }));
const textField = fc.constantFrom('actor_id', 'object_id', 'object_type', 'event_type', 'outcome', 'source', 'request_id', 'user_agent', 'actor_type');
const textValue = fc.constantFrom(...ACTORS, ...OBJECT_IDS, ...EVENT_TYPES, 'oms', 'OMS', 'gateway', 'Mozilla/5.0', 'req-3', 'USER', 'success', 'nothing');
const isoIn = fc.integer({ min: 0, max: 30 * 24 }).map((h) => new Date(Date.UTC(2005, 1, 27) + h * 3600_000).toISOString().replace('Z', '000Z'));
const needle: fc.Arbitrary<Record<string, unknown>> = fc.integer({ min: 0, max: 299 }).chain((i) => {
  const whole = contextOf(i);
  const keys = Object.keys(whole);
  return fc.subarray(keys, { minLength: 1 }).chain((chosen) =>
    fc.constantFrom<unknown>(true, false).map((narrow) => {
      const out: Record<string, unknown> = {};
      for (const k of chosen) {
        const v = whole[k];
        // Sometimes only part of a nested value: containment reaches inside objects and arrays.
        out[k] = narrow && v && typeof v === 'object' ? (Array.isArray(v) ? v.slice(0, 1) : Object.fromEntries(Object.entries(v).slice(0, 1))) : v;
      }
      return out;
    }),
  );
});

const predicate: fc.Arbitrary<FilterExpr> = fc.oneof(
  fc.record({ op: fc.constant('eq' as const), field: textField, value: textValue }),
  fc.record({ op: fc.constant('in' as const), field: textField, values: fc.array(textValue, { minLength: 1, maxLength: 4 }) }),
  fc.record({ op: fc.constant('prefix' as const), field: fc.constantFrom('actor_id', 'object_id', 'user_agent', 'request_id'), value: fc.constantFrom('a', 'al', 'AL', 'ORD-1', 'Moz', '', 'req-1', 'ä') }),
  fc.record({ op: fc.constant('ieq' as const), field: fc.constantFrom('actor_id', 'source', 'object_id'), value: fc.constantFrom('alice', 'ALICE', 'älice', 'oms', 'ord-1') }),
  fc.record({ op: fc.constant('exists' as const), field: fc.constantFrom('source', 'request_id', 'user_agent', 'device_fingerprint') }),
  fc.record({ op: fc.constant('range' as const), field: fc.constantFrom('occurred_at', 'received_at'), gte: fc.option(isoIn, { nil: undefined }), lt: fc.option(isoIn, { nil: undefined }), lte: fc.option(isoIn, { nil: undefined }) }),
  fc.record({ op: fc.constant('range' as const), field: fc.constant('seq'), gt: fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }), lte: fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }) }),
  fc.record({ op: fc.constant('contains' as const), value: needle }),
  fc.record({ op: fc.constant('eq' as const), field: contextPath, value: scalar }),
  fc.record({ op: fc.constant('in' as const), field: contextPath, values: fc.array(scalar, { minLength: 1, maxLength: 3 }) }),
  fc.record({ op: fc.constant('range' as const), field: contextPath, gte: fc.option(fc.constantFrom(...NUMBERS), { nil: undefined }), lt: fc.option(fc.constantFrom(...NUMBERS), { nil: undefined }) }),
  fc.record({ op: fc.constant('exists' as const), field: contextPath }),
  fc.record({ op: fc.constant('prefix' as const), field: contextPath, value: fc.constantFrom('A', 'aa', 'FIL', 'd') }),
  fc.record({ op: fc.constant('ieq' as const), field: contextPath, value: fc.constantFrom('aapl', 'FILLED', 'dot') }),
  fc.record({ op: fc.constant('iprefix' as const), field: fc.constantFrom('actor_id', 'source', 'object_id', 'user_agent'), value: fc.constantFrom('al', 'ALI', 'Ä', 'oM', 'ord-1', 'mozilla/') }),
  fc.record({ op: fc.constant('iprefix' as const), field: contextPath, value: fc.constantFrom('aa', 'Fil', 'DO', 'x') }),
  fc.record({ op: fc.constant('eq' as const), field: fc.constantFrom('ip_address', 'observed_ip'), value: fc.constantFrom(...IPS, '10.0.0.1', '192.0.2.99') }),
  fc.record({ op: fc.constant('in' as const), field: fc.constantFrom('ip_address', 'observed_ip'), values: fc.array(fc.constantFrom(...IPS, '10.0.0.1'), { minLength: 1, maxLength: 3 }) }),
) as fc.Arbitrary<FilterExpr>;

const tree: fc.Arbitrary<FilterExpr> = fc.letrec<{ node: FilterExpr }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    predicate,
    fc.record({ op: fc.constantFrom('and' as const, 'or' as const), args: fc.array(tie('node'), { minLength: 0, maxLength: 3 }) }),
    fc.record({ op: fc.constant('not' as const), arg: tie('node') }),
  ) as fc.Arbitrary<FilterExpr>,
})).node;

let db: RetentionDb;
let claims: TenantClaims;
let parquet: string;
const TOTAL = 300;

beforeAll(async () => {
  db = await retentionDatabase();
  const tenant = await createTenant(db.sql, `filters-${Date.now()}`);
  claims = { tenant_id: tenant.id, sub: 'test', role: 'authenticated' };
  const events = Array.from({ length: TOTAL }, (_, i) => eventOf(i));
  await appendEvents(db.sql, { tenantId: tenant.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events }, 500), { ip: '10.0.0.1', userAgent: 'test' }, 'cli');
  parquet = path.join(db.dir, 'month.parquet');
  await exportMonth(db.sql, `${MONTH}-01`, [tenant.id], path.join(db.dir, 'work'), async (file) => copyFile(file.file, parquet));
});
afterAll(() => db?.drop());

async function hotIds(expr: FilterExpr): Promise<string[]> {
  return withTenant(db.sql, claims, async (tx) => {
    const rows = await tx`select id from public.audit_events where ${wherePostgres(tx, claims.tenant_id, expr)} order by occurred_at, seq`;
    return rows.map((r) => r.id as string);
  });
}

async function copyIds(expr: FilterExpr): Promise<string[]> {
  const { sql, settingValue } = whereCopy(claims.tenant_id, expr);
  const stream = await copyOut(connectionUrl(db.sql), `copy (select id from public.audit_events where ${sql} order by occurred_at, seq) to stdout`, {
    setup: [{ text: "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true), set_config($2, $3, true)", values: [JSON.stringify(claims), COPY_PARAMS_SETTING, settingValue] }],
  });
  let text = '';
  for await (const chunk of stream) text += chunk;
  return text.split('\n').filter(Boolean);
}

async function archivedIds(expr: FilterExpr): Promise<string[]> {
  const { where, params } = compileDuck(claims.tenant_id, expr);
  return withDuckDB(async (duck) => {
    const reader = await duck.runAndReadAll(`select id from read_parquet(${literal(parquet)}) where ${where} order by occurred_at, seq`, params);
    return reader.getRows().map((r) => r[0] as string);
  });
}

describe('the filter tree on every back end', () => {
  it('holds the same month hot and archived', async () => {
    expect(await hotIds({ op: 'and', args: [] })).toHaveLength(TOTAL);
    expect(await archivedIds({ op: 'and', args: [] })).toEqual(await hotIds({ op: 'and', args: [] }));
  });

  it('returns the same ids from PostgreSQL pages, the export COPY and DuckDB over Parquet, for random filter trees', { timeout: 300_000 }, async () => {
    const sizes: number[] = [];
    await fc.assert(
      fc.asyncProperty(tree, async (expr) => {
        const [hot, copied, archived] = await Promise.all([hotIds(expr), copyIds(expr), archivedIds(expr)]);
        expect(copied, 'COPY').toEqual(hot);
        expect(archived, 'DuckDB').toEqual(hot);
        sizes.push(hot.length);
      }),
      { seed: 13_2026, numRuns: 250, endOnFailure: true },
    );
    // The trees select something in between nothing and everything often enough to mean something.
    expect(sizes.filter((n) => n > 0 && n < TOTAL).length).toBeGreaterThan(sizes.length / 4);
  });

  it('agrees on the edges: a test of a missing value is false, and its negation true', async () => {
    const cases: FilterExpr[] = [
      { op: 'not', arg: { op: 'eq', field: 'source', value: 'oms' } },
      { op: 'not', arg: { op: 'eq', field: { context: ['symbol'] }, value: 'AAPL' } },
      { op: 'not', arg: { op: 'range', field: { context: ['after', 'qty'] }, gte: 100 } },
      { op: 'eq', field: { context: ['note'] }, value: null },
      { op: 'contains', value: { tags: [] } },
      { op: 'contains', value: { after: { venue: null } } },
      { op: 'ieq', field: 'actor_id', value: 'ÄLICE' },
      { op: 'iprefix', field: 'actor_id', value: 'AL' },
      { op: 'not', arg: { op: 'iprefix', field: 'source', value: 'OM' } },
      { op: 'iprefix', field: { context: ['symbol'] }, value: 'aa' },
      { op: 'iprefix', field: { context: ['after', 'status'] }, value: 'ne' },
      { op: 'eq', field: 'ip_address', value: '2001:db8::a' },
      { op: 'in', field: 'ip_address', values: ['::ffff:10.0.0.1', '192.0.2.1'] },
      { op: 'not', arg: { op: 'eq', field: 'ip_address', value: '192.0.2.10' } },
      // Rows without value tokens (an unsealing tenant's): none matches, so the negation matches every row.
      { op: 'not', arg: { op: 'tokens', values: ['AAAAAAAAAAAAAAAAAAAAAA'] } },
      { op: 'not', arg: { op: 'sealed', pointer: '/subject_id', value: 'client-1' } },
    ];
    for (const expr of cases) {
      const hot = await hotIds(expr);
      expect(hot.length, JSON.stringify(expr)).toBeGreaterThan(0);
      expect(await archivedIds(expr), JSON.stringify(expr)).toEqual(hot);
      expect(await copyIds(expr), JSON.stringify(expr)).toEqual(hot);
    }
  });
});
