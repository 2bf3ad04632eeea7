/**
 * What sealing personal data costs (docs/personal-data.md): the same REST
 * batches of order events from human actors — with an IP address, user agent,
 * device fingerprint and a client's name and e-mail in the context — written
 * by a tenant that does not declare personal data (schema version 2, the
 * baseline) and by one that does (version 3: every personal value sealed under
 * its subject's key), alternating rounds in one run against the real server;
 * then an object's history read through REST for both, an actor search by
 * the blind index beside a plain one, and equality searches on an IP address
 * and a declared context member by their value tokens beside plain ones,
 * with the plans of those searches. Beside the HTTP figures, which a shared
 * machine makes noisy, the write path's own CPU time is measured in this
 * process: the same parsed batches stamped and hashed (the baseline) and
 * stamped, sealed and hashed, alternating, reported in µs per event. And
 * because a loaded machine stretches wall time but not the work done, each
 * HTTP round also reads the CPU time the server (its main thread, and the
 * whole process) and PostgreSQL spent, per event stored (Linux /proc).
 *
 *   npm run bench:personal [-- --seconds 8] [--rounds 3]
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseBatch, type AuditEventInput, type AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import { stampEvents } from '@/supabase/functions/_shared/ingest.ts';
import { sealRows } from '@/server/services/personal/seal.ts';
import { createApiKey } from '@/server/services/api-keys.ts';
import { generateDemoEvents } from '@/server/services/demo-data.ts';
import { declarePersonalData } from '@/server/services/personal/settings.ts';
import { withBlindIndex } from '@/server/services/personal/search.ts';
import { inTenant, whereClause } from '@/server/services/query.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { machine, measure, percentile, startBenchEnv, writeReport, type Measurement } from './lib.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' }, rounds: { type: 'string', default: '3' } } });
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const BATCH = 500;
const CLIENTS = 4;

const traders = Array.from({ length: 50 }, (_, i) => `trader-${i}@broker.example`);
const pool: AuditEventRequest[] = generateDemoEvents(4000, Date.now() * 1000, 7).map(({ occurred_at: _o, ...e }, i) => ({
  ...e,
  actor_type: 'TRADER',
  actor_id: traders[i % traders.length]!,
  ip_address: `192.0.2.${i % 250}`,
  user_agent: 'TraderWorkstation/9.2 (Windows NT 10.0)',
  device_fingerprint: `fp-${i % 50}`,
  context: { ...(e.context ?? {}), client_name: `Client ${i % 300}`, email: `client${i % 300}@example.net` },
}));
const bodies = Array.from({ length: 40 }, (_, i) => JSON.stringify({ events: Array.from({ length: BATCH }, (_, j) => pool[(i * BATCH + j) % pool.length]) }));

/** CPU seconds (user + system) of /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat, with the children it waited for. */
function cpuSeconds(statPath: string): number {
  // Fields after the command's closing parenthesis: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
  const fields = readFileSync(statPath, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / 100;
}

/** PostgreSQL's CPU seconds: the postmaster, with the backends it reaped, and every backend alive. */
function postgresCpuSeconds(postmaster: number): number {
  let total = cpuSeconds(`/proc/${postmaster}/stat`);
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (Number(stat.split(') ')[1]!.split(' ')[1]) === postmaster) total += cpuSeconds(`/proc/${pid}/stat`);
    } catch {
      // gone meanwhile: its time is in the postmaster's children's
    }
  }
  return total;
}

interface CpuPerEvent {
  serverMainUs: number;
  serverUs: number;
  postgresUs: number;
}

