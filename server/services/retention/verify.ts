/**
 * Verification of an archive part, read back from its storage: the manifest
 * and the data file against their recorded SHA-256s, then every row: each
 * event's hash is recomputed from the archived fields and compared with the
 * hash the ledger kept since ingest, seq by seq. So a part verifies only if it
 * holds exactly the events that were written, every field intact.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { eventHash } from '@/supabase/functions/_shared/event-hash.ts';
import { withDuckDB } from '@/server/archive/duckdb.ts';
import { sha256File, partitionName } from '@/server/archive/export.ts';
import { MANIFEST_FORMAT, type ArchiveManifest } from '@/server/archive/format.ts';
import { ARCHIVE_JSON, archiveRelation, jsonRows } from '@/server/archive/rows.ts';
import { storageAt } from '@/server/archive/storage.ts';
import { scratchDir } from '@/server/scratch.ts';
import { createHash } from 'node:crypto';
import type { RetentionContext } from './context.ts';
import { nextMonth } from './context.ts';
import type { ArchivePart } from './parts.ts';

interface Expected {
  seq: number;
  hash: string;
}

/**
 * `exact`: the part must hold exactly the tenant's rows now in the month's
 * partition (before a drop). Otherwise each archived row must match the ledger
 * (re-verification of a month that lives only in its archive).
 */
export async function verifyPart(
  ctx: RetentionContext,
  part: ArchivePart,
  mode: 'exact' | 'ledger',
  /** Called with each archived seq whose event matched the ledger. */
  onVerified?: (seq: number) => void,
): Promise<string | null> {
  try {
    const storage = await storageAt(part.storage_url, ctx.env);
    const manifestBytes = await storage.getBytes(part.manifest_key);
    const manifestSha = createHash('sha256').update(manifestBytes).digest('hex');
    if (manifestSha !== part.manifest_sha256) return `manifest ${part.manifest_key}: SHA-256 ${manifestSha} differs from the recorded ${part.manifest_sha256}`;
    const manifest = JSON.parse(manifestBytes.toString('utf8')) as ArchiveManifest;
    const file = manifest.files[0];
    if (
      manifest.format !== MANIFEST_FORMAT ||
      manifest.tenant_id !== part.tenant_id ||
      manifest.row_count !== part.row_count ||
      manifest.min_seq !== part.min_seq ||
      manifest.max_seq !== part.max_seq ||
      manifest.seq_sum !== part.seq_sum ||
      file?.key !== part.data_key ||
      file.sha256 !== part.data_sha256
    ) {
      return `manifest ${part.manifest_key} does not describe the recorded part`;
    }

    let local = storage.localPath(part.data_key);
    let scratch: string | null = null;
    if (!local) {
      scratch = await scratchDir(ctx.workDir, 'verify');
      local = path.join(scratch, 'part.parquet');
      await storage.download(part.data_key, local);
    }
    try {
      const sha = await sha256File(local).catch((err: Error) => `unreadable (${err.message})`);
      if (sha !== part.data_sha256) return `data ${part.data_key}: SHA-256 ${sha} differs from the recorded ${part.data_sha256}`;
      const expected = mode === 'exact' ? partitionRows(ctx.sql, part) : ledgerRows(ctx.sql, part);
      return await compareRows(local, part, expected, mode === 'exact', onVerified);
    } finally {
      if (scratch) await rm(scratch, { recursive: true, force: true });
    }
  } catch (err) {
    return `verification failed: ${(err as Error).message}`;
  }
}

async function* flatten(batches: AsyncIterable<readonly Record<string, unknown>[]>): AsyncGenerator<Expected> {
  for await (const batch of batches) for (const row of batch) yield { seq: row.seq as number, hash: row.hash as string };
}

function partitionRows(sql: Sql, part: ArchivePart): AsyncGenerator<Expected> {
  return flatten(
    sql
      .unsafe(
        `select p.seq, encode(l.event_hash, 'hex') as hash
         from oms_audit.${partitionName(part.month)} p
         join public.audit_ledger l on l.tenant_id = p.tenant_id and l.seq = p.seq
         where p.tenant_id = $1 order by p.seq`,
        [part.tenant_id],
      )
      .cursor(5000) as AsyncIterable<Record<string, unknown>[]>,
  );
}

function ledgerRows(sql: Sql, part: ArchivePart): AsyncGenerator<Expected> {
  return flatten(
    sql`
      select seq, encode(event_hash, 'hex') as hash from public.audit_ledger
      where tenant_id = ${part.tenant_id} and seq between ${part.min_seq!} and ${part.max_seq!}
        and occurred_at >= ${part.month}::timestamptz and occurred_at < ${nextMonth(part.month)}::timestamptz
      order by seq`.cursor(5000) as AsyncIterable<Record<string, unknown>[]>,
  );
}

async function compareRows(file: string, part: ArchivePart, expected: AsyncGenerator<Expected>, exact: boolean, onVerified?: (seq: number) => void): Promise<string | null> {
  try {
    return await withDuckDB(async (db) => {
      const result = await db.stream(`select ${ARCHIVE_JSON} from ${archiveRelation([file])} order by seq`);
      let next = await expected.next();
      let count = 0;
      for await (const event of jsonRows(result)) {
        if (!exact) while (!next.done && next.value.seq < event.seq) next = await expected.next();
        if (next.done || next.value.seq !== event.seq) {
          return exact && !next.done && next.value.seq < event.seq
            ? `seq ${next.value.seq} of the database is missing from the archive`
            : `seq ${event.seq} in the archive is not an event of this month in the database`;
        }
        if (event.tenant_id !== part.tenant_id) return `seq ${event.seq} belongs to another tenant`;
        const hash = eventHash(event);
        if (hash !== next.value.hash) return `seq ${event.seq} (id ${event.id}) differs from the event that was written (hash ${hash}, ledger ${next.value.hash})`;
        count++;
        onVerified?.(event.seq);
        next = await expected.next();
      }
      if (exact && !next.done) return `seq ${next.value.seq} of the database is missing from the archive`;
      if (count !== part.row_count) return `the archive holds ${count} rows, the catalog ${part.row_count}`;
      return null;
    });
  } finally {
    await expected.return(undefined);
  }
}
