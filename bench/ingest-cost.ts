/**
 * What each part of the stored shape costs at ingest: the same batches COPYed
 * (events and ledger in one transaction, as the write path commits them) into
 * the full schema, into the schema without one secondary index, without the
 * ledger row or one of its indexes or its sequence trigger, without the
 * month-map trigger, with the month maps written per event (a closed month),
 * through the write path's own statement (with and without probing every id),
 * and into a naive table (primary key and three secondary indexes), in turns
 * within each round so that every variant sees the same machine load. Each
 * variant is timed twice: wall time, and the PostgreSQL backend's CPU time. Each COPY runs in a transaction that
 * drops the part first and is then rolled back, so every variant writes the
 * same rows into the same table sizes; the commit's flush is the same for all
 * and left out. Cost per event of a part = time per event of the full schema
 * minus time per event without it.
 *
 *   npm run bench:ingest-cost [-- --batch 1000 --rounds 12 --preload 200000]
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { connect, type TxSql } from '@/supabase/functions/_shared/db.ts';
import { APPEND_EVENTS_SQL, appendEventsParams, ensureMonthPartitions, stampEvents } from '@/supabase/functions/_shared/ingest.ts';
import { monthOf } from '@/supabase/functions/_shared/timestamps.ts';
import { startEmbeddedPostgres } from '@/server/db/embedded.ts';
import { migrate } from '@/server/db/migrate.ts';
import { generateDemoEvents } from '@/server/services/demo-data.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { freePort } from '@/test/ports.ts';
import { machine, writeReport } from './lib.ts';
import { copyPayload, createNaiveTable, loadTenantEvents, NAIVE_COLUMNS, naiveText } from './load.ts';

const { values } = parseArgs({ options: { batch: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '12' }, preload: { type: 'string', default: '200000' } } });
const BATCH = Number(values.batch);
const ROUNDS = Number(values.rounds);
const PRELOAD = Number(values.preload);

const EVENT_COLUMNS =
  'id, tenant_id, seq, occurred_at, received_at, schema_version, actor_type, actor_id, object_type, object_id, event_type, outcome, source, request_id, ip_address, user_agent, device_fingerprint, observed_ip, observed_user_agent, context, written_by';

async function copyIn(tx: TxSql, statement: string, data: string): Promise<void> {
  const stream = await tx.unsafe(statement).writable();
  await new Promise<void>((resolve, reject) => stream.end(data, (err?: Error | null) => (err ? reject(err) : resolve())));
}

interface Variant {
  name: string;
  /** DDL run inside the timed transaction before the COPY (not timed). */
  prepare: string[];
  ledger: boolean;
  naive?: boolean;
  /** The write path's own statement (INSERT … SELECT FROM unnest, as the tenant) instead of COPY. */
  writePath?: boolean;
  /** The write path with every id probed against the ledger first. */
  probe?: boolean;
}

/** CPU time (ns) a process has spent so far, from the scheduler's own accounting: unaffected by waiting for a core. */
async function cpuNanos(pid: number): Promise<number> {
  return Number((await readFile(`/proc/${pid}/schedstat`, 'utf8')).split(' ')[0]);
}

