/**
 * What the erasure's checks cost when they reach archived months
 * (docs/personal-data.md#erasure): a month of sealed order events of many
 * traders, and the checks for one trader (legal holds and the retention duty)
 * timed while the month is in PostgreSQL — the baseline — and again once it is
 * archived to Parquet and dropped, where every part is checked against its
 * SHA-256 and read with DuckDB. Same database, same run.
 *
 *   npm run bench:erasure-checks [-- --events 20000 --holds 2 --runs 5]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseBatch, type AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import { connect } from '@/supabase/functions/_shared/db.ts';
import { parseEnv } from '@/server/env.ts';
import { generateDemoEvents } from '@/server/services/demo-data.ts';
import { logEvents } from '@/server/services/ingest.ts';
import { erasureBlock } from '@/server/services/personal/erase.ts';
import { refOf } from '@/server/services/personal/keys.ts';
import { declarePersonalData } from '@/server/services/personal/settings.ts';
import { archiveMonth } from '@/server/services/retention/archive.ts';
import { retentionContext } from '@/server/services/retention/context.ts';
import { withRetentionLock } from '@/server/services/retention/parts.ts';
import { placeHold } from '@/server/services/retention/policy.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { machine, startBenchDatabase, writeReport } from './lib.ts';

const { values } = parseArgs({ options: { events: { type: 'string', default: '20000' }, holds: { type: 'string', default: '2' }, runs: { type: 'string', default: '5' } } });
const EVENTS = Number(values.events);
const HOLDS = Number(values.holds);
const RUNS = Number(values.runs);
const TRADERS = 100;
const now = new Date();
const MONTH = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 14, 1)).toISOString().slice(0, 10);

async function main() {
  const db = await startBenchDatabase('erasure-checks');
  const sql = connect(db.pg.runtimeUrl, { max: 4, applicationName: 'oms-audit-bench' });
  try {
    Object.assign(process.env, { DATABASE_URL: db.pg.runtimeUrl, OMS_AUDIT_DATA_DIR: db.dataDir });
    const env = parseEnv({ DATABASE_URL: db.pg.runtimeUrl, OMS_AUDIT_DATA_DIR: db.dataDir, ARCHIVE_URL: `file://${path.join(db.dataDir, 'archive')}` });
    console.log(`oms-audit erasure-checks benchmark — ${machine()}\nwriting ${EVENTS.toLocaleString('en-US')} sealed events into ${MONTH.slice(0, 7)}…`);
    const tenant = await createTenant(sql, `bench-erasure-${Date.now()}`);
    await declarePersonalData(sql, tenant.id, 'operator:bench');
    const monthStart = Date.parse(`${MONTH}T00:00:00Z`);
    const events: AuditEventRequest[] = generateDemoEvents(EVENTS, (monthStart + 20 * 86_400_000) * 1000, 11)
      .slice(0, EVENTS)
      .map((e, i) => ({
        ...e,
        occurred_at: new Date(monthStart + 86_400_000 + i * 60_000).toISOString(),
        actor_type: 'TRADER',
        actor_id: `trader-${i % TRADERS}@broker.example`,
        ip_address: `192.0.2.${i % 250}`,
        context: { ...(e.context ?? {}), client_name: `Client ${i % 300}` },
      }));
    for (let at = 0; at < events.length; at += 1000) {
      await logEvents(sql, { tenantId: tenant.id, writer: { kind: 'operator', name: 'bench' } }, parseBatch({ events: events.slice(at, at + 1000) }, 1000), { ip: null, userAgent: null }, 'cli');
    }
    for (let h = 0; h < HOLDS; h++) await placeHold(sql, { tenantId: tenant.id, reason: `bench hold ${h}`, objectType: 'ORDER', objectId: `ORD-NOT-HERE-${h}`, actor: 'bench' });
    const ref = await refOf(sql, tenant.id, 'trader-7@broker.example');

    const time = async () => {
      await erasureBlock(sql, tenant.id, ref, 1, env);
      const ms: number[] = [];
      let checked = { hot_events: 0, archived_events: 0 };
      for (let r = 0; r < RUNS; r++) {
        const t = performance.now();
        checked = (await erasureBlock(sql, tenant.id, ref, 1, env)).checked;
        ms.push(performance.now() - t);
      }
      ms.sort((a, b) => a - b);
      return { median_ms: ms[Math.floor(ms.length / 2)]!, checked };
    };
    const hot = await time();
    const ctx = await retentionContext(sql, env, { actor: 'bench' });
    const archived = await withRetentionLock(sql, { wait: false }, () => archiveMonth(ctx, MONTH, { drop: true }));
    if (archived.outcome !== 'dropped') throw new Error(`the month was not archived and dropped: ${archived.outcome}`);
    const cold = await time();

    const fmt = (n: number) => n.toFixed(1);
    const markdown = [
      `# Erasure checks over archived months — ${new Date().toISOString().slice(0, 10)}`,
      '',
      `Machine: ${machine()}. ${EVENTS.toLocaleString('en-US')} sealed events of ${TRADERS} traders in ${MONTH.slice(0, 7)}; ${HOLDS} active legal holds; the checks for one trader, median of ${RUNS} runs (after one warm-up).`,
      '',
      '| where the month is | subject events found | checks (ms) | × hot |',
      '|---|---:|---:|---:|',
      `| PostgreSQL (baseline) | ${hot.checked.hot_events} | ${fmt(hot.median_ms)} | 1.00 |`,
      `| archived (Parquet, SHA-256 checked, DuckDB) | ${cold.checked.archived_events} | ${fmt(cold.median_ms)} | ${(cold.median_ms / hot.median_ms).toFixed(2)} |`,
      '',
      '`npm run bench:erasure-checks`',
    ].join('\n');
    const file = await writeReport('erasure-checks', markdown, { machine: machine(), events: EVENTS, traders: TRADERS, holds: HOLDS, runs: RUNS, hot, archived: cold });
    console.log(`${markdown}\n\nwritten to ${file}`);
  } finally {
    await sql.end();
    await db.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
