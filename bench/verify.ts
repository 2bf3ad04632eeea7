/**
 * Integrity benchmark: sealing and verification speed over a tenant with many
 * events, full verification beside PostgreSQL's own COPY … TO STDOUT of the
 * same rows (alternating, same run), incremental verification after 1% more
 * events, and the ingest-time cost of hashing.
 *
 *   npm run bench:verify [-- --events 1000000]
 */
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { connect } from '@/supabase/functions/_shared/db.ts';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { stampEvents } from '@/supabase/functions/_shared/ingest.ts';
import { eventHash } from '@/supabase/functions/_shared/event-hash.ts';
import { startEmbeddedPostgres } from '@/server/db/embedded.ts';
import { migrate } from '@/server/db/migrate.ts';
import { generateDemoEvents } from '@/server/services/demo-data.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { sealTenant } from '@/server/services/integrity/checkpoints.ts';
import { signer, trustedKeys } from '@/server/services/integrity/signing-key.ts';
import { newEventsWhere, verifyTenant } from '@/server/services/integrity/verify.ts';
import { defaultHashThreads } from '@/server/services/integrity/hash-pool.ts';
import { copyOut } from '@/server/db/copy-out.ts';
import { connectionUrl } from '@/supabase/functions/_shared/db.ts';
import { EVENT_FIELDS } from '@/supabase/functions/_shared/contract.ts';
import { freePort } from '@/test/ports.ts';
import { startTsa } from '@/test/tsa.ts';
import { parseEnv } from '@/server/env.ts';
import { anchorEverything } from '@/server/services/anchors/sources.ts';
import { machine, writeReport } from './lib.ts';
import { loadTenantEvents } from './load.ts';

/**
 * CPU µs used so far by the cluster's processes (Linux /proc): the postmaster's own and its finished
 * children's (which the kernel adds to it), plus its running children's; null where /proc is not there.
 */
function postgresCpuMicros(clusterDir: string): number | null {
  try {
    const postmaster = Number(readFileSync(path.join(clusterDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const tick = 10_000; // USER_HZ 100
    let total = 0;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        continue; // gone meanwhile
      }
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pid) === postmaster) total += (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * tick;
      else if (Number(f[1]) === postmaster) total += (Number(f[11]) + Number(f[12])) * tick;
    }
    return total;
  } catch {
    return null;
  }
}

const { values } = parseArgs({ options: { events: { type: 'string', default: '1000000' } } });
const EVENTS = Number(values.events);
/** Alternating rounds of COPY and full verification; the median ratio is reported. */
const READ_ROUNDS = 5;

