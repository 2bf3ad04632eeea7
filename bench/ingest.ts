/**
 * Ingest benchmark: batches through the HTTP APIs (REST, tRPC, the audit-logger
 * edge function under Deno), the SDK's log() with many producers, and single
 * events with group commit beside one INSERT per request, all against the real
 * server, beside raw COPY of the same rows into the same tables in the same
 * run, so every figure is also a ratio to what PostgreSQL itself does here.
 *
 *   npm run bench:ingest [-- --seconds 12] [--singles-only | --bulk-only]
 */
import http from 'node:http';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { parseBatch, parseEvent, type AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import { connect } from '@/supabase/functions/_shared/db.ts';
import { parseJsonBody } from '@/supabase/functions/_shared/http.ts';
import { appendEvents, appenderFor, stampEvents, type AppenderOptions } from '@/supabase/functions/_shared/ingest.ts';
import { createAuditClient } from '@/sdk/index.ts';
import { freePort } from '@/test/ports.ts';
import { createApiKey } from '@/server/services/api-keys.ts';
import { generateDemoEvents } from '@/server/services/demo-data.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { leanClient } from './http-client.ts';
import { machine, measure, percentile, startBenchEnv, table, writeReport, type Measurement } from './lib.ts';
import { copyEvents, copyPayload, createNaiveTable, NAIVE_COLUMNS, naiveText, type CopyPayload } from './load.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '12' }, 'singles-only': { type: 'boolean', default: false }, 'bulk-only': { type: 'boolean', default: false } },
});
const SECONDS = Number(values.seconds);
const BATCH = 500;
const EDGE_BATCH = 1000;

// Realistic order-lifecycle events (about 600 bytes each as JSON), without ids: every request stores new events.
const pool: AuditEventRequest[] = generateDemoEvents(4000, Date.now() * 1000, 7).map(({ occurred_at: _o, ...e }) => e);
const bodies = Array.from({ length: 40 }, (_, i) => JSON.stringify({ events: Array.from({ length: BATCH }, (_, j) => pool[(i * BATCH + j) % pool.length]) }));
const edgeBodies = Array.from({ length: 20 }, (_, i) => JSON.stringify({ events: Array.from({ length: EDGE_BATCH }, (_, j) => pool[(i * EDGE_BATCH + j) % pool.length]) }));
const singleBodies = pool.slice(0, 1000).map((e) => JSON.stringify(e));
const edgeSingleBodies = pool.slice(0, 1000).map((e) => JSON.stringify({ events: [e] }));

/**
 * Single events committed by an HTTP endpoint in this process, with the write
 * path's appender configured as given: `maxGroupEvents: 1` is the baseline of
 * one INSERT (one transaction) per request; the others group concurrent
 * events, with or without lingering. Same HTTP handling for all of them.
 */
