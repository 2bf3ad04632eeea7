/**
 * The registry of export formats, declared once and read by the server (what
 * it writes), the CLI (which formats exist), the console (its buttons), the
 * bundle builder and the standalone verifier (how to read a file back into
 * the values that were hashed). docs/export-format.md is its normative
 * description.
 *
 * Dependency-free (the verifier is built into one file from it). Generic over
 * the contract's field list: a new field is a text column, neutralised and
 * read back as text (empty cell: null), unless listed in CELL_KINDS or
 * NEVER_NEUTRALISED.
 */
import { EVENT_FIELDS, type EventField } from '../supabase/functions/_shared/fields.ts';

export type ExportFormatId = 'csv' | 'csv-excel' | 'jsonl' | 'parquet';
/** The manifest's `format` (CSV for Excel is `csv` with `excel: true`). */
export type ManifestFormat = 'csv' | 'jsonl' | 'parquet';

/** How a cell or JSON member maps back to the value that was hashed. */
export type CellKind = 'text' | 'integer' | 'json';

/** Fields that are not text. */
export const CELL_KINDS: Partial<Record<EventField, CellKind>> = { seq: 'integer', schema_version: 'integer', context: 'json', personal: 'json' };

export function cellKind(field: string): CellKind {
  if (field === PERSONAL_OPENED_COLUMN) return 'json';
  return CELL_KINDS[field as EventField] ?? 'text';
}

/**
 * How an export carries personal data (docs/export-format.md, section 8):
 * `stored`, the stored form only (references and seals, as hashed);
 * `opened`, also the values themselves, for roles allowed to see them;
 * `masked`, also "[personal]" in place of each value. Opened and masked files
 * keep every stored column unchanged and add the column personal_opened.
 */
export const PERSONAL_EXPORT_MODES = ['stored', 'opened', 'masked'] as const;
export type PersonalExportMode = (typeof PERSONAL_EXPORT_MODES)[number];

/**
 * The column of opened (or masked) personal values, after clock_flag: per
 * event, the RFC 8785 JSON object `{erased, values}` — the JSON pointers of
 * its references whose subject's key was destroyed, and every other
 * reference's value ("[personal]" when masked); null for an event without
 * personal data (column version 2, PERSONAL_OPENED_VERSION). Not hashed: the
 * stored columns are.
 */
export const PERSONAL_OPENED_COLUMN = 'personal_opened';

/** The columns of a file of `spec` written in personal mode `mode`. */
export function exportColumns(spec: ExportFormatSpec, mode: PersonalExportMode = 'stored'): string[] {
  return mode === 'stored' ? [...spec.columns] : [...spec.columns, PERSONAL_OPENED_COLUMN];
}

/**
 * Text fields whose values can never start like a spreadsheet formula (UUIDs,
 * timestamps, the outcome, IP addresses), left as they are. Every other text
 * field is neutralised in CSV.
 */
export const NEVER_NEUTRALISED: readonly string[] = ['id', 'tenant_id', 'occurred_at', 'received_at', 'outcome', 'ip_address', 'observed_ip', 'clock_flag'];

/**
 * OWASP CSV injection: a cell of a neutralised column starting with one of
 * these gets one leading `'`. The quote itself is in the list, so a reader
 * restores every value by removing one leading quote.
 */
export const FORMULA_PREFIXES = ['=', '+', '-', '@', '\t', '\r', "'"] as const;
export const NEUTRALISING_MARK = "'";

export function isNeutralised(field: string): boolean {
  return cellKind(field) === 'text' && !NEVER_NEUTRALISED.includes(field);
}

interface FormatBase {
  id: ExportFormatId;
  /** As the console labels it. */
  label: string;
  manifestFormat: ManifestFormat;
  excel: boolean;
  mediaType: string;
  /** Appended to the file name stem: CSV and CSV for Excel downloads must not collide. */
  fileSuffix: string;
  extension: string;
  /** Column (CSV, Parquet) or key (JSON Lines) order: the contract's fields in canonical order, then clock_flag. */
  columns: readonly string[];
  /** Whether a bundle can carry it (the standalone verifier reads it without dependencies). */
  verifiable: boolean;
}

export interface CsvFormat extends FormatBase {
  framing: 'csv';
  /** RFC 4180: header row, records end with CRLF, fields quoted when they hold the delimiter, a quote, CR or LF, or are empty strings. */
  delimiter: ',' | ';';
  /** UTF-8 byte order mark first (Excel reads UTF-8 only with it). */
  bom: boolean;
  recordEnd: '\r\n';
}

export interface JsonLinesFormat extends FormatBase {
  framing: 'jsonl';
  /** One JSON object per line, keys in column order, LF after each. */
  recordEnd: '\n';
}

export interface ParquetFormat extends FormatBase {
  framing: 'parquet';
  /** The archive's schema (docs/retention.md), zstd. */
  compression: 'zstd';
}

export type ExportFormatSpec = CsvFormat | JsonLinesFormat | ParquetFormat;

/**
 * Clock evidence (docs/clock.md) as a column after the event's fields: not a
 * field of the event and not hashed, but recomputable by anyone from the row's
 * occurred_at and received_at and the tolerance in the manifest's `clock`.
 */
export const CLOCK_FLAG_COLUMN = 'clock_flag';

