/**
 * Export benchmark: a 1,000,000-row CSV export through the HTTP route (API
 * key, the real server) beside PostgreSQL's own `COPY (SELECT …) TO STDOUT
 * (FORMAT csv)` of the same rows, in the same run, alternating. Reports rows/s,
 * the ratio to COPY, and the server's peak RSS during the export.
 *
 *   npm run bench:export [-- --rows 1000000 --rounds 2]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EVENT_FIELDS } from '@/supabase/functions/_shared/contract.ts';
import { connectionUrl } from '@/supabase/functions/_shared/db.ts';
import { copyOut } from '@/server/db/copy-out.ts';
import { createApiKey } from '@/server/services/api-keys.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { machine, startBenchEnv, writeReport } from './lib.ts';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '2' } } });
const ROWS = Number(values.rows);
const ROUNDS = Number(values.rounds);

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}

interface Run {
  path: string;
  seconds: number;
  rowsPerSec: number;
  bytes: number;
  peakRssMb?: number;
  baseRssMb?: number;
}

const env = await startBenchEnv();
try {
  const { sql, server } = env;
  const tenant = await createTenant(sql, `bench-export-${Date.now()}`);
  const key = await createApiKey(sql, { tenantId: tenant.id, scopes: ['events:read'], name: 'bench' });
  console.log(`loading ${ROWS.toLocaleString('en-US')} events…`);
  await sql`select oms_audit.ensure_month_partition('2026-01-01'::date), oms_audit.ensure_month_partition('2026-02-01'::date)`;
  // Order-lifecycle-like rows (about 600 bytes as CSV), bulk-loaded: the export is what is measured.
  await sql`
    insert into public.audit_events (id, tenant_id, seq, occurred_at, received_at, actor_type, actor_id, object_type, object_id, event_type, outcome, source, request_id, ip_address, user_agent, device_fingerprint, observed_ip, observed_user_agent, context)
    select gen_random_uuid(), ${tenant.id}, g, timestamptz '2026-01-01' + g * interval '2 seconds', timestamptz '2026-01-01' + g * interval '2 seconds' + interval '3 ms', 'USER',
           'trader-' || (g % 97) || '@demo-brokerage.example', 'ORDER', 'ORD-' || (100000 + g / 5), (array['CREATE','UPDATE','ROUTE','STATUS_CHANGE','CANCEL'])[1 + g % 5], 'success',
           'oms-gateway', 'req-' || g, '203.0.113.10', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
           'fp-ws01', '10.20.0.11', 'oms-gateway/4.2.1',
           jsonb_build_object('symbol', 'AAPL', 'side', 'BUY', 'account', 'ACC-10001',
             'before', jsonb_build_object('status', 'NEW', 'venue', null),
             'after', jsonb_build_object('status', 'ROUTED', 'venue', 'XNAS', 'quantity', 100 * (g % 50), 'limit_price', 123.45))
    from generate_series(1, ${ROWS}::int) g`;
  await sql`vacuum analyze public.audit_events`;
  console.log('loaded');

  const baselineSql = `copy (select ${EVENT_FIELDS.join(', ')} from public.audit_events where tenant_id = '${tenant.id}' and object_type = 'ORDER' order by occurred_at, seq) to stdout (format csv, header true)`;
  const claims = JSON.stringify({ tenant_id: tenant.id, sub: 'bench', role: 'authenticated' });

  async function copyBaseline(): Promise<Run> {
    const started = performance.now();
    // As the tenant, under row-level security, on a connection of its own (node-postgres).
    const stream = await copyOut(connectionUrl(sql), baselineSql, {
      setup: [{ text: "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)", values: [claims] }],
    });
    let bytes = 0;
    await pipeline(stream, new Writable({ write: (chunk: Buffer, _enc, done) => ((bytes += chunk.length), done()) }));
    const seconds = (performance.now() - started) / 1000;
    return { path: 'COPY (SELECT …) TO STDOUT (FORMAT csv)', seconds, rowsPerSec: ROWS / seconds, bytes };
  }

  async function httpExport(): Promise<Run> {
    const pid = server.process.pid!;
    const base = rssOf(pid);
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 50);
    const started = performance.now();
    const res = await fetch(`${server.baseUrl}/api/v1/audit/events/export?format=csv&object_type=ORDER`, { headers: { authorization: `Bearer ${key.key}`, 'accept-encoding': 'identity' } });
    if (res.status !== 200) throw new Error(`export answered ${res.status}: ${await res.text()}`);
    let bytes = 0;
    const reader = res.body!.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) bytes += r.value.length;
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const manifest = await (await fetch(res.headers.get('x-audit-manifest')!, { headers: { authorization: `Bearer ${key.key}` } })).json();
    if (manifest.row_count !== ROWS || manifest.byte_count !== bytes) throw new Error(`manifest does not match: ${JSON.stringify(manifest)}`);
    return { path: 'GET /api/v1/audit/events/export?format=csv&object_type=ORDER', seconds, rowsPerSec: ROWS / seconds, bytes, peakRssMb: peak / 2 ** 20, baseRssMb: base / 2 ** 20 };
  }

  const runs: Run[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const run of [copyBaseline, httpExport]) {
      const r = await run();
      runs.push(r);
      console.log(`round ${round}: ${r.path}: ${r.seconds.toFixed(2)} s, ${Math.round(r.rowsPerSec).toLocaleString('en-US')} rows/s, ${(r.bytes / 2 ** 20).toFixed(0)} MiB${r.peakRssMb ? `, server RSS ${r.baseRssMb!.toFixed(0)} → peak ${r.peakRssMb.toFixed(0)} MiB` : ''}`);
    }
  }
  const best = (p: string) => Math.max(...runs.filter((r) => r.path.startsWith(p)).map((r) => r.rowsPerSec));
  const copyBest = best('COPY');
  const httpBest = best('GET');
  const ratios = Array.from({ length: ROUNDS }, (_, i) => runs[i * 2 + 1]!.rowsPerSec / runs[i * 2]!.rowsPerSec);
  const peakRss = Math.max(...runs.filter((r) => r.peakRssMb).map((r) => r.peakRssMb!));
  const lines = [
    `# Export benchmark (${new Date().toISOString().slice(0, 16)}Z)`,
    '',
    `Machine: ${machine()}. ${ROWS.toLocaleString('en-US')} rows of one tenant, CSV, oldest first; durable embedded PostgreSQL; the HTTP export through the real server with an API key (no compression).`,
    '',
    '| path | round | seconds | rows/s | MiB | server peak RSS MiB |',
    '|---|---:|---:|---:|---:|---:|',
    ...runs.map((r, i) => `| ${r.path} | ${Math.floor(i / 2) + 1} | ${r.seconds.toFixed(2)} | ${Math.round(r.rowsPerSec).toLocaleString('en-US')} | ${(r.bytes / 2 ** 20).toFixed(0)} | ${r.peakRssMb ? `${r.baseRssMb!.toFixed(0)} → ${r.peakRssMb.toFixed(0)}` : '—'} |`),
    '',
    `Best: HTTP export ${Math.round(httpBest).toLocaleString('en-US')} rows/s vs COPY ${Math.round(copyBest).toLocaleString('en-US')} rows/s = **${(httpBest / copyBest).toFixed(2)} ×**; per round: ${ratios.map((r) => r.toFixed(2)).join(', ')}. Peak server RSS during exports: ${peakRss.toFixed(0)} MiB.`,
    '',
    'The export file differs from the baseline on purpose: canonical UTC timestamps, formula-neutralised cells, CRLF record ends.',
  ];
  const report = lines.join('\n') + '\n';
  console.log('\n' + report);
  const file = await writeReport('export', report, { rows: ROWS, runs, ratioBest: httpBest / copyBest, ratios, peakRssMb: peakRss });
  console.log(`report: ${file}`);
} finally {
  await env.cleanup();
}
