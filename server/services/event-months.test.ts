/** An object's history and an actor's activity read only the month partitions that hold their events. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { withTenant, type TenantClaims } from '@/supabase/functions/_shared/db.ts';
import { adminSql, event, newTenant, testSql } from '@/test/fixtures.ts';
import { monthRanges, monthsHolding, withinMonths } from './event-months.ts';
import { logEvents } from './ingest.ts';
import { listEvents, whereClause } from './query.ts';

const writer = { kind: 'operator', name: 'test' } as const;
// Months far from the present, so that no other test's events share these partitions' meaning.
const MONTHS = ['2019-01', '2019-02', '2019-03', '2019-04', '2019-05', '2019-06'];
const at = (month: string, day: number) => `${month}-${String(day).padStart(2, '0')}T12:00:00.000000Z`;

async function store(tenantId: string, events: ReturnType<typeof event>[]) {
  await logEvents(testSql(), { tenantId, writer }, parseBatch({ events }, 500), { ip: null, userAgent: 'test' }, 'rest');
}

/** The relations an EXPLAIN of the history query reads, as the read path builds it. */
async function partitionsRead(claims: TenantClaims, filters: { object_type?: string; object_id?: string; actor_id?: string }): Promise<string[]> {
  return withTenant(testSql(), claims, async (tx) => {
    await tx`select set_config('plan_cache_mode', 'force_custom_plan', true)`;
    const months = await monthsHolding(tx, claims.tenant_id, filters);
    const rows = await tx`
      explain (format json) select seq from public.audit_events
      where ${whereClause(tx, claims.tenant_id, filters)} ${withinMonths(tx, months)}
      order by occurred_at, seq limit 101`;
    const names: string[] = [];
    const walk = (n: { 'Relation Name'?: string; Plans?: unknown[] }) => {
      if (n['Relation Name']) names.push(n['Relation Name']);
      (n.Plans as (typeof n)[] | undefined)?.forEach(walk);
    };
    walk((rows[0]!['QUERY PLAN'] as { Plan: { Plans?: unknown[] } }[])[0]!.Plan);
    return names.sort();
  });
}

