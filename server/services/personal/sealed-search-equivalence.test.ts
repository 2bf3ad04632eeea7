/**
 * Searches by sealed value find exactly what the same searches find on a
 * tenant that does not seal (docs/personal-data.md, "Search cost"): the same
 * events are written to two tenants — events from before one of them declares
 * its personal data (a trader, a service, an actor id that merely begins
 * "pd2:"), events after it (traders sealed, a service in clear, a declared
 * member sent as null), a member declared only later, a month archived to
 * Parquet and dropped — and every equality on an IP address, user agent or
 * declared member, with IN, NOT and OR, returns the same events from both, in
 * pages (PostgreSQL and DuckDB), counts, the search's shape and the export
 * stream. The sealing tenant's searches compare the columns on its clear
 * actors' events only (the `clear` condition, whose actor list is checked).
 * Under row-level security the tokens are read through their index by
 * oms_audit.events_with_tokens, which answers for the claims' tenant only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBatch, type AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import { filterExpr, listEventsInput, type EventFiltersInput } from '@/supabase/functions/_shared/filters.ts';
import type { FilterExpr } from '@/supabase/functions/_shared/filter-tree.ts';
import type { TenantClaims } from '@/supabase/functions/_shared/db.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { allEvents, monthLabel, retentionDatabase, timeInMonth, type RetentionDb } from '@/test/retention.ts';
import { logEvents } from '../ingest.ts';
import { inTenant, listEvents, whereClause } from '../query.ts';
import { countMatching } from '../count.ts';
import { searchShape } from '../search-shape.ts';
import { archiveMonth } from '../retention/archive.ts';
import { retentionContext, type RetentionContext } from '../retention/context.ts';
import { withRetentionLock } from '../retention/parts.ts';
import { withBlindIndex } from './search.ts';
import { declarePersonalData } from './settings.ts';

let db: RetentionDb;
let ctx: RetentionContext;
beforeAll(async () => {
  db = await retentionDatabase();
  ctx = await retentionContext(db.sql, db.env(), { actor: 'test-retention' });
});
afterAll(async () => {
  await db?.drop();
});

const ARCHIVED = 14;
let n = 0;
/** An event labelled with its number (context.n, never personal), in the archived month or an hour ago. */
const ev = (actor_type: string, actor_id: string, ip: string | undefined, context: Record<string, unknown>, extra: Partial<AuditEventRequest> = {}, archived = false): AuditEventRequest => ({
  occurred_at: archived ? timeInMonth(ARCHIVED, ++n) : timeInMonth(0, ++n),
  actor_type,
  actor_id,
  object_type: 'ORDER',
  object_id: `ORD-${n}`,
  event_type: 'CREATE',
  ...(ip === undefined ? {} : { ip_address: ip }),
  context: { n, ...context },
  ...extra,
});

/** Before the declaration: a trader, a service, and a trader whose id begins "pd2:" (stored in clear). */
const before = () => [
  ev('TRADER', 'ann', '192.0.2.1', { email: 'ann@example.net', client_name: 'Ann' }, { user_agent: 'UA-1' }),
  ev('TRADER', 'ann', '192.0.2.1', { email: 'ann@example.net' }, {}, true),
  ev('SYSTEM', 'router-1', '192.0.2.2', { email: 'ops@example.net' }),
  ev('TRADER', 'pd2:legacy-desk', '192.0.2.3', { email: 'legacy@example.net' }, { user_agent: 'UA-1' }),
  ev('TRADER', 'bob', '192.0.2.4', { account: 'A-1' }),
];
/** After it: traders (sealed), the service (clear), a member sent as null, and an account not yet declared. */
const after = () => [
  ev('TRADER', 'ann', '192.0.2.1', { email: 'ann@example.net' }, { user_agent: 'UA-1' }),
  ev('TRADER', 'ann', '192.0.2.2', { email: 'ops@example.net' }),
  ev('TRADER', 'ann', '192.0.2.1', { email: 'ann@example.net' }, {}, true),
  ev('SYSTEM', 'router-1', '192.0.2.2', { email: 'ops@example.net' }, { user_agent: 'UA-1' }),
  ev('SYSTEM', 'router-1', '192.0.2.2', { email: 'ops@example.net' }, {}, true),
  ev('TRADER', 'bob', '192.0.2.4', { email: null, account: 'A-1' }),
  ev('TRADER', 'cy', undefined, { email: 'cy@example.net', account: 'A-2' }),
];
/** After `account` is declared too. */
const later = () => [ev('TRADER', 'bob', '192.0.2.4', { account: 'A-1' }), ev('SYSTEM', 'router-2', '192.0.2.5', { account: 'A-2' })];

