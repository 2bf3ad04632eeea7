/**
 * Exports for regulators and analysts: every event matching a filter set,
 * from hot and archived months alike, in (occurred_at, seq) order, in a
 * format of the registry (lib/export-formats.ts): CSV, CSV for Excel, JSON
 * Lines or Parquet. REST, the console and the CLI all call startExport().
 *
 * The export reads one snapshot of the tenant's trail (exports/snapshot.ts)
 * in segments (exports/plan.ts): runs of hot months are one COPY each,
 * formatted by PostgreSQL; archived months are read from their Parquet files
 * by DuckDB, written in the same bytes. The file streams with backpressure
 * and constant memory whatever its size; its first bytes leave at once.
 *
 * With a streaming replica (DATABASE_READ_URL) the rows are read there once it
 * has replayed every write acknowledged before the export began, else from the
 * primary; the manifest says which (read_from). Manifests are written on the primary.
 *
 * Every export gets a manifest (exports/manifest.ts), `streaming` while it
 * runs: complete with row count, SHA-256 and the months read, or failed with
 * the reason. A month that cannot be read fails the export, naming it —
 * before the first byte when its file is missing, otherwise by ending the
 * stream with an error — never a short file marked complete.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { v7 as uuidv7 } from 'uuid';
import { exportColumns, exportFileName, exportFormat, type ManifestFormat, type PersonalExportMode } from '@/lib/export-formats.ts';
import type { Sql, TenantClaims } from '@/supabase/functions/_shared/db.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { filterExpr, type EventFilters, type SortOrder } from '@/supabase/functions/_shared/filters.ts';
import { refuseSealedNonEquality, searchHooks, withBlindIndex } from './personal/search.ts';
import { nowTimestamp } from '@/supabase/functions/_shared/timestamps.ts';
import { occurredAtBounds } from '@/supabase/functions/_shared/filter-tree.ts';
import { formatInZone } from '@/lib/time.ts';
import { metrics } from '@/server/observability/metrics.ts';
import type { ReadSource } from '@/server/db/read-source.ts';
import { clockFlagLimits } from './clock.ts';
import { archivedRecords, checkArchivesPresent } from './exports/archived.ts';
import { csvHeader } from './exports/columns.ts';
import { hotRecords } from './exports/hot.ts';
import { MANIFEST_VERSION, saveManifest, type Exporter, type ExportManifest, type ManifestBundle, type ManifestMonth, type ManifestTimeZone } from './exports/manifest.ts';
import { parquetRecords } from './exports/parquet.ts';
import { PersonalColumn, unexaminedPersonal } from './exports/personal-column.ts';
import { personalParquetRefused } from './exports/request.ts';
import { planExport, segmentExpr } from './exports/plan.ts';
import { MonthTally, type RecordStats } from './exports/records.ts';
import { exportedSeqs } from './exports/seqs.ts';
import { exportSlots } from './export-slots.ts';
import { resolveRelatedKeys } from './related-keys.ts';
import { openSnapshot, type ExportSnapshot } from './exports/snapshot.ts';

export { getManifest, listExports, MANIFEST_VERSION, type Exporter, type ExportManifest } from './exports/manifest.ts';

export interface ExportRequest {
  format: ManifestFormat;
  /** CSV for Excel (format csv only). */
  excel?: boolean;
  filters: EventFilters;
  order?: SortOrder;
  exporter: Exporter;
  /** For the file name. */
  tenantName?: string;
  /** What the requester's search counted, recorded beside the row count. */
  expectedRows?: number;
  /** A bundle is built from the export: see ExportEvidence. */
  bundle?: boolean;
  /** The zone the requester shows times in (IANA name or UTC), recorded in the manifest; default UTC. */
  timeZone?: string;
  /**
   * How personal data is carried (docs/export-format.md, section 8); default `stored`. The
   * transport checks that the requester may see personal data before asking for `opened`.
   */
  personal?: PersonalExportMode;
}

