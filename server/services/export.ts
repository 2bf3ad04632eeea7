/**
 * Exports for regulators: CSV (RFC 4180, UTF-8, header row, the contract's
 * fields in canonical order) or JSON Lines, streamed straight from
 * PostgreSQL's `COPY (SELECT …) TO STDOUT` inside the tenant's row-level
 * security transaction. PostgreSQL formats the rows (canonical timestamps,
 * OWASP formula neutralisation, context as one line of JSON); Node counts
 * records, ends them with CRLF, hashes and forwards bytes, with backpressure
 * and constant memory.
 *
 * Every export gets a manifest (public.audit_exports, see ExportManifest):
 * who, when, the exact filters, row count, time range covered and the SHA-256
 * of the file. It is written as `streaming` when the export starts and
 * completed when the last byte has been produced. REST, tRPC/console and the
 * CLI all call startExport().
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { v7 as uuidv7 } from 'uuid';
import { EVENT_FIELDS } from '@/supabase/functions/_shared/contract.ts';
import { connect, connectionUrl, type Sql, type TenantClaims } from '@/supabase/functions/_shared/db.ts';
import { AuditError, isConnectionError } from '@/supabase/functions/_shared/errors.ts';
import type { EventFilters, SortOrder } from '@/supabase/functions/_shared/filters.ts';
import { nowTimestamp } from '@/supabase/functions/_shared/timestamps.ts';
import { CopyRecords, csvOccurredAt, jsonOccurredAt } from './export-bytes.ts';
import { exportSlots } from './export-slots.ts';
import { inTenant } from './query.ts';
import { aboutCopySql } from './about-filter.ts';
import { metrics } from '@/server/observability/metrics.ts';

export const EXPORT_FORMATS = ['csv', 'jsonl'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const MANIFEST_VERSION = 1;

/** Who asked for an export, as the manifest and the audit trail record it. */
export type Exporter =
  | { kind: 'user'; user_id: string; email: string }
  | { kind: 'api_key'; key_id: string }
  | { kind: 'cli'; os_user: string };

/**
 * The manifest of one export: enough for a regulator to check that a file is
 * exactly what was exported (sha256 over the file's bytes, row_count) and what
 * was asked for (filters, order, time range).
 */
export interface ExportManifest {
  manifest_version: typeof MANIFEST_VERSION;
  export_id: string;
  tenant_id: string;
  /** streaming while the file is being produced; complete once sha256 and row_count are final. */
  status: 'streaming' | 'complete' | 'failed';
  exported_by: Exporter;
  /** UTC, microseconds. */
  started_at: string;
  completed_at: string | null;
  format: ExportFormat;
  /** CSV for Excel: UTF-8 byte order mark and `;` between fields. */
  excel: boolean;
  media_type: string;
  file_name: string;
  /** Column order (CSV) or key order (JSON Lines): the contract's EVENT_FIELDS. */
  columns: string[];
  /** The filters exactly as applied (from inclusive, to exclusive, UTC). */
  filters: EventFilters;
  order: SortOrder;
  time_range: {
    requested: { from: string | null; to: string | null };
    /** occurred_at of the first and last exported events (null when none). */
    covered: { first_occurred_at: string | null; last_occurred_at: string | null };
  };
  row_count: number | null;
  byte_count: number | null;
  /** Hex SHA-256 of the file's bytes as delivered (BOM included). */
  sha256: string | null;
  error: string | null;
}

export interface ExportRequest {
  format: ExportFormat;
  excel?: boolean;
  filters: EventFilters;
  order?: SortOrder;
  exporter: Exporter;
  /** For the file name. */
  tenantName?: string;
}

export interface StartedExport {
  id: string;
  fileName: string;
  mediaType: string;
  /** The file's bytes. Read it to the end (or destroy it to abort). */
  stream: Readable;
  /** Resolves with the final manifest once the stream has ended: status `complete`, or `failed` when aborted or broken. */
  done: Promise<ExportManifest>;
}

const TIME_FORMAT = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;
/** Text columns that could hold a value a spreadsheet would run as a formula. */
const FREE_TEXT = new Set(['actor_type', 'actor_id', 'object_type', 'object_id', 'event_type', 'source', 'request_id', 'user_agent', 'device_fingerprint', 'observed_user_agent']);

