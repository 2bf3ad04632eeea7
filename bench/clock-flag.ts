/**
 * What the clock_flag column costs a hot export: PostgreSQL's COPY of the
 * export's own SELECT with the column, against the same SELECT without it
 * (the baseline), alternating in the same run on the same rows, as the tenant
 * under row-level security. Records the EXPLAIN (ANALYZE) of the statement.
 *
 *   npm run bench:clock-flag -- --rows 300000 --rounds 3
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { EXPORT_FORMATS } from '@/lib/export-formats.ts';
import { copyOut } from '@/server/db/copy-out.ts';
import { postgresSelectList } from '@/server/services/exports/columns.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { DEFAULT_CLOCK_TOLERANCE_MS, DEFAULT_NETWORK_DELAY_MS } from '@/supabase/functions/_shared/clock.ts';
import { connect, connectionUrl } from '@/supabase/functions/_shared/db.ts';
import { machine, startBenchDatabase, writeReport } from './lib.ts';
import { loadMonthEvents } from './load.ts';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '300000' }, rounds: { type: 'string', default: '3' } } });
const ROWS = Number(values.rows);
const ROUNDS = Number(values.rounds);
const MONTH = '2024-01-01';

async function main() {
  const { pg, stop } = await startBenchDatabase('clock-flag');
  const sql = connect(pg.superuserUrl, { max: 4, applicationName: 'oms-audit-bench' });
  try {
    const tenant = await createTenant(sql, `bench-clock-flag-${Date.now()}`);
    console.log(`oms-audit clock_flag benchmark — ${machine()}\nloading ${ROWS.toLocaleString('en-US')} events…`);
    await sql`select oms_audit.ensure_month_partition(${MONTH}::date)`;
    await loadMonthEvents(sql, tenant.id, ROWS, Date.parse('2024-01-31T20:00:00Z') * 1000);
    await sql`vacuum analyze public.audit_events`;

    const clock = { tolerance_ms: DEFAULT_CLOCK_TOLERANCE_MS, network_delay_ms: DEFAULT_NETWORK_DELAY_MS };
    const withFlag = postgresSelectList(EXPORT_FORMATS.csv, clock);
    // The baseline: the same list without its last entry, the clock_flag column.
    const withoutFlag = withFlag.slice(0, withFlag.lastIndexOf(',\n'));
    const statement = (list: string) => `copy (select ${list} from public.audit_events e where e.tenant_id = '${tenant.id}' order by e.occurred_at, e.seq) to stdout (format csv)`;
    const claims = JSON.stringify({ tenant_id: tenant.id, sub: 'bench', role: 'authenticated' });
    const setup = [{ text: "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)", values: [claims] }];

    async function copy(list: string): Promise<number> {
      const started = performance.now();
      const stream = await copyOut(connectionUrl(sql), statement(list), { setup });
      await pipeline(stream, new Writable({ write: (_chunk, _enc, done) => done() }));
      return (performance.now() - started) / 1000;
    }

    await copy(withFlag); // warm the cache
    const runs: { round: number; baseline: number; withFlag: number }[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const baseline = await copy(withoutFlag);
      const flagged = await copy(withFlag);
      runs.push({ round, baseline, withFlag: flagged });
      console.log(`round ${round}: without clock_flag ${baseline.toFixed(2)} s, with ${flagged.toFixed(2)} s`);
    }
    const best = (k: 'baseline' | 'withFlag') => Math.min(...runs.map((r) => r[k]));
    const ratio = best('withFlag') / best('baseline');
    const plan = await sql.begin(async (tx) => {
      await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${claims}, true)`;
      const rows = await tx.unsafe(`explain (analyze, buffers, verbose) select ${withFlag} from public.audit_events e where e.tenant_id = '${tenant.id}' order by e.occurred_at, e.seq`);
      return rows.map((r) => r['QUERY PLAN'] as string).join('\n');
    });

    const report = [
      `# clock_flag in exports — ${new Date().toISOString().slice(0, 10)}`,
      '',
      `Machine: ${machine()}. ${ROWS.toLocaleString('en-US')} events of one tenant in one hot month; PostgreSQL's COPY of the export's own CSV SELECT, as the tenant under row-level security, to a sink that discards the bytes. Baseline: the same SELECT without the clock_flag column, alternating with it in each round.`,
      '',
      '| round | without clock_flag (s) | with clock_flag (s) |',
      '| --- | --- | --- |',
      ...runs.map((r) => `| ${r.round} | ${r.baseline.toFixed(2)} | ${r.withFlag.toFixed(2)} |`),
      '',
      `Best of ${ROUNDS}: ${best('baseline').toFixed(2)} s without, ${best('withFlag').toFixed(2)} s with: **${ratio.toFixed(3)}×** the baseline (${(ROWS / best('withFlag')).toFixed(0)} rows/s).`,
      '',
      '```',
      plan,
      '```',
      '',
    ].join('\n');
    const file = await writeReport('clock-flag', report, { rows: ROWS, runs, ratio });
    console.log(`${ratio.toFixed(3)}× the baseline; report: ${file}`);
  } finally {
    await sql.end();
    await stop();
  }
}

await main();
