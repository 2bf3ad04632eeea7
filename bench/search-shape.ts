/**
 * The search shape at scale: the console's histogram and value counts
 * (server/services/search-shape.ts, as tRPC events.shape runs it: runtime
 * role, tenant claims, row-level security) timed over a trail of millions of
 * events, beside the baseline in the same run — the exact answer the obvious
 * way (count per bucket and per value over every matching row, the same
 * filter, the same connection and role) — with how far the shape's estimates
 * are from those exact counts.
 *
 *   npm run bench:shape [-- --events 1000000 --tenants 5 --queries 100 --baseline-queries 15]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { connect, type Sql, type TenantClaims } from '@/supabase/functions/_shared/db.ts';
import { filterExpr, filtersOf, parseListInput, type EventFilters } from '@/supabase/functions/_shared/filters.ts';
import { occurredAtBounds } from '@/supabase/functions/_shared/filter-tree.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { inTenant, whereClause } from '@/server/services/query.ts';
import { explainShape, FACET_FIELDS, searchShape } from '@/server/services/search-shape.ts';
import { env } from '@/server/env.ts';
import { machine, percentile, startBenchDatabase, writeReport } from './lib.ts';
import { loadTenantEvents } from './load.ts';
import { measureFirstArchivedRead, writeArchivePart } from './archive-first-read.ts';
import { prng, symbolOf, tenantFlow, tenantSizes, zipf } from './query-data.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    tenants: { type: 'string', default: '5' },
    queries: { type: 'string', default: '100' },
    'baseline-queries': { type: 'string', default: '15' },
  },
});
const EVENTS = Number(values.events);
const TENANTS = Number(values.tenants);
const QUERIES = Number(values.queries);
const BASELINE_QUERIES = Number(values['baseline-queries']);
const MONTHS = 12;
const GOAL_MS = 100;

interface Tenant {
  id: string;
  claims: TenantClaims;
  events: number;
  hotOrders: string[];
}

interface Kind {
  name: string;
  sample: (t: Tenant) => EventFilters;
}

interface Result {
  name: string;
  shape: { p50: number; p95: number; p99: number; n: number };
  baseline: { p50: number; p95: number; n: number };
  /** Shape total / exact total over the baseline's samples (1 = exact). */
  totalRatio: { min: number; max: number };
  exactShare: number;
  /** Shapes answered with sampled estimates (the budget or the planner's estimate sent them there). */
  sampledShare: number;
  /** Shapes that ran out of their budget even for the sample (answered "unavailable"). */
  unavailableShare: number;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** The baseline: exact counts per bucket and per value over every matching row (the shape's own buckets). */
async function exactShape(sql: Sql, t: Tenant, filters: EventFilters, bucketSeconds: number, from: string, to: string): Promise<number> {
  return inTenant(sql, t.claims, async (tx) => {
    await tx`select set_config('statement_timeout', '120000', true)`;
    const where = whereClause(tx, t.id, filters);
    // Bars and value counts alike, as the shape answers both; the bars' total is returned for comparison.
    const [buckets] = await Promise.all([
      tx`select floor(extract(epoch from occurred_at) / ${bucketSeconds}::float8) as i, count(*)::int as n from public.audit_events
         where ${where} and occurred_at >= ${from}::timestamptz and occurred_at < ${to}::timestamptz group by 1`,
      ...FACET_FIELDS.map(
        (f) => tx`select ${tx(f)} as value, count(*)::int as n from public.audit_events
           where ${where} and occurred_at >= ${from}::timestamptz and occurred_at < ${to}::timestamptz group by 1 order by 2 desc limit 8`,
      ),
    ]);
    return buckets!.reduce((a, r) => a + (r.n as number), 0);
  });
}

async function main() {
  const { pg, stop } = await startBenchDatabase('shape');
  const admin = connect(pg.superuserUrl, { max: 4, applicationName: 'oms-audit-bench-shape' });
  // The console's read path connects as the runtime role and reads as `authenticated` within the tenant's claims.
  const runtime = connect(pg.runtimeUrl, { max: 4, applicationName: 'oms-audit-bench-shape-runtime' });
  const random = prng(9090);
  try {
    const pgVersion = ((await admin`select version()`)[0]!.version as string).split(' ').slice(0, 2).join(' ');
    console.log(`oms-audit search-shape benchmark — ${machine()}, ${pgVersion}\n${fmt(EVENTS)} events, ${TENANTS} tenants, ${MONTHS} months`);

    const secondary = (await admin`
      select indexname, indexdef from pg_indexes where schemaname = 'public' and tablename = 'audit_events' and indexname not like '%pkey'`) as unknown as { indexname: string; indexdef: string }[];
    for (const i of secondary) await admin.unsafe(`drop index public.${i.indexname}`);
    const sizes = tenantSizes(EVENTS, TENANTS);
    const tenants: Tenant[] = [];
    let t0 = performance.now();
    for (let index = 0; index < TENANTS; index++) {
      const tenant = await createTenant(admin, `bench-shape-${index}-${Date.now()}`);
      const flow = tenantFlow(index, sizes[index]!, 3000 + index);
      await loadTenantEvents(admin, { tenantId: tenant.id, events: sizes[index]!, months: MONTHS, seed: 55 + index, chunk: 10_000, make: flow.make });
      tenants.push({ id: tenant.id, claims: { tenant_id: tenant.id, sub: 'bench', role: 'authenticated' }, events: sizes[index]!, hotOrders: flow.hotOrders });
      console.log(`  tenant ${index}: ${fmt(sizes[index]!)} events`);
    }
    console.log(`loaded in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    t0 = performance.now();
    await admin.begin(async (tx) => {
      await tx`set local maintenance_work_mem = '512MB'`;
      for (const i of secondary) await tx.unsafe(i.indexdef.replace(' ON ONLY ', ' ON '));
    });
    await admin`vacuum (analyze) public.audit_events`;
    console.log(`indexes and vacuum analyze in ${((performance.now() - t0) / 1000).toFixed(0)} s`);

    const now = Date.now();
    const day = 86_400_000;
    const span = MONTHS * 30 * day;
    const iso = (ms: number) => new Date(ms).toISOString();
    const rangeStart = (days: number) => now - span + Math.floor(random() * (span - days * day));
    const traderOf = zipf(200, 1.0, random);
    const filters = (input: Record<string, unknown>) => filtersOf(parseListInput(input));
    const kinds: Kind[] = [
      { name: "console default: whole trail, NOT event_type = AUDIT_* (12 months)", sample: () => filters({ q: 'NOT event_type = AUDIT_*' }) },
      {
        name: 'symbol OR another, 30-day range',
        sample: () => {
          const from = rangeStart(30);
          return filters({ q: `symbol = ${symbolOf(1 + Math.floor(random() * 3))} OR symbol = ${symbolOf(4 + Math.floor(random() * 20))}`, from: iso(from), to: iso(from + 30 * day) });
        },
      },
      {
        name: '7-day range, every event',
        sample: () => {
          const from = rangeStart(7);
          return filters({ from: iso(from), to: iso(from + 7 * day) });
        },
      },
      { name: 'one trader, whole trail', sample: (t) => filters({ actor_id: `trader-${traderOf()}@firm${tenants.indexOf(t)}.example` }) },
      { name: 'whole order (about a hot order)', sample: (t) => filters({ about: t.hotOrders[Math.floor(random() * t.hotOrders.length)]!, about_type: 'ORDER' }) },
    ];
    // Half the queries go to the largest tenant: its shapes are the slowest.
    const pickTenant = () => (random() < 0.5 ? tenants[0]! : tenants[Math.floor(random() * tenants.length)]!);

    // Warm-up: caches, as a running service has them.
    for (let i = 0; i < 10; i++) for (const k of kinds) await searchShape(runtime, pickTenant().claims, k.sample(pickTenant()));

    const results: Result[] = [];
    for (const kind of kinds) {
      const shapeMs: number[] = [];
      const exactShare: number[] = [];
      let sampled = 0;
      let unavailable = 0;
      for (let i = 0; i < QUERIES; i++) {
        const t = pickTenant();
        const f = kind.sample(t);
        const started = performance.now();
        const s = await searchShape(runtime, t.claims, f);
        shapeMs.push(performance.now() - started);
        if (s.unavailable) unavailable++;
        exactShare.push(s.exact ? 1 : 0);
        if (!s.unavailable && s.accuracy.histogram.label === 'estimate') sampled++;
      }
      // The baseline, same run: exact counts over every matching row, for the same kind of query.
      const baseMs: number[] = [];
      const ratios: number[] = [];
      for (let i = 0; i < BASELINE_QUERIES; i++) {
        const t = pickTenant();
        const f = kind.sample(t);
        const s = await searchShape(runtime, t.claims, f);
        if (!s.buckets.length || s.unavailable) continue;
        const bounds = occurredAtBounds(filterExpr(f));
        const from = bounds.from ?? s.from!;
        const to = bounds.to ?? s.to!;
        const started = performance.now();
        const exact = await exactShape(runtime, t, f, s.bucket_seconds, from, to);
        baseMs.push(performance.now() - started);
        const estimated = s.buckets.reduce((a, b) => a + b.count, 0);
        if (exact > 0) ratios.push(estimated / exact);
      }
      shapeMs.sort((a, b) => a - b);
      baseMs.sort((a, b) => a - b);
      const r: Result = {
        name: kind.name,
        shape: { p50: percentile(shapeMs, 50), p95: percentile(shapeMs, 95), p99: percentile(shapeMs, 99), n: shapeMs.length },
        baseline: { p50: percentile(baseMs, 50), p95: percentile(baseMs, 95), n: baseMs.length },
        totalRatio: { min: Math.min(...ratios), max: Math.max(...ratios) },
        exactShare: exactShare.reduce((a, b) => a + b, 0) / exactShare.length,
        sampledShare: sampled / shapeMs.length,
        unavailableShare: unavailable / shapeMs.length,
      };
      results.push(r);
      console.log(
        `${r.name}: shape p50 ${r.shape.p50.toFixed(1)} p95 ${r.shape.p95.toFixed(1)} ms; exact baseline p50 ${r.baseline.p50.toFixed(1)} p95 ${r.baseline.p95.toFixed(1)} ms; total/exact ${r.totalRatio.min.toFixed(3)}–${r.totalRatio.max.toFixed(3)}; exact answers ${(r.exactShare * 100).toFixed(0)} %, sampled ${(r.sampledShare * 100).toFixed(0)} %, unavailable ${(r.unavailableShare * 100).toFixed(0)} %`,
      );
    }

    // The statements the shape runs, as EXPLAIN (ANALYZE, BUFFERS) shows them on the largest tenant: the console default, and its busiest trader.
    const explained = await explainShape(runtime, tenants[0]!.claims, kinds[0]!.sample(tenants[0]!));
    const busiestTrader = 'trader-1@firm0.example';
    const traderExplained = await explainShape(runtime, tenants[0]!.claims, filters({ actor_id: busiestTrader }));

    // The first archived read of a process, cold against warmed at start (each run a fresh Node process).
    const partDir = await mkdtemp(path.resolve('bench/.work/first-read-'));
    const firstRead = measureFirstArchivedRead(await writeArchivePart(partDir), 5);
    await rm(partDir, { recursive: true, force: true });
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const msList = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
    console.log(`first archived read: cold ${msList(firstRead.cold)} ms; warmed ${msList(firstRead.warmed)} ms (warm-up ${msList(firstRead.warmUp)} ms); again ${msList(firstRead.again)} ms`);

    const load = os.loadavg().map((l) => l.toFixed(1)).join(' / ');
    const rows = results.map(
      (r) =>
        `| ${r.name} | ${r.shape.p50.toFixed(1)} | ${r.shape.p95.toFixed(1)} | ${r.shape.p95 <= GOAL_MS ? 'yes' : 'NO'} | ${r.baseline.p50.toFixed(1)} | ${r.baseline.p95.toFixed(1)} | ${(r.baseline.p50 / r.shape.p50).toFixed(1)}× | ${r.totalRatio.min.toFixed(3)}–${r.totalRatio.max.toFixed(3)} | ${(r.exactShare * 100).toFixed(0)} % | ${(r.sampledShare * 100).toFixed(0)} % | ${(r.unavailableShare * 100).toFixed(0)} % |`,
    );
    const md = `# Search shape at scale (${new Date().toISOString().slice(0, 10)})

${machine()}, ${pgVersion}; load average at the end ${load} (1 / 5 / 15 min: other work shares the machine). ${fmt(EVENTS)} events in ${TENANTS} tenants (Zipf sizes, largest ${fmt(tenants[0]!.events)}), ${MONTHS} months.
\`npm run bench:shape -- --events ${EVENTS} --tenants ${TENANTS} --queries ${QUERIES} --baseline-queries ${BASELINE_QUERIES}\`

The shape (histogram + value counts, \`searchShape\` as tRPC events.shape runs it, in process: no HTTP) against the
baseline in the same run: exact counts per bar and per value over every matching row, same filter, role and claims.
Half the queries go to the largest tenant. Goal: p95 ≤ ${GOAL_MS} ms. "total / exact": the shape's total over the exact
total for the baseline's samples (estimates are labelled as such in the console); "exact answers": shapes whose
every part is labelled exact; "sampled": shapes answered with estimates from a time sample (short windows spread
over the range, read through the tenant's own index ranges only; each part labelled \`estimate\` with its basis), because
the planner expected more than SHAPE_EXACT_ROWS (${env().SHAPE_EXACT_ROWS}) matches or the exact count did not end within
half the budget; "unavailable": shapes that did not fit the budget even from the sample. The budget,
SHAPE_BUDGET_MS = ${env().SHAPE_BUDGET_MS} ms, counts from the request's start: the look-ups (sealed-value index,
related keys, archived parts, the chart's range, the planner's estimate) are inside it. The sample aims to see
SHAPE_SAMPLE_ROWS = ${env().SHAPE_SAMPLE_ROWS} matching events.

| query | shape p50 ms | shape p95 ms | ≤ ${GOAL_MS} ms | exact p50 ms | exact p95 ms | exact/shape p50 | total / exact | exact answers | sampled | unavailable |
|---|---:|---:|:-:|---:|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}

## The first archived read of a process

A search shape's tally of one archived month (the DuckDB statement of archived-shape.ts over one Parquet part of
${fmt(firstRead.rows)} rows, two tenants, one tenant's month read), in a fresh Node process each time (${firstRead.cold.length} each way):
"cold" loads DuckDB with that read (as before the server warmed it); "warmed" after \`warmDuckDB\` (what the server
runs at start, in the background, after it is ready); "again": a second read in the same process.

| | median ms | runs ms |
|---|---:|---|
| cold first read (DuckDB loaded by it) | ${median(firstRead.cold).toFixed(0)} | ${msList(firstRead.cold)} |
| warm-up at start (background) | ${median(firstRead.warmUp).toFixed(0)} | ${msList(firstRead.warmUp)} |
| first read after the warm-up | ${median(firstRead.warmed).toFixed(0)} | ${msList(firstRead.warmed)} |
| second read | ${median(firstRead.again).toFixed(0)} | ${msList(firstRead.again)} |

## Plans: console default, largest tenant (\`explainShape\`)

\`\`\`
${explained}
\`\`\`

## Plans: one trader's whole trail (${busiestTrader}, the busiest), largest tenant (\`explainShape\`)

\`\`\`
${traderExplained}
\`\`\`
`;
    const file = await writeReport('search-shape', md, { events: EVENTS, tenants: TENANTS, queries: QUERIES, results, firstRead });
    console.log(`\n${md}\nreport: ${file}`);
  } finally {
    await runtime.end();
    await admin.end();
    await stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