/**
 * OWASP CSV injection: a cell starting with = + - @ tab or CR gets a leading
 * single quote; so does one that starts with a quote already, so that a reader
 * (the bundle verifier) restores every value by removing one leading quote. Most values start with a letter or digit (>= 'A' or a digit
 * is checked first, byte-wise), so the full test rarely runs.
 */
function neutralised(column: string): string {
  return `case when ${column} collate "C" >= 'A' then ${column} when left(${column}, 1) in ('=', '+', '-', '@', e'\\t', e'\\r', '''') then '''' || ${column} else ${column} end`;
}

function selectList(format: ExportFormat): string {
  return EVENT_FIELDS.map((f) => {
    if (f === 'occurred_at' || f === 'received_at') return `to_char(e.${f} at time zone 'UTC', ${TIME_FORMAT}) as ${f}`;
    if (format === 'csv' && FREE_TEXT.has(f)) return `${neutralised(`e.${f}`)} as ${f}`;
    if (format === 'jsonl' && (f === 'ip_address' || f === 'observed_ip')) return `host(e.${f}) as ${f}`;
    return `e.${f}`;
  }).join(',\n      ');
}

/** One filter value, read once per statement (an InitPlan) from the transaction's oms_export.filters setting. */
const param = (path: string, cast = '') => `(select current_setting('oms_export.filters')::jsonb ->> '${path}')${cast}`;

/**
 * The WHERE clause of an export. COPY takes no bind parameters, so the
 * filter values travel in a transaction-local setting (set with a bound
 * parameter) and are read back here: no value is ever spliced into SQL.
 */
function whereSql(filters: EventFilters): string {
  const c = [`e.tenant_id = ${param('tenant_id', '::uuid')}`];
  for (const f of ['object_type', 'object_id', 'actor_id', 'actor_type', 'outcome', 'source', 'request_id'] as const) {
    if (filters[f] !== undefined) c.push(`e.${f} = ${param(f)}`);
  }
  if (filters.event_type?.length) c.push(`e.event_type = any (array(select jsonb_array_elements_text(current_setting('oms_export.filters')::jsonb -> 'event_type')))`);
  if (filters.from) c.push(`e.occurred_at >= ${param('from', '::timestamptz')}`);
  if (filters.to) c.push(`e.occurred_at < ${param('to', '::timestamptz')}`);
  if (filters.context) c.push(`e.context @> (select current_setting('oms_export.filters')::jsonb -> 'context')`);
  if (filters.about) c.push(aboutCopySql(filters, (path) => param(path), `(select current_setting('oms_export.filters')::jsonb)`));
  return c.join('\n      and ');
}

export function exportQuery(format: ExportFormat, filters: EventFilters, order: SortOrder): string {
  const direction = order === 'desc' ? 'desc' : 'asc';
  const select = `select ${selectList(format)}
    from public.audit_events e
    where ${whereSql(filters)}
    order by e.occurred_at ${direction}, e.seq ${direction}`;
  return format === 'jsonl' ? `select row_to_json(r) from (${select}) r` : select;
}

function copyOptions(format: ExportFormat, excel: boolean): string {
  if (format === 'jsonl') {
    // CSV mode with a delimiter and quote that JSON text never contains raw:
    // each line is the JSON exactly as PostgreSQL wrote it, unescaped.
    return `(format csv, delimiter e'\\x02', quote e'\\x01')`;
  }
  return `(format csv, header true, delimiter '${excel ? ';' : ','}', encoding 'UTF8')`;
}

export function mediaTypeOf(format: ExportFormat): string {
  return format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8';
}

function fileNameOf(format: ExportFormat, tenantName: string | undefined, startedAt: string): string {
  const slug = (tenantName ?? 'tenant').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'tenant';
  const stamp = startedAt.slice(0, 19).replace(/[-:]/g, '');
  return `oms-audit-${slug}-${stamp}Z.${format === 'csv' ? 'csv' : 'jsonl'}`;
}