describe('object and actor months', () => {
  it('an object spread over two of six months: its history reads those two partitions and finds every event', async () => {
    const t = await newTenant('object-months');
    const claims: TenantClaims = { tenant_id: t.id, sub: 'test', role: 'authenticated' };
    // Other orders in every month, so that every partition exists and holds the tenant's events.
    await store(t.id, MONTHS.map((m) => event({ object_id: 'ORD-OTHER', actor_id: 'trader-1', occurred_at: at(m, 3) })));
    const ours = [event({ object_id: 'ORD-1', actor_id: 'trader-2', occurred_at: at('2019-02', 5) }), event({ object_id: 'ORD-1', actor_id: 'trader-2', event_type: 'FILL', occurred_at: at('2019-05', 9) })];
    await store(t.id, ours);

    const page = await listEvents(testSql(), claims, { object_type: 'ORDER', object_id: 'ORD-1', limit: 100, order: 'asc' }, 'history');
    expect(page.events.map((e) => e.event_type)).toEqual(['CREATE', 'FILL']);
    expect(await partitionsRead(claims, { object_type: 'ORDER', object_id: 'ORD-1' })).toEqual(['audit_events_2019_02', 'audit_events_2019_05']);
    expect(await partitionsRead(claims, { actor_id: 'trader-2' })).toEqual(['audit_events_2019_02', 'audit_events_2019_05']);
    expect(await partitionsRead(claims, { object_type: 'ORDER', object_id: 'ORD-OTHER' })).toEqual(MONTHS.map((m) => `audit_events_${m.replace('-', '_')}`));
    // Both pinned: the months holding both.
    expect(await partitionsRead(claims, { object_type: 'ORDER', object_id: 'ORD-1', actor_id: 'trader-1' })).toEqual(['audit_events_2019_02', 'audit_events_2019_05']);
    expect(await partitionsRead(claims, { object_type: 'ORDER', object_id: 'ORD-1', actor_id: 'trader-none' })).toEqual([]);

    // A later event in another month is found at once: the write path's own statement keeps the map.
    await store(t.id, [event({ object_id: 'ORD-1', actor_id: 'trader-2', event_type: 'CANCEL', occurred_at: at('2019-06', 1) })]);
    const after = await listEvents(testSql(), claims, { object_type: 'ORDER', object_id: 'ORD-1', limit: 100, order: 'desc' }, 'history');
    expect(after.events.map((e) => e.event_type)).toEqual(['CANCEL', 'FILL', 'CREATE']);
    const actor = await listEvents(testSql(), claims, { actor_id: 'trader-2', limit: 2, order: 'asc' });
    expect(actor.events.map((e) => e.event_type)).toEqual(['CREATE', 'FILL']);
    const next = await listEvents(testSql(), claims, { actor_id: 'trader-2', limit: 2, order: 'asc', cursor: actor.next_cursor! });
    expect(next.events.map((e) => e.event_type)).toEqual(['CANCEL']);
  });

  it('an unknown object reads no partition and answers an empty page', async () => {
    const t = await newTenant('object-months-none');
    const claims: TenantClaims = { tenant_id: t.id, sub: 'test', role: 'authenticated' };
    await store(t.id, [event({ object_id: 'ORD-1', occurred_at: at('2019-03', 2) })]);
    expect(await partitionsRead(claims, { object_type: 'ORDER', object_id: 'ORD-NONE' })).toEqual([]);
    const page = await listEvents(testSql(), claims, { object_type: 'ORDER', object_id: 'ORD-NONE', limit: 100, order: 'asc' }, 'history');
    expect(page).toEqual({ events: [], next_cursor: null });
  });

  it('a tenant sees only its own months, and rows loaded with COPY are in the maps too', async () => {
    const [a, b] = [await newTenant('months-copy-a'), await newTenant('months-copy-b')];
    await store(a.id, [event({ object_id: 'ORD-SHARED', actor_id: 'trader-9', occurred_at: at('2019-04', 4) })]);
    await store(b.id, [event({ object_id: 'ORD-SHARED', actor_id: 'trader-9', occurred_at: at('2019-01', 4) })]);
    const months = (tenantId: string, f: { object_type?: string; object_id?: string; actor_id?: string }) =>
      withTenant(testSql(), { tenant_id: tenantId, sub: 'test', role: 'authenticated' }, (tx) => monthsHolding(tx, tenantId, f));
    expect(await months(a.id, { object_type: 'ORDER', object_id: 'ORD-SHARED' })).toEqual(['2019-04-01']);
    expect(await months(b.id, { actor_id: 'trader-9' })).toEqual(['2019-01-01']);
    // Under RLS, asking for another tenant's object answers nothing.
    expect(await withTenant(testSql(), { tenant_id: a.id, sub: 'test', role: 'authenticated' }, (tx) => monthsHolding(tx, b.id, { actor_id: 'trader-9' }))).toEqual([]);
    expect(await months(a.id, {})).toBeNull();

    // A tool loading rows with COPY (as the owner may) keeps the maps as the write path does.
    const copy = await adminSql()`copy public.audit_events (id, tenant_id, seq, occurred_at, received_at, actor_type, actor_id, object_type, object_id, event_type, outcome) from stdin`.writable();
    await new Promise<void>((resolve, reject) =>
      copy.end(`${randomUUID()}\t${a.id}\t1000\t${at('2019-06', 7)}\t${at('2019-06', 7)}\tUSER\ttrader-9\tORDER\tORD-SHARED\tFILL\tsuccess\n`, (err?: Error | null) => (err ? reject(err) : resolve())),
    );
    await expect.poll(() => months(a.id, { object_type: 'ORDER', object_id: 'ORD-SHARED' })).toEqual(['2019-04-01', '2019-06-01']);
    expect(await months(a.id, { actor_id: 'trader-9' })).toEqual(['2019-04-01', '2019-06-01']);
  });

  it('the runtime role reads the maps but cannot add, change or remove a month', async () => {
    const t = await newTenant('months-guard');
    await store(t.id, [event({ object_id: 'ORD-G', actor_id: 'trader-g', occurred_at: at('2019-05', 6) })]);
    for (const statement of [
      `insert into public.audit_object_months values ('${t.id}', 'ORDER', 'ORD-X', '2019-01-01')`,
      `delete from public.audit_object_months where tenant_id = '${t.id}'`,
      `update public.audit_actor_months set month = '2019-01-01' where tenant_id = '${t.id}'`,
      'truncate public.audit_actor_months',
    ]) {
      await expect(testSql().unsafe(statement), statement).rejects.toMatchObject({ code: '42501' });
    }
    // Even the owner's rights meet the append-only triggers (they fire whatever session_replication_role says).
    await expect(
      adminSql().begin(async (tx) => {
        await tx`set local session_replication_role = replica`;
        await tx`delete from public.audit_object_months where tenant_id = ${t.id}`;
      }),
    ).rejects.toMatchObject({ message: expect.stringContaining('append-only') });
    const [row] = await testSql()`select count(*)::int as n from public.audit_object_months where tenant_id = ${t.id}`;
    expect(row!.n).toBe(1);
  });

  it('joins adjacent months into one range', () => {
    expect(monthRanges(['2019-01-01', '2019-02-01', '2019-04-01', '2019-12-01'])).toEqual([
      ['2019-01-01', '2019-03-01'],
      ['2019-04-01', '2019-05-01'],
      ['2019-12-01', '2020-01-01'],
    ]);
  });
});

