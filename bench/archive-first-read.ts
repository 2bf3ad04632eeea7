/**
 * The first archived read of a process: a search shape's tally of an archived
 * month (the same kind of DuckDB statement over a Parquet part) in a fresh
 * process, cold (DuckDB loaded by that read, as before the server warmed it)
 * against warmed first (warmDuckDB, as the server does at start in the
 * background). Each run is its own Node process; the bench:shape report states
 * both. As a program (`node --import tsx bench/archive-first-read.ts <cold|warm> <file>`)
 * it is one such process and prints its timings as JSON.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { literal, warmDuckDB, withDuckDB } from '@/server/archive/duckdb.ts';
import { archiveRelation } from '@/server/archive/rows.ts';

const ROWS = 200_000;

/** The shape's archived tally over one part: bars and value counts of one tenant's rows in a range (cf. archived-shape.ts). */
async function firstRead(file: string): Promise<number> {
  const started = performance.now();
  await withDuckDB(async (db) => {
    const facets = ['event_type', 'object_type', 'actor_id', 'source', 'outcome'].map((f) => `select '${f}' as field, ${f}::VARCHAR as value, count(*) as n from m group by ${f}`).join(' union all ');
    await db.runAndReadAll(
      `with m as (select occurred_at, event_type, object_type, actor_id, source, outcome from ${archiveRelation([file])}
         where tenant_id = $1 and occurred_at >= $2::TIMESTAMPTZ and occurred_at < $3::TIMESTAMPTZ)
       select 'bucket' as kind, cast(floor(epoch(occurred_at) / 86400) as VARCHAR) as field, null::VARCHAR as value, count(*) as n from m group by 2
       union all select 'facet', field, value, n from (${facets}) qualify row_number() over (partition by field order by n desc, value) <= 50`,
      ['00000000-0000-4000-8000-000000000001', '2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z'],
    );
  });
  return performance.now() - started;
}

/** A month-sized Parquet part of archive-like rows (two tenants), written in `dir`. */
export async function writeArchivePart(dir: string): Promise<string> {
  const file = path.join(dir, 'archived-part.parquet');
  await withDuckDB((db) =>
    db.run(`copy (select case when i % 3 = 0 then '00000000-0000-4000-8000-000000000002' else '00000000-0000-4000-8000-000000000001' end as tenant_id, i::BIGINT as seq,
        timestamptz '2026-01-01 00:00:00+00' + to_seconds(i * 13) as occurred_at, ['NEW', 'FILL', 'CANCEL', 'ROUTE'][i % 4 + 1] as event_type,
        'ORDER' as object_type, 'ORD-' || i as object_id, 'trader-' || (i % 37) || '@firm.example' as actor_id, 'gw' as source, 'success' as outcome,
        null::VARCHAR as written_by, null::VARCHAR as personal from range(${ROWS}) t(i)) to ${literal(file)} (format parquet, row_group_size 100000)`),
  );
  return file;
}

export interface FirstReadResult {
  cold: number[];
  warmed: number[];
  warmUp: number[];
  /** A second read in the warmed process: the read itself, nothing left to load. */
  again: number[];
  rows: number;
}

/** `runs` fresh processes each way, alternating. */
export function measureFirstArchivedRead(file: string, runs: number): FirstReadResult {
  const result: FirstReadResult = { cold: [], warmed: [], warmUp: [], again: [], rows: ROWS };
  for (let i = 0; i < runs; i++) {
    for (const mode of ['cold', 'warm'] as const) {
      const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), mode, file], { encoding: 'utf8' });
      if (child.status !== 0) throw new Error(`first-read process failed: ${child.stderr}`);
      const r = JSON.parse(child.stdout.trim().split('\n').pop()!) as { warmUp: number | null; read: number; again: number };
      if (mode === 'cold') result.cold.push(r.read);
      else {
        result.warmed.push(r.read);
        result.warmUp.push(r.warmUp!);
        result.again.push(r.again);
      }
    }
  }
  return result;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const [mode, file] = process.argv.slice(2) as ['cold' | 'warm', string];
  const warmUp = mode === 'warm' ? await warmDuckDB(path.dirname(file)) : null;
  const read = await firstRead(file);
  console.log(JSON.stringify({ warmUp, read, again: await firstRead(file) }));
}
