/**
 * Response schema of an export's manifest (server/services/export.ts
 * ExportManifest), as GET /api/v1/audit/exports/:id/manifest and tRPC
 * exports.manifest return it; the OpenAPI document describes it from here.
 */
import { z } from 'zod';
import { createSchema } from 'zod-openapi';
import { eventFilters, SORT_ORDERS, type EventFilters } from '@/supabase/functions/_shared/filters.ts';
import { MANIFEST_FORMATS, PERSONAL_EXPORT_MODES } from '@/lib/export-formats.ts';
import { MANIFEST_VERSION, type ExportManifest } from '@/server/services/export.ts';

const exporter = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('user'), user_id: z.string(), email: z.string() }),
  z.object({ kind: z.literal('api_key'), key_id: z.string() }),
  z.object({ kind: z.literal('cli'), os_user: z.string() }),
]);

/**
 * The filters as applied: the parsed form, which is also valid request input,
 * so the document describes them with the request schema (parsing transforms
 * have no JSON Schema of their own).
 */
const appliedFilters = z
  .custom<EventFilters>((v) => eventFilters.safeParse(v).success)
  .meta({ description: 'The filters exactly as applied (from inclusive, to exclusive, UTC)', override: createSchema(eventFilters, { io: 'input' }).schema });

export const manifestOutput = z.object({
  manifest_version: z.literal(MANIFEST_VERSION),
  export_id: z.string(),
  tenant_id: z.string(),
  status: z.enum(['streaming', 'complete', 'failed']).meta({ description: 'streaming while the file is produced; complete once sha256 and row_count are final' }),
  exported_by: exporter,
  started_at: z.string(),
  completed_at: z.string().nullable(),
  format: z.enum(MANIFEST_FORMATS as readonly ['csv', 'jsonl', 'parquet']),
  excel: z.boolean(),
  media_type: z.string(),
  file_name: z.string(),
  columns: z.array(z.string()).meta({ description: 'Column order (CSV) or key order (JSON Lines)' }),
  clock: z
    .object({
      tolerance_ms: z.number().int(),
      network_delay_ms: z.number().int(),
      /** Whether network_delay_ms was measured from the sources' round trips (at most max_network_delay_ms) or set by hand; absent in older manifests. */
      network_delay_measured: z.boolean().optional(),
      max_network_delay_ms: z.number().int().optional(),
    })
    .nullable()
    .meta({ description: "The tenant's clock tolerance the clock_flag column was computed under (docs/clock.md)" }),
  filters: appliedFilters,
  order: z.enum(SORT_ORDERS),
  time_range: z.object({
    requested: z.object({ from: z.string().nullable(), to: z.string().nullable() }),
    covered: z.object({ first_occurred_at: z.string().nullable(), last_occurred_at: z.string().nullable() }),
    bounds: z
      .object({ from: z.string().nullable(), to: z.string().nullable() })
      .optional()
      .meta({ description: 'UTC [from, to) every exported event lies in, from the whole filter (null: unbounded)' }),
  }),
  display_time_zone: z
    .object({ zone: z.string(), from: z.string().nullable(), to: z.string().nullable() })
    .optional()
    .meta({ description: "The zone the requester shows times in, and time_range.bounds as wall-clock times there (the file's times are UTC)" }),
  months: z
    .array(
      z.object({
        month: z.string().meta({ description: 'YYYY-MM (UTC)' }),
        hot_rows: z.number().int().meta({ description: 'Rows read from PostgreSQL' }),
        archived_rows: z.number().int().meta({ description: "Rows read from the month's archive files" }),
        archive_parts: z.array(z.object({ part: z.number().int(), sha256: z.string().nullable(), row_count: z.number().int() })),
      }),
    )
    .meta({ description: 'The months read, in file order, hot and archived' }),
  expired_months: z
    .array(z.object({ month: z.string(), parts: z.array(z.number().int()), row_count: z.number().int() }))
    .meta({ description: 'Months of the requested range past retention (deleted): their events are not in the file' }),
  expected_row_count: z.number().int().nullable().meta({ description: 'What the search showed before the download, for comparison with row_count' }),
  row_count: z.number().int().nullable(),
  byte_count: z.number().int().nullable(),
  sha256: z.string().nullable().meta({ description: "Hex SHA-256 of the file's bytes as delivered" }),
  bundle: z
    .object({ file_name: z.string(), key_id: z.string(), complete: z.boolean(), seq_from: z.number().int().nullable(), seq_to: z.number().int().nullable() })
    .nullable()
    .meta({ description: 'Set for a bundle download' }),
  error: z.string().nullable(),
  read_from: z
    .object({
      database: z.enum(['primary', 'replica']),
      primary_lsn: z.string().nullable().meta({ description: "With a replica configured: the primary's WAL position when the export began; every write before it is in the export" }),
      reason: z.string().nullable().meta({ description: 'Why the export read from the primary (null when it read from the replica)' }),
    })
    .optional()
    .meta({ description: "The database the rows were read from (absent in manifests of exports made before replicas served exports)" }),
  personal: z
    .object({
      mode: z.enum(PERSONAL_EXPORT_MODES),
      column_version: z
        .number()
        .int()
        .nullable()
        .optional()
        .meta({ description: "personal_opened's version: 2 lists each event's erased pointers apart from its values (null for stored; absent: version 1, written before)" }),
      rows: z.number().int().nullable().meta({ description: 'Rows with personal data (null for stored: nothing examined)' }),
      opened_subjects: z.number().int().nullable().meta({ description: 'Distinct subjects whose values were opened' }),
      erased_fields: z.number().int().nullable().meta({ description: 'Erased fields in all' }),
      erased: z
        .array(z.object({ seq: z.number().int(), id: z.string(), pointers: z.array(z.string()) }))
        .nullable()
        .meta({ description: 'Every exported event with erased fields, in file order, with their JSON pointers' }),
    })
    .optional()
    .meta({ description: 'How the file carries personal data (docs/export-format.md, section 8); absent in manifests written before it was recorded' }),
});

// The schema and the service's type describe the same object.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const _manifestMatchesService: Same<z.output<typeof manifestOutput>, ExportManifest> = true;