const SEARCHES: EventFiltersInput[] = [
  { ip_address: '192.0.2.1' },
  { ip_address: '192.0.2.2' },
  { ip_address: '192.0.2.3' },
  { ip_address: '192.0.2.99' },
  { context: { email: 'ann@example.net' } },
  { context: { email: 'ops@example.net' } },
  { context: { email: 'legacy@example.net' } },
  { context: { email: 'ops@example.net', n: 9 } },
  { context: { account: 'A-1' } },
  { q: 'user_agent = "UA-1"' },
  { q: 'ip_address IN (192.0.2.1, 192.0.2.3, 192.0.2.5)' },
  { q: 'NOT ip_address = 192.0.2.2' },
  { q: 'email = "ops@example.net" OR ip_address = 192.0.2.4' },
  { q: 'email IN ("ann@example.net", "cy@example.net") AND NOT account = "A-2"' },
  { q: 'email = null' },
  { q: 'account = "A-2"' },
];

/** Every search's event numbers, through pages (limit 2, so the hot and archived pages merge), counts, the shape and the export stream. */
async function answers(claims: TenantClaims, filters: EventFiltersInput): Promise<number[]> {
  const label = JSON.stringify(filters);
  const paged: number[] = [];
  let cursor: string | undefined;
  do {
    const page = await listEvents(db.sql, claims, listEventsInput.parse({ order: 'asc', limit: 2, ...filters, cursor }));
    paged.push(...page.events.map((e) => e.context.n as number));
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  const parsed = listEventsInput.parse(filters);
  expect((await countMatching(db.sql, claims, parsed)).count, label).toBe(paged.length);
  const shape = await searchShape(db.sql, claims, parsed, { exact: true });
  expect(shape.buckets.reduce((sum, b) => sum + b.count, 0), label).toBe(paged.length);
  const exported = (await allEvents(db.sql, claims, parsed)).map((e) => e.context.n as number);
  expect(exported.sort((a, b) => a - b), label).toEqual([...paged].sort((a, b) => a - b));
  return paged.sort((a, b) => a - b);
}

/** The `clear` conditions of a tree. */
function clearConditions(e: FilterExpr): Extract<FilterExpr, { op: 'clear' }>[] {
  if (e.op === 'and' || e.op === 'or') return e.args.flatMap(clearConditions);
  if (e.op === 'not') return clearConditions(e.arg);
  return e.op === 'clear' ? [e] : [];
}

describe('search by sealed value', () => {
  it('finds the same events as on a tenant that does not seal, before and after sealing, archived months included', async () => {
    const plain = await createTenant(db.sql, `sealed-search-plain-${Date.now()}`);
    const sealing = await createTenant(db.sql, `sealed-search-sealing-${Date.now()}`);
    const write = async (events: AuditEventRequest[]) => {
      for (const t of [plain, sealing]) {
        await logEvents(db.sql, { tenantId: t.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events }, 20), { ip: '198.51.100.1', userAgent: 'gateway' }, 'cli');
      }
    };
    await write(before());
    await declarePersonalData(db.sql, sealing.id, 'operator:test', { contextPaths: ['email', 'client_name'], outsideRetention: true });
    await write(after());
    await declarePersonalData(db.sql, sealing.id, 'operator:test', { contextPaths: ['email', 'client_name', 'account'], outsideRetention: true });
    await write(later());
    const archived = await withRetentionLock(db.sql, { wait: false }, () => archiveMonth(ctx, `${monthLabel(ARCHIVED)}-01`, { drop: true }));
    expect(archived.outcome).toBe('dropped');

    // The sealing tenant's hot months hold these actors in clear (and the archiving operator, which recorded the
    // archive in the trail): its searches compare columns on their events only.
    const resolved = await withBlindIndex(db.sql, sealing.id, { ip_address: '192.0.2.2' });
    expect([...resolved.clear_actors!.actors!].sort()).toEqual(['ann', 'bob', 'pd2:legacy-desk', 'router-1', 'router-2', 'test-retention']);
    expect(clearConditions(filterExpr(resolved))).toHaveLength(1);
    // account was declared later: its column is compared on every event (sealed traders' events hold it in clear).
    expect(resolved.clear_actors!.pointers).toContain('/context/email');
    expect(resolved.clear_actors!.pointers).not.toContain('/context/account');
    expect(clearConditions(filterExpr(await withBlindIndex(db.sql, sealing.id, { context: { account: 'A-1' } })))).toHaveLength(0);

    const plainClaims = { tenant_id: plain.id, sub: 'test', role: 'authenticated' as const };
    const sealingClaims = { tenant_id: sealing.id, sub: 'test', role: 'authenticated' as const };
    for (const filters of SEARCHES) {
      expect(await answers(sealingClaims, filters), JSON.stringify(filters)).toEqual(await answers(plainClaims, filters));
    }
    // Not vacuous: the answers are the events written with those values, sealed and archived ones included.
    const byIp = await answers(sealingClaims, { ip_address: '192.0.2.2' });
    expect(byIp).toHaveLength(4);
    expect(await answers(sealingClaims, { context: { account: 'A-1' } })).toHaveLength(3);
    expect(await answers(sealingClaims, { ip_address: '192.0.2.3' })).toHaveLength(1);
  });

  it('reads value tokens through their index under row-level security, and only for the tenant in the claims', async () => {
    const mine = await createTenant(db.sql, `sealed-search-rls-${Date.now()}`);
    const other = await createTenant(db.sql, `sealed-search-rls-other-${Date.now()}`);
    for (const t of [mine, other]) {
      await declarePersonalData(db.sql, t.id, 'operator:test', { contextPaths: ['email'], outsideRetention: true });
      await logEvents(db.sql, { tenantId: t.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events: [ev('TRADER', 'dee', '192.0.2.77', { email: 'dee@example.net' })] }, 5), { ip: null, userAgent: null }, 'cli');
    }
    const claims = { tenant_id: mine.id, sub: 'test', role: 'authenticated' as const };
    const resolved = await withBlindIndex(db.sql, mine.id, { ip_address: '192.0.2.77' });
    const plan = await inTenant(db.sql, claims, (tx) => tx`explain (format json) select seq from public.audit_events where ${whereClause(tx, mine.id, resolved)}`);
    expect(JSON.stringify(plan)).toContain('events_with_tokens');
    // The lookup answers for the tenant of the claims only: the other tenant's tokens find nothing here.
    const theirs = (await withBlindIndex(db.sql, other.id, { ip_address: '192.0.2.77' })).sealed_values!['["/ip_address","192.0.2.77"]']!;
    const ours = resolved.sealed_values!['["/ip_address","192.0.2.77"]']!;
    expect(theirs).toHaveLength(1);
    const positions = (tokens: readonly string[]) => inTenant(db.sql, claims, (tx) => tx`select count(*)::int as n from oms_audit.events_with_tokens(${[...tokens]}::text[])`);
    expect((await positions(ours))[0]!.n).toBe(1);
    expect((await positions(theirs))[0]!.n).toBe(0);
  });
});