async function singleEventEndpoint(databaseUrl: string, tenantId: string, options: AppenderOptions): Promise<{ url: string; close(): Promise<void> }> {
  const sql = connect(databaseUrl, { max: 10, applicationName: 'oms-audit-bench-single' });
  appenderFor(sql, options);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    new Promise((resolve) => req.on('end', resolve))
      .then(() => JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown)
      .then((body) => appendEvents(sql, { tenantId, writer: { kind: 'operator', name: 'bench' } }, [parseEvent(body)], { ip: '127.0.0.1', userAgent: 'bench' }, 'rest'))
      .then((result) => {
        const json = JSON.stringify(result);
        res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) }).end(json);
      })
      .catch((err: unknown) => res.writeHead(500).end(String(err)));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}/`,
    close: async () => {
      await new Promise((r) => server.close(r));
      await sql.end();
    },
  };
}

/**
 * What reading a body costs per event: JSON.parse of the decoded text (what
 * every entry point did before) beside the strict reader that refuses what it
 * cannot store exactly (parseJsonBody), on the same 500-event bodies, in turns
 * within one loop so that both see the same machine load.
 */
function bodyReadingCost(rounds = 60): { plainMicros: number; strictMicros: number } {
  const encoded = bodies.map((b) => new TextEncoder().encode(b));
  const events = encoded.length * BATCH;
  const decoder = new TextDecoder();
  let plain = 0;
  let strict = 0;
  for (let round = 0; round < rounds; round++) {
    let t = performance.now();
    for (const b of encoded) JSON.parse(decoder.decode(b));
    plain += performance.now() - t;
    t = performance.now();
    for (const b of encoded) parseJsonBody(b);
    strict += performance.now() - t;
  }
  return { plainMicros: (plain * 1000) / (rounds * events), strictMicros: (strict * 1000) / (rounds * events) };
}

/** COPY text for `n` events of `tenantId` starting after `lastSeq`. */
function copyBaselinePayload(tenantId: string, lastSeq: number, n: number): CopyPayload {
  const parsed = parseBatch({ events: Array.from({ length: n }, (_, j) => pool[j % pool.length]) }, n);
  const { rows } = stampEvents(tenantId, parsed, { ip: '127.0.0.1', userAgent: 'bench-copy' }, { kind: 'operator', name: 'bench' });
  return copyPayload(tenantId, rows, lastSeq + 1);
}

async function main() {
  const env = await startBenchEnv();
  const { sql, server } = env;
  const results: Measurement[] = [];
  const log = (m: Measurement) => {
    results.push(m);
    console.log(`${m.name.padEnd(34)} c=${m.concurrency}  ${Math.round(m.eventsPerSec).toString().padStart(6)} events/s  p50 ${m.p50.toFixed(1)} ms  p99 ${m.p99.toFixed(1)} ms`);
  };

  const tenants = await Promise.all(Array.from({ length: 8 }, (_, i) => createTenant(sql, `bench-${i}-${Date.now()}`)));
  const keys = await Promise.all(tenants.map((t) => createApiKey(sql, { tenantId: t.id, scopes: ['events:write', 'events:read'] })));

  async function copyBaseline(concurrency: number): Promise<Measurement> {
    // One tenant per COPY client; payloads are built ahead of the timed COPY, in seq order.
    const copyTenants = await Promise.all(Array.from({ length: concurrency }, (_, i) => createTenant(sql, `copy-${concurrency}-${i}-${Date.now()}`)));
    const nextSeq = copyTenants.map(() => 0);
    const prepared = copyTenants.map(() => [] as CopyPayload[]);
    const prepare = (loop: number) => {
      prepared[loop]!.push(copyBaselinePayload(copyTenants[loop]!.id, nextSeq[loop]!, 1000));
      nextSeq[loop]! += 1000;
    };
    copyTenants.forEach((_, loop) => prepare(loop));
    let timed = 0;
    const m = await measure('raw COPY (same rows, same tables)', concurrency, 1000, SECONDS, async (loop) => {
      const payload = prepared[loop]!.shift()!;
      const t = performance.now();
      await copyEvents(sql, payload);
      timed += performance.now() - t;
      prepare(loop);
      return 1000;
    });
    // Throughput over the time spent in COPY only (building the payloads is not PostgreSQL's work).
    return { ...m, eventsPerSec: m.events / (timed / 1000 / concurrency) };
  }

  /** The same rows by raw COPY into the naive schema (one plain table, primary key and three secondary indexes). */
  async function naiveCopyBaseline(concurrency: number): Promise<Measurement> {
    const prepared = Array.from({ length: concurrency }, () => [] as string[]);
    const prepare = (loop: number) => prepared[loop]!.push(naiveText(copyBaselinePayload(tenants[0]!.id, 0, 1000)));
    prepared.forEach((_, loop) => prepare(loop));
    let timed = 0;
    const m = await measure('raw COPY into a naive table (same rows)', concurrency, 1000, SECONDS, async (loop) => {
      const text = prepared[loop]!.shift()!;
      const t = performance.now();
      const stream = await sql.unsafe(`copy public.naive_events (${NAIVE_COLUMNS}) from stdin`).writable();
      await new Promise<void>((resolve, reject) => stream.end(text, (err?: Error | null) => (err ? reject(err) : resolve())));
      timed += performance.now() - t;
      prepare(loop);
      return 1000;
    });
    return { ...m, eventsPerSec: m.events / (timed / 1000 / concurrency) };
  }

  let k = 0;
  const rest = (tenantOf: (loop: number) => number) => async (loop: number) => {
    const res = await fetch(`${server.baseUrl}/api/v1/audit/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys[tenantOf(loop)]!.key}`, 'content-type': 'application/json' },
      body: bodies[k++ % bodies.length],
    });
    const body = (await res.json()) as { created_count: number };
    if (res.status !== 201) throw new Error(`REST ${res.status}: ${JSON.stringify(body)}`);
    return body.created_count;
  };
  const trpc = (tenantOf: (loop: number) => number) => async (loop: number) => {
    const res = await fetch(`${server.baseUrl}/api/trpc/events.logBulk`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys[tenantOf(loop)]!.key}`, 'content-type': 'application/json' },
      body: bodies[k++ % bodies.length],
    });
    const body = (await res.json()) as { result: { data: { created_count: number } } };
    if (res.status !== 200) throw new Error(`tRPC ${res.status}: ${JSON.stringify(body)}`);
    return body.result.data.created_count;
  };

  const edge = (tenantOf: (loop: number) => number) => async (loop: number) => {
    const res = await fetch(server.functionsUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys[tenantOf(loop)]!.key}`, 'content-type': 'application/json' },
      body: edgeBodies[k++ % edgeBodies.length],
    });
    const body = (await res.json()) as { created_count: number };
    if (res.status !== 201) throw new Error(`edge function ${res.status}: ${JSON.stringify(body)}`);
    return body.created_count;
  };
  /**
   * Single events through the lean keep-alive client (http-client.ts), one connection per client loop;
   * its own CPU per event is measured and reported, since it shares the machine with the server.
   */
  const clientMicros: Record<string, number> = {};
  /** Events per transaction of each single-event run (G), from the ledger rows it added and their inserting transactions. */
  const eventsPerTransaction: Record<string, number> = {};
  const ledgerMark = async (tenantId: string) => {
    const [row] = await sql`select count(*)::int as events, count(distinct xmin::text)::int as transactions from public.audit_ledger where tenant_id = ${tenantId}`;
    return { events: row!.events as number, transactions: row!.transactions as number };
  };
  async function singles(name: string, concurrency: number, url: string, key: string, tenantId: string, payloads = singleBodies): Promise<Measurement> {
    const client = leanClient(url, { authorization: `Bearer ${key}` }, payloads, concurrency);
    const before = await ledgerMark(tenantId);
    const cpu = process.cpuUsage();
    try {
      const m = await measure(name, concurrency, 1, SECONDS, async (loop) => {
        const answer = await client.post(loop);
        if (answer.status !== 201) throw new Error(`single event ${answer.status}: ${answer.body}`);
        return (JSON.parse(answer.body) as { created_count: number }).created_count;
      });
      const used = process.cpuUsage(cpu);
      clientMicros[`${name} c=${concurrency}`] = (used.user + used.system) / m.events;
      const after = await ledgerMark(tenantId);
      eventsPerTransaction[`${name} c=${concurrency}`] = (after.events - before.events) / Math.max(1, after.transactions - before.transactions);
      return m;
    } finally {
      client.close();
    }
  }

  /** SDK log() from many producers in this process: events/s until everything is stored; latency of the log() call itself. */
  async function sdkLog(producers: number, tenant: number): Promise<Measurement> {
    const audit = createAuditClient({ baseUrl: server.baseUrl, functionsUrl: server.functionsBaseUrl, apiKey: keys[tenant]!.key });
    const latencies: number[] = [];
    let events = 0;
    const started = performance.now();
    const deadline = started + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: producers }, async (_, p) => {
        for (let i = p; performance.now() < deadline; i += producers) {
          const t = performance.now();
          await audit.log(pool[i % pool.length]!);
          latencies.push(performance.now() - t);
          events++;
        }
      }),
    );
    await audit.flush();
    const seconds = (performance.now() - started) / 1000;
    const [stored] = await sql`select count(*)::int as n from public.audit_events where tenant_id = ${tenants[tenant]!.id}`;
    if ((stored!.n as number) < events) throw new Error(`SDK log(): ${events} logged, ${stored!.n} stored`);
    latencies.sort((a, b) => a - b);
    return { name: 'SDK log() → edge function (latency: log() call)', concurrency: producers, batch: 1, events, seconds, eventsPerSec: events / seconds, p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99) };
  }

  console.log(`oms-audit ingest benchmark — ${machine()}\n`);
  // The machine may be shared: the load average before and after says how much else ran meanwhile.
  const loadBefore = os.loadavg();
  // 60 rounds at the full 12 s per measurement; a few in a quick run.
  const reading = bodyReadingCost(Math.max(2, Math.round(SECONDS * 5)));
  console.log(`reading bodies: JSON.parse ${reading.plainMicros.toFixed(2)} µs/event, strict reader ${reading.strictMicros.toFixed(2)} µs/event\n`);
  // Warm up the server (JIT, prepared statements) before measuring.
  await measure('warm-up', 4, BATCH, 3, rest((l) => l));

  await createNaiveTable(sql);
  const copyBefore = [await copyBaseline(1), await copyBaseline(2)];
  copyBefore.forEach(log);
  const naiveBefore = await naiveCopyBaseline(2);
  log(naiveBefore);
  if (!values['singles-only']) {
    for (const c of [1, 2, 4, 8]) log(await measure('REST POST /api/v1/audit/events', c, BATCH, SECONDS, rest((l) => l % 8)));
    log(await measure('REST, all clients one tenant', 4, BATCH, SECONDS, rest(() => 0)));
    for (const c of [2, 4]) log(await measure('tRPC events.logBulk', c, BATCH, SECONDS, trpc((l) => l % 8)));
    for (const c of [2, 4]) log(await measure('edge function audit-logger (Deno)', c, EDGE_BATCH, SECONDS, edge((l) => l % 8)));
    log(await sdkLog(64, 0));
  }

  // Single events, all for one tenant: the Node server's endpoint and the edge function (both group
  // commit), and the same write path behind a minimal HTTP endpoint in this process with one
  // transaction per request, or grouped.
  const singleRuns: Measurement[] = [];
  if (!values['bulk-only']) {
    const singleTenant = await createTenant(sql, `bench-single-${Date.now()}`);
    const singleKey = await createApiKey(sql, { tenantId: singleTenant.id, scopes: ['events:write'] });
    const endpoints = [
      { name: 'single events, one INSERT per request (baseline)', endpoint: await singleEventEndpoint(env.pg.runtimeUrl, singleTenant.id, { maxGroupEvents: 1, maxInFlight: 1000 }) },
      { name: 'single events, group commit, no linger', endpoint: await singleEventEndpoint(env.pg.runtimeUrl, singleTenant.id, { lingerMs: 0 }) },
      { name: 'single events, group commit, 2 ms linger', endpoint: await singleEventEndpoint(env.pg.runtimeUrl, singleTenant.id, { lingerMs: 2 }) },
    ];
    for (const c of [50, 200]) {
      for (const { name, endpoint } of endpoints) singleRuns.push(await singles(name, c, endpoint.url, singleKey.key, singleTenant.id));
      singleRuns.push(await singles('single events POST /api/v1/audit/event (server)', c, `${server.baseUrl}/api/v1/audit/event`, singleKey.key, singleTenant.id));
      singleRuns.push(await singles('single events → edge function (Deno, group commit)', c, server.functionsUrl, singleKey.key, singleTenant.id, edgeSingleBodies));
    }
    await Promise.all(endpoints.map((e) => e.endpoint.close()));
    singleRuns.forEach(log);
  }
  const copyAfter = await copyBaseline(2);
  log(copyAfter);
  const naiveAfter = await naiveCopyBaseline(2);
  log(naiveAfter);
  const naiveBest = Math.max(naiveBefore.eventsPerSec, naiveAfter.eventsPerSec);

  const copyBest = Math.max(...[...copyBefore, copyAfter].map((m) => m.eventsPerSec));
  const [size] = await sql`
    select pg_total_relation_size('public.audit_ledger') + coalesce(sum(pg_total_relation_size(c.oid)), 0) as bytes,
           (select count(*) from public.audit_ledger) as events
    from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'public.audit_events'::regclass`;
  const bytesPerEvent = Number(size!.bytes) / Number(size!.events);
  // Bulk ingest over HTTP (batches); a singles-only run has none and takes its best single-event path.
  const bulk = results.filter((r) => !r.name.startsWith('raw') && r.batch > 1);
  const apiBest = Math.max(...(bulk.length ? bulk : results.filter((r) => !r.name.startsWith('raw'))).map((r) => r.eventsPerSec));
  const best = (prefix: string) => Math.max(...results.filter((r) => r.name.startsWith(prefix)).map((r) => r.eventsPerSec));
  const edgeBest = best('edge function');
  const sdkBest = best('SDK log()');
  const groupGain = (values['bulk-only'] ? [] : [50, 200]).map((c) => {
    const at = (part: string) => singleRuns.find((m) => m.concurrency === c && m.name.includes(part))!.eventsPerSec;
    const baseline = at('one INSERT');
    return `${c} clients: edge function ${(at('edge function') / baseline).toFixed(1)}×, Node server ${(at('(server)') / baseline).toFixed(1)}×, same endpoint grouped ${(at('2 ms linger') / baseline).toFixed(1)}× (no linger ${(at('no linger') / baseline).toFixed(1)}×)`;
  });

  const clientCost = Object.entries(clientMicros)
    .filter(([name]) => name.includes('(server)') || name.includes('edge function'))
    .map(([name, micros]) => `${Math.round(micros)} µs (${name.includes('(server)') ? 'Node server' : 'edge function'}, ${name.slice(name.lastIndexOf('c=') + 2)} clients)`)
    .join(', ');
  const loadAfter = os.loadavg();
  const loadText = (l: number[]) => l.map((x) => x.toFixed(2)).join(', ');
  const groups = Object.entries(eventsPerTransaction)
    .filter(([name]) => !name.includes('one INSERT'))
    .map(([name, g]) => `${name.replace('single events', '').replace(/^[ ,→]+/, '')} ${g.toFixed(1)}`)
    .join('; ');
  const md = `# Ingest benchmark (${new Date().toISOString().slice(0, 10)})

Machine: ${machine()}; load average (1, 5, 15 min) ${loadText(loadBefore)} at the start, ${loadText(loadAfter)} at the end. PostgreSQL: embedded ${((await sql`select version()`)[0]!.version as string).split(' ').slice(0, 2).join(' ')}, durable settings (fsync on, synchronous_commit on).
Command: \`npm run bench:ingest -- --seconds ${SECONDS}${values['singles-only'] ? ' --singles-only' : ''}${values['bulk-only'] ? ' --bulk-only' : ''}\`. Events: realistic order-lifecycle events (~600 bytes of JSON each), ${BATCH} per request, sent pre-serialized over HTTP from the same machine.
Baseline: raw \`COPY … FROM STDIN\` (text) of the same rows into the same tables (audit_events partitions and audit_ledger), ${(copyBest).toFixed(0)} events/s at best in this run.

${table(results, copyBest)}

Best HTTP path: **${Math.round(apiBest).toLocaleString('en-US')} events/s = ${(apiBest / copyBest).toFixed(2)} × raw COPY** into the same tables, **${(apiBest / naiveBest).toFixed(2)} × raw COPY into the naive table** (${Math.round(naiveBest).toLocaleString('en-US')} rows/s; goal ≥ 0.5).
${values['singles-only'] ? '' : `Edge function (batches of ${EDGE_BATCH}): **${(edgeBest / copyBest).toFixed(2)} × raw COPY**. SDK log() with 64 producers: **${(sdkBest / copyBest).toFixed(2)} × raw COPY** (its latency column is the log() call, which waits only when the buffer is full).\n`}${values['bulk-only'] ? '' : `Single events (one tenant), group commit over one INSERT per request: **${groupGain.join('; ')}**. Sent by a lean keep-alive client (one connection per client, \`bench/http-client.ts\`) whose own CPU per event in this run was ${clientCost}. Events per transaction (from the ledger rows each run added): ${groups}.\n`}Reading request bodies (same ${BATCH}-event bodies, in turns, this run): JSON.parse of the decoded text **${reading.plainMicros.toFixed(2)} µs per event**; the strict reader that refuses invalid UTF-8, duplicate keys, numbers a double would change and lone surrogates (\`parseJsonBody\`) **${reading.strictMicros.toFixed(2)} µs per event** (+${(reading.strictMicros - reading.plainMicros).toFixed(2)} µs).
Storage after the run: ${Math.round(bytesPerEvent)} bytes per event (tables + indexes, ${Number(size!.events).toLocaleString('en-US')} events).
`;
  const file = await writeReport(values['singles-only'] ? 'ingest-singles' : 'ingest', md, { machine: machine(), seconds: SECONDS, results, copyBest, naiveBest, apiBest, bytesPerEvent, bodyReading: reading, singleClientMicrosPerEvent: clientMicros, eventsPerTransaction, loadAverage: { start: loadBefore, end: loadAfter } });
  console.log(`\n${md}\nreport: ${file}`);
  await env.cleanup();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
