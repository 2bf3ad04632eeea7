/**
 * The manifest of one export (public.audit_exports): who, when, the exact
 * filters, where every month's rows came from, the row count and the SHA-256
 * of the file. Written as `streaming` when the export starts and completed —
 * or marked failed, with the reason — when the last byte has been produced.
 * docs/export-format.md describes every field.
 */
import type { ClockFlagLimits, ManifestFormat, PersonalExportMode } from '@/lib/export-formats.ts';
import type { Sql, TenantClaims } from '@/supabase/functions/_shared/db.ts';
import type { EventFilters, SortOrder } from '@/supabase/functions/_shared/filters.ts';
import { inTenant } from '../query.ts';
import type { ExpiredMonth } from './plan.ts';

export const MANIFEST_VERSION = 2;

/** Who asked for an export, as the manifest and the audit trail record it. */
export type Exporter = { kind: 'user'; user_id: string; email: string } | { kind: 'api_key'; key_id: string } | { kind: 'cli'; os_user: string };

/** One month of the export: where its rows were read and how many. */
export interface ManifestMonth {
  /** YYYY-MM (UTC month of occurred_at). */
  month: string;
  /** Rows read from PostgreSQL. */
  hot_rows: number;
  /** Rows read from the month's archive files. */
  archived_rows: number;
  /** The archive files read (empty for a hot month). */
  archive_parts: { part: number; sha256: string | null; row_count: number }[];
}

/** The database the export's rows were read from (DATABASE_READ_URL: a streaming replica, when caught up). */
export interface ManifestReadFrom {
  database: 'primary' | 'replica';
  /** With a replica configured: the primary's WAL position when the export began; every write before it is in the export. */
  primary_lsn: string | null;
  /** Why the export read from the primary (null when it read from the replica). */
  reason: string | null;
}

/** The requester's display zone and the export's bounds in it (24-hour wall-clock time, then the zone's abbreviation). */
export interface ManifestTimeZone {
  /** An IANA zone name (America/New_York) or UTC. */
  zone: string;
  from: string | null;
  to: string | null;
}

/** What a bundle added to the export (see docs/export-format.md). */
export interface ManifestBundle {
  file_name: string;
  key_id: string;
  complete: boolean;
  seq_from: number | null;
  seq_to: number | null;
}

export interface ExportManifest {
  manifest_version: typeof MANIFEST_VERSION;
  export_id: string;
  tenant_id: string;
  /** streaming while the file is being produced; complete once sha256 and row_count are final; failed otherwise. */
  status: 'streaming' | 'complete' | 'failed';
  exported_by: Exporter;
  /** UTC, microseconds. */
  started_at: string;
  completed_at: string | null;
  format: ManifestFormat;
  /** CSV for Excel: UTF-8 byte order mark and `;` between fields. */
  excel: boolean;
  media_type: string;
  file_name: string;
  /** Column order (CSV, Parquet) or key order (JSON Lines): the contract's fields, then clock_flag. */
  columns: string[];
  /** The tenant's clock tolerance the clock_flag column was computed under (read in the export's snapshot; null before it is read). */
  clock: (ClockFlagLimits & { network_delay_measured?: boolean; max_network_delay_ms?: number }) | null;
  /** The filters exactly as applied (from inclusive, to exclusive, UTC). */
  filters: EventFilters;
  order: SortOrder;
  time_range: {
    requested: { from: string | null; to: string | null };
    /** occurred_at of the earliest and latest exported events (null when none). */
    covered: { first_occurred_at: string | null; last_occurred_at: string | null };
    /**
     * [from, to) in UTC that every exported event lies in, from the whole filter (from/to and the
     * query's time ranges); null: unbounded. Absent in manifests written before it was recorded.
     */
    bounds?: { from: string | null; to: string | null };
  };
  /**
   * The time zone the requester saw times in (the console's choice; UTC when none was given), with
   * time_range.bounds as wall-clock times there. The file's own times are UTC whatever it is.
   * Absent in manifests written before it was recorded.
   */
  display_time_zone?: ManifestTimeZone;
  /** The months read, in file order, hot and archived. */
  months: ManifestMonth[];
  /** Months of the requested range whose archives ended their retention and were deleted: their events are not in the file. */
  expired_months: ExpiredMonth[];
  /** The count the requester's search showed before the export (the console sends it), for comparison with row_count. */
  expected_row_count: number | null;
  row_count: number | null;
  byte_count: number | null;
  /** Hex SHA-256 of the file's bytes as delivered (BOM included). */
  sha256: string | null;
  /** Set for a bundle download. */
  bundle: ManifestBundle | null;
  error: string | null;
  /** Absent in manifests of exports made before replicas served exports. */
  read_from?: ManifestReadFrom;
  /** How the file carries personal data (docs/export-format.md, section 8); absent in manifests written before it was recorded (stored form). */
  personal?: ManifestPersonal;
}

/** An event of the export with personal fields whose subject's key was destroyed. */
export interface ManifestErasure {
  seq: number;
  id: string;
  /** JSON pointers (RFC 6901) of the erased fields (personal_opened's `erased`), in the event's reference order. */
  pointers: string[];
}

/**
 * The export's personal data. `stored`: the file holds references and seals
 * only, nothing was examined (the counts and the list are null). `opened` /
 * `masked`: the column personal_opened holds the values (or "[personal]") and each event's erased pointers,
 * and `erased` lists every exported event with erased fields, in file order.
 */
export interface ManifestPersonal {
  mode: PersonalExportMode;
  /** The personal_opened column's version (2: erased pointers listed in the file); null for stored. Absent: version 1. */
  column_version?: number | null;
  /** Rows with personal data (a personal_opened value that is not null). */
  rows: number | null;
  /** Distinct subjects (subject refs) whose values were opened (0 when masked). */
  opened_subjects: number | null;
  /** Erased fields in all (the sum of the lengths of `erased[].pointers`). */
  erased_fields: number | null;
  erased: ManifestErasure[] | null;
}

export async function saveManifest(sql: Sql, claims: TenantClaims, manifest: ExportManifest, insert: boolean): Promise<void> {
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