/** What a bundle needs beyond the file: the same snapshot, kept open until the bundle ends. */
export interface ExportEvidence {
  /** The manifest as it will be completed, once the file's last byte has been produced. */
  data: Promise<ExportManifest>;
  /** No filters and no month past retention: the export holds every event of the trail. */
  complete: boolean;
  /** The exported seqs in ascending order, in batches. */
  seqs(): AsyncGenerator<number[]>;
  /** The highest seq of the tenant's ledger in the export's snapshot (0 for none). */
  lastSeq(): Promise<number>;
  /** Completes (or fails) the manifest and closes the snapshot. */
  finish(result: { bundle: ManifestBundle } | { error: unknown }): Promise<ExportManifest>;
}

export interface StartedExport {
  id: string;
  tenantId: string;
  fileName: string;
  /** The zone the requester shows times in (the manifest's display_time_zone.zone). */
  displayTimeZone: string;
  mediaType: string;
  /** The file's bytes. Read it to the end (or destroy it to abort). */
  stream: Readable;
  /** Resolves with the final manifest: status `complete`, or `failed` when aborted or broken. */
  done: Promise<ExportManifest>;
  /** Set for bundle requests. */
  evidence: ExportEvidence | null;
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** The export's UTC bounds as wall-clock times in the requester's zone (docs/export-format.md, section 6). */
export function displayTimeZone(zone: string, bounds: { from: string | null; to: string | null }): ManifestTimeZone {
  const local = (iso: string | null) => (iso === null ? null : formatInZone(iso, zone));
  return { zone, from: local(bounds.from), to: local(bounds.to) };
}

const failureMessage = (err: unknown) => (err instanceof AuditError ? err.message : err instanceof Error && err.message ? `The export did not complete: ${err.message}` : 'The export did not complete');

/**
 * Starts an export. `sql` is the primary: the manifest is written there. The
 * rows are read from `reads` (server/db/read-source.ts: a replica that has
 * replayed every write acknowledged before the export began, or the primary),
 * which the manifest records as `read_from`.
 */
export async function startExport(sql: Sql, claims: TenantClaims, asked: ExportRequest, reads: ReadSource = { sql, database: 'primary', primaryLsn: null, reason: 'no replica configured (DATABASE_READ_URL)' }): Promise<StartedExport> {
  // The whole order's keys as the tenant has them now, recorded in the manifest's filters.
  const request = { ...asked, filters: await resolveRelatedKeys(sql, claims, asked.filters) };
  const spec = exportFormat(request.format, request.excel === true);
  if (request.bundle && !spec.verifiable) throw new AuditError('invalid_request', `A bundle cannot carry ${spec.label}: use csv or jsonl`, [{ field: 'format', message: `${spec.label} cannot be verified offline` }]);
  const personalMode = request.personal ?? 'stored';
  if (personalMode !== 'stored' && spec.framing === 'parquet') throw personalParquetRefused();
  // Sealed values are found by their blind index (docs/personal-data.md), as in searches, resolved in the export's
  // snapshot once it is open; the time bounds are the requested filters'.
  let expr = filterExpr(request.filters);
  await refuseSealedNonEquality(sql, claims.tenant_id, request.filters);
  // Per tenant and per process (429/503 when full); freed once the export has ended, however it ended.
  const slot = exportSlots().acquire(claims.tenant_id);
  const order = request.order ?? 'asc';
  const startedAt = nowTimestamp().iso;
  const bounds = occurredAtBounds(expr);
  const manifest: ExportManifest = {
    manifest_version: MANIFEST_VERSION,
    export_id: uuidv7(),
    tenant_id: claims.tenant_id,
    status: 'streaming',
    exported_by: request.exporter,
    started_at: startedAt,
    completed_at: null,
    format: spec.manifestFormat,
    excel: spec.excel,
    media_type: spec.mediaType,
    file_name: exportFileName(spec, request.tenantName, startedAt),
    columns: exportColumns(spec, personalMode),
    clock: null,
    filters: request.filters,
    order,
    time_range: { requested: { from: request.filters.from ?? null, to: request.filters.to ?? null }, covered: { first_occurred_at: null, last_occurred_at: null }, bounds },
    display_time_zone: displayTimeZone(request.timeZone ?? 'UTC', bounds),
    months: [],
    expired_months: [],
    expected_row_count: request.expectedRows ?? null,
    row_count: null,
    byte_count: null,
    sha256: null,
    bundle: null,
    error: null,
    read_from: { database: reads.database, primary_lsn: reads.primaryLsn, reason: reads.reason },
    personal: unexaminedPersonal(personalMode),
  };
  // Opened or masked: the stored columns as always, then personal_opened (exports/personal-column.ts).
  const personalColumn = personalMode === 'stored' ? null : new PersonalColumn(sql, claims.tenant_id, spec, personalMode);
  if (personalColumn) manifest.personal = personalColumn.tally;

  let snapshot: ExportSnapshot | null = null;
  let settle!: (m: ExportManifest) => void;
  const done = new Promise<ExportManifest>((resolve) => (settle = resolve));
  let ended = false;
  async function end(status: 'complete' | 'failed', err?: unknown, bundle?: ManifestBundle): Promise<ExportManifest> {
    if (ended) return manifest;
    ended = true;
    manifest.status = status;
    manifest.completed_at = status === 'complete' && manifest.completed_at ? manifest.completed_at : nowTimestamp().iso;
    if (status === 'failed') {
      manifest.error = failureMessage(err);
      manifest.row_count = manifest.byte_count = null;
      manifest.sha256 = null;
    }
    if (bundle) manifest.bundle = bundle;
    await snapshot?.close().catch(() => {});
    slot.release();
    await saveManifest(sql, claims, manifest, false).catch(() => {});
    settle(manifest);
    return manifest;
  }

  await saveManifest(sql, claims, manifest, true).catch((err: unknown) => {
    slot.release();
    throw err;
  });
  let plan: Awaited<ReturnType<typeof planExport>>;
  try {
    snapshot = await openSnapshot(reads.sql, claims, async (tx) => {
      expr = filterExpr(await withBlindIndex(tx, claims.tenant_id, request.filters));
      await searchHooks.resolved?.();
    });
    plan = await planExport(snapshot.tx, claims.tenant_id, expr, order);
    manifest.clock = await clockFlagLimits(snapshot.tx);
    await checkArchivesPresent([...plan.archived.values()].flat());
  } catch (err) {
    await end('failed', err);
    throw err;
  }
  const open = snapshot;
  const clock = manifest.clock!;
  manifest.expired_months = plan.expired;

  // What the segments report, for the manifest.
  const hotMonths = new MonthTally();
  const archivedMonths = new Map<string, number>();
  let rows = 0;
  const covered: string[] = [];
  const count = (s: RecordStats) => {
    rows += s.rows;
    for (const at of [s.firstOccurredAt, s.lastOccurredAt]) if (at) covered.push(at);
  };

  async function* produce(): AsyncGenerator<Buffer> {
    if (spec.framing === 'csv') {
      if (spec.bom) yield BOM;
      yield Buffer.from(csvHeader(spec, manifest.columns));
    }
    if (!personalColumn) {
      yield* records();
      return;
    }
    for await (const chunk of records()) {
      const withColumn = await personalColumn.transform(chunk);
      if (withColumn.length) yield withColumn;
    }
    personalColumn.finish();
  }

  async function* records(): AsyncGenerator<Buffer> {
    if (spec.framing === 'parquet') {
      yield* parquetRecords(open, [...plan.archived.values()].flat(), expr, order, hotMonths, clock, (s) => {
        count(s);
        for (const [month, n] of s.archivedByMonth) archivedMonths.set(month, n);
      });
      return;
    }
    for (const segment of plan.segments) {
      if (segment.kind === 'hot') {
        yield* hotRecords(open, spec, segmentExpr(expr, segment), order, hotMonths, clock, count);
      } else {
        yield* archivedRecords(open, spec, segment, expr, segmentExpr(expr, segment), order, hotMonths, clock, (s) => {
          count(s);
          archivedMonths.set(segment.month, s.rows - s.hotRows);
        });
      }
    }
  }

  const hash = createHash('sha256');
  let bytes = 0;
  let dataReady!: (m: ExportManifest) => void;
  let dataFailed!: (err: unknown) => void;
  const data = new Promise<ExportManifest>((resolve, reject) => ((dataReady = resolve), (dataFailed = reject)));
  data.catch(() => {});

  function summarise(): void {
    const hot = hotMonths.flush();
    const months = new Set([...hot.keys(), ...archivedMonths.keys(), ...plan.archived.keys()]);
    manifest.months = [...months]
      .sort((a, b) => (order === 'desc' ? b.localeCompare(a) : a.localeCompare(b)))
      .map((month): ManifestMonth => ({
        month,
        hot_rows: hot.get(month) ?? 0,
        archived_rows: archivedMonths.get(month) ?? 0,
        archive_parts: (plan.archived.get(month) ?? []).map((p) => ({ part: p.part, sha256: p.data_sha256, row_count: Number(p.row_count) })),
      }));
    covered.sort();
    const [earliest, latest] = [covered[0] ?? null, covered[covered.length - 1] ?? null];
    manifest.time_range.covered = order === 'desc' ? { first_occurred_at: latest, last_occurred_at: earliest } : { first_occurred_at: earliest, last_occurred_at: latest };
    manifest.row_count = rows;
    manifest.byte_count = bytes;
    manifest.sha256 = hash.digest('hex');
    metrics().exportRows.inc({ format: manifest.format }, rows);
  }

  let started = false;
  async function* delivered(): AsyncGenerator<Buffer> {
    started = true;
    let produced = false;
    let failure: unknown = null;
    try {
      for await (const chunk of produce()) {
        hash.update(chunk);
        bytes += chunk.length;
        slot.progress();
        yield chunk;
      }
      produced = true;
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      if (produced) {
        summarise();
        if (request.bundle) dataReady(manifest);
        else await end('complete');
      } else {
        const reason = failure ?? new AuditError('internal', 'The export was aborted before it completed');
        dataFailed(reason);
        await end('failed', reason);
      }
    }
  }

  const evidence: ExportEvidence | null = request.bundle
    ? {
        data,
        complete: Object.values(request.filters).every((v) => v === undefined) && plan.expired.length === 0,
        seqs: () => exportedSeqs(open, [...plan.archived.values()].flat(), expr),
        lastSeq: async () => Number((await open.tx`select coalesce(max(seq), 0) as n from public.audit_ledger where tenant_id = ${claims.tenant_id}`)[0]!.n),
        finish: (result) => ('bundle' in result ? end('complete', undefined, result.bundle) : end('failed', result.error)),
      }
    : null;

  // A few COPY bursts ahead of the reader: enough to keep PostgreSQL busy, small enough to stay constant.
  const stream = Readable.from(delivered(), { objectMode: false, highWaterMark: 1024 * 1024 });
  // A reader that takes nothing while data waits for it (or never asks) is ended: manifest failed, slot freed.
  slot.watch(() => !started || stream.readableLength > 0, (reason) => stream.destroy(reason));
  // Destroyed before its first read: the generator never runs, so its cleanup happens here.
  stream.once('close', () => {
    if (started) return;
    const reason = new AuditError('internal', 'The export was aborted before it started');
    dataFailed(reason);
    void end('failed', reason);
  });
  return { id: manifest.export_id, tenantId: claims.tenant_id, fileName: manifest.file_name, displayTimeZone: manifest.display_time_zone!.zone, mediaType: manifest.media_type, stream, done, evidence };
}
