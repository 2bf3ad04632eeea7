/**
 * Export benchmark, every figure beside its baseline in the same run:
 *
 * 1. Hot: a month of realistic events (about 600 bytes of CSV each, hashed
 *    and in the ledger as the write path writes them) exported through the
 *    HTTP route of the real server — CSV, JSON Lines, Parquet and a
 *    verifiable bundle — beside PostgreSQL's own `COPY (SELECT …) TO STDOUT
 *    (FORMAT csv)` of the same rows as the tenant, alternating.
 * 2. Archived: the month archived to Parquet and dropped from PostgreSQL,
 *    then the same exports again, read from the archive.
 *
 * Reports rows/s, the ratios (hot CSV ÷ COPY, archived ÷ hot per format), the
 * bundle's time to first byte and total time beside the plain CSV, and the
 * server's peak RSS during each export.
 *
 *   npm run bench:export [-- --rows 1000000 --rounds 2]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { connectionUrl } from '@/supabase/functions/_shared/db.ts';
import { EVENT_FIELDS } from '@/supabase/functions/_shared/contract.ts';
import { EXPORT_FORMATS } from '@/lib/export-formats.ts';
import { postgresCopy } from '@/server/services/exports/columns.ts';
import { copyOut } from '@/server/db/copy-out.ts';
import { parseEnv } from '@/server/env.ts';
import { createApiKey } from '@/server/services/api-keys.ts';
import { sealTenant } from '@/server/services/integrity/checkpoints.ts';
import { signer } from '@/server/services/integrity/signing-key.ts';
import { archiveMonth } from '@/server/services/retention/archive.ts';
import { retentionContext } from '@/server/services/retention/context.ts';
import { withRetentionLock } from '@/server/services/retention/parts.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { DEFAULT_CLOCK_TOLERANCE_MS, DEFAULT_NETWORK_DELAY_MS } from '@/supabase/functions/_shared/clock.ts';
import { machine, startBenchEnv, writeReport } from './lib.ts';
import { loadMonthEvents } from './load.ts';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '2' } } });
const ROWS = Number(values.rows);
const ROUNDS = Number(values.rounds);
const MONTH = '2024-01-01';

function rssOf(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0; // the server exited: the export fails and says why
  }
}

interface Run {
  path: string;
  where: 'hot' | 'archived';
  round: number;
  seconds: number;
  firstByteSeconds: number | null;
  rows: number;
  rowsPerSec: number;
  bytes: number;
  peakRssMb?: number;
  baseRssMb?: number;
}

const env = await startBenchEnv();
try {
  const { sql, server, pg } = env;
  const dataDir = path.dirname(process.env.OMS_AUDIT_DATA_DIR!);
  const tenant = await createTenant(sql, `bench-export-${Date.now()}`);
  const key = await createApiKey(sql, { tenantId: tenant.id, scopes: ['events:read'], name: 'bench' });
  console.log(`oms-audit export benchmark — ${machine()}\nloading ${ROWS.toLocaleString('en-US')} events into ${MONTH.slice(0, 7)}…`);
  // Order-lifecycle events, stamped and hashed as the write path does, in seq order, ledger included.
  await sql`select oms_audit.ensure_month_partition(${MONTH}::date)`;
  await loadMonthEvents(sql, tenant.id, ROWS, Date.parse('2024-01-31T20:00:00Z') * 1000);
  // The write path numbers on from here (exports record themselves in the trail).
  await sql`insert into oms_audit.tenant_sequences (tenant_id, last_seq) values (${tenant.id}, ${ROWS}) on conflict (tenant_id) do update set last_seq = excluded.last_seq`;
  await sql`vacuum analyze public.audit_events`;
  const sealStarted = performance.now();
  await sealTenant(sql, tenant.id, signer());
  const sealSeconds = (performance.now() - sealStarted) / 1000;
  console.log(`loaded; sealed in ${sealSeconds.toFixed(1)} s`);

  const baselineSql = `copy (select ${EVENT_FIELDS.join(', ')} from public.audit_events where tenant_id = '${tenant.id}' order by occurred_at, seq) to stdout (format csv, header true)`;
  // The export's own statement (PostgreSQL's formatting: canonical timestamps, neutralised cells), run bare.
  const formattedSql = postgresCopy(EXPORT_FORMATS.csv, `e.tenant_id = '${tenant.id}'`, 'asc', { tolerance_ms: DEFAULT_CLOCK_TOLERANCE_MS, network_delay_ms: DEFAULT_NETWORK_DELAY_MS });
  const claims = JSON.stringify({ tenant_id: tenant.id, sub: 'bench', role: 'authenticated' });

  async function copyBaseline(round: number, formatted = false): Promise<Run> {
    const started = performance.now();
    // As the tenant, under row-level security, on a connection of its own (node-postgres).
    const stream = await copyOut(connectionUrl(sql), formatted ? formattedSql : baselineSql, {
      setup: [{ text: "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)", values: [claims] }],
    });
    let bytes = 0;
    let first: number | null = null;
    await pipeline(
      stream,
      new Writable({
        write: (chunk: Buffer, _enc, done) => {
          first ??= performance.now() - started;
          bytes += chunk.length;
          done();
        },
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    return { path: formatted ? 'COPY of the export\'s own SELECT (formatted by PostgreSQL)' : 'COPY (SELECT …) TO STDOUT (FORMAT csv)', where: 'hot', round, seconds, firstByteSeconds: first! / 1000, rows: ROWS, rowsPerSec: ROWS / seconds, bytes };
  }

  async function httpExport(label: string, query: string, where: Run['where'], round: number): Promise<Run> {
    const pid = server.process.pid!;
    const base = rssOf(pid);
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 50);
    const started = performance.now();
    const res = await fetch(`${server.baseUrl}/api/v1/audit/events/export?${query}`, { headers: { authorization: `Bearer ${key.key}`, 'accept-encoding': 'identity' } }).catch((err: unknown) => {
      throw new Error(`${label}: ${(err as Error).message}\n${server.output().slice(-3000)}`);
    });
    if (res.status !== 200) throw new Error(`export answered ${res.status}: ${await res.text()}`);
    let bytes = 0;
    let first: number | null = null;
    const reader = res.body!.getReader();
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        first ??= performance.now() - started;
        bytes += r.value.length;
      }
    } catch (err) {
      throw new Error(`${label}: ${(err as Error).message}\n${server.output().slice(-3000)}`);
    }
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const manifest = await (await fetch(res.headers.get('x-audit-manifest')!, { headers: { authorization: `Bearer ${key.key}` } })).json();
    if (manifest.status !== 'complete' || manifest.row_count < ROWS) throw new Error(`manifest does not match: ${JSON.stringify(manifest).slice(0, 500)}`);
    if (!query.includes('bundle') && manifest.byte_count !== bytes) throw new Error(`manifest says ${manifest.byte_count} bytes, ${bytes} arrived`);
    const rows = manifest.row_count as number;
    return { path: `${label} (GET …/export?${query})`, where, round, seconds, firstByteSeconds: first! / 1000, rows, rowsPerSec: rows / seconds, bytes, peakRssMb: peak / 2 ** 20, baseRssMb: base / 2 ** 20 };
  }

  // The bundle before Parquet: DuckDB's memory (Parquet sorts there) would otherwise count in the bundle's peak.
  const EXPORTS: [string, string][] = [
    ['CSV', 'format=csv'],
    ['JSON Lines', 'format=jsonl'],
    ['bundle (CSV)', 'format=csv&bundle=true'],
    ['Parquet', 'format=parquet'],
  ];
  const runs: Run[] = [];
  const log = (r: Run) => {
    runs.push(r);
    console.log(
      `${r.where} round ${r.round}: ${r.path}: ${r.seconds.toFixed(2)} s (first byte ${r.firstByteSeconds?.toFixed(3)} s), ${Math.round(r.rowsPerSec).toLocaleString('en-US')} rows/s, ${(r.bytes / 2 ** 20).toFixed(0)} MiB${r.peakRssMb ? `, server RSS ${r.baseRssMb!.toFixed(0)} → peak ${r.peakRssMb.toFixed(0)} MiB` : ''}`,
    );
  };
  for (let round = 1; round <= ROUNDS; round++) {
    log(await copyBaseline(round));
    log(await copyBaseline(round, true));
    for (const [label, query] of EXPORTS) log(await httpExport(label, query, 'hot', round));
  }

  console.log(`archiving ${MONTH.slice(0, 7)}…`);
  const archiveStarted = performance.now();
  const ctx = await retentionContext(sql, parseEnv({ DATABASE_URL: pg.runtimeUrl, OMS_AUDIT_DATA_DIR: dataDir, ARCHIVE_URL: `file://${dataDir}/archive` }), { actor: 'bench' });
  const archived = await withRetentionLock(sql, { wait: true }, () => archiveMonth(ctx, MONTH, { drop: true }));
  if (archived.outcome !== 'dropped') throw new Error(`archiving ended ${archived.outcome}`);
  const archiveSeconds = (performance.now() - archiveStarted) / 1000;
  console.log(`archived and dropped in ${archiveSeconds.toFixed(1)} s`);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [label, query] of EXPORTS) log(await httpExport(label, query, 'archived', round));
  }

  const best = (where: Run['where'], prefix: string) => Math.max(...runs.filter((r) => r.where === where && r.path.startsWith(prefix)).map((r) => r.rowsPerSec));
  const copyBest = best('hot', 'COPY (SELECT');
  const formattedBest = best('hot', 'COPY of');
  const ratios = EXPORTS.map(([label]) => ({ label, hot: best('hot', label), archived: best('archived', label) }));
  const csvHot = ratios[0]!.hot;
  const perRound = Array.from({ length: ROUNDS }, (_, i) => {
    const of = (prefix: string) => runs.find((r) => r.where === 'hot' && r.round === i + 1 && r.path.startsWith(prefix))!.rowsPerSec;
    return of('CSV') / of('COPY (SELECT');
  });
  const bundleOf = (where: Run['where']) => runs.filter((r) => r.where === where && r.path.startsWith('bundle'));
  const csvOf = (where: Run['where']) => runs.filter((r) => r.where === where && r.path.startsWith('CSV'));
  const fastest = (list: Run[]) => list.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const peakRss = Math.max(...runs.filter((r) => r.peakRssMb).map((r) => r.peakRssMb!));
  const lines = [
    `# Export benchmark (${new Date().toISOString().slice(0, 16)}Z)`,
    '',
    `Machine: ${machine()}. ${ROWS.toLocaleString('en-US')} order-lifecycle events of one tenant in one month, oldest first; durable embedded PostgreSQL; exports through the real server's HTTP route with an API key (no HTTP compression). Hot: the month in PostgreSQL; archived: the same month after it was archived to Parquet and dropped. Sealing the tenant first took ${sealSeconds.toFixed(1)} s; archiving and dropping the month ${archiveSeconds.toFixed(1)} s.`,
    '',
    '| month | path | round | seconds | first byte s | rows/s | MiB | server RSS MiB (before → peak) |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
    ...runs.map(
      (r) =>
        `| ${r.where} | ${r.path} | ${r.round} | ${r.seconds.toFixed(2)} | ${r.firstByteSeconds?.toFixed(3) ?? '—'} | ${Math.round(r.rowsPerSec).toLocaleString('en-US')} | ${(r.bytes / 2 ** 20).toFixed(0)} | ${r.peakRssMb ? `${r.baseRssMb!.toFixed(0)} → ${r.peakRssMb.toFixed(0)}` : '—'} |`,
    ),
    '',
    `Hot CSV export ${Math.round(csvHot).toLocaleString('en-US')} rows/s vs COPY ${Math.round(copyBest).toLocaleString('en-US')} rows/s = **${(csvHot / copyBest).toFixed(2)} ×** (best of each); per round: ${perRound.map((r) => r.toFixed(2)).join(', ')}. Against the COPY of the export's own SELECT (${Math.round(formattedBest).toLocaleString('en-US')} rows/s: PostgreSQL's formatting of timestamps and neutralised cells, run bare): **${(csvHot / formattedBest).toFixed(2)} ×**.`,
    '',
    '| format | hot rows/s | archived rows/s | archived ÷ hot |',
    '|---|---:|---:|---:|',
    ...ratios.map((r) => `| ${r.label} | ${Math.round(r.hot).toLocaleString('en-US')} | ${Math.round(r.archived).toLocaleString('en-US')} | **${(r.archived / r.hot).toFixed(2)}** |`),
    '',
    ...(['hot', 'archived'] as const).map((where) => {
      const bundle = fastest(bundleOf(where));
      const csv = fastest(csvOf(where));
      return `Bundle, ${where}: first byte after ${bundle.firstByteSeconds!.toFixed(3)} s, whole zip (${(bundle.bytes / 2 ** 20).toFixed(0)} MiB) in ${bundle.seconds.toFixed(2)} s = ${(bundle.seconds / csv.seconds).toFixed(2)} × the plain CSV export of the same rows (${csv.seconds.toFixed(2)} s); server peak RSS ${bundle.peakRssMb!.toFixed(0)} MiB.`;
    }),
    '',
    `Peak server RSS during any export: ${peakRss.toFixed(0)} MiB. The export file differs from the COPY baseline on purpose: canonical UTC timestamps, formula-neutralised cells, CRLF record ends.`,
  ];
  const report = lines.join('\n') + '\n';
  console.log('\n' + report);
  const file = await writeReport('export', report, { rows: ROWS, runs, copyBest, formattedBest, ratios, hotCsvToCopy: csvHot / copyBest, hotCsvToCopyPerRound: perRound, peakRssMb: peakRss, sealSeconds, archiveSeconds });
  console.log(`report: ${file}`);
} finally {
  await env.cleanup();
}
