/**
 * What one write batch costs in heap, stage by stage, for the shapes a client
 * can send: the figures behind the write admission's charge per body byte
 * (server/http/admission.ts, docs/design.md "Bounded work").
 *
 *   node --expose-gc --import tsx bench/write-memory.ts
 *
 * For each shape, COPIES batches go through the stages of the write path
 * together (body text, JSON.parse, the contract's parse, stamped rows, the
 * insert's array parameters), and after each stage the heap in use after a
 * full garbage collection, less what it was before, is divided by COPIES:
 * what one batch holds at that stage. The body text is dropped once parsed,
 * as the server drops it.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { LIMITS, parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { pgArray } from '@/supabase/functions/_shared/db.ts';
import { stampEvents, type StampedEvent } from '@/supabase/functions/_shared/ingest.ts';
import { writeReport } from './lib.ts';

const COPIES = 8;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function used(): number {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

const base = (i: number) => ({
  actor_id: `trader-${i % 50}`,
  actor_type: 'USER',
  object_type: 'ORDER',
  object_id: `ORD-${randomUUID().slice(0, 8)}`,
  event_type: 'CREATE',
  occurred_at: new Date(Date.now() - 1000).toISOString(),
});

/** Shapes of a 500-event batch; the last ones are as large (or as dense) as the contract lets a body be. */
const SHAPES: Record<string, () => unknown> = {
  'minimal events': () => ({ events: Array.from({ length: 500 }, (_, i) => base(i)) }),
  'order context (issue wave, ~320 KiB)': () => ({
    events: Array.from({ length: 500 }, (_, i) => ({ ...base(i), source: 'oms-gateway', request_id: randomUUID(), ip_address: '10.1.2.3', user_agent: 'oms-client/4.2 (linux)', context: { symbol: 'AAPL', side: 'BUY', quantity: 100 + i, price: '187.21', note: 'x'.repeat(340) } })),
  }),
  'one long string per event (4 MiB body)': () => ({ events: Array.from({ length: 500 }, (_, i) => ({ ...base(i), context: { blob: 'y'.repeat(8200) } })) }),
  'many small keys (4 MiB body)': () => ({
    events: Array.from({ length: 500 }, (_, i) => ({ ...base(i), context: Object.fromEntries(Array.from({ length: 700 }, (_, k) => [`k${k}`, k])) })),
  }),
  'empty arrays (4 MiB body)': () => ({ events: Array.from({ length: 500 }, (_, i) => ({ ...base(i), context: { a: Array.from({ length: 2700 }, () => []) } })) }),
  'small numbers (4 MiB body)': () => ({ events: Array.from({ length: 500 }, (_, i) => ({ ...base(i), context: { a: Array.from({ length: 4000 }, () => 0) } })) }),
};

function paramsOf(rows: StampedEvent[]): string[] {
  const pick: ((r: StampedEvent) => string | null)[] = [
    (r) => r.id, (r) => r.occurred_at, (r) => r.actor_type, (r) => r.actor_id, (r) => r.object_type, (r) => r.object_id, (r) => r.event_type,
    (r) => r.outcome, (r) => r.source, (r) => r.request_id, (r) => r.ip_address, (r) => r.user_agent, (r) => r.device_fingerprint,
    (r) => r.contextJson, (r) => r.hash, (r) => r.received_at, (r) => r.observed_ip, (r) => r.observed_user_agent,
  ];
  return pick.map((p) => pgArray(rows, p));
}

const tenantId = randomUUID();
const kib = (n: number) => `${Math.round(n / 1024).toLocaleString('en-US')}`;

/** One shape, in a process of its own (memory freed late by an earlier shape would blur the figures): its table row. */
function measure(name: string): string {
  const bodies = Array.from({ length: COPIES }, () => Buffer.from(JSON.stringify(SHAPES[name]!())));
  const bodyBytes = bodies[0]!.length;
  if (bodyBytes > LIMITS.apiBodyBytes) throw new Error(`${name}: ${bodyBytes} bytes is over the API's body limit`);
  // Heap held per batch after each stage, from before the body was decoded: the text until it is
  // parsed (then dropped, as the server drops it), the parsed values, the contract's output, rows, parameters.
  const held: number[] = [];
  const base = used();
  const at = () => held.push((used() - base) / COPIES);
  let texts: string[] | null = bodies.map((b) => b.toString('utf8'));
  at();
  const parsed = texts.map((t) => JSON.parse(t) as unknown);
  at();
  texts = null;
  const events = parsed.map((p) => parseBatch(p, LIMITS.apiBatch));
  at();
  const stamped = events.map((e) => stampEvents(tenantId, e, { ip: '127.0.0.1', userAgent: 'bench' }, { kind: 'operator', name: 'bench' }));
  at();
  const params = stamped.map((s) => paramsOf(s.rows));
  at();
  // Everything stays alive until measured.
  if (params.length + parsed.length + events.length + stamped.length === 0) return '';
  return `| ${name} | ${kib(bodyBytes)} | ${held.map(kib).join(' | ')} | ${(Math.max(...held) / bodyBytes).toFixed(1)} |`;
}

// `<shape>`: measure that shape (in a child process); `--shapes N`: only the first N shapes (the quick run's small ones).
const only = process.argv[2]?.startsWith('--') ? undefined : process.argv[2];
const shapesArg = process.argv.indexOf('--shapes');
const shapeCount = shapesArg === -1 ? Object.keys(SHAPES).length : Number(process.argv[shapesArg + 1]);
if (only) {
  console.log(measure(only));
} else {
  const rows = Object.keys(SHAPES).slice(0, shapeCount).map((name) => {
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), name], { encoding: 'utf8' });
    if (child.status !== 0) throw new Error(`${name}: ${child.signal ? `killed by ${child.signal}` : `exit ${child.status}`} ${child.stderr}`);
    return child.stdout.trim();
  });
  const md = `# Write memory (${new Date().toISOString().slice(0, 10)})

Heap held by one 500-event batch after each stage, KiB (Node ${process.version}, ${COPIES} batches at once, after a full collection).
Command: \`node --expose-gc --import tsx bench/write-memory.ts\` (also part of \`npm run bench\`).

${['| shape | body | + body text | + JSON.parse | + contract parse | + stamped rows | + insert parameters | peak ÷ body |', '|---|---:|---:|---:|---:|---:|---:|---:|', ...rows].join('\n')}
`;
  const file = await writeReport('write-memory', md, { node: process.version, copies: COPIES, rows });
  console.log(`${md}\nreport: ${file}`);
}