async function main() {
  await mkdir('bench/.work', { recursive: true });
  const dataDir = await mkdtemp(path.resolve('bench/.work/verify-'));
  process.env.OMS_AUDIT_DATA_DIR = dataDir;
  const pg = await startEmbeddedPostgres({ dataDir, port: await freePort() });
  const owner = connect(pg.ownerUrl, { max: 1 });
  await migrate(owner);
  await owner.end();
  // Sealing and verification run as the runtime role, as in the product; the superuser loads the events with COPY.
  const sql = connect(pg.runtimeUrl, { max: 4 });
  const admin = connect(pg.superuserUrl, { max: 2 });
  try {
    const tenant = await createTenant(sql, 'verify-bench');
    console.log(`oms-audit integrity benchmark — ${machine()}\nloading ${EVENTS.toLocaleString('en-US')} events…`);
    let t = performance.now();
    await loadTenantEvents(admin, { tenantId: tenant.id, events: EVENTS, months: 12 });
    const loadSeconds = (performance.now() - t) / 1000;
    await admin`vacuum analyze public.audit_ledger`;

    t = performance.now();
    const checkpoints = await sealTenant(sql, tenant.id, signer());
    const sealSeconds = (performance.now() - t) / 1000;

    // Anchoring, per checkpoint: a write-once file and an RFC 3161 token from a local openssl TSA.
    const tsa = await startTsa({ key: 'ec' });
    const env = parseEnv({ DATABASE_URL: pg.runtimeUrl, OMS_AUDIT_DATA_DIR: dataDir, ANCHOR_URL: `file://${dataDir}/anchors`, ANCHOR_TSA_URL: tsa.url, ANCHOR_TSA_CA_FILE: tsa.caFile });
    const fileOnly = parseEnv({ DATABASE_URL: pg.runtimeUrl, OMS_AUDIT_DATA_DIR: dataDir, ANCHOR_URL: `file://${dataDir}/anchors-files` });
    t = performance.now();
    const anchored = await anchorEverything(sql, env, [tenant.id]);
    const anchorSeconds = (performance.now() - t) / 1000;
    if (anchored.failures.length || anchored.anchored !== checkpoints.length) throw new Error(`anchoring failed: ${JSON.stringify(anchored.failures)}`);
    // Small checkpoints (as the sealer makes them every 20 s): sealing alone, then anchoring them, on a tenant of its own.
    const small = await createTenant(sql, 'verify-bench-small');
    await loadTenantEvents(admin, { tenantId: small.id, events: 20_000, months: 1 });
    t = performance.now();
    const smallCheckpoints = await sealTenant(sql, small.id, signer(), { maxEvents: 1000 });
    const smallSealSeconds = (performance.now() - t) / 1000;
    t = performance.now();
    await anchorEverything(sql, fileOnly, [small.id]);
    const smallFileSeconds = (performance.now() - t) / 1000;
    t = performance.now();
    await anchorEverything(sql, env, [small.id]);
    const smallTsaSeconds = (performance.now() - t) / 1000;
    await tsa.stop();

    t = performance.now();
    const report = await verifyTenant(sql, tenant.id, { keys: trustedKeys(), record: false });
    const verifySeconds = (performance.now() - t) / 1000;
    if (!report.ok) throw new Error(`verification found problems: ${JSON.stringify(report.problems.slice(0, 3))}`);
    t = performance.now();
    const anchoredReport = await verifyTenant(sql, tenant.id, { keys: trustedKeys(), record: false, env: { ...env, ANCHOR_TSA_URL: undefined } });
    const verifyAnchoredSeconds = (performance.now() - t) / 1000;
    if (!anchoredReport.ok) throw new Error(`verification with anchors found problems: ${JSON.stringify(anchoredReport.problems.slice(0, 3))}`);

    // Verification at the speed of reading: PostgreSQL's COPY … TO STDOUT of the same rows (the columns
    // verification hashes, read and discarded by Node), then a full verification, alternating, three rounds.
    const url = connectionUrl(sql);
    // Node's CPU per row (all its threads) beside each rate: what the two cores share with PostgreSQL.
    const cpuMicros = (from: NodeJS.CpuUsage) => {
      const used = process.cpuUsage(from);
      return (used.user + used.system) / EVENTS;
    };
    const pgMicros = (from: number | null) => {
      const now = postgresCpuMicros(pg.clusterDir);
      return now === null || from === null ? NaN : (now - from) / EVENTS;
    };
    const drain = async (format: 'text' | 'binary') => {
      const t0 = performance.now();
      const cpu = process.cpuUsage();
      const pgCpu = postgresCpuMicros(pg.clusterDir);
      const stream = await copyOut(url, `copy (select ${EVENT_FIELDS.join(', ')} from public.audit_events where tenant_id = '${tenant.id}') to stdout${format === 'binary' ? ' (format binary)' : ''}`);
      for await (const _chunk of stream) void _chunk;
      return { rate: EVENTS / ((performance.now() - t0) / 1000), cpu: cpuMicros(cpu), pgCpu: pgMicros(pgCpu) };
    };
    const readRounds: { copyText: number; copyBinary: number; verify: number; copyTextCpu: number; verifyCpu: number; copyTextPgCpu: number; verifyPgCpu: number; load: number }[] = [];
    for (let r = 0; r < READ_ROUNDS; r++) {
      const load = loadavg()[0]!;
      const text = await drain('text');
      const binary = await drain('binary');
      const t0 = performance.now();
      const cpu = process.cpuUsage();
      const pgCpu = postgresCpuMicros(pg.clusterDir);
      const full = await verifyTenant(sql, tenant.id, { keys: trustedKeys(), record: false });
      const verify = EVENTS / ((performance.now() - t0) / 1000);
      const verifyCpu = cpuMicros(cpu);
      const verifyPgCpu = pgMicros(pgCpu);
      if (!full.ok || full.events_checked !== EVENTS) throw new Error('full verification did not check every event intact');
      readRounds.push({ copyText: text.rate, copyBinary: binary.rate, verify, copyTextCpu: text.cpu, verifyCpu, copyTextPgCpu: text.pgCpu, verifyPgCpu, load });
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const ratioText = median(readRounds.map((r) => r.verify / r.copyText));
    const ratioBinary = median(readRounds.map((r) => r.verify / r.copyBinary));

    // Incremental: a full verification recorded, 1% more events sealed, then only those verified.
    await verifyTenant(sql, tenant.id, { keys: trustedKeys(), mode: 'full', verifiedBy: 'bench' });
    const NEW = Math.max(1, Math.round(EVENTS / 100));
    await loadTenantEvents(admin, { tenantId: tenant.id, events: NEW, months: 0.01, lastSeq: EVENTS, seed: 5 });
    await sealTenant(sql, tenant.id, signer());
    const explainWhere = await newEventsWhere(sql, tenant.id, EVENTS + 1);
    const plan = (await sql.unsafe(`explain (costs off) select * from public.audit_events where tenant_id = '${tenant.id}' and seq >= ${EVENTS + 1}${explainWhere}`)).map((r) => r['QUERY PLAN'] as string);
    t = performance.now();
    const incremental = await verifyTenant(sql, tenant.id, { keys: trustedKeys(), mode: 'incremental', verifiedBy: 'bench' });
    const incrementalSeconds = (performance.now() - t) / 1000;
    if (!incremental.ok || incremental.kind !== 'incremental' || incremental.events_checked !== NEW) throw new Error(`incremental verification: ${JSON.stringify({ ...incremental, problems: incremental.problems.slice(0, 3) })}`);
    t = performance.now();
    const fullAfter = await verifyTenant(sql, tenant.id, { keys: trustedKeys(), record: false });
    const fullAfterSeconds = (performance.now() - t) / 1000;
    if (!fullAfter.ok) throw new Error('full verification after the incremental one found problems');

    // Chain and Merkle pass alone: the ledger against the signed roots (what proves nothing was removed or reordered).
    t = performance.now();
    const chainOnly = await verifyTenant(sql, tenant.id, { keys: trustedKeys(), record: false, to: '2999-01-01', from: '1999-01-01' });
    void chainOnly;
    const bothSeconds = (performance.now() - t) / 1000;

    // The ingest path's cost of hashing: stamp a realistic batch with and without the hash.
    const batch = parseBatch({ events: generateDemoEvents(200, Date.now() * 1000, 3).slice(0, 500).map(({ occurred_at: _o, ...e }) => e) }, 500);
    const rounds = 200;
    const stampOnce = () => stampEvents(tenant.id, batch, { ip: '10.0.0.1', userAgent: 'bench' }, { kind: 'operator', name: 'bench' });
    for (let i = 0; i < 20; i++) stampOnce();
    t = performance.now();
    for (let i = 0; i < rounds; i++) stampOnce();
    const stampMicros = ((performance.now() - t) * 1000) / (rounds * batch.length);
    const stamped = stampOnce().rows;
    t = performance.now();
    for (let i = 0; i < rounds; i++) for (const r of stamped) eventHash(r, r.contextJson);
    const hashMicros = ((performance.now() - t) * 1000) / (rounds * stamped.length);

    const rate = (n: number, s: number) => Math.round(n / s).toLocaleString('en-US');
    const md = `# Integrity benchmark (${new Date().toISOString().slice(0, 10)})

Machine: ${machine()}. Command: \`npm run bench:verify -- --events ${EVENTS}\`.
One tenant, ${EVENTS.toLocaleString('en-US')} realistic events over 12 months (loaded with COPY in ${loadSeconds.toFixed(0)} s).

| step | time | events/s |
|---|---:|---:|
| seal (${checkpoints.length} checkpoints of ≤ 65,536 events, Ed25519) | ${sealSeconds.toFixed(1)} s | ${rate(EVENTS, sealSeconds)} |
| seal, then anchor each checkpoint (write-once file + RFC 3161 token from a local openssl TSA) | ${(sealSeconds + anchorSeconds).toFixed(1)} s | ${rate(EVENTS, sealSeconds + anchorSeconds)} |
| verify: chain + ledger Merkle roots + every event re-hashed against the ledger | ${verifySeconds.toFixed(1)} s | ${rate(EVENTS, verifySeconds)} |
| verify again (warm cache) | ${bothSeconds.toFixed(1)} s | ${rate(EVENTS, bothSeconds)} |
| verify with the anchors (read back, compared, tokens checked) | ${verifyAnchoredSeconds.toFixed(1)} s | ${rate(EVENTS, verifyAnchoredSeconds)} |

Anchoring is per checkpoint, never per event. With small checkpoints (20,000 events in ${smallCheckpoints.length} checkpoints of 1,000,
as the sealer makes them every few seconds): sealing ${(smallSealSeconds * 1000 / smallCheckpoints.length).toFixed(1)} ms per checkpoint; anchoring
${(smallFileSeconds * 1000 / smallCheckpoints.length).toFixed(1)} ms per checkpoint to a file, ${(smallTsaSeconds * 1000 / smallCheckpoints.length).toFixed(1)} ms per checkpoint with the TSA's token.

Hashing at ingest: ${hashMicros.toFixed(1)} µs per event (canonical JSON + SHA-256) of ${stampMicros.toFixed(1)} µs to stamp it.

## Verification at the speed of reading

Full verification (${defaultHashThreads()} hashing threads) beside PostgreSQL's \`COPY (SELECT <event columns> FROM audit_events WHERE tenant_id = …) TO STDOUT\`
of the same ${EVENTS.toLocaleString('en-US')} rows, read and discarded by Node; alternating, ${READ_ROUNDS} rounds in this run. Goal: ≥ 0.6 × the COPY rate.
Node's CPU is per row, all its threads together (the COPY's is only reading the stream); PostgreSQL's is all the cluster's
processes (the COPY's one stream; verification's two, the events and the ledger); the load average is the machine's (2 cores, shared) as each round began.
On a busy machine the two cores' time is what both sides share, so the ratio tends toward the ratio of their CPU per row (Node + PostgreSQL).

| round | load avg | COPY text rows/s | COPY binary rows/s | full verification events/s | × COPY text | × COPY binary | Node CPU µs/row: COPY text / verification | PostgreSQL CPU µs/row: COPY text / verification |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|
${readRounds.map((r, i) => `| ${i + 1} | ${r.load.toFixed(1)} | ${rate(r.copyText, 1)} | ${rate(r.copyBinary, 1)} | ${rate(r.verify, 1)} | ${(r.verify / r.copyText).toFixed(2)} | ${(r.verify / r.copyBinary).toFixed(2)} | ${r.copyTextCpu.toFixed(1)} / ${r.verifyCpu.toFixed(1)} | ${r.copyTextPgCpu.toFixed(1)} / ${r.verifyPgCpu.toFixed(1)} |`).join('\n')}

Median: **${ratioText.toFixed(2)} × COPY TO STDOUT (text)**, ${ratioBinary.toFixed(2)} × COPY (binary) — goal ${ratioText >= 0.6 ? 'met' : '**not met**'}.

## Incremental verification

After a recorded full verification, ${NEW.toLocaleString('en-US')} more events (1%) were loaded and sealed. \`oms-audit verify\` (incremental) checked
${incremental.events_checked.toLocaleString('en-US')} events and ${incremental.checkpoints_checked} checkpoint(s) in ${(incrementalSeconds * 1000).toFixed(0)} ms; a full verification of the
${(EVENTS + NEW).toLocaleString('en-US')} events right after took ${fullAfterSeconds.toFixed(1)} s: **${(incrementalSeconds / fullAfterSeconds).toFixed(3)} × the full time for ${(NEW / (EVENTS + NEW)).toFixed(3)} × the events**.

The new events are read through the events' primary key, in their months from the earliest new occurred_at on:

\`\`\`
${plan.join('\n')}
\`\`\`
`;
    const file = await writeReport('verify', md, {
      machine: machine(),
      events: EVENTS,
      loadSeconds,
      sealSeconds,
      anchorSeconds,
      verifySeconds,
      bothSeconds,
      verifyAnchoredSeconds,
      stampMicros,
      hashMicros,
      checkpoints: checkpoints.length,
      speedOfReading: { hashThreads: defaultHashThreads(), rounds: readRounds, ratioText, ratioBinary },
      incremental: { newEvents: NEW, seconds: incrementalSeconds, eventsChecked: incremental.events_checked, fullSecondsAfter: fullAfterSeconds, plan },
      small: { checkpoints: smallCheckpoints.length, sealSeconds: smallSealSeconds, anchorFileSeconds: smallFileSeconds, anchorTsaSeconds: smallTsaSeconds },
    });
    console.log(`\n${md}\nreport: ${file}`);
  } finally {
    await sql.end();
    await admin.end();
    await pg.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
