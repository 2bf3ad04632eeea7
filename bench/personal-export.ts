/**
 * What opening personal data costs an export (docs/export-format.md, section
 * 8): the same events of a sealing tenant — human actors with an IP address,
 * user agent, device fingerprint and a client's name and e-mail in the
 * context — downloaded through the real server as a stored CSV export (the
 * baseline: PostgreSQL formats every byte) and as an opened one (each record
 * read back in Node, its seals opened, personal_opened added) and as an
 * opened JSON Lines export, alternating in each round of one run.
 *
 *   npm run bench:personal-export [-- --events 20000] [--rounds 3]
 */
import { parseArgs } from 'node:util';
import type { AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import { createApiKey } from '@/server/services/api-keys.ts';
import { declarePersonalData } from '@/server/services/personal/settings.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { machine, startBenchEnv, writeReport } from './lib.ts';

const { values } = parseArgs({ options: { events: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '3' } } });
const EVENTS = Number(values.events);
const ROUNDS = Number(values.rounds);
const BATCH = 500;

const event = (i: number): AuditEventRequest => ({
  occurred_at: new Date(Date.parse('2026-11-01T00:00:00Z') + i * 1000).toISOString(),
  actor_type: 'TRADER',
  actor_id: `trader-${i % 50}@broker.example`,
  object_type: 'ORDER',
  object_id: `ORD-${i % 4000}`,
  event_type: ['CREATE', 'AMEND', 'FILL', 'CANCEL'][i % 4]!,
  ip_address: `192.0.2.${i % 250}`,
  user_agent: 'TraderWorkstation/9.2 (Windows NT 10.0)',
  device_fingerprint: `fp-${i % 50}`,
  context: { symbol: 'AAPL', qty: 100 + (i % 7), px: 187.25, client_name: `Client ${i % 300}`, email: `client${i % 300}@example.net` },
});

async function main() {
  const env = await startBenchEnv();
  try {
    const { server, sql } = env;
    const t = await createTenant(sql, `personal-export-${Date.now()}`);
    const key = (await createApiKey(sql, { tenantId: t.id, scopes: ['events:write', 'events:read'], name: 'bench' })).key;
    await declarePersonalData(sql, t.id, 'operator:bench');
    console.log(`oms-audit opened-export benchmark — ${machine()}\nwriting ${EVENTS.toLocaleString('en-US')} sealed events…`);
    for (let i = 0; i < EVENTS; i += BATCH) {
      const events = Array.from({ length: Math.min(BATCH, EVENTS - i) }, (_, j) => event(i + j));
      const res = await fetch(`${server.baseUrl}/api/v1/audit/events`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ events }) });
      if (res.status !== 201) throw new Error(`write failed: ${res.status} ${await res.text()}`);
    }

    // Only the ORDER events: the exports' own AUDIT_EXPORT records would make later rounds longer.
    const download = async (personal: string, format = 'csv') => {
      const started = performance.now();
      const res = await fetch(`${server.baseUrl}/api/v1/audit/events/export?format=${format}&object_type=ORDER&personal=${personal}`, { headers: { authorization: `Bearer ${key}` } });
      const bytes = (await res.arrayBuffer()).byteLength;
      if (res.status !== 200) throw new Error(`export failed: ${res.status}`);
      return { seconds: (performance.now() - started) / 1000, bytes };
    };
    await download('stored');
    await download('opened');
    const runs: { round: number; stored: number; opened: number; openedJsonl: number; storedBytes: number; openedBytes: number }[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const stored = await download('stored');
      const opened = await download('opened');
      const openedJsonl = await download('opened', 'jsonl');
      runs.push({ round, stored: stored.seconds, opened: opened.seconds, openedJsonl: openedJsonl.seconds, storedBytes: stored.bytes, openedBytes: opened.bytes });
      console.log(`round ${round}: stored ${stored.seconds.toFixed(2)} s, opened ${opened.seconds.toFixed(2)} s, opened JSON Lines ${openedJsonl.seconds.toFixed(2)} s`);
    }
    const best = (k: 'stored' | 'opened' | 'openedJsonl') => Math.min(...runs.map((r) => r[k]));
    const ratio = best('opened') / best('stored');
    const jsonlRatio = best('openedJsonl') / best('stored');
    const report = [
      `# Opened personal data in exports — ${new Date().toISOString().slice(0, 10)}`,
      '',
      `Machine: ${machine()}. ${EVENTS.toLocaleString('en-US')} sealed events of one tenant (one subject per event: actor id, IP address, user agent, device fingerprint, observed IP and user agent, two declared context members), downloaded through the real server as CSV with \`personal=stored\` (the baseline) and \`personal=opened\`, and as JSON Lines with \`personal=opened\`, alternating in each round.`,
      '',
      '| round | stored CSV (s) | opened CSV (s) | opened JSON Lines (s) | stored CSV bytes | opened CSV bytes |',
      '| --- | --- | --- | --- | --- | --- |',
      ...runs.map((r) => `| ${r.round} | ${r.stored.toFixed(2)} | ${r.opened.toFixed(2)} | ${r.openedJsonl.toFixed(2)} | ${r.storedBytes} | ${r.openedBytes} |`),
      '',
      `Best of ${ROUNDS}: ${best('stored').toFixed(2)} s stored CSV (${(EVENTS / best('stored')).toFixed(0)} rows/s), ${best('opened').toFixed(2)} s opened CSV (${(EVENTS / best('opened')).toFixed(0)} rows/s): **${ratio.toFixed(2)}×** the baseline's time; opened JSON Lines ${best('openedJsonl').toFixed(2)} s (${jsonlRatio.toFixed(2)}×).`,
      '',
    ].join('\n');
    const file = await writeReport('personal-export', report, { events: EVENTS, runs, ratio, jsonlRatio });
    console.log(`${ratio.toFixed(2)}× the baseline; report: ${file}`);
  } finally {
    await env.cleanup();
  }
}

await main();