async function main() {
  const env = await startBenchEnv();
  try {
    const { server, sql } = env;
    const tenant = async (name: string, seal: boolean) => {
      const t = await createTenant(sql, `${name}-${Date.now()}`);
      const key = await createApiKey(sql, { tenantId: t.id, scopes: ['events:write', 'events:read'], name: 'bench' });
      if (seal) await declarePersonalData(sql, t.id, 'operator:bench');
      return { id: t.id, key: key.key };
    };
    const plain = await tenant('plain', false);
    const sealed = await tenant('sealed', true);

    // The write path's CPU in this process: stamp + hash, against stamp + seal + hash, same batches.
    const inProcess = await tenant('in-process', true);
    const parsed: AuditEventInput[][] = bodies.slice(0, 8).map((b) => parseBatch(JSON.parse(b), BATCH));
    const observed = { ip: '203.0.113.7', userAgent: 'TraderWorkstation/9.2' };
    const writer = { kind: 'operator', name: 'bench' } as const;
    const cpu = async (seal: boolean, batches: number, valueTokens = true) => {
      let events = 0;
      const started = process.cpuUsage();
      for (let i = 0; i < batches; i++) {
        // As the write path does: a sealing tenant's rows are hashed once, by the sealer.
        const { rows } = stampEvents(inProcess.id, parsed[i % parsed.length]!, observed, writer, { hash: !seal });
        if (seal) await sealRows(sql, inProcess.id, rows, { valueTokens });
        events += rows.length;
      }
      const used = process.cpuUsage(started);
      return (used.user + used.system) / events;
    };
    await cpu(true, 8);
    await cpu(true, 8, false);
    await cpu(false, 8);
    const cpuRounds: { stamp: number; sealed: number; withoutTokens: number }[] = [];
    for (let r = 0; r < 5; r++) cpuRounds.push({ stamp: await cpu(false, 40), withoutTokens: await cpu(true, 40, false), sealed: await cpu(true, 40) });
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const stampUs = median(cpuRounds.map((r) => r.stamp));
    const sealedUs = median(cpuRounds.map((r) => r.sealed));
    const sealUs = median(cpuRounds.map((r) => r.sealed - r.stamp));
    const tokensUs = median(cpuRounds.map((r) => r.sealed - r.withoutTokens));
    console.log(`in process: stamp ${stampUs.toFixed(1)} µs/event, stamp + seal ${sealedUs.toFixed(1)} µs/event, sealing +${sealUs.toFixed(1)} µs/event, of which value tokens +${tokensUs.toFixed(1)} µs/event`);
    let k = 0;
    const rest = (t: { key: string }) => async () => {
      const res = await fetch(`${server.baseUrl}/api/v1/audit/events`, { method: 'POST', headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' }, body: bodies[k++ % bodies.length] });
      const body = (await res.json()) as { created_count: number };
      if (res.status !== 201) throw new Error(`REST ${res.status}: ${JSON.stringify(body)}`);
      return body.created_count;
    };
    await measure('warm-up', CLIENTS, BATCH, 3, rest(plain));
    await measure('warm-up', CLIENTS, BATCH, 3, rest(sealed));
    const serverPid = server.process.pid!;
    const postmaster = Number(readFileSync(path.join(env.pg.clusterDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const cpuNow = () => ({ main: cpuSeconds(`/proc/${serverPid}/task/${serverPid}/stat`), server: cpuSeconds(`/proc/${serverPid}/stat`), postgres: postgresCpuSeconds(postmaster) });
    const ingest: (Measurement & { cpu: CpuPerEvent })[] = [];
    const round = async (name: string, t: { key: string }) => {
      const before = cpuNow();
      const m = await measure(name, CLIENTS, BATCH, SECONDS, rest(t));
      const after = cpuNow();
      const us = (seconds: number) => (seconds * 1e6) / m.events;
      ingest.push({ ...m, cpu: { serverMainUs: us(after.main - before.main), serverUs: us(after.server - before.server), postgresUs: us(after.postgres - before.postgres) } });
    };
    for (let r = 0; r < ROUNDS; r++) {
      await round('REST batches, no personal data declared (v2)', plain);
      await round('REST batches, personal data sealed (v3)', sealed);
      console.log(ingest.slice(-2).map((m) => `${m.name}: ${Math.round(m.eventsPerSec)} events/s; CPU per event: server main thread ${m.cpu.serverMainUs.toFixed(1)} µs, server ${m.cpu.serverUs.toFixed(1)} µs, PostgreSQL ${m.cpu.postgresUs.toFixed(1)} µs`).join('\n'));
    }
    const rate = (name: string) => ingest.filter((m) => m.name === name).reduce((n, m) => n + m.events, 0) / ingest.filter((m) => m.name === name).reduce((n, m) => n + m.seconds, 0);
    const plainRate = rate(ingest[0]!.name);
    const sealedRate = rate(ingest[1]!.name);
    // CPU per event over all rounds of a path: each round's figure weighted by its events.
    const cpuOf = (name: string, pick: (c: CpuPerEvent) => number) => {
      const rounds = ingest.filter((m) => m.name === name);
      return rounds.reduce((n, m) => n + pick(m.cpu) * m.events, 0) / rounds.reduce((n, m) => n + m.events, 0);
    };
    const cpuRows = (
      [
        ['server main thread', (c: CpuPerEvent) => c.serverMainUs],
        ['server process (all threads)', (c: CpuPerEvent) => c.serverUs],
        ['PostgreSQL (all processes)', (c: CpuPerEvent) => c.postgresUs],
      ] as const
    ).map(([name, pick]) => ({ name, plainUs: cpuOf(ingest[0]!.name, pick), sealedUs: cpuOf(ingest[1]!.name, pick) }));

    // Reads on settled tables, as autovacuum leaves them some time after a load: without this, whichever reads
    // happened to overlap autovacuum's pass over the freshly written partitions ran several times slower.
    await sql`vacuum (analyze) public.audit_events, public.audit_ledger`;

    // Reads: an order's history (≈ up to 1000 events), and an actor search, 300 requests each.
    const objectIds = pool.slice(0, 300).map((e) => e.object_id);
    const reads = async (t: { key: string }, query: (i: number) => string, requests = 300) => {
      const times: number[] = [];
      for (let i = 0; i < requests; i++) {
        const started = performance.now();
        const res = await fetch(`${server.baseUrl}/api/v1/audit/events?${query(i)}`, { headers: { authorization: `Bearer ${t.key}` } });
        if (res.status !== 200) throw new Error(`GET ${res.status}`);
        await res.arrayBuffer();
        times.push(performance.now() - started);
      }
      times.sort((a, b) => a - b);
      return { p50: percentile(times, 50), p95: percentile(times, 95) };
    };
    const history = (i: number) => `object_type=ORDER&object_id=${encodeURIComponent(objectIds[i]!)}&limit=100`;
    const actor = (i: number) => `actor_id=${encodeURIComponent(traders[i % traders.length]!)}&limit=100`;
    // Equality on sealed values (value tokens): an IP address, and a declared context member.
    const ip = (i: number) => `ip_address=192.0.2.${i % 250}&limit=100`;
    const email = (i: number) => `context.email=${encodeURIComponent(`client${i % 300}@example.net`)}&limit=100`;
    await reads(plain, history);
    const readRows = [
      { name: 'object history, v2', ...(await reads(plain, history)) },
      { name: 'object history, sealed (opened for the reader)', ...(await reads(sealed, history)) },
      { name: 'actor search, v2 (plain index)', ...(await reads(plain, actor)) },
      { name: 'actor search, sealed (blind index, opened)', ...(await reads(sealed, actor)) },
      { name: 'IP address search, v2 (inet column, no index)', ...(await reads(plain, ip, 100)) },
      { name: 'IP address search, sealed (value tokens, opened)', ...(await reads(sealed, ip, 100)) },
      { name: 'declared member search (context.email=), v2 (containment)', ...(await reads(plain, email, 100)) },
      { name: 'declared member search (context.email=), sealed (value tokens, opened)', ...(await reads(sealed, email, 100)) },
    ];

    // The plans of the two sealed-value searches (as the read path compiles them), for both tenants.
    const plans: { name: string; plan: string }[] = [];
    for (const [label, filters] of [
      ['ip_address=192.0.2.7', { ip_address: '192.0.2.7' }],
      ['context.email=client7@example.net', { context: { email: 'client7@example.net' } }],
    ] as const) {
      for (const [tenantName, t] of [['v2', plain], ['sealed', sealed]] as const) {
        // As the read path runs it: the authenticated role with the tenant's claims (row-level security).
        const resolved = await withBlindIndex(sql, t.id, filters);
        const claims = { tenant_id: t.id, sub: 'bench', role: 'authenticated' as const };
        const rows = await inTenant(sql, claims, (tx) => tx`explain (analyze, costs off) select * from public.audit_events where ${whereClause(tx, t.id, resolved)} order by occurred_at desc, seq desc limit 101`);
        plans.push({ name: `${label}, ${tenantName}`, plan: rows.map((r) => r['QUERY PLAN'] as string).join('\n') });
      }
    }

    const md = [
      `# Personal data sealing — ${new Date().toISOString().slice(0, 10)}`,
      '',
      `Machine: ${machine()}. \`npm run bench:personal -- --seconds ${SECONDS} --rounds ${ROUNDS}\`: ${CLIENTS} clients, batches of ${BATCH} events from human actors with IP, user agent, device fingerprint and a client's name and e-mail; the same bodies for both tenants, rounds alternating.`,
      '',
      '| path | events/s (all rounds) |',
      '|---|---:|',
      `| no personal data declared (v2, baseline) | ${Math.round(plainRate).toLocaleString('en-US')} |`,
      `| personal data sealed (v3) | ${Math.round(sealedRate).toLocaleString('en-US')} |`,
      `| cost of sealing | ${((1 - sealedRate / plainRate) * 100).toFixed(1)}% |`,
      `| wall time added per event (1/sealed − 1/plain) | ${((1 / sealedRate - 1 / plainRate) * 1e6).toFixed(1)} µs |`,
      '',
      'CPU time per event stored in the same rounds (Linux /proc; a loaded machine stretches wall time, not this):',
      '',
      '| CPU per event | plain (v2) µs | sealed (v3) µs | sealing adds | as a rate cost (1 − plain/sealed) |',
      '|---|---:|---:|---:|---:|',
      ...cpuRows.map((r) => `| ${r.name} | ${r.plainUs.toFixed(1)} | ${r.sealedUs.toFixed(1)} | +${(r.sealedUs - r.plainUs).toFixed(1)} µs | ${((1 - r.plainUs / r.sealedUs) * 100).toFixed(1)}% |`),
      '',
      `Write path CPU time in one process (same ${BATCH}-event batches, 5 alternating rounds of 40 batches, medians; human actors with IP, user agent, device fingerprint, observed IP and user agent, two declared context members):`,
      '',
      '| step | µs per event |',
      '|---|---:|',
      `| stamp + hash (baseline) | ${stampUs.toFixed(1)} |`,
      `| stamp + seal + hash | ${sealedUs.toFixed(1)} |`,
      `| sealing's cost | +${sealUs.toFixed(1)} |`,
      `| of which value tokens (sealing with them against sealing without, same run) | +${tokensUs.toFixed(1)} |`,
      '',
      '| read (REST, limit 100; 300 requests each, 100 for the IP address and member searches) | p50 ms | p95 ms |',
      '|---|---:|---:|',
      ...readRows.map((r) => `| ${r.name} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} |`),
      '',
      'Plans of the sealed-value searches (the page query, limit 101, as the read path runs it, `EXPLAIN (ANALYZE, COSTS OFF)` after the reads):',
      '',
      ...plans.flatMap((p) => [`${p.name}:`, '', '```', p.plan, '```', '']),
    ].join('\n');
    const file = await writeReport('personal-data', md, { ingest, plainRate, sealedRate, cpuPerEvent: cpuRows, reads: readRows, plans, cpu: { rounds: cpuRounds, stampUs, sealedUs, sealUs, tokensUs } });
    console.log(md);
    console.log(`wrote ${file}`);
  } finally {
    await env.cleanup();
  }
}

await main();