/** The older open month (first day, 'YYYY-MM-DD') and the month after a first day. */
async function openFrom(): Promise<string> {
  const [row] = await adminSql()`select to_char(open_from, 'YYYY-MM-DD') as m from oms_audit.month_maps`;
  return row!.m as string;
}
const monthAfter = (first: string) => {
  const [y, m] = first.split('-').map(Number) as [number, number];
  return m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, '0')}-01`;
};
const partitionOf = (first: string) => `audit_events_${first.slice(0, 7).replace('-', '_')}`;

async function mapped(tenantId: string): Promise<string[]> {
  const rows = await adminSql()`
    select 'object ' || object_id || ' ' || to_char(month, 'YYYY-MM') as row from public.audit_object_months where tenant_id = ${tenantId}
    union all
    select 'actor ' || actor_id || ' ' || to_char(month, 'YYYY-MM') from public.audit_actor_months where tenant_id = ${tenantId}
    order by 1`;
  return rows.map((r) => r.row as string);
}

describe('open months: the months being written are found without map rows', () => {
  it('an event of an open month adds no map row, yet its history reads exactly the partitions holding it; closing the month maps it in bulk', async () => {
    const t = await newTenant('open-months');
    const claims: TenantClaims = { tenant_id: t.id, sub: 'test', role: 'authenticated' };
    const open = await openFrom();
    await store(t.id, [
      event({ object_id: 'ORD-O', actor_id: 'trader-o', occurred_at: at('2019-03', 4) }),
      event({ object_id: 'ORD-O', actor_id: 'trader-o', event_type: 'FILL', occurred_at: `${open.slice(0, 7)}-05T12:00:00.000000Z` }),
    ]);
    // Only the closed month is mapped; the open month is left to the probe.
    expect(await mapped(t.id)).toEqual(['actor trader-o 2019-03', 'object ORD-O 2019-03']);
    const history = await listEvents(testSql(), claims, { object_type: 'ORDER', object_id: 'ORD-O', limit: 100, order: 'asc' }, 'history');
    expect(history.events.map((e) => e.event_type)).toEqual(['CREATE', 'FILL']);
    expect((await listEvents(testSql(), claims, { actor_id: 'trader-o', limit: 100, order: 'desc' })).events.map((e) => e.event_type)).toEqual(['FILL', 'CREATE']);
    expect(await partitionsRead(claims, { object_type: 'ORDER', object_id: 'ORD-O' })).toEqual(['audit_events_2019_03', partitionOf(open)].sort());
    expect(await partitionsRead(claims, { actor_id: 'trader-o' })).toEqual(['audit_events_2019_03', partitionOf(open)].sort());
    // An object with no event in the open months reads no open partition.
    await store(t.id, [event({ object_id: 'ORD-C', actor_id: 'trader-c', occurred_at: at('2019-04', 4) })]);
    expect(await partitionsRead(claims, { object_type: 'ORDER', object_id: 'ORD-C' })).toEqual(['audit_events_2019_04']);

    // Closing the month maps every object and actor it holds, and the window moves one month on.
    const [closed] = await adminSql()`select to_char(oms_audit.close_oldest_open_month(${monthAfter(open)}::date), 'YYYY-MM-DD') as m`;
    expect(closed!.m).toBe(open);
    expect(await openFrom()).toBe(monthAfter(open));
    expect(await mapped(t.id)).toEqual(
      ['actor trader-c 2019-04', 'actor trader-o 2019-03', `actor trader-o ${open.slice(0, 7)}`, 'object ORD-C 2019-04', 'object ORD-O 2019-03', `object ORD-O ${open.slice(0, 7)}`].sort(),
    );
    expect(await partitionsRead(claims, { object_type: 'ORDER', object_id: 'ORD-O' })).toEqual(['audit_events_2019_03', partitionOf(open)].sort());
    // Nothing older left open: a second call closes nothing.
    const [again] = await adminSql()`select oms_audit.close_oldest_open_month(${monthAfter(open)}::date) as m`;
    expect(again!.m).toBeNull();

    // A late event in the month now closed is mapped by the write path at once.
    await store(t.id, [event({ object_id: 'ORD-LATE', actor_id: 'trader-o', occurred_at: `${open.slice(0, 7)}-09T12:00:00.000000Z` })]);
    expect(await mapped(t.id)).toContain(`object ORD-LATE ${open.slice(0, 7)}`);
    expect(await partitionsRead(claims, { object_type: 'ORDER', object_id: 'ORD-LATE' })).toEqual([partitionOf(open)]);
  });

  it('closing a month waits for a writer already in it, and maps what that writer committed', async () => {
    const t = await newTenant('open-months-race');
    const open = await openFrom();
    const partition = partitionOf(open);
    await adminSql()`select oms_audit.ensure_month_partition(${open}::date)`;
    // A writer inside the month, not yet committed (rows written directly, as a tool with the owner's rights could).
    const writer = await adminSql().reserve();
    try {
      await writer`begin`;
      await writer`
        insert into public.audit_events (id, tenant_id, seq, occurred_at, received_at, actor_type, actor_id, object_type, object_id, event_type, outcome)
        values (${randomUUID()}, ${t.id}, 1, ${`${open.slice(0, 7)}-02T08:00:00.000000Z`}, now(), 'USER', 'trader-r', 'ORDER', 'ORD-R', 'CREATE', 'success')`;
      const closing = testSql()`select to_char(oms_audit.close_oldest_open_month(${monthAfter(open)}::date), 'YYYY-MM-DD') as m`;
      closing.catch(() => {});
      // The close waits for the writer's lock on the month's partition…
      await expect
        .poll(
          async () =>
            (
              await adminSql()`
                select count(*)::int as n from pg_locks l join pg_stat_activity a using (pid)
                where not l.granted and l.relation = ${`oms_audit.${partition}`}::regclass and a.query like '%close_oldest_open_month%'`
            )[0]!.n,
        )
        .toBe(1);
      expect(await mapped(t.id)).toEqual([]);
      await writer`commit`;
      // …and then maps the rows the writer committed.
      expect((await closing)[0]!.m).toBe(open);
      expect(await mapped(t.id)).toEqual([`actor trader-r ${open.slice(0, 7)}`, `object ORD-R ${open.slice(0, 7)}`]);
    } finally {
      await writer`rollback`.catch(() => {});
      writer.release();
    }
  });
});

