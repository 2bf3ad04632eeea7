/**
 * Query benchmark at scale: loads millions of events (50 tenants of Zipf-like
 * sizes, 12 months, hot orders, Zipf symbols) with the fast COPY loader, then
 * times randomized queries through the HTTP API with each tenant's API key:
 * object history, first page of a time range, keyset pages deep into a range,
 * actor, event type, context field (common and rare values) and a count.
 * Shows EXPLAIN (ANALYZE, BUFFERS) of every query shape, checks that no plan
 * reads another tenant's rows, and compares storage with a naive schema (one
 * plain table, three obvious indexes) filled by raw COPY with the same rows.
 *
 *   npm run bench:query [-- --events 10000000 --queries 300 --naive-rows 2000000]
 */
import { parseArgs } from 'node:util';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TenantClaims, TxSql } from '@/supabase/functions/_shared/db.ts';
import { withTenant } from '@/supabase/functions/_shared/db.ts';
import { filtersFromSearchParams, filtersOf } from '@/supabase/functions/_shared/filters.ts';
import { createApiKey } from '@/server/services/api-keys.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { EVENT_COLUMNS, whereClause } from '@/server/services/query.ts';
import { monthMapQuery, monthsHolding, openMonthsProbe, splitMonths, withinMonths } from '@/server/services/event-months.ts';
import { decodeCursor, filterFingerprint } from '@/server/services/cursor.ts';
import { explainShape } from '@/server/services/search-shape.ts';
import { machine, percentile, resultsDir, startBenchEnv, writeReport } from './lib.ts';
import { newestResult } from './report.ts';
import { createNaiveTable, loadTenantEvents, NAIVE_COLUMNS } from './load.ts';
import { plansStayInTenant } from './plans.ts';
import { prng, SYMBOL_COUNT, symbolOf, tenantFlow, tenantSizes, zipf, type TenantFlow } from './query-data.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '10000000' },
    tenants: { type: 'string', default: '50' },
    queries: { type: 'string', default: '300' },
    'naive-rows': { type: 'string', default: '2000000' },
    json: { type: 'boolean', default: false },
  },
});
const EVENTS = Number(values.events);
const TENANTS = Number(values.tenants);
const QUERIES = Number(values.queries);
const NAIVE_ROWS = Math.min(Number(values['naive-rows']), EVENTS);
const MONTHS = 12;
const DEEP_PAGES = 20;
const PAGE = 100;

interface Tenant {
  index: number;
  id: string;
  key: string;
  events: number;
  flow: TenantFlow;
  orders: number;
  claims: TenantClaims;
}