const BOM = new Uint8Array([0xef, 0xbb, 0xbf]);
/** Bytes gathered from COPY before they are transformed, hashed and passed on. */
const BATCH_BYTES = 128 * 1024;

async function saveManifest(sql: Sql, claims: TenantClaims, manifest: ExportManifest, insert: boolean): Promise<void> {
  await inTenant(sql, claims, async (tx) => {
    if (insert) {
      await tx`insert into public.audit_exports (id, tenant_id, status, manifest) values (${manifest.export_id}, ${manifest.tenant_id}, ${manifest.status}, ${JSON.stringify(manifest)}::text::json)`;
    } else {
      await tx`update public.audit_exports set status = ${manifest.status}, manifest = ${JSON.stringify(manifest)}::text::json, completed_at = now() where id = ${manifest.export_id}`;
    }
  });
}

export async function getManifest(sql: Sql, claims: TenantClaims, id: string): Promise<ExportManifest | null> {
  return inTenant(sql, claims, async (tx) => {
    const [row] = await tx`select manifest from public.audit_exports where id = ${id}`;
    return (row?.manifest as ExportManifest | undefined) ?? null;
  });
}

export async function listExports(sql: Sql, claims: TenantClaims, limit = 50): Promise<ExportManifest[]> {
  return inTenant(sql, claims, async (tx) => {
    const rows = await tx`select manifest from public.audit_exports order by created_at desc limit ${limit}`;
    return rows.map((r) => r.manifest as ExportManifest);
  });
}

/**
 * Starts an export: records its manifest, opens a repeatable-read transaction
 * as the tenant, and returns the file as a stream fed by COPY. The manifest is
 * completed (or marked failed) when the stream ends.
 */
