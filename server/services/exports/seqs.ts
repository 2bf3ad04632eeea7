/**
 * The seqs of an export's rows in ascending order, read again from the
 * export's snapshot (hot rows by a COPY, archived rows by DuckDB, merged), in
 * batches. A bundle walks them beside the tenant's checkpoints to prove each
 * row, so no list of every seq is ever held.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { FilterExpr } from '@/supabase/functions/_shared/filter-tree.ts';
import { duckConnection } from '@/server/archive/duckdb.ts';
import { type ArchivedPartRef } from '../archived-events.ts';
import { archiveRelation } from '@/server/archive/rows.ts';
import { compileDuck } from '../filters/duckdb.ts';
import { whereCopy } from '../filters/postgres.ts';
import { readableFiles } from './archived.ts';
import { chunksOf } from './hot.ts';
import { CopyRecords } from './records.ts';
import type { ExportSnapshot } from './snapshot.ts';

const BATCH = 8192;

async function* hotSeqs(snapshot: ExportSnapshot, expr: FilterExpr): AsyncGenerator<number[]> {
  const { sql, settingValue } = whereCopy(snapshot.claims.tenant_id, expr, { alias: 'e', tokenLookup: true });
  const copy = await snapshot.copy(`copy (select e.seq from public.audit_events e where ${sql} order by e.seq) to stdout`, settingValue);
  const records = new CopyRecords({ crlf: false, layout: { occurredAtOffset: () => -1, occurredAtLength: 0 } });
  for await (const chunk of chunksOf(copy, records)) {
    const text = chunk.toString('latin1');
    yield text.slice(0, -1).split('\n').map(Number);
  }
}

async function* archivedSeqs(snapshot: ExportSnapshot, parts: ArchivedPartRef[], expr: FilterExpr): AsyncGenerator<number[]> {
  if (!parts.length) return;
  const files = await readableFiles(parts);
  const { where, params } = compileDuck(snapshot.claims.tenant_id, expr);
  let duck: DuckDBConnection | null = null;
  try {
    duck = await duckConnection();
    const result = await duck.stream(`select seq from ${archiveRelation(files)} where ${where} order by seq`, params);
    for await (const chunk of result) {
      const values = chunk.getColumnValues(0) as bigint[];
      if (values.length) yield values.map(Number);
    }
  } finally {
    duck?.closeSync();
  }
}

/** Two ascending streams of batches as one ascending stream of batches. */
export async function* mergeAscending(a: AsyncIterator<number[]>, b: AsyncIterator<number[]>): AsyncGenerator<number[]> {
  let left: number[] = [];
  let right: number[] = [];
  let i = 0;
  let j = 0;
  let leftDone = false;
  let rightDone = false;
  let out: number[] = [];
  for (;;) {
    if (i >= left.length && !leftDone) {
      const next = await a.next();
      if (next.done) leftDone = true;
      else [left, i] = [next.value, 0];
      continue;
    }
    if (j >= right.length && !rightDone) {
      const next = await b.next();
      if (next.done) rightDone = true;
      else [right, j] = [next.value, 0];
      continue;
    }
    const hasLeft = i < left.length;
    const hasRight = j < right.length;
    if (!hasLeft && !hasRight) break;
    out.push(!hasRight || (hasLeft && left[i]! < right[j]!) ? left[i++]! : right[j++]!);
    if (out.length >= BATCH) {
      yield out;
      out = [];
    }
  }
  if (out.length) yield out;
}

export function exportedSeqs(snapshot: ExportSnapshot, parts: ArchivedPartRef[], expr: FilterExpr): AsyncGenerator<number[]> {
  return mergeAscending(hotSeqs(snapshot, expr), archivedSeqs(snapshot, parts, expr));
}