interface Shape {
  name: string;
  goal: number;
  latencies: number[];
  rows: number[];
  explain?: { path: string; plan: string; tenantOnly: boolean };
}

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main() {
  const env = await startBenchEnv();
  const { sql, server } = env;
  const random = prng(4242);
  try {
    const pgVersion = ((await sql`select version()`)[0]!.version as string).split(' ').slice(0, 2).join(' ');
    console.log(`oms-audit query benchmark — ${machine()}, ${pgVersion}\n${fmt(EVENTS)} events, ${TENANTS} tenants, ${MONTHS} months`);

    // Bulk load the way a back-fill would: primary keys only, secondary indexes built afterwards.
    const secondary = (await sql`
      select indexname, indexdef from pg_indexes where schemaname = 'public' and tablename = 'audit_events' and indexname not like '%pkey'`) as unknown as { indexname: string; indexdef: string }[];
    for (const i of secondary) await sql.unsafe(`drop index public.${i.indexname}`);

    const sizes = tenantSizes(EVENTS, TENANTS);
    const tenants: Tenant[] = [];
    let t0 = performance.now();
    let loaded = 0;
    for (let index = 0; index < TENANTS; index++) {
      const tenant = await createTenant(sql, `bench-query-${index}-${Date.now()}`);
      const key = await createApiKey(sql, { tenantId: tenant.id, scopes: ['events:read'], name: 'bench' });
      const flow = tenantFlow(index, sizes[index]!, 1000 + index);
      await loadTenantEvents(sql, {
        tenantId: tenant.id,
        events: sizes[index]!,
        months: MONTHS,
        seed: 77 + index,
        chunk: 10_000,
        make: flow.make,
        onProgress: (n) => {
          if (n % 500_000 === 0) console.log(`  tenant ${index}: ${fmt(n)} (${fmt((loaded + n) / ((performance.now() - t0) / 1000))} events/s overall)`);
        },
      });
      loaded += sizes[index]!;
      tenants.push({ index, id: tenant.id, key: key.key, events: sizes[index]!, flow, orders: flow.orders(), claims: { tenant_id: tenant.id, sub: 'bench', role: 'authenticated' } });
    }
    const loadSeconds = (performance.now() - t0) / 1000;
    console.log(`loaded ${fmt(EVENTS)} events in ${loadSeconds.toFixed(0)} s (${fmt(EVENTS / loadSeconds)} events/s incl. hashing)`);

    t0 = performance.now();
    await sql.begin(async (tx) => {
      await tx`set local maintenance_work_mem = '1GB'`;
      // pg_indexes shows a partitioned index as CREATE INDEX … ON ONLY: without ONLY it is built on every partition.
      for (const i of secondary) await tx.unsafe(i.indexdef.replace(' ON ONLY ', ' ON '));
    });
    const indexSeconds = (performance.now() - t0) / 1000;
    t0 = performance.now();
    await sql`vacuum (analyze) public.audit_events`;
    await sql`vacuum (analyze) public.audit_ledger`;
    await sql`vacuum (analyze) public.audit_object_months`;
    await sql`vacuum (analyze) public.audit_actor_months`;
    const vacuumSeconds = (performance.now() - t0) / 1000;
    console.log(`indexes built in ${indexSeconds.toFixed(0)} s, vacuum analyze ${vacuumSeconds.toFixed(0)} s`);

    // ---- Queries through the HTTP API ----
    const pickTenant = () => (random() < 0.5 ? tenants[Math.floor(random() * Math.min(3, tenants.length))]! : tenants[Math.floor(random() * tenants.length)]!);
    const now = Date.now();
    const span = MONTHS * 30 * 86_400_000;
    const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
    const rareSymbol = zipf(SYMBOL_COUNT, 0.0001, random); // uniform over ranks: mostly the long tail
    const traderOf = zipf(200, 1.0, random);

    const shapeAnswers = new Map<string, number>();
    async function get(t: Tenant, query: string): Promise<{ ms: number; rows: number; next: string | null }> {
      const started = performance.now();
      const res = await fetch(`${server.baseUrl}/api/v1/audit/events?${query}`, { headers: { authorization: `Bearer ${t.key}` } });
      const body = (await res.json()) as { events?: unknown[]; next_cursor?: string | null; error?: unknown };
      const ms = performance.now() - started;
      if (res.status !== 200) throw new Error(`GET ${query}: ${res.status} ${JSON.stringify(body)}`);
      return { ms, rows: body.events!.length, next: body.next_cursor ?? null };
    }
    async function shape(t: Tenant, input: Record<string, unknown>): Promise<{ ms: number; rows: number }> {
      const started = performance.now();
      const res = await fetch(`${server.baseUrl}/api/trpc/events.shape?input=${encodeURIComponent(JSON.stringify(input))}`, { headers: { authorization: `Bearer ${t.key}` } });
      const body = (await res.json()) as { result?: { data: { buckets: { count: number }[]; unavailable: string | null; accuracy?: { histogram: { label: string } } } } };
      const ms = performance.now() - started;
      if (res.status !== 200) throw new Error(`events.shape ${JSON.stringify(input)}: ${res.status} ${JSON.stringify(body)}`);
      // Within its time budget the shape answers exactly, from a labelled sample, or "unavailable": each is counted and reported.
      const data = body.result!.data;
      const answer = data.unavailable ? 'unavailable' : (data.accuracy?.histogram.label ?? 'exact');
      shapeAnswers.set(answer, (shapeAnswers.get(answer) ?? 0) + 1);
      return { ms, rows: data.buckets.reduce((a, b) => a + b.count, 0) };
    }
    async function count(t: Tenant, input: Record<string, unknown>): Promise<{ ms: number; rows: number }> {
      const started = performance.now();
      const res = await fetch(`${server.baseUrl}/api/trpc/events.count?input=${encodeURIComponent(JSON.stringify(input))}`, { headers: { authorization: `Bearer ${t.key}` } });
      const body = (await res.json()) as { result?: { data: { count: number } } };
      const ms = performance.now() - started;
      if (res.status !== 200) throw new Error(`events.count ${JSON.stringify(input)}: ${res.status} ${JSON.stringify(body)}`);
      return { ms, rows: body.result!.data.count };
    }

    const rangeStart = () => now - span + Math.floor(random() * (span - 40 * 86_400_000));
    const shapes: { name: string; goal: number; run: (t: Tenant) => Promise<{ ms: number; rows: number }[]>; sample: (t: Tenant) => string }[] = [
      {
        name: 'object history (ORDER, oldest first, 100)',
        goal: 10,
        sample: (t) => `object_type=ORDER&object_id=${random() < 0.2 ? t.flow.hotOrders[Math.floor(random() * t.flow.hotOrders.length)] : `ORD-${1 + Math.floor(random() * t.orders)}`}&order=asc&limit=${PAGE}`,
        run: async (t) => [await get(t, shapes[0]!.sample(t))],
      },
      {
        name: 'first page of a 7-day range (newest first, 100)',
        goal: 10,
        sample: () => {
          const from = rangeStart();
          return `from=${day(from)}&to=${day(from + 7 * 86_400_000)}&limit=${PAGE}`;
        },
        run: async (t) => [await get(t, shapes[1]!.sample(t))],
      },
      {
        name: `keyset pages 2–${DEEP_PAGES} of a 30-day range (100 each)`,
        goal: 25,
        sample: () => {
          const from = rangeStart();
          return `from=${day(from)}&to=${day(from + 30 * 86_400_000)}&limit=${PAGE}`;
        },
        run: async (t) => {
          const query = shapes[2]!.sample(t);
          let page = await get(t, query);
          const out = [];
          for (let p = 2; p <= DEEP_PAGES && page.next; p++) {
            page = await get(t, `${query}&cursor=${encodeURIComponent(page.next)}`);
            out.push(page);
          }
          return out;
        },
      },
      {
        name: 'actor (a trader, newest first, 100)',
        goal: 10,
        sample: (t) => `actor_id=${encodeURIComponent(`trader-${traderOf()}@firm${t.index}.example`)}&limit=${PAGE}`,
        run: async (t) => [await get(t, shapes[3]!.sample(t))],
      },
      {
        name: 'event type (CANCEL or rare RISK_REJECT, 100)',
        goal: 50,
        sample: () => `event_type=${random() < 0.5 ? 'CANCEL' : 'RISK_REJECT'}&limit=${PAGE}`,
        run: async (t) => [await get(t, shapes[4]!.sample(t))],
      },
      {
        name: 'context.symbol, common value (AAPL/MSFT/NVDA, 100)',
        goal: 50,
        sample: () => `context.symbol=${symbolOf(1 + Math.floor(random() * 3))}&limit=${PAGE}`,
        run: async (t) => [await get(t, shapes[5]!.sample(t))],
      },
      {
        name: 'context.symbol, rare value (long tail, 100)',
        goal: 50,
        sample: () => `context.symbol=${symbolOf(1000 + (rareSymbol() % (SYMBOL_COUNT - 1000)))}&limit=${PAGE}`,
        run: async (t) => [await get(t, shapes[6]!.sample(t))],
      },
      {
        name: 'context.account + 30-day range (100)',
        goal: 50,
        sample: () => {
          const from = rangeStart();
          return `context.account=ACC-${1 + Math.floor(random() * 50)}&from=${day(from)}&to=${day(from + 30 * 86_400_000)}&limit=${PAGE}`;
        },
        run: async (t) => [await get(t, shapes[7]!.sample(t))],
      },
      {
        name: 'count: one month (tRPC events.count, capped at 100,000)',
        goal: 50,
        sample: () => {
          const from = rangeStart();
          return `from=${day(from)}&to=${day(from + 30 * 86_400_000)}`;
        },
        run: async (t) => {
          const q = new URLSearchParams(shapes[8]!.sample(t));
          return [await count(t, { from: q.get('from'), to: q.get('to') })];
        },
      },
      {
        name: 'count: context.symbol common value, whole trail',
        goal: 50,
        sample: () => `context.symbol=${symbolOf(1 + Math.floor(random() * 3))}`,
        run: async (t) => [await count(t, { context: { symbol: new URLSearchParams(shapes[9]!.sample(t)).get('context.symbol') } })],
      },
      {
        // The console's default search: the whole trail without its own AUDIT_* events.
        name: 'search shape: whole trail (tRPC events.shape: histogram + value counts)',
        goal: 100,
        sample: () => `q=${encodeURIComponent('NOT event_type = AUDIT_*')}`,
        run: async (t) => [await shape(t, { q: new URLSearchParams(shapes[10]!.sample(t)).get('q') })],
      },
      {
        name: 'search shape: common symbol OR another, 30-day range',
        goal: 100,
        sample: () => {
          const from = rangeStart();
          return `q=${encodeURIComponent(`symbol = ${symbolOf(1 + Math.floor(random() * 3))} OR symbol = ${symbolOf(4 + Math.floor(random() * 20))}`)}&from=${day(from)}&to=${day(from + 30 * 86_400_000)}`;
        },
        run: async (t) => {
          const q = new URLSearchParams(shapes[11]!.sample(t));
          return [await shape(t, { q: q.get('q'), from: q.get('from'), to: q.get('to') })];
        },
      },
    ];

    // Warm-up: caches and prepared statements, as a running service has them.
    for (let i = 0; i < Math.min(100, QUERIES); i++) for (const s of shapes) await s.run(pickTenant());

    // The floor: the same server answering its health check (no credential, no database query).
    const floor: number[] = [];
    for (let i = 0; i < QUERIES; i++) {
      const started = performance.now();
      await (await fetch(`${server.baseUrl}/api/health`)).text();
      floor.push(performance.now() - started);
    }
    floor.sort((a, b) => a - b);
    console.log(`GET /api/health: p50 ${percentile(floor, 50).toFixed(1)} p95 ${percentile(floor, 95).toFixed(1)} ms`);

    const results: Shape[] = [];
    for (const s of shapes) {
      const latencies: number[] = [];
      const rows: number[] = [];
      for (let i = 0; i < QUERIES; i++) {
        for (const r of await s.run(pickTenant())) {
          latencies.push(r.ms);
          rows.push(r.rows);
        }
      }
      latencies.sort((a, b) => a - b);
      results.push({ name: s.name, goal: s.goal, latencies, rows });
      console.log(`${s.name}: p50 ${percentile(latencies, 50).toFixed(1)} p95 ${percentile(latencies, 95).toFixed(1)} p99 ${percentile(latencies, 99).toFixed(1)} ms (${latencies.length} requests)`);
    }

    // ---- Database time of the object and actor shapes: the read path's statements (months from the month map,
    // then the page over those months only) beside the same page over every hot month (no map), same samples, in turns ----
    type DbTime = { planning: number[]; execution: number[] };
    const dbTimes = new Map<string, { map: DbTime; all: DbTime }>();
    const explainJson = async (tx: TxSql, fragment: ReturnType<TxSql> | ReturnType<typeof monthMapQuery>) => {
      const [row] = await tx`explain (analyze, timing off, summary on, format json) ${fragment}`;
      const plan = (row!['QUERY PLAN'] as { 'Planning Time': number; 'Execution Time': number }[])[0]!;
      return { planning: plan['Planning Time'], execution: plan['Execution Time'] };
    };
    for (const shapeIndex of [0, 3]) {
      const times = { map: { planning: [], execution: [] } as DbTime, all: { planning: [], execution: [] } as DbTime };
      for (let i = 0; i < QUERIES; i++) {
        const t = pickTenant();
        const input = filtersFromSearchParams(new URLSearchParams(shapes[shapeIndex]!.sample(t)));
        const filters = filtersOf(input);
        const order = input.order === 'desc' ? 'occurred_at desc, seq desc' : 'occurred_at asc, seq asc';
        for (const useMap of i % 2 ? [true, false] : [false, true]) {
          const spent = await withTenant(sql, t.claims, async (tx) => {
            await tx`select set_config('plan_cache_mode', 'force_custom_plan', true)`;
            let planning = 0;
            let execution = 0;
            let months: string[] | null = null;
            if (useMap) {
              // The map lookup (which also names the open months) and the probes of the open months, as monthsHolding runs them.
              const lookup = await explainJson(tx, monthMapQuery(tx, t.id, filters));
              planning += lookup.planning;
              execution += lookup.execution;
              const { open } = splitMonths(await tx<{ month: string; open: boolean }[]>`${monthMapQuery(tx, t.id, filters)}`);
              if (open.length) {
                const probe = await explainJson(tx, openMonthsProbe(tx, t.id, filters, open));
                planning += probe.planning;
                execution += probe.execution;
              }
              months = await monthsHolding(tx, t.id, filters);
            }
            if (months?.length !== 0) {
              const page = await explainJson(tx, tx`select ${tx.unsafe(EVENT_COLUMNS)} from public.audit_events where ${whereClause(tx, t.id, filters)} ${withinMonths(tx, months)} order by ${tx.unsafe(order)} limit ${input.limit + 1}`);
              planning += page.planning;
              execution += page.execution;
            }
            return { planning, execution };
          });
          const into = useMap ? times.map : times.all;
          into.planning.push(spent.planning);
          into.execution.push(spent.execution);
        }
      }
      for (const d of [times.map, times.all]) for (const list of [d.planning, d.execution]) list.sort((a, b) => a - b);
      dbTimes.set(shapes[shapeIndex]!.name, times);
      console.log(`${shapes[shapeIndex]!.name}: execution p95 ${percentile(times.map.execution, 95).toFixed(2)} ms with the month map, ${percentile(times.all.execution, 95).toFixed(2)} ms over every month`);
    }

    // ---- EXPLAIN of each shape, as the API runs it (role authenticated, tenant claims, row-level security) ----
    const biggest = tenants[0]!;
    for (const [i, s] of shapes.entries()) {
      const path = s.sample(biggest);
      const params = new URLSearchParams(path);
      const isCount = s.name.startsWith('count');
      const input = filtersFromSearchParams(params);
      const filters = filtersOf(input);
      let after = null;
      if (i === 2) {
        // A page deep into the range: follow the cursor through the API first.
        let page = await get(biggest, path);
        for (let p = 2; p < DEEP_PAGES && page.next; p++) page = await get(biggest, `${path}&cursor=${encodeURIComponent(page.next)}`);
        if (page.next) after = decodeCursor(page.next, input.order, filterFingerprint(`list:${biggest.id}`, filters));
      }
      if (s.name.startsWith('search shape')) {
        const plan = await explainShape(sql, biggest.claims, filters);
        results[i]!.explain = { path: `events.shape?${path}`, plan, tenantOnly: plansStayInTenant(plan, biggest.id) };
        continue;
      }
      const plan = await withTenant(sql, biggest.claims, async (tx: TxSql) => {
        const where = whereClause(tx, biggest.id, filters);
        await tx`select set_config('plan_cache_mode', 'force_custom_plan', true)`;
        // As the read path does: one object's or actor's events, only the months that hold them.
        const months = isCount ? null : await monthsHolding(tx, biggest.id, filters);
        const keyset = after ? tx`and (occurred_at, seq) < (${after.occurred_at}::timestamptz, ${after.seq}::bigint)` : tx``;
        const order = input.order === 'desc' ? tx`occurred_at desc, seq desc` : tx`occurred_at asc, seq asc`;
        const rows = isCount
          ? await tx`explain (analyze, buffers) select count(*)::int as n from (select 1 from public.audit_events where ${where} limit 100001) as capped`
          : await tx`explain (analyze, buffers) select ${tx.unsafe(EVENT_COLUMNS)} from public.audit_events where ${where} ${withinMonths(tx, months)} ${keyset} order by ${order} limit ${input.limit + 1}`;
        return rows.map((r) => r['QUERY PLAN'] as string).join('\n');
      });
      const tenantOnly = plansStayInTenant(plan, biggest.id);
      results[i]!.explain = { path: `${isCount ? 'events.count' : 'GET /api/v1/audit/events'}?${path}${after ? '&cursor=<page 20>' : ''}`, plan, tenantOnly };
    }

    // ---- Object and actor goals: partitions read, database time, HTTP p95 against the health check's ----
    const [partitionCount] = await sql`select count(*)::int as n from pg_inherits where inhparent = 'public.audit_events'::regclass`;
    const healthP95 = percentile(floor, 95);
    const monthGoals = [0, 3].map((i) => {
      const r = results[i]!;
      const times = dbTimes.get(r.name)!;
      const partitionsRead = new Set(r.explain!.plan.match(/ on audit_events_\d{4}_\d{2}/g) ?? []).size;
      return {
        name: r.name,
        httpP95: percentile(r.latencies, 95),
        httpGoal: healthP95 + 5,
        executionP95: percentile(times.map.execution, 95),
        executionP95AllMonths: percentile(times.all.execution, 95),
        planningP95: percentile(times.map.planning, 95),
        planningP95AllMonths: percentile(times.all.planning, 95),
        partitionsRead,
        partitions: partitionCount!.n as number,
      };
    });

    // ---- Storage ----
    const [heap] = await sql`
      select coalesce(sum(pg_table_size(c.oid)), 0)::bigint as bytes from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'public.audit_events'::regclass`;
    const indexSizes = (await sql`
      select parent.relname as name, coalesce(sum(pg_relation_size(child.oid)), 0)::bigint as bytes
      from pg_class parent
      join pg_index pi on pi.indexrelid = parent.oid and pi.indrelid = 'public.audit_events'::regclass
      left join pg_inherits i on i.inhparent = parent.oid
      left join pg_class child on child.oid = i.inhrelid
      group by parent.relname order by 2 desc`) as unknown as { name: string; bytes: string }[];
    const [ledger] = await sql`select pg_table_size('public.audit_ledger')::bigint as heap, pg_indexes_size('public.audit_ledger')::bigint as indexes`;
    const heapBytes = Number(heap!.bytes);
    const indexBytes = indexSizes.reduce((a, r) => a + Number(r.bytes), 0);
    const ledgerBytes = Number(ledger!.heap) + Number(ledger!.indexes);
    const totalBytes = heapBytes + indexBytes + ledgerBytes;
    const perEvent = (b: number) => b / EVENTS;

    // ---- The naive schema: one plain table, the three obvious indexes, filled by raw COPY with the same rows ----
    await createNaiveTable(sql);
    const naiveColumns = NAIVE_COLUMNS;
    // The rows, in arrival (ledger) order, as COPY text held in memory so the timed part is COPY alone.
    const chunks: Buffer[] = [];
    const out = await sql.unsafe(`copy (select ${naiveColumns} from public.audit_events order by tenant_id, seq limit ${NAIVE_ROWS}) to stdout`).readable();
    await pipeline(out, new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c), cb()) }));
    t0 = performance.now();
    const into = await sql.unsafe(`copy public.naive_events (${naiveColumns}) from stdin`).writable();
    await new Promise<void>((resolve, reject) => {
      into.on('error', reject);
      let k = 0;
      const next = () => {
        while (k < chunks.length) if (!into.write(chunks[k++]!)) return void into.once('drain', next);
        into.end(resolve);
      };
      next();
    });
    const naiveSeconds = (performance.now() - t0) / 1000;
    const naiveRate = NAIVE_ROWS / naiveSeconds;
    chunks.length = 0;
    const naiveSize = async () => {
      const [n] = await sql`select pg_table_size('public.naive_events')::bigint as heap, pg_indexes_size('public.naive_events')::bigint as indexes`;
      return { heap: Number(n!.heap), indexes: Number(n!.indexes) };
    };
    const naiveIncremental = await naiveSize();
    await sql`reindex table public.naive_events`;
    const naiveBuilt = await naiveSize();

    // Ingest figures of the latest ingest report, for the comparison.
    // The dated full report (ingest-<date>.json), not a singles- or bulk-only run's, which has no apiBest.
    const ingest = (await newestResult(resultsDir(), 'ingest'))?.data as { apiBest: number; copyBest: number } | undefined;

    // ---- Report ----
    const rows = results.map((r) => {
      const p95 = percentile(r.latencies, 95);
      const meanRows = r.rows.reduce((a, b) => a + b, 0) / r.rows.length;
      return `| ${r.name} | ${r.latencies.length} | ${meanRows.toFixed(0)} | ${percentile(r.latencies, 50).toFixed(1)} | ${p95.toFixed(1)} | ${percentile(r.latencies, 99).toFixed(1)} | ${r.goal} | ${p95 <= r.goal ? 'met' : '**missed**'} | ${r.explain?.tenantOnly ? 'yes' : '**no**'} |`;
    });
    const storageRows = [
      `| audit_events heap (incl. TOAST) | ${mb(heapBytes)} | ${perEvent(heapBytes).toFixed(0)} |`,
      ...indexSizes.map((r) => `| index ${r.name} | ${mb(Number(r.bytes))} | ${perEvent(Number(r.bytes)).toFixed(0)} |`),
      `| audit_ledger (heap + 2 indexes) | ${mb(ledgerBytes)} | ${perEvent(ledgerBytes).toFixed(0)} |`,
      `| **total** | **${mb(totalBytes)}** | **${perEvent(totalBytes).toFixed(0)}** |`,
    ];
    const naivePer = (n: { heap: number; indexes: number }) => ((n.heap + n.indexes) / NAIVE_ROWS).toFixed(0);
    const md = `# Query benchmark (${new Date().toISOString().slice(0, 10)})

Machine: ${machine()}. PostgreSQL: embedded ${pgVersion}, durable settings, default memory settings (shared_buffers 128 MB; the OS page cache holds the rest).
Command: \`npm run bench:query -- --events ${EVENTS} --queries ${QUERIES}\`.

Data: ${fmt(EVENTS)} events of ${TENANTS} tenants over ${MONTHS} months (sizes ∝ 1/k^1.1: the largest ${fmt(sizes[0]!)}, the smallest ${fmt(sizes.at(-1)!)}),
an OMS order flow: Zipf-distributed symbols (${SYMBOL_COUNT}, from AAPL to a long tail seen a few times a year), accounts and traders;
3% of events go to a few "hot" orders per tenant with hundreds of events each. Loaded with the fast COPY loader (bench/load.ts: events stamped
and hashed as the write path does, ledger included) in ${loadSeconds.toFixed(0)} s (${fmt(EVENTS / loadSeconds)} events/s) with primary keys only;
secondary indexes built afterwards in ${indexSeconds.toFixed(0)} s, then VACUUM ANALYZE (${vacuumSeconds.toFixed(0)} s), as a back-fill would.

Queries: ${QUERIES} per shape (after a warm-up), one at a time, each a real HTTP request to the server with the tenant's API key
(REST \`GET /api/v1/audit/events\`, tRPC \`events.count\`); latency is the client's, request to parsed JSON. Half of the queries
go to the three largest tenants, half to a tenant picked at random.

| query | requests | rows/page | p50 ms | p95 ms | p99 ms | goal p95 ms | goal | plans stay in tenant |
|---|---:|---:|---:|---:|---:|---:|---|---|
${rows.join('\n')}

Search shape answers within their time budget (SHAPE_BUDGET_MS; docs/scaling.md): ${[...shapeAnswers].map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}.

For scale: \`GET /api/health\` on the same server (no credential, no query) takes p50 ${percentile(floor, 50).toFixed(1)} / p95 ${percentile(floor, 95).toFixed(1)} / p99 ${percentile(floor, 99).toFixed(1)} ms;
the database's own execution times are in the plans below.

## One object's history, one actor's activity: only the months that hold them

The read path first reads the months holding the object (or actor) from the month map that a trigger on audit_events keeps
(audit_object_months, audit_actor_months) for every month but the two open ones, asks each open month's index with one probe,
then reads only those month partitions. Database time per request: EXPLAIN (ANALYZE, TIMING OFF)
of the same statements on ${QUERIES} samples per shape, with the map (months lookup + open-month probes + page) and, in turns on the same samples, the page over every
hot month (the plan before the map). Goals: execution p95 ≤ 2 ms; HTTP p95 ≤ this run's \`GET /api/health\` p95 + 5 ms; the plan reads only partitions holding the object.

| shape | partitions in plan (of ${partitionCount!.n as number}) | execution p95 ms, map | every month | ratio | planning p95 ms, map | every month | HTTP p95 ms | health p95 + 5 ms | goals |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---|
${monthGoals.map((g) => `| ${g.name} | ${g.partitionsRead} | ${g.executionP95.toFixed(2)} | ${g.executionP95AllMonths.toFixed(2)} | ${(g.executionP95 / g.executionP95AllMonths).toFixed(2)} | ${g.planningP95.toFixed(2)} | ${g.planningP95AllMonths.toFixed(2)} | ${g.httpP95.toFixed(1)} | ${g.httpGoal.toFixed(1)} | execution ${g.executionP95 <= 2 ? 'met' : '**missed**'}, HTTP ${g.httpP95 <= g.httpGoal ? 'met' : '**missed**'} |`).join('\n')}

## Storage

${fmt(EVENTS)} events, indexes built after the load (an index grown row by row is about 30% larger).

| relation | MiB | bytes/event |
|---|---:|---:|
${storageRows.join('\n')}

Naive schema for comparison: one plain table (uuid primary key) with (tenant_id, occurred_at desc), (tenant_id, object_type, object_id, occurred_at desc)
and (tenant_id, actor_id, occurred_at desc), no ledger, no context indexes, filled by raw \`COPY … FROM STDIN\` with the same ${fmt(NAIVE_ROWS)} rows
(the first of each tenant in arrival order; text format) into the empty table, indexes present:

| naive schema | value |
|---|---:|
| COPY rate | ${fmt(naiveRate)} rows/s |
| bytes/event, indexes grown by the COPY | ${naivePer(naiveIncremental)} (heap ${(naiveIncremental.heap / NAIVE_ROWS).toFixed(0)}, indexes ${(naiveIncremental.indexes / NAIVE_ROWS).toFixed(0)}) |
| bytes/event, after REINDEX (comparable with the table above) | ${naivePer(naiveBuilt)} (heap ${(naiveBuilt.heap / NAIVE_ROWS).toFixed(0)}, indexes ${(naiveBuilt.indexes / NAIVE_ROWS).toFixed(0)}) |
${ingest ? `| oms-audit ingest through HTTP, best (latest ingest report) | ${fmt(ingest.apiBest)} events/s = ${(ingest.apiBest / naiveRate).toFixed(2)} × naive COPY |\n| raw COPY into the oms-audit schema (same report) | ${fmt(ingest.copyBest)} rows/s |` : ''}

## Plans

EXPLAIN (ANALYZE, BUFFERS) of each shape for the largest tenant, run as the API runs it (role \`authenticated\`, the tenant's claims,
row-level security on). "Plans stay in tenant": every scan of an events partition is an index scan whose condition starts with the tenant.

${results.map((r) => `### ${r.name}\n\n\`${r.explain!.path}\`\n\n\`\`\`\n${r.explain!.plan}\n\`\`\``).join('\n\n')}
`;
    const data = {
      machine: machine(),
      postgres: pgVersion,
      events: EVENTS,
      tenants: TENANTS,
      loadSeconds,
      indexSeconds,
      healthP50: percentile(floor, 50),
      healthP95: percentile(floor, 95),
      monthGoals,
      shapeAnswers: Object.fromEntries(shapeAnswers),
      queries: results.map((r) => ({ name: r.name, goal: r.goal, requests: r.latencies.length, p50: percentile(r.latencies, 50), p95: percentile(r.latencies, 95), p99: percentile(r.latencies, 99), tenantOnly: r.explain?.tenantOnly })),
      storage: { heapBytes, indexBytes, ledgerBytes, totalBytes, bytesPerEvent: totalBytes / EVENTS, indexes: indexSizes.map((r) => ({ name: r.name, bytes: Number(r.bytes) })) },
      naive: { rows: NAIVE_ROWS, copyRowsPerSec: naiveRate, bytesPerEventIncremental: (naiveIncremental.heap + naiveIncremental.indexes) / NAIVE_ROWS, bytesPerEventBuilt: (naiveBuilt.heap + naiveBuilt.indexes) / NAIVE_ROWS },
    };
    const file = await writeReport('query', md, data);
    console.log(values.json ? JSON.stringify(data) : `\n${md}\nreport: ${file}`);
  } finally {
    await env.cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
