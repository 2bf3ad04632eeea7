/**
 * Where bulk ingest spends its time per event, to find what to cut:
 *   1. the write path's steps in this process, on the benchmark's 500-event bodies (CPU µs per event):
 *      strict body reading, the contract (validation), stamping, canonical JSON + event hash, the statement's parameters;
 *   2. bulk loads through the real server (REST, 2 clients; edge function, 4 clients) beside raw COPY into the naive
 *      table (2 clients), with the CPU per event of PostgreSQL (every process of the cluster), of the server (and its
 *      edge function), of this client, and PostgreSQL's WAL (bytes, records, full-page images) and disk writes per event.
 * Figures to compare parts with each other, not goals: the ratio goals are in bench/ingest.ts.
 *
 *   npm run bench:ingest-profile [-- --seconds 8]
 */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { parseBatch, type AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import { parseJsonBody } from '@/supabase/functions/_shared/http.ts';
import { appendEventsParams, completeRows, stampEvents } from '@/supabase/functions/_shared/ingest.ts';
import { createApiKey } from '@/server/services/api-keys.ts';
import { generateDemoEvents } from '@/server/services/demo-data.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { machine, measure, startBenchEnv, writeReport } from './lib.ts';
import { copyPayload, createNaiveTable, NAIVE_COLUMNS, naiveText } from './load.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' } } });
const SECONDS = Number(values.seconds);
const BATCH = 500;
const EDGE_BATCH = 1000;
const pool: AuditEventRequest[] = generateDemoEvents(4000, Date.now() * 1000, 7).map(({ occurred_at: _o, ...e }) => e);
const batchOf = (size: number, i: number) => JSON.stringify({ events: Array.from({ length: size }, (_, j) => pool[(i * size + j) % pool.length]) });
const bodies = Array.from({ length: 40 }, (_, i) => batchOf(BATCH, i));
const edgeBodies = Array.from({ length: 20 }, (_, i) => batchOf(EDGE_BATCH, i));

/** CPU µs per event of each step of the write path before the database, in this process. */
function stepCosts(rounds: number): Record<string, number> {
  const encoded = bodies.slice(0, 8).map((b) => new TextEncoder().encode(b));
  const tenant = '0190a000-0000-7000-8000-000000000001';
  const steps = ['body reading (strict JSON)', 'contract (validation)', 'stamping (ids, received_at)', 'canonical JSON + event hash', "the statement's parameters"];
  const micros = steps.map(() => 0);
  let events = 0;
  for (let round = 0; round < rounds; round++) {
    for (const body of encoded) {
      const spent: number[] = [];
      let at = process.cpuUsage();
      const lap = () => {
        const d = process.cpuUsage(at);
        spent.push(d.user + d.system);
        at = process.cpuUsage();
      };
      const parsed = parseJsonBody(body);
      lap();
      const input = parseBatch(parsed, EDGE_BATCH);
      lap();
      const { rows } = stampEvents(tenant, input, { ip: '127.0.0.1', userAgent: 'bench' }, { kind: 'operator', name: 'bench' }, { hash: false });
      lap();
      completeRows(rows);
      lap();
      appendEventsParams(tenant, rows, false);
      lap();
      // The first rounds warm up the JIT.
      if (round >= 3) spent.forEach((us, i) => (micros[i]! += us));
    }
    if (round >= 3) events += encoded.length * BATCH;
  }
  return Object.fromEntries(steps.map((s, i) => [s, micros[i]! / events]));
}

/** CPU clock ticks (user + system) of the processes, from /proc. */
function ticks(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      total += Number(fields[11]) + Number(fields[12]);
    } catch {
      // The process ended meanwhile.
    }
  }
  return total;
}

/** Bytes the processes caused to be written to storage, from /proc. */
function writtenBytes(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total += Number(/write_bytes: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))![1]);
    } catch {
      // The process ended meanwhile, or its io is not ours to read.
    }
  }
  return total;
}

function processTree(pid: number): number[] {
  const parentOf = (p: number) => {
    try {
      return Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
    } catch {
      return -1;
    }
  };
  const all = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const p of all) if (parentOf(p) === tree[i]) tree.push(p);
  return tree;
}

