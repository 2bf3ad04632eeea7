/**
 * Retention benchmark: a month of realistic events in PostgreSQL (durable
 * settings), archived to Parquet on local disk, then searched in its archive.
 * Reports, each beside its baseline in the same run:
 *   - archive throughput (PostgreSQL → Parquet on disk) vs raw COPY … TO STDOUT of the partition;
 *   - the whole archive step (export, store, read back and verify every event hash, drop);
 *   - Parquet bytes per million events vs the partition's table + indexes;
 *   - an object's history in the archived month vs the same query while the month was hot.
 *
 *   npm run bench:retention [-- --events 300000 --queries 200]
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { connect, connectionUrl } from '@/supabase/functions/_shared/db.ts';
import { copyOut } from '@/server/db/copy-out.ts';
import { stampEvents } from '@/supabase/functions/_shared/ingest.ts';
import { startEmbeddedPostgres } from '@/server/db/embedded.ts';
import { migrate } from '@/server/db/migrate.ts';
import { parseEnv } from '@/server/env.ts';
import { exportMonth, partitionName } from '@/server/archive/export.ts';
import { generateDemoEvents } from '@/server/services/demo-data.ts';
import { EVENT_COLUMNS, listEvents } from '@/server/services/query.ts';
import { archiveMonth } from '@/server/services/retention/archive.ts';
import { retentionContext } from '@/server/services/retention/context.ts';
import { withRetentionLock } from '@/server/services/retention/parts.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { freePort } from '@/test/ports.ts';
import { machine, percentile, writeReport } from './lib.ts';
import { copyEvents, copyPayload } from './load.ts';

const { values } = parseArgs({ options: { events: { type: 'string', default: '300000' }, queries: { type: 'string', default: '200' } } });
const EVENTS = Number(values.events);
const QUERIES = Number(values.queries);
const MONTH = '2024-01-01';
const TENANTS = 4;

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));

async function main() {
  await mkdir('bench/.work', { recursive: true });
  const dir = await mkdtemp(path.resolve('bench/.work/retention-'));
  const pg = await startEmbeddedPostgres({ dataDir: dir, port: await freePort() });
  const owner = connect(pg.ownerUrl, { max: 1 });
  await migrate(owner);
  await owner.end();
  // The product's paths run as the runtime role; the superuser only loads the month with COPY and vacuums it.
  const sql = connect(pg.runtimeUrl, { max: 4, applicationName: 'oms-audit-bench' });
  const admin = connect(pg.superuserUrl, { max: 2, applicationName: 'oms-audit-bench-load' });
  try {
    process.env.OMS_AUDIT_DATA_DIR = dir;
    const env = parseEnv({ DATABASE_URL: pg.runtimeUrl, OMS_AUDIT_DATA_DIR: dir, ARCHIVE_URL: `file://${dir}/archive` });
    console.log(`oms-audit retention benchmark — ${machine()}\nloading ${EVENTS.toLocaleString('en-US')} events into ${MONTH.slice(0, 7)}…`);

    // A month of order-lifecycle events (~600 bytes each), loaded with COPY in seq order, ledger included.
    const tenants = await Promise.all(Array.from({ length: TENANTS }, (_, i) => createTenant(sql, `bench-retention-${i}-${Date.now()}`)));
    const monthEnd = Date.parse('2024-01-31T20:00:00Z') * 1000;
    const objects: string[][] = tenants.map(() => []);
    for (const [i, tenant] of tenants.entries()) {
      const raw = generateDemoEvents(Math.ceil(EVENTS / TENANTS / 6.2), monthEnd, 1000 + i).slice(0, Math.floor(EVENTS / TENANTS));
      for (let at = 0; at < raw.length; at += 4000) {
        const parsed = parseBatch({ events: raw.slice(at, at + 4000) }, 4000);
        const { rows } = stampEvents(tenant.id, parsed, { ip: '10.0.0.1', userAgent: 'bench' }, { kind: 'operator', name: 'bench' });
        rows.forEach((r, j) => {
          if (r.object_type === 'ORDER' && j % 7 === 0) objects[i]!.push(r.object_id);
        });
        await sql`select oms_audit.ensure_month_partition(${MONTH}::date)`;
        await copyEvents(admin, copyPayload(tenant.id, rows, at + 1));
      }
    }
    const partition = partitionName(MONTH);
    await admin.unsafe(`vacuum analyze oms_audit.${partition}`);
    const [size] = await sql.unsafe(`select pg_relation_size('oms_audit.${partition}') as heap, pg_total_relation_size('oms_audit.${partition}') as total, (select count(*) from oms_audit.${partition}) as n`);
    const rows = Number(size!.n);
    const pgBytes = Number(size!.total);

    // Baseline: PostgreSQL's own export of the partition, the bytes only (no conversion).
    const copyBaseline = async () => {
      const t = performance.now();
      let bytes = 0;
      // node-postgres on a connection of its own, as the archiver reads it.
      const stream = await copyOut(connectionUrl(sql), `copy oms_audit.${partition} (${EVENT_COLUMNS}) to stdout (format csv)`);
      await pipeline(stream, new Writable({ write: (chunk: Buffer, _e, cb) => ((bytes += chunk.length), cb()) }));
      return { ms: performance.now() - t, bytes };
    };
    const copyRuns = [await copyBaseline(), await copyBaseline()];
    const copyBest = Math.min(...copyRuns.map((r) => r.ms));

    // Archive throughput: PostgreSQL → Parquet files on disk (the export step alone), twice.
    const exportRun = async () => {
      const out = path.join(dir, `export-${Date.now()}`);
      let parquetBytes = 0;
      const t = performance.now();
      await exportMonth(sql, MONTH, null, out, async (file) => {
        parquetBytes += file.bytes;
      });
      const ms = performance.now() - t;
      await rm(out, { recursive: true, force: true });
      return { ms, parquetBytes };
    };
    const exportRuns = [await exportRun(), await exportRun()];
    const exportBest = Math.min(...exportRuns.map((r) => r.ms));
    const parquetBytes = exportRuns[0]!.parquetBytes;

    // The hot baseline for the search: an object's history while the month is in PostgreSQL.
    const claimsOf = (i: number) => ({ tenant_id: tenants[i]!.id, sub: 'bench', role: 'authenticated' as const });
    const search = async (label: string) => {
      const latencies: number[] = [];
      let found = 0;
      for (let q = 0; q < QUERIES; q++) {
        const i = q % TENANTS;
        const list = objects[i]!;
        const objectId = list[(q * 7919) % list.length]!;
        const t = performance.now();
        const page = await listEvents(sql, claimsOf(i), { object_type: 'ORDER', object_id: objectId, limit: 100, order: 'asc' });
        latencies.push(performance.now() - t);
        found += page.events.length;
      }
      latencies.sort((a, b) => a - b);
      const r = { label, p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99), found };
      console.log(`${label.padEnd(44)} p50 ${r.p50.toFixed(1)} ms  p95 ${r.p95.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms  (${found} events)`);
      return r;
    };
    const hot = await search('object history, month hot in PostgreSQL');

    // The whole archive step as a retention run does it: export, store, read back, verify every hash, drop.
    const ctx = await retentionContext(sql, env, { actor: 'bench' });
    const t0 = performance.now();
    const archived = await withRetentionLock(sql, { wait: false }, () => archiveMonth(ctx, MONTH, { drop: true }));
    const archiveMs = performance.now() - t0;
    if (archived.outcome !== 'dropped') throw new Error(`archive did not complete: ${JSON.stringify(archived)}`);

    await search('object history, archived month (first, cold)');
    const cold = await search('object history, archived month (Parquet)');
    if (cold.found !== hot.found) throw new Error(`archived search found ${cold.found} events, hot search ${hot.found}`);

    const perMillion = (bytes: number) => (bytes / rows) * 1e6;
    const result = {
      machine: machine(),
      events: rows,
      copy_to_stdout_rows_per_s: rate(rows, copyBest),
      copy_to_stdout_bytes: copyRuns[0]!.bytes,
      export_rows_per_s: rate(rows, exportBest),
      export_ms: exportRuns.map((r) => Math.round(r.ms)),
      archive_step_rows_per_s: rate(rows, archiveMs),
      archive_step_ms: Math.round(archiveMs),
      postgres_bytes: pgBytes,
      postgres_heap_bytes: Number(size!.heap),
      parquet_bytes: parquetBytes,
      parquet_ratio: parquetBytes / pgBytes,
      search_hot: hot,
      search_archived: cold,
    };
    const md = `# Retention benchmark (${new Date().toISOString().slice(0, 10)})

Machine: ${machine()}. PostgreSQL: embedded ${((await sql`select version()`)[0]!.version as string).split(' ').slice(0, 2).join(' ')}, durable settings.
Command: \`npm run bench:retention -- --events ${EVENTS} --queries ${QUERIES}\`. Data: ${rows.toLocaleString('en-US')} order-lifecycle events (~600 bytes of JSON each) of ${TENANTS} tenants in one month partition, with the product's indexes.

| measure | result | baseline (same run) |
|---|---:|---:|
| archive throughput, PostgreSQL → zstd Parquet on disk | **${result.export_rows_per_s.toLocaleString('en-US')} rows/s** | raw \`COPY partition TO STDOUT (FORMAT csv)\`: ${result.copy_to_stdout_rows_per_s.toLocaleString('en-US')} rows/s (${(result.export_rows_per_s / result.copy_to_stdout_rows_per_s).toFixed(2)} ×) |
| whole archive step (export, store, read back, verify every event hash against the ledger, drop) | ${result.archive_step_rows_per_s.toLocaleString('en-US')} rows/s | |
| size per million events | **${mb(perMillion(parquetBytes))}** Parquet | ${mb(perMillion(pgBytes))} PostgreSQL table + indexes (heap ${mb(perMillion(result.postgres_heap_bytes))}); ratio **1/${(pgBytes / parquetBytes).toFixed(1)}** |
| object history (100 events max), archived month | p50 ${cold.p50.toFixed(1)} ms, p95 ${cold.p95.toFixed(1)} ms, p99 ${cold.p99.toFixed(1)} ms | same query, month hot: p50 ${hot.p50.toFixed(1)} ms, p95 ${hot.p95.toFixed(1)} ms, p99 ${hot.p99.toFixed(1)} ms |

Goals: archive ≥ 100,000 rows/s; Parquet ≤ 1/5 of table + indexes.
`;
    const file = await writeReport('retention', md, result);
    console.log(`\n${md}\nreport: ${file}`);
  } finally {
    await sql.end({ timeout: 5 });
    await admin.end({ timeout: 5 });
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
