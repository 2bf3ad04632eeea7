/** Shared pieces of the benchmarks: a durable PostgreSQL and a server, timing, percentiles, reports. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { connect, type Sql } from '@/supabase/functions/_shared/db.ts';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '@/server/db/embedded.ts';
import { migrate } from '@/server/db/migrate.ts';
import { freePort } from '@/test/ports.ts';
import { startServer, type RunningServer } from '@/test/server.ts';

export interface BenchEnv {
  pg: EmbeddedDatabase;
  /** As the superuser: loading data with COPY for baselines. The server runs as the runtime role. */
  sql: Sql;
  server: RunningServer;
  cleanup(): Promise<void>;
}

export interface BenchDatabase {
  pg: EmbeddedDatabase;
  dataDir: string;
  /** Stops PostgreSQL and removes its folder. */
  stop(): Promise<void>;
}

/** Embedded PostgreSQL with the product's durable settings (fsync on), migrated, in a folder of its own under bench/.work. */
export async function startBenchDatabase(name: string): Promise<BenchDatabase> {
  await mkdir('bench/.work', { recursive: true });
  const dataDir = await mkdtemp(path.resolve(`bench/.work/${name}-`));
  const pg = await startEmbeddedPostgres({ dataDir, port: await freePort() });
  const owner = connect(pg.ownerUrl, { max: 1 });
  await migrate(owner);
  await owner.end();
  return {
    pg,
    dataDir,
    stop: async () => {
      await pg.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A bench database (startBenchDatabase) and the real server over HTTP. */
export async function startBenchEnv(serverEnv: Record<string, string> = {}): Promise<BenchEnv> {
  const { pg, dataDir, stop } = await startBenchDatabase('run');
  const sql = connect(pg.superuserUrl, { max: 8, applicationName: 'oms-audit-bench' });
  // In-process services (cursor decoding, signing) read the same secrets as the server.
  process.env.OMS_AUDIT_DATA_DIR = path.join(dataDir, 'server');
  // Limits off: 200 single-event clients are more requests in flight than one edge function instance admits by
  // default (MAX_INFLIGHT_WRITES 64), and the rate limits would measure themselves. Admission is tested, not benchmarked.
  const server = await startServer({ databaseUrl: pg.runtimeUrl, dataDir: path.join(dataDir, 'server'), env: { RATE_LIMIT_WRITE_EVENTS_PER_SEC: '10000000', RATE_LIMIT_READ_REQUESTS_PER_SEC: '1000000', MAX_INFLIGHT_WRITES: '1000', FUNCTIONS_MAX_INFLIGHT_WRITES: '1000', ...serverEnv } });
  return {
    pg,
    sql,
    server,
    cleanup: async () => {
      await server.stop();
      await sql.end();
      await stop();
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export interface Measurement {
  name: string;
  concurrency: number;
  batch: number;
  events: number;
  seconds: number;
  eventsPerSec: number;
  p50: number;
  p95: number;
  p99: number;
}

/** Runs `worker` on `concurrency` loops for `seconds`; each call returns events done and is timed. */
export async function measure(name: string, concurrency: number, batch: number, seconds: number, worker: (loop: number) => Promise<number>): Promise<Measurement> {
  const latencies: number[] = [];
  let events = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, loop) => {
      while (performance.now() < deadline) {
        const t = performance.now();
        // Not `events += await …`: that reads `events` before awaiting and loses concurrent updates.
        const done = await worker(loop);
        events += done;
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { name, concurrency, batch, events, seconds: elapsed, eventsPerSec: events / elapsed, p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99) };
}

export function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

export function table(rows: Measurement[], baseline: number): string {
  const head = '| path | batch | clients | events/s | × COPY | p50 ms | p95 ms | p99 ms |\n|---|---:|---:|---:|---:|---:|---:|---:|';
  const lines = rows.map(
    (r) =>
      `| ${r.name} | ${r.batch} | ${r.concurrency} | ${Math.round(r.eventsPerSec).toLocaleString('en-US')} | ${(r.eventsPerSec / baseline).toFixed(2)} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.p99.toFixed(1)} |`,
  );
  return [head, ...lines].join('\n');
}

/** Where reports go: bench/results, or BENCH_RESULTS_DIR (scaled-down runs keep out of the published figures). */
export const resultsDir = () => process.env.BENCH_RESULTS_DIR ?? path.join('bench', 'results');

export async function writeReport(name: string, markdown: string, data: unknown): Promise<string> {
  const stamp = new Date().toISOString().slice(0, 10);
  const file = path.join(resultsDir(), `${name}-${stamp}.md`);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, markdown);
  await writeFile(file.replace(/\.md$/, '.json'), JSON.stringify(data, null, 2));
  return file;
}