async function main() {
  const loadBefore = os.loadavg();
  const steps = stepCosts(Math.max(6, SECONDS * 3));
  const env = await startBenchEnv();
  const { sql, server } = env;
  const postmaster = Number(readFileSync(`${env.pg.clusterDir}/postmaster.pid`, 'utf8').split('\n')[0]);
  const tenants = await Promise.all(Array.from({ length: 8 }, (_, i) => createTenant(sql, `profile-${i}-${Date.now()}`)));
  const keys = await Promise.all(tenants.map((t) => createApiKey(sql, { tenantId: t.id, scopes: ['events:write'] })));
  let k = 0;
  const post = (url: string, payloads: string[]) => async (loop: number) => {
    const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${keys[loop % 8]!.key}`, 'content-type': 'application/json' }, body: payloads[k++ % payloads.length] });
    const body = (await res.json()) as { created_count: number };
    if (res.status !== 201) throw new Error(`${res.status}: ${JSON.stringify(body)}`);
    return body.created_count;
  };
  await createNaiveTable(sql);
  const naiveBatch = () => {
    const { rows } = stampEvents(tenants[0]!.id, parseBatch({ events: pool.slice(0, 1000) }, 1000), { ip: '127.0.0.1', userAgent: 'bench' }, { kind: 'operator', name: 'bench' });
    return naiveText(copyPayload(tenants[0]!.id, rows, 1));
  };
  const naiveTexts = Array.from({ length: Math.ceil(SECONDS * 40) }, naiveBatch);
  const naive = async () => {
    const stream = await sql.unsafe(`copy public.naive_events (${NAIVE_COLUMNS}) from stdin`).writable();
    await new Promise<void>((resolve, reject) => stream.end(naiveTexts.pop() ?? naiveBatch(), (err?: Error | null) => (err ? reject(err) : resolve())));
    return 1000;
  };
  const wal = async () => {
    const [row] = await sql`select pg_current_wal_insert_lsn() - '0/0'::pg_lsn as bytes, wal_records, wal_fpi from pg_stat_wal`;
    return { bytes: Number(row!.bytes), records: Number(row!.wal_records), fpi: Number(row!.wal_fpi) };
  };
  // Warm up the server (JIT, prepared statements) on both paths.
  await measure('warm-up', 2, BATCH, 3, post(`${server.baseUrl}/api/v1/audit/events`, bodies));
  await measure('warm-up', 2, EDGE_BATCH, 3, post(server.functionsUrl, edgeBodies));
  const hz = 100;
  const runs = [];
  for (const [name, concurrency, batch, worker] of [
    ['raw COPY into the naive table', 2, 1000, naive],
    ['REST POST /api/v1/audit/events', 2, BATCH, post(`${server.baseUrl}/api/v1/audit/events`, bodies)],
    ['edge function audit-logger (Deno)', 4, EDGE_BATCH, post(server.functionsUrl, edgeBodies)],
  ] as const) {
    const pgPids = processTree(postmaster);
    const serverPids = processTree(server.process.pid!);
    const [pg0, server0, io0, wal0, me0] = [ticks(pgPids), ticks(serverPids), writtenBytes(pgPids), await wal(), process.cpuUsage()];
    const m = await measure(name, concurrency, batch, SECONDS, worker);
    const me = process.cpuUsage(me0);
    const wal1 = await wal();
    const perEvent = (ticksSpent: number) => ((ticksSpent / hz) * 1e6) / m.events;
    runs.push({
      name,
      concurrency,
      eventsPerSec: m.eventsPerSec,
      postgresMicros: perEvent(ticks(processTree(postmaster)) - pg0),
      serverMicros: perEvent(ticks(serverPids) - server0),
      clientMicros: (me.user + me.system) / m.events,
      walBytes: (wal1.bytes - wal0.bytes) / m.events,
      walRecords: (wal1.records - wal0.records) / m.events,
      walFpi: (wal1.fpi - wal0.fpi) / m.events,
      diskBytes: (writtenBytes(processTree(postmaster)) - io0) / m.events,
    });
    console.log(runs.at(-1));
  }
  const loadAfter = os.loadavg();
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(', ');
  const md = `# Ingest profile (${new Date().toISOString().slice(0, 10)})

Machine: ${machine()}; load average (1, 5, 15 min) ${load(loadBefore)} at the start, ${load(loadAfter)} at the end.
Command: \`npm run bench:ingest-profile -- --seconds ${SECONDS}\`. Events: the ingest benchmark's order-lifecycle events (~600 bytes of JSON each).

Steps of the write path before the database, in one process, on ${BATCH}-event bodies (CPU µs per event):

| step | CPU µs/event |
|---|---:|
${Object.entries(steps).map(([s, us]) => `| ${s} | ${us.toFixed(2)} |`).join('\n')}
| total | ${Object.values(steps).reduce((a, b) => a + b, 0).toFixed(2)} |

Bulk loads (${SECONDS} s each), per event: CPU of every PostgreSQL process, of the server process tree (Node and the edge function under Deno),
of the sending client; WAL written, its records and full-page images; bytes the PostgreSQL processes wrote to storage (WAL and data files).

| path | clients | events/s | PostgreSQL CPU µs | server CPU µs | client CPU µs | WAL bytes | WAL records | full-page images | storage writes, bytes |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
${runs.map((r) => `| ${r.name} | ${r.concurrency} | ${Math.round(r.eventsPerSec).toLocaleString('en-US')} | ${r.postgresMicros.toFixed(1)} | ${r.serverMicros.toFixed(1)} | ${r.clientMicros.toFixed(1)} | ${Math.round(r.walBytes)} | ${r.walRecords.toFixed(2)} | ${r.walFpi.toFixed(3)} | ${Math.round(r.diskBytes)} |`).join('\n')}
`;
  const file = await writeReport('ingest-profile', md, { machine: machine(), seconds: SECONDS, steps, runs, loadAverage: { start: loadBefore, end: loadAfter } });
  console.log(`\n${md}\nreport: ${file}`);
  await env.cleanup();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
