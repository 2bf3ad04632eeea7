/**
 * Ingest benchmark: batches through the HTTP APIs (REST and tRPC) against the
 * real server, beside raw COPY of the same rows into the same tables in the
 * same run, so every figure is also a ratio to what PostgreSQL itself does here.
 *
 *   npm run bench:ingest [-- --seconds 12]
 */
import { parseArgs } from 'node:util';
import { parseBatch, type AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import type { TxSql } from '@/supabase/functions/_shared/db.ts';
import { stampEvents } from '@/supabase/functions/_shared/ingest.ts';
import { createApiKey } from '@/server/services/api-keys.ts';
import { generateDemoEvents } from '@/server/services/demo-data.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { machine, measure, startBenchEnv, table, writeReport, type Measurement } from './lib.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '12' } } });
const SECONDS = Number(values.seconds);
const BATCH = 500;

// Realistic order-lifecycle events (about 600 bytes each as JSON), without ids: every request stores new events.
const pool: AuditEventRequest[] = generateDemoEvents(4000, Date.now() * 1000, 7).map(({ occurred_at: _o, ...e }) => e);
const bodies = Array.from({ length: 40 }, (_, i) => JSON.stringify({ events: Array.from({ length: BATCH }, (_, j) => pool[(i * BATCH + j) % pool.length]) }));

function escapeCopy(v: string | null): string {
  if (v === null) return '\\N';
  return v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

/** COPY text for `n` events of `tenantId` starting after `lastSeq`: rows for audit_events and audit_ledger. */
function copyPayload(tenantId: string, lastSeq: number, n: number): { events: string; ledger: string } {
  const parsed = parseBatch({ events: Array.from({ length: n }, (_, j) => pool[j % pool.length]) }, n);
  const { rows } = stampEvents(tenantId, parsed, { ip: '127.0.0.1', userAgent: 'bench-copy' });
  let events = '';
  let ledger = '';
  rows.forEach((r, i) => {
    const seq = lastSeq + i + 1;
    events += [r.id, tenantId, seq, r.occurred_at, r.received_at, 1, r.actor_type, r.actor_id, r.object_type, r.object_id, r.event_type, r.outcome, r.source, r.request_id, r.ip_address, r.user_agent, r.device_fingerprint, r.observed_ip, r.observed_user_agent, JSON.stringify(r.context)]
      .map((v) => escapeCopy(v === null ? null : String(v)))
      .join('\t') + '\n';
    ledger += `${tenantId}\t${seq}\t${r.id}\t${r.occurred_at}\t\\\\x${r.hash}\n`;
  });
  return { events, ledger };
}

const EVENT_COLUMNS = 'id, tenant_id, seq, occurred_at, received_at, schema_version, actor_type, actor_id, object_type, object_id, event_type, outcome, source, request_id, ip_address, user_agent, device_fingerprint, observed_ip, observed_user_agent, context';

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

  /** Writes `data` to a COPY … FROM STDIN stream; fails instead of hanging if PostgreSQL refuses the data. */
  async function copyIn(tx: TxSql, statement: string, data: string): Promise<void> {
    const stream = await tx.unsafe(statement).writable();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`COPY did not complete: ${statement}`)), 60_000);
      stream.end(data, (err?: Error | null) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      });
    });
  }

  async function copyBaseline(concurrency: number): Promise<Measurement> {
    // One tenant per COPY client; payloads are built ahead of the timed COPY, in seq order.
    const copyTenants = await Promise.all(Array.from({ length: concurrency }, (_, i) => createTenant(sql, `copy-${concurrency}-${i}-${Date.now()}`)));
    const nextSeq = copyTenants.map(() => 0);
    const prepared = copyTenants.map(() => [] as { events: string; ledger: string }[]);
    const prepare = (loop: number) => {
      prepared[loop]!.push(copyPayload(copyTenants[loop]!.id, nextSeq[loop]!, 1000));
      nextSeq[loop]! += 1000;
    };
    copyTenants.forEach((_, loop) => prepare(loop));
    let timed = 0;
    const m = await measure('raw COPY (same rows, same tables)', concurrency, 1000, SECONDS, async (loop) => {
      const payload = prepared[loop]!.shift()!;
      const t = performance.now();
      await sql.begin(async (tx) => {
        await copyIn(tx, `copy public.audit_events (${EVENT_COLUMNS}) from stdin`, payload.events);
        await copyIn(tx, 'copy public.audit_ledger (tenant_id, seq, id, occurred_at, event_hash) from stdin', payload.ledger);
      });
      timed += performance.now() - t;
      prepare(loop);
      return 1000;
    });
    // Throughput over the time spent in COPY only (building the payloads is not PostgreSQL's work).
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

  console.log(`oms-audit ingest benchmark — ${machine()}\n`);
  // Warm up the server (JIT, prepared statements) before measuring.
  await measure('warm-up', 4, BATCH, 3, rest((l) => l));

  const copyBefore = [await copyBaseline(1), await copyBaseline(2)];
  copyBefore.forEach(log);
  for (const c of [1, 2, 4, 8]) log(await measure('REST POST /api/v1/audit/events', c, BATCH, SECONDS, rest((l) => l % 8)));
  log(await measure('REST, all clients one tenant', 4, BATCH, SECONDS, rest(() => 0)));
  for (const c of [2, 4]) log(await measure('tRPC events.logBulk', c, BATCH, SECONDS, trpc((l) => l % 8)));
  const copyAfter = await copyBaseline(2);
  log(copyAfter);

  const copyBest = Math.max(...[...copyBefore, copyAfter].map((m) => m.eventsPerSec));
  const [size] = await sql`
    select pg_total_relation_size('public.audit_ledger') + coalesce(sum(pg_total_relation_size(c.oid)), 0) as bytes,
           (select count(*) from public.audit_ledger) as events
    from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'public.audit_events'::regclass`;
  const bytesPerEvent = Number(size!.bytes) / Number(size!.events);
  const apiBest = Math.max(...results.filter((r) => !r.name.startsWith('raw')).map((r) => r.eventsPerSec));

  const md = `# Ingest benchmark (${new Date().toISOString().slice(0, 10)})

Machine: ${machine()}. PostgreSQL: embedded ${((await sql`select version()`)[0]!.version as string).split(' ').slice(0, 2).join(' ')}, durable settings (fsync on, synchronous_commit on).
Command: \`npm run bench:ingest -- --seconds ${SECONDS}\`. Events: realistic order-lifecycle events (~600 bytes of JSON each), ${BATCH} per request, sent pre-serialized over HTTP from the same machine.
Baseline: raw \`COPY … FROM STDIN\` (text) of the same rows into the same tables (audit_events partitions and audit_ledger), ${(copyBest).toFixed(0)} events/s at best in this run.

${table(results, copyBest)}

Best HTTP path: **${Math.round(apiBest).toLocaleString('en-US')} events/s = ${(apiBest / copyBest).toFixed(2)} × raw COPY**.
Storage after the run: ${Math.round(bytesPerEvent)} bytes per event (tables + indexes, ${Number(size!.events).toLocaleString('en-US')} events).
`;
  const file = await writeReport('ingest', md, { machine: machine(), seconds: SECONDS, results, copyBest, apiBest, bytesPerEvent });
  console.log(`\n${md}\nreport: ${file}`);
  await env.cleanup();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
