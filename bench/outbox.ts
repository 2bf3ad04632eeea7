/**
 * Outbox benchmark, in one run on one machine:
 *
 * - the insert's cost inside an OMS transaction: order changes (one UPDATE,
 *   one transaction each) with and without outbox(tx).log() of their event,
 *   in turns so both see the same load; the difference per event, in µs; and
 *   the same for ten events a transaction through logBulk();
 * - the relay's throughput beside `POST /api/v1/audit/events` itself: the same
 *   events (500 a request, one request at a time, as the relay sends them)
 *   posted straight to the server, then logged in the outbox and shipped by
 *   the relay, timed from its start until the outbox is empty; twice each,
 *   alternating. The goal is a ratio of at least 0.8.
 *
 * The OMS database is a database of its own on the benchmark's PostgreSQL
 * cluster (durable settings, the same machine as the server).
 *
 *   npm run bench:outbox [-- --events 20000] [--transactions 3000]
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import type { AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import { installOutbox } from '@/sdk/outbox/admin.ts';
import { startRelay } from '@/sdk/outbox/relay.ts';
import { outbox } from '@/sdk/outbox/writer.ts';
import { createApiKey } from '@/server/services/api-keys.ts';
import { generateDemoEvents } from '@/server/services/demo-data.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { machine, percentile, startBenchEnv, writeReport } from './lib.ts';

const { values } = parseArgs({ options: { events: { type: 'string', default: '20000' }, transactions: { type: 'string', default: '3000' } } });
const EVENTS = Number(values.events);
const TRANSACTIONS = Number(values.transactions);
const BATCH = 500;

// Realistic order-lifecycle events (about 600 bytes each as JSON), without ids or times: the outbox gives them theirs.
const pool: AuditEventRequest[] = generateDemoEvents(4000, Date.now() * 1000, 11).map(({ occurred_at: _o, ...e }) => e);

interface Throughput {
  path: string;
  events: number;
  seconds: number;
  eventsPerSec: number;
}

async function main() {
  const loadBefore = os.loadavg()[0]!;
  const env = await startBenchEnv();
  const { sql, server, pg } = env;
  const omsName = `oms_bench_${Date.now()}`;
  await sql.unsafe(`create database ${omsName}`);
  const omsUrl = (() => {
    const u = new URL(pg.superuserUrl);
    u.pathname = `/${omsName}`;
    return u.toString();
  })();
  const oms = postgres(omsUrl, { max: 4, onnotice: () => {} });
  try {
    await oms.unsafe(`create table orders (id text primary key, status text not null, quantity int not null, updated_at timestamptz not null default now())`);
    await oms.unsafe(`insert into orders select 'O-' || i, 'NEW', 0 from generate_series(0, 999) i`);
    await installOutbox(omsUrl);
    console.log(`oms-audit outbox benchmark — ${machine()}\n`);

    // 1. The insert's cost inside the OMS transaction.
    const change = (tx: postgres.TransactionSql, i: number) => tx`update orders set quantity = quantity + 1, updated_at = now() where id = ${`O-${i % 1000}`}`;
    const timed = async (work: (i: number) => Promise<unknown>, n: number) => {
      const t = performance.now();
      for (let i = 0; i < n; i++) await work(i);
      return performance.now() - t;
    };
    const rounds = 6;
    const per = Math.ceil(TRANSACTIONS / rounds);
    let plainMs = 0;
    let loggedMs = 0;
    let bulkMs = 0;
    const calls: number[] = [];
    const logged = (i: number) =>
      oms.begin(async (tx) => {
        await change(tx, i);
        const t = performance.now();
        await outbox(tx).log(pool[i % pool.length]!);
        calls.push((performance.now() - t) * 1000);
      });
    const loggedTen = (i: number) =>
      oms.begin(async (tx) => {
        await change(tx, i);
        await outbox(tx).logBulk(Array.from({ length: 10 }, (_, k) => pool[(i * 10 + k) % pool.length]!));
      });
    for (let round = 0; round < rounds; round++) {
      plainMs += await timed((i) => oms.begin((tx) => change(tx, i)), per);
      loggedMs += await timed(logged, per);
      bulkMs += await timed(loggedTen, per);
    }
    const n = per * rounds;
    calls.sort((a, b) => a - b);
    const insert = {
      transactions: n,
      logCallMicros: { mean: calls.reduce((a, b) => a + b, 0) / calls.length, p50: percentile(calls, 50), p99: percentile(calls, 99) },
      plainTransactionMicros: (plainMs * 1000) / n,
      logMicrosPerEvent: ((loggedMs - plainMs) * 1000) / n,
      logBulkMicrosPerEvent: ((bulkMs - plainMs) * 1000) / (n * 10),
    };
    console.log(`outbox(tx).log() call inside the transaction: mean ${insert.logCallMicros.mean.toFixed(0)} µs, p50 ${insert.logCallMicros.p50.toFixed(0)} µs, p99 ${insert.logCallMicros.p99.toFixed(0)} µs`);
    console.log(`order change alone: ${insert.plainTransactionMicros.toFixed(0)} µs a transaction (commit included)`);
    console.log(`+ outbox(tx).log(): ${insert.logMicrosPerEvent.toFixed(0)} µs an event; + logBulk() of 10: ${insert.logBulkMicrosPerEvent.toFixed(0)} µs an event\n`);
    await oms.unsafe('truncate oms_audit_outbox.audit_outbox');

    // 2. The relay beside POST /api/v1/audit/events, the same events, one request in flight.
    const tenant = await createTenant(sql, `bench-outbox-${Date.now()}`);
    const { key } = await createApiKey(sql, { tenantId: tenant.id, scopes: ['events:write'] });
    const events = Array.from({ length: EVENTS }, (_, i) => pool[i % pool.length]!);

    const direct = async (): Promise<Throughput> => {
      const t = performance.now();
      for (let i = 0; i < events.length; i += BATCH) {
        const body = JSON.stringify({ events: events.slice(i, i + BATCH).map((e) => ({ ...e, id: randomUUID(), occurred_at: new Date().toISOString() })) });
        const res = await fetch(`${server.baseUrl}/api/v1/audit/events`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
        if (res.status !== 201) throw new Error(`POST ${res.status}: ${await res.text()}`);
        await res.arrayBuffer();
      }
      const seconds = (performance.now() - t) / 1000;
      return { path: 'POST /api/v1/audit/events (500 a request, 1 in flight)', events: events.length, seconds, eventsPerSec: events.length / seconds };
    };
    const relayed = async (): Promise<Throughput> => {
      for (let i = 0; i < events.length; i += BATCH) await oms.begin((tx) => outbox(tx).logBulk(events.slice(i, i + BATCH)));
      const t = performance.now();
      const relay = startRelay({ source: omsUrl, baseUrl: server.baseUrl, apiKey: key, idleDelayMs: 5 });
      await relay.drain({ timeoutMs: 600_000 });
      const seconds = (performance.now() - t) / 1000;
      await relay.stop();
      if (relay.stats().createdEvents !== events.length) throw new Error(`relay: ${JSON.stringify(relay.stats())}`);
      return { path: 'relay: outbox → POST /api/v1/audit/events', events: events.length, seconds, eventsPerSec: events.length / seconds };
    };
    await direct(); // warm-up (JIT, prepared statements)
    const runs: Throughput[] = [];
    for (let i = 0; i < 2; i++) {
      runs.push(await direct());
      runs.push(await relayed());
    }
    // For context only: POST with four requests in flight (no order between them, which the relay must keep).
    const parallel = async (): Promise<Throughput> => {
      const t = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next < events.length) {
            const i = next;
            next += BATCH;
            const body = JSON.stringify({ events: events.slice(i, i + BATCH).map((e) => ({ ...e, id: randomUUID(), occurred_at: new Date().toISOString() })) });
            const res = await fetch(`${server.baseUrl}/api/v1/audit/events`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
            if (res.status !== 201) throw new Error(`POST ${res.status}: ${await res.text()}`);
            await res.arrayBuffer();
          }
        }),
      );
      const seconds = (performance.now() - t) / 1000;
      return { path: 'context: POST, 4 requests in flight (unordered)', events: events.length, seconds, eventsPerSec: events.length / seconds };
    };
    runs.push(await parallel());
    const best = (prefix: string) => Math.max(...runs.filter((r) => r.path.startsWith(prefix)).map((r) => r.eventsPerSec));
    const ratio = best('relay') / best('POST /api');
    for (const r of runs) console.log(`${r.path.padEnd(56)} ${Math.round(r.eventsPerSec).toString().padStart(6)} events/s (${r.events} in ${r.seconds.toFixed(2)} s)`);
    console.log(`\nrelay ÷ POST: ${ratio.toFixed(2)} (goal ≥ 0.8)`);

    const load = `load average ${loadBefore.toFixed(1)} at the start, ${os.loadavg()[0]!.toFixed(1)} at the end`;
    const markdown = `# Outbox benchmark

${machine()}, ${load}. \`npm run bench:outbox -- --events ${EVENTS} --transactions ${TRANSACTIONS}\`. The OMS database is a database of
its own on the benchmark's PostgreSQL (durable settings, same machine as the server).

## Insert cost inside the OMS transaction

| | µs |
|---|---:|
| \`outbox(tx).log()\` call inside the transaction, mean (p50, p99) | ${insert.logCallMicros.mean.toFixed(0)} (${insert.logCallMicros.p50.toFixed(0)}, ${insert.logCallMicros.p99.toFixed(0)}) |
| order change alone (UPDATE, one transaction, commit with fsync included) | ${insert.plainTransactionMicros.toFixed(0)} |
| added by \`outbox(tx).log()\`, per event | ${insert.logMicrosPerEvent.toFixed(0)} |
| added by \`outbox(tx).logBulk()\` of 10, per event | ${insert.logBulkMicrosPerEvent.toFixed(0)} |

${n} transactions of each kind, in ${rounds} alternating rounds.

## Relay throughput beside POST /api/v1/audit/events

| path | events | s | events/s |
|---|---:|---:|---:|
${runs.map((r) => `| ${r.path} | ${r.events} | ${r.seconds.toFixed(2)} | ${Math.round(r.eventsPerSec).toLocaleString('en-US')} |`).join('\n')}

Relay ÷ POST with one request in flight (best of each): **${ratio.toFixed(2)}** (goal ≥ 0.8). The relay keeps
the outbox's order, so it sends one request at a time; the last row shows what POST does without that constraint.
`;
    const file = await writeReport('outbox', markdown, { machine: machine(), load, insert, runs, ratio });
    console.log(`report: ${file}`);
  } finally {
    await oms.end();
    await sql.unsafe(`drop database if exists ${omsName} with (force)`).catch(() => {});
    await env.cleanup();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