async function main() {
  await mkdir('bench/.work', { recursive: true });
  const dataDir = await mkdtemp(path.resolve('bench/.work/cost-'));
  const pg = await startEmbeddedPostgres({ dataDir, port: await freePort() });
  const sql = connect(pg.superuserUrl, { max: 2, applicationName: 'oms-audit-bench-cost' });
  try {
    const owner = connect(pg.ownerUrl, { max: 1 });
    await migrate(owner);
    await owner.end();
    const tenant = await createTenant(sql, `cost-${Date.now()}`);
    // Tables that already hold events (a fresh btree is cheaper to insert into than a grown one).
    const lastSeq = PRELOAD ? await loadTenantEvents(sql, { tenantId: tenant.id, events: PRELOAD, months: 2, chunk: 10_000 }) : 0;
    await createNaiveTable(sql);
    await sql.unsafe(`insert into public.naive_events select ${NAIVE_COLUMNS} from public.audit_events`);
    await sql`vacuum (analyze) public.audit_events, public.audit_ledger, public.naive_events`;

    // The same recent events for every variant and round (each round is rolled back).
    const pool = generateDemoEvents(BATCH, Date.now() * 1000, 5).slice(0, BATCH).map(({ occurred_at: _o, ...e }) => e);
    const { rows } = stampEvents(tenant.id, parseBatch({ events: pool }, BATCH), { ip: '10.0.0.9', userAgent: 'bench' }, { kind: 'operator', name: 'bench' });
    await ensureMonthPartitions(sql, new Set(rows.map((r) => monthOf(r.occurred_at))));
    const payload = copyPayload(tenant.id, rows, lastSeq + 1);
    const naive = naiveText(payload);

    const indexes = (await sql`
      select indexname from pg_indexes where schemaname = 'public' and tablename = 'audit_events' and indexname not like '%pkey' order by indexname`).map((r) => r.indexname as string);
    const ledgerIndexes = (await sql`
      select conname from pg_constraint where conrelid = 'public.audit_ledger'::regclass and contype in ('p', 'u') order by conname`).map((r) => r.conname as string);
    // Moves the open window far back, so that the batch's month is mapped event by event.
    const mapEveryMonth = "update oms_audit.month_maps set open_from = '2000-01-01'";
    const noTriggers = ['alter table public.audit_events disable trigger audit_events_months'];
    const variants: Variant[] = [
      { name: 'full schema (as stored)', prepare: [], ledger: true },
      ...indexes.map((i) => ({ name: `without index ${i}`, prepare: [`drop index public.${i}`], ledger: true })),
      { name: 'without the ledger row', prepare: [], ledger: false },
      ...ledgerIndexes.map((c) => ({ name: `without ledger index ${c}`, prepare: [`alter table public.audit_ledger drop constraint ${c}`], ledger: true })),
      { name: 'without the ledger sequence trigger', prepare: ['alter table public.audit_ledger disable trigger audit_ledger_sequence'], ledger: true },
      { name: 'without the month-map trigger', prepare: noTriggers, ledger: true },
      { name: 'without any secondary index, ledger or trigger', prepare: [...indexes.map((i) => `drop index public.${i}`), ...noTriggers], ledger: false },
      // The same rows in a month outside the open window: the maps take a row per new object and actor month, as every month did before.
      { name: 'full schema, month maps written per event (a closed month; every month before)', prepare: [mapEveryMonth], ledger: true },
      { name: 'the write path (INSERT … SELECT FROM unnest, as the tenant)', prepare: [], ledger: true, writePath: true },
      { name: 'the write path probing every id (its retry; every attempt before)', prepare: [], ledger: true, writePath: true, probe: true },
      { name: 'the write path as before (every id probed, month maps per event)', prepare: [mapEveryMonth], ledger: true, writePath: true, probe: true },
      { name: 'naive table (primary key + 3 indexes)', prepare: [], ledger: false, naive: true },
    ];
    const spent = new Map<string, number[]>(variants.map((v) => [v.name, []]));
    const cpu = new Map<string, number[]>(variants.map((v) => [v.name, []]));
    const params = appendEventsParams(tenant.id, rows, false);
    const probedParams = appendEventsParams(tenant.id, rows, true);
    const claims = JSON.stringify({ tenant_id: tenant.id, sub: 'oms-audit-bench', role: 'authenticated' });
    const rollback = new Error('rollback');
    for (let round = 0; round < ROUNDS; round++) {
      // A different order each round: no variant always follows the same one.
      const order = variants.map((v, i) => ({ v, k: (i * 7 + round * 3) % variants.length })).sort((a, b) => a.k - b.k);
      for (const { v } of order) {
        let ms = 0;
        let ns = 0;
        await sql
          .begin(async (tx) => {
            for (const statement of v.prepare) await tx.unsafe(statement);
            const [{ pid }] = (await tx`select pg_backend_pid() as pid`) as unknown as [{ pid: number }];
            if (v.writePath) await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${claims}, true)`;
            const cpuBefore = await cpuNanos(pid);
            const started = performance.now();
            if (v.naive) await copyIn(tx, `copy public.naive_events (${NAIVE_COLUMNS}) from stdin`, naive);
            else if (v.writePath) {
              const inserted = await tx.unsafe(APPEND_EVENTS_SQL, (v.probe ? probedParams : params) as never[]);
              if (inserted.length !== BATCH) throw new Error(`the write path stored ${inserted.length} of ${BATCH} events`);
            } else {
              await copyIn(tx, `copy public.audit_events (${EVENT_COLUMNS}) from stdin`, payload.events);
              if (v.ledger) await copyIn(tx, 'copy public.audit_ledger (tenant_id, seq, id, occurred_at, event_hash) from stdin', payload.ledger);
            }
            ms = performance.now() - started;
            ns = (await cpuNanos(pid)) - cpuBefore;
            throw rollback;
          })
          .catch((err: unknown) => {
            if (err !== rollback) throw err;
          });
        spent.get(v.name)!.push(ms);
        cpu.get(v.name)!.push(ns);
      }
      if (round % 4 === 3) await sql`vacuum public.audit_events, public.audit_ledger, public.naive_events`;
    }
    // Median time per round: robust against a round that met a burst of load.
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const microsPerEvent = new Map(variants.map((v) => [v.name, (median(spent.get(v.name)!) * 1000) / BATCH]));
    const cpuMicrosPerEvent = new Map(variants.map((v) => [v.name, median(cpu.get(v.name)!) / 1000 / BATCH]));
    const fullName = variants[0]!.name;
    const naiveName = variants.at(-1)!.name;
    const results = variants.map((v) => {
      const micros = microsPerEvent.get(v.name)!;
      const cpuMicros = cpuMicrosPerEvent.get(v.name)!;
      const part = !v.naive && !v.writePath;
      return {
        name: v.name,
        microsPerEvent: micros,
        cpuMicrosPerEvent: cpuMicros,
        rowsPerSec: 1e6 / micros,
        costMicros: part ? microsPerEvent.get(fullName)! - micros : null,
        costCpuMicros: part ? cpuMicrosPerEvent.get(fullName)! - cpuMicros : null,
        vsNaive: microsPerEvent.get(naiveName)! / micros,
        vsNaiveCpu: cpuMicrosPerEvent.get(naiveName)! / cpuMicros,
      };
    });
    const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
    const cost = (n: number | null) => (n === null ? '—' : n.toFixed(1));
    const full = results[0]!;
    const byName = (prefix: string) => results.find((r) => r.name.startsWith(prefix))!;
    const mapsBefore = byName('full schema, month maps written per event');
    const writeBefore = byName('the write path as before');
    const writeNow = byName('the write path (INSERT');
    const ratio = (r: (typeof results)[number]) => `${r.vsNaive.toFixed(2)} / ${r.vsNaiveCpu.toFixed(2)}`;
    const md = `# Ingest cost per part of the stored shape (${new Date().toISOString().slice(0, 10)})

Machine: ${machine()}. Command: \`npm run bench:ingest-cost -- --batch ${BATCH} --rounds ${ROUNDS} --preload ${PRELOAD}\`.
COPY of the same ${BATCH} events (events + ledger in one transaction, as the write path commits them) into the full schema and into the
schema without one part, ${ROUNDS} rounds, variants in turns within each round, median per variant; tables preloaded with ${fmt(PRELOAD)} events.
Each COPY is rolled back (the commit's flush, equal for all, is not in the figures). Two clocks: the wall time of the COPY, and the
CPU time the PostgreSQL backend spent on it (its scheduler accounting, \`/proc/<pid>/schedstat\`), which waiting for a core on a shared
machine does not inflate. "Cost" = µs/event of the full schema − µs/event without the part. The write path's own statement
(\`INSERT … SELECT FROM unnest\` as the tenant, with its idempotency probe and clock evidence) is timed on the same rows.

| variant | wall µs/event | CPU µs/event | cost of the part, wall µs | cost of the part, CPU µs | × naive COPY rate (wall) | × naive (CPU) |
|---|---:|---:|---:|---:|---:|---:|
${results.map((r) => `| ${r.name} | ${r.microsPerEvent.toFixed(1)} | ${r.cpuMicrosPerEvent.toFixed(1)} | ${cost(r.costMicros)} | ${cost(r.costCpuMicros)} | ${r.vsNaive.toFixed(2)} | ${r.vsNaiveCpu.toFixed(2)} |`).join('\n')}

Full schema: ${full.vsNaive.toFixed(2)} × the naive table's COPY rate by wall time, ${full.vsNaiveCpu.toFixed(2)} × by the backend's CPU time (the ceiling for any path that writes the full shape).
Before and after in this run (× naive COPY, wall / CPU): COPY into the full schema with the month maps written per event
${ratio(mapsBefore)} → as stored now ${ratio(full)}; the write path's statement as before (every id probed, maps per event)
${ratio(writeBefore)} → now ${ratio(writeNow)}.
`;
    const file = await writeReport('ingest-cost', md, { machine: machine(), batch: BATCH, rounds: ROUNDS, preload: PRELOAD, results });
    console.log(`${md}\nreport: ${file}`);
  } finally {
    await sql.end();
    await pg.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
