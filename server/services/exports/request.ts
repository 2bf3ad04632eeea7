/**
 * An export request in query-string form, as REST clients, the console's
 * download links and the CLI send it: the list endpoint's filters plus
 * format, excel, bundle, order, expected_rows, time_zone (the zone the
 * requester shows times in, recorded in the manifest) and personal (stored,
 * opened or masked personal data). Every filter must be valid
 * or the export does not start (400 naming it): an export never runs with a
 * filter left out.
 */
import { MANIFEST_FORMATS, PERSONAL_EXPORT_MODES, type ManifestFormat, type PersonalExportMode } from '@/lib/export-formats.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { isValidZone } from '@/lib/time.ts';
import { filtersFromSearchParams, filtersOf, type EventFilters, type SortOrder } from '@/supabase/functions/_shared/filters.ts';

export interface ParsedExportRequest {
  format: ManifestFormat;
  excel: boolean;
  bundle: boolean;
  filters: EventFilters;
  order: SortOrder;
  expectedRows: number | undefined;
  /** The zone the requester shows times in, for the manifest (the file's times are UTC). */
  timeZone: string;
  /** How personal data is carried: stored (default), opened or masked (docs/export-format.md, section 8). */
  personal: PersonalExportMode;
}

const EXPORT_PARAMS = ['format', 'excel', 'bundle', 'expected_rows', 'time_zone', 'personal'];

/** Parquet files keep the archive's schema: personal data is opened in CSV and JSON Lines only. */
export const personalParquetRefused = () =>
  new AuditError('invalid_request', 'personal=opened and personal=masked are available for csv and jsonl (a Parquet export keeps the archive schema and carries the stored form)', [{ field: 'personal', message: 'not available for parquet' }]);

function flag(params: URLSearchParams, name: string): boolean {
  const value = params.get(name);
  if (value !== null && !['true', 'false', '1', '0'].includes(value)) throw new AuditError('invalid_request', `${name} must be true or false`, [{ field: name, message: 'must be true or false' }]);
  return value === 'true' || value === '1';
}

export function parseExportRequest(params: URLSearchParams, options: { allow?: string[] } = {}): ParsedExportRequest {
  const format = (params.get('format') ?? 'csv').toLowerCase();
  if (!(MANIFEST_FORMATS as readonly string[]).includes(format)) {
    const list = MANIFEST_FORMATS.join(', ');
    throw new AuditError('invalid_request', `format must be one of ${list}`, [{ field: 'format', message: `must be one of ${list}` }]);
  }
  const excel = flag(params, 'excel');
  if (excel && format !== 'csv') throw new AuditError('invalid_request', 'excel applies to format=csv only', [{ field: 'excel', message: 'applies to format=csv only' }]);
  const bundle = flag(params, 'bundle');
  if (bundle && format === 'parquet') throw new AuditError('invalid_request', 'A bundle holds csv or jsonl (the standalone verifier reads them without dependencies)', [{ field: 'bundle', message: 'not available for parquet' }]);
  if (params.has('cursor') || params.has('limit')) {
    throw new AuditError('invalid_request', 'An export holds every matching event: it takes no cursor or limit', [{ field: params.has('cursor') ? 'cursor' : 'limit', message: 'is not accepted by exports' }]);
  }
  const expected = params.get('expected_rows');
  if (expected !== null && !/^\d{1,15}$/.test(expected)) throw new AuditError('invalid_request', 'expected_rows must be a whole number', [{ field: 'expected_rows', message: 'must be a whole number' }]);
  const timeZone = params.get('time_zone') ?? 'UTC';
  if (timeZone !== 'UTC' && (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+){0,2}$/.test(timeZone) || !isValidZone(timeZone))) {
    throw new AuditError('invalid_request', 'time_zone must be UTC or an IANA time zone such as America/New_York', [{ field: 'time_zone', message: 'must be UTC or an IANA time zone such as America/New_York' }]);
  }
  const personal = params.get('personal') ?? 'stored';
  if (!(PERSONAL_EXPORT_MODES as readonly string[]).includes(personal)) {
    throw new AuditError('invalid_request', `personal must be one of ${PERSONAL_EXPORT_MODES.join(', ')}`, [{ field: 'personal', message: `must be one of ${PERSONAL_EXPORT_MODES.join(', ')}` }]);
  }
  if (personal !== 'stored' && format === 'parquet') throw personalParquetRefused();
  const input = filtersFromSearchParams(params, { allow: [...EXPORT_PARAMS, ...(options.allow ?? [])] });
  return {
    format: format as ManifestFormat,
    excel,
    bundle,
    filters: filtersOf(input),
    order: params.has('order') ? input.order : 'asc',
    expectedRows: expected === null ? undefined : Number(expected),
    timeZone,
    personal: personal as PersonalExportMode,
  };
}