export async function startExport(sql: Sql, claims: TenantClaims, request: ExportRequest): Promise<StartedExport> {
  // Per tenant and per process (429/503 when full); freed once the export's connection is closed.
  const slot = exportSlots().acquire(claims.tenant_id);
  const format = request.format;
  const excel = format === 'csv' && request.excel === true;
  const order = request.order ?? 'asc';
  const startedAt = nowTimestamp().iso;
  const manifest: ExportManifest = {
    manifest_version: MANIFEST_VERSION,
    export_id: uuidv7(),
    tenant_id: claims.tenant_id,
    status: 'streaming',
    exported_by: request.exporter,
    started_at: startedAt,
    completed_at: null,
    format,
    excel,
    media_type: mediaTypeOf(format),
    file_name: fileNameOf(format, request.tenantName, startedAt),
    columns: [...EVENT_FIELDS],
    filters: request.filters,
    order,
    time_range: { requested: { from: request.filters.from ?? null, to: request.filters.to ?? null }, covered: { first_occurred_at: null, last_occurred_at: null } },
    row_count: null,
    byte_count: null,
    sha256: null,
    error: null,
  };
  await saveManifest(sql, claims, manifest, true).catch((err: unknown) => {
    slot.release();
    throw err;
  });

  const records = new CopyRecords(
    format === 'csv' ? { header: true, crlf: true, occurredAt: csvOccurredAt(excel ? 0x3b : 0x2c) } : { header: false, crlf: false, occurredAt: jsonOccurredAt },
  );
  const hash = createHash('sha256');
  let bytes = 0;

  const copySql = `copy (${exportQuery(format, request.filters, order)}) to stdout ${copyOptions(format, excel)}`;
  const filterSetting = JSON.stringify({ ...request.filters, tenant_id: claims.tenant_id });

  // The transaction stays open until COPY has delivered its last byte; `opened` hands the COPY stream out.
  let opened!: (value: { copy: Readable; cancel: () => void }) => void;
  let openFailed!: (err: unknown) => void;
  const openedPromise = new Promise<{ copy: Readable; cancel: () => void }>((resolve, reject) => {
    opened = resolve;
    openFailed = reject;
  });
  // A connection of its own, closed (not committed) once COPY has delivered its last byte: the
  // transaction is read-only, and postgres.js can leave a connection's socket paused after a COPY
  // ends under backpressure, so nothing may run on it afterwards.
  const connection = connect(connectionUrl(sql), { max: 1, prepare: false, applicationName: 'oms-audit-export' });
  const transaction = (async () => {
    await connection.unsafe('begin isolation level repeatable read read only');
    await connection`select set_config('role', 'authenticated', true),
                            set_config('request.jwt.claims', ${JSON.stringify(claims)}, true),
                            set_config('oms_export.filters', ${filterSetting}, true)`;
    const query = connection.unsafe(copySql);
    const copy = (await query.readable()) as unknown as Readable;
    const ended = new Promise<void>((resolve, reject) => {
      copy.once('end', resolve);
      copy.once('error', reject);
      copy.once('close', resolve);
    });
    opened({ copy, cancel: () => void Promise.resolve(query.cancel()).catch(() => {}) });
    await ended;
  })()
    .catch((err: unknown) => {
      openFailed(err);
      throw err;
    })
    .finally(() => {
      slot.release();
      void connection.end({ timeout: 0 }).catch(() => {});
    });
  // Failures surface through the stream and `done`.
  transaction.catch(() => {});

  let copy: Readable;
  let cancel: () => void;
  try {
    ({ copy, cancel } = await openedPromise);
  } catch (err) {
    await finish('failed', err).catch(() => {});
    throw isConnectionError(err) ? new AuditError('unavailable', 'The database is unavailable; retry shortly', [], 1) : err;
  }

  async function finish(status: 'complete' | 'failed', err?: unknown): Promise<ExportManifest> {
    const stats = records.stats();
    metrics().exportRows.inc({ format: manifest.format }, stats.rows);
    manifest.status = status;
    manifest.completed_at = nowTimestamp().iso;
    manifest.time_range.covered = { first_occurred_at: stats.firstOccurredAt, last_occurred_at: stats.lastOccurredAt };
    if (status === 'complete') {
      manifest.row_count = stats.rows;
      manifest.byte_count = bytes;
      manifest.sha256 = hash.digest('hex');
    } else {
      manifest.error = err instanceof AuditError ? err.message : 'The export did not complete';
    }
    await saveManifest(sql, claims, manifest, false);
    return manifest;
  }

  let settle!: (m: ExportManifest) => void;
  const done = new Promise<ExportManifest>((resolve) => (settle = resolve));

  const emit = (out: Readable, data: Uint8Array) => {
    if (!data.length) return true;
    hash.update(data);
    bytes += data.length;
    return out.push(data);
  };

  let started = false;
  let finished = false;
  const output = new Readable({
    // About what one COPY burst holds: enough to keep PostgreSQL busy, small enough to stay constant.
    highWaterMark: 256 * 1024,
    read() {
      slot.progress();
      if (!started) {
        started = true;
        if (excel) emit(this, BOM);
        // PostgreSQL sends one message per row: records are gathered into ~128 KiB chunks, so the
        // per-chunk costs (hash update, stream hand-offs, socket writes) are not paid per row.
        copy.on('data', (message: Buffer) => {
          records.add(message);
          if (records.pendingBytes >= BATCH_BYTES && !emit(output, records.take())) copy.pause();
        });
        copy.once('end', () => {
          emit(output, records.finish());
          void transaction.then(
            () =>
              finish('complete').then((m) => {
                finished = true;
                output.push(null);
                settle(m);
              }),
            (err: unknown) => output.destroy(err as Error),
          );
        });
        copy.once('error', (err) => output.destroy(err));
      }
      copy.resume();
    },
    destroy(err, callback) {
      if (!finished) {
        // Stop PostgreSQL, then drain what is still in flight so the connection is freed.
        cancel();
        copy.removeAllListeners('data');
        copy.on('data', () => {});
        copy.on('error', () => {});
        copy.resume();
        void transaction
          .catch(() => {})
          .then(() => finish('failed', err ?? new AuditError('internal', 'The export was aborted before it completed')))
          .then(settle, () => settle({ ...manifest, status: 'failed' }));
      }
      callback(err);
    },
  });

  // A reader that takes nothing while data waits for it (or never asks) is ended: manifest failed, slot freed.
  slot.watch(() => !started || output.readableLength > 0, (reason) => output.destroy(reason));

  return { id: manifest.export_id, fileName: manifest.file_name, mediaType: manifest.media_type, stream: output, done };
}