/** The tolerance an export's clock_flag column was computed under (manifest `clock`). */
export interface ClockFlagLimits {
  tolerance_ms: number;
  network_delay_ms: number;
}

export type ClockFlag = 'ahead' | 'behind' | 'within';

/** Microseconds since the epoch of a canonical UTC time (YYYY-MM-DDTHH:MM:SS.ffffffZ). */
function epochMicros(time: string): bigint {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.(\d{6})Z$/.exec(time);
  if (!match) throw new Error(`${time} is not a canonical UTC time`);
  return BigInt(Date.parse(`${match[1]}Z`)) * 1000n + BigInt(match[2]!);
}

/**
 * The clock_flag of an event: `ahead` when occurred_at is later than
 * received_at by more than the tolerance, `behind` when received_at is later
 * by more than the tolerance plus the network delay, `within` otherwise; null
 * when the two are equal (the event brought no occurred_at of its own and was
 * dated by its arrival).
 */
export function clockFlagOf(occurredAt: string, receivedAt: string, limits: ClockFlagLimits): ClockFlag | null {
  const skew = epochMicros(receivedAt) - epochMicros(occurredAt);
  if (skew === 0n) return null;
  if (skew < -BigInt(limits.tolerance_ms) * 1000n) return 'ahead';
  if (skew > BigInt(limits.tolerance_ms + limits.network_delay_ms) * 1000n) return 'behind';
  return 'within';
}

/** The event's fields, then the derived clock flag. */
const columns = [...EVENT_FIELDS, CLOCK_FLAG_COLUMN];

export const EXPORT_FORMATS: Record<ExportFormatId, ExportFormatSpec> = {
  csv: { id: 'csv', label: 'CSV', manifestFormat: 'csv', excel: false, mediaType: 'text/csv; charset=utf-8', fileSuffix: '', extension: 'csv', columns, verifiable: true, framing: 'csv', delimiter: ',', bom: false, recordEnd: '\r\n' },
  'csv-excel': { id: 'csv-excel', label: 'CSV for Excel', manifestFormat: 'csv', excel: true, mediaType: 'text/csv; charset=utf-8', fileSuffix: '-excel', extension: 'csv', columns, verifiable: true, framing: 'csv', delimiter: ';', bom: true, recordEnd: '\r\n' },
  jsonl: { id: 'jsonl', label: 'JSON Lines', manifestFormat: 'jsonl', excel: false, mediaType: 'application/x-ndjson; charset=utf-8', fileSuffix: '', extension: 'jsonl', columns, verifiable: true, framing: 'jsonl', recordEnd: '\n' },
  parquet: { id: 'parquet', label: 'Parquet', manifestFormat: 'parquet', excel: false, mediaType: 'application/vnd.apache.parquet', fileSuffix: '', extension: 'parquet', columns, verifiable: false, framing: 'parquet', compression: 'zstd' },
};

export const EXPORT_FORMAT_IDS = Object.keys(EXPORT_FORMATS) as ExportFormatId[];
/** The `format` values the export API and CLI accept (CSV for Excel: `format=csv&excel=true`). */
export const MANIFEST_FORMATS: readonly ManifestFormat[] = ['csv', 'jsonl', 'parquet'];

/** The format of a manifest's `format` and `excel`. */
export function exportFormat(format: string, excel = false): ExportFormatSpec {
  const spec = Object.values(EXPORT_FORMATS).find((f) => f.manifestFormat === format && f.excel === (format === 'csv' && excel));
  if (!spec) throw new Error(`unknown export format ${format}${excel ? ' (excel)' : ''}`);
  return spec;
}

/** The file name of an export: oms-audit-<tenant>-<UTC start>Z[-excel].<extension>. */
export function exportFileName(spec: ExportFormatSpec, tenantName: string | undefined, startedAt: string): string {
  const slug = (tenantName ?? 'tenant').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'tenant';
  const stamp = startedAt.slice(0, 19).replace(/[-:]/g, '');
  return `oms-audit-${slug}-${stamp}Z${spec.fileSuffix}.${spec.extension}`;
}

/** One CSV cell as a reader sees it: its text, and whether it was quoted (`""` is an empty string, an empty unquoted cell is null). */
export interface CsvCell {
  text: string;
  quoted: boolean;
}

/** A CSV cell back to the value that was hashed. */
export function valueOfCsvCell(field: string, cell: CsvCell): unknown {
  if (cell.text === '' && !cell.quoted) return null;
  const kind = cellKind(field);
  if (kind === 'integer') {
    if (!/^-?\d+$/.test(cell.text)) throw new Error(`${field} is not an integer`);
    return Number(cell.text);
  }
  if (kind === 'json') return JSON.parse(cell.text);
  return isNeutralised(field) && cell.text.startsWith(NEUTRALISING_MARK) ? cell.text.slice(NEUTRALISING_MARK.length) : cell.text;
}

/**
 * A record of a verifiable file back to the event's values (and the clock
 * flag), keyed by column. `columns` are the file's own (its manifest's): a
 * file written before a column existed lacks it.
 */
export function eventValues(spec: ExportFormatSpec, record: Record<string, unknown>, columns: readonly string[] = spec.columns): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of columns) {
    const raw = record[field];
    if (spec.framing === 'csv') out[field] = valueOfCsvCell(field, (raw as CsvCell | undefined) ?? { text: '', quoted: false });
    else out[field] = raw === undefined ? null : raw;
  }
  return out;
}
