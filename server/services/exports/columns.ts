/**
 * How each export format's records are written, derived from the format
 * registry (lib/export-formats.ts) for the two writers:
 *
 * - PostgreSQL formats hot rows in its COPY (the fast path): canonical UTC
 *   timestamps, formula neutralisation, CSV quoting or row_to_json;
 * - DuckDB formats archived rows from Parquet into the same bytes: the same
 *   cell texts, PostgreSQL's CSV quoting rule (quoted when empty, or holding
 *   the delimiter, a quote, CR or LF) and its JSON string escaping.
 *
 * So a file reads the same whether a month was hot or archived.
 */
import { CLOCK_FLAG_COLUMN, FORMULA_PREFIXES, isNeutralised, NEVER_NEUTRALISED, type ClockFlagLimits, type CsvFormat, type ExportFormatSpec } from '@/lib/export-formats.ts';
import { EVENT_FIELDS } from '@/supabase/functions/_shared/contract.ts';

/** Database type of a field where it is not text (a new field is text). */
const SQL_TYPES: Record<string, 'timestamp' | 'inet' | 'integer' | 'json'> = {
  seq: 'integer',
  occurred_at: 'timestamp',
  received_at: 'timestamp',
  ip_address: 'inet',
  observed_ip: 'inet',
  context: 'json',
  personal: 'json',
  schema_version: 'integer',
};
const sqlType = (field: string) => SQL_TYPES[field] ?? 'text';

const PG_TIME = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;
export const DUCK_TIME = `'%Y-%m-%dT%H:%M:%S.%fZ'`;

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;
const pgPrefixes = FORMULA_PREFIXES.map((p) => (p === '\t' ? `e'\\t'` : p === '\r' ? `e'\\r'` : sqlString(p))).join(', ');
const duckPrefixes = FORMULA_PREFIXES.map((p) => (p === '\t' ? 'chr(9)' : p === '\r' ? 'chr(13)' : sqlString(p))).join(', ');

/**
 * PostgreSQL: a cell of a neutralised column gets a leading quote when it
 * starts like a formula. Most values start with a letter or digit (>= 'A',
 * compared byte-wise, is checked first), so the full test rarely runs.
 */
function pgNeutralised(column: string): string {
  return `case when ${column} collate "C" >= 'A' then ${column} when left(${column}, 1) in (${pgPrefixes}) then '''' || ${column} else ${column} end`;
}

/** The limits (µs) of clock_flag (the rule of clockFlagOf, lib/export-formats.ts), as integers for SQL text. */
function clockLimitsUs(limits: ClockFlagLimits): { ahead: number; behind: number } {
  const ahead = limits.tolerance_ms * 1000;
  const behind = (limits.tolerance_ms + limits.network_delay_ms) * 1000;
  if (![limits.tolerance_ms, limits.network_delay_ms].every((v) => Number.isSafeInteger(v) && v >= 0)) throw new Error('clock limits must be non-negative integers of milliseconds');
  return { ahead, behind };
}

/** The select list PostgreSQL's COPY formats hot rows with (table alias `e`). */
export function postgresSelectList(spec: ExportFormatSpec, clock: ClockFlagLimits): string {
  const fields = EVENT_FIELDS.map((f) => {
    const type = sqlType(f);
    if (type === 'timestamp') return `to_char(e.${f} at time zone 'UTC', ${PG_TIME}) as ${f}`;
    if (spec.framing === 'csv' && isNeutralised(f)) return `${pgNeutralised(`e.${f}`)} as ${f}`;
    if (spec.framing === 'jsonl' && type === 'inet') return `host(e.${f}) as ${f}`;
    return `e.${f}`;
  });
  return [...fields, `${postgresClockFlag(clock)} as ${CLOCK_FLAG_COLUMN}`].join(',\n      ');
}

/**
 * PostgreSQL: clock_flag of a row (table alias `e`), by comparing the times
 * shifted by the limits (integer microsecond arithmetic, exact) rather than
 * computing the skew as a numeric, which costs the COPY far more.
 */
export function postgresClockFlag(clock: ClockFlagLimits): string {
  const { ahead, behind } = clockLimitsUs(clock);
  return `(case when e.received_at = e.occurred_at then null
    when e.occurred_at > e.received_at + interval '${ahead} microseconds' then 'ahead'
    when e.received_at > e.occurred_at + interval '${behind} microseconds' then 'behind' else 'within' end)`;
}

/** The COPY statement of hot rows in a format: `where` and `order` are SQL of the caller; `clock` the limits of clock_flag. */
export function postgresCopy(spec: ExportFormatSpec, where: string, order: 'asc' | 'desc', clock: ClockFlagLimits): string {
  const select = `select ${postgresSelectList(spec, clock)}
    from public.audit_events e
    where ${where}
    order by e.occurred_at ${order}, e.seq ${order}`;
  if (spec.framing === 'jsonl') {
    // CSV mode with a delimiter and quote that JSON text never contains raw:
    // each line is the JSON exactly as PostgreSQL wrote it, unescaped.
    return `copy (select row_to_json(r) from (${select}) r) to stdout (format csv, delimiter e'\\x02', quote e'\\x01')`;
  }
  if (spec.framing === 'csv') return `copy (${select}) to stdout (format csv, header false, delimiter '${spec.delimiter}', encoding 'UTF8')`;
  throw new Error(`${spec.id} is not written by PostgreSQL`);
}

/**
 * Hot rows as plain CSV in the archive's column order (canonical UTC
 * timestamps), for DuckDB to read beside archived rows.
 */
export function postgresRawCopy(where: string, order: 'asc' | 'desc'): string {
  const columns = EVENT_FIELDS.map((f) => (sqlType(f) === 'timestamp' ? `to_char(e.${f} at time zone 'UTC', ${PG_TIME})` : `e.${f}`));
  return `copy (select ${columns.join(', ')} from public.audit_events e where ${where} order by e.occurred_at ${order}, e.seq ${order}) to stdout (format csv)`;
}

/** Fields whose text never needs CSV quoting or JSON escaping (UUIDs, timestamps, numbers, the outcome, IP addresses). */
const PLAIN = (field: string) => NEVER_NEUTRALISED.includes(field) || sqlType(field) === 'integer';

/** DuckDB: the text of a cell as PostgreSQL writes it (null stays null). */
function duckCell(field: string, neutralise: boolean): string {
  const type = sqlType(field);
  if (type === 'timestamp') return `strftime(${field}, ${DUCK_TIME})`;
  if (type === 'integer') return `${field}::VARCHAR`;
  if (neutralise && isNeutralised(field)) {
    // Most values start with a letter or digit (>= 'A', compared byte-wise, is checked first), as in PostgreSQL.
    return `(case when ${field} >= 'A' then ${field} when left(${field}, 1) in (${duckPrefixes}) then '''' || ${field} else ${field} end)`;
  }
  return field;
}

/**
 * PostgreSQL's JSON string (escape_json: \" \\ \b \f \n \r \t, other controls
 * as \u00xx in lower case). DuckDB's to_json escapes the same characters, with
 * upper-case hex: a value whose escaped form holds \u00 (rare) is escaped
 * again character by character, exactly.
 */
function jsonString(v: string): string {
  const named: Record<number, string> = { 8: '\\b', 12: '\\f', 10: '\\n', 13: '\\r', 9: '\\t' };
  let exact = `replace(replace(${v}, '\\', '\\\\'), '"', '\\"')`;
  for (let c = 0; c < 32; c++) exact = `replace(${exact}, chr(${c}), '${named[c] ?? `\\u${c.toString(16).padStart(4, '0')}`}')`;
  const fast = `to_json(${v})::VARCHAR`;
  return `(case when ${v} is null then 'null' when contains(${fast}, '\\u00') then '"' || ${exact} || '"' else ${fast} end)`;
}

/**
 * DuckDB: a COPY of archived rows (the event columns of `source`) in a CSV or
 * JSON Lines format into `target`, sorted by (occurred_at, seq), in the bytes
 * PostgreSQL writes: DuckDB's CSV writer quotes exactly as PostgreSQL's (a
 * cell is quoted when it is empty or holds the delimiter, a quote, CR or LF;
 * null is an empty, unquoted cell), and JSON Lines records are built as text
 * and written as lines.
 */
export function duckCopy(spec: ExportFormatSpec, source: string, order: 'asc' | 'desc', target: string, clock: ClockFlagLimits): string {
  const sorted = `order by occurred_at ${order}, seq ${order}`;
  const flag = duckClockFlag(clock);
  if (spec.framing === 'csv') {
    const cells = [...EVENT_FIELDS.map((f, i) => `${duckCell(f, true)} as c${i}`), `${flag} as c${EVENT_FIELDS.length}`].join(', ');
    return `copy (select ${cells} from (${source}) ${sorted}) to ${target}
      (format csv, header false, delimiter ${sqlString(spec.delimiter)}, quote '"', escape '"', nullstr '', new_line '\\r\\n')`;
  }
  if (spec.framing === 'jsonl') {
    const members = EVENT_FIELDS.map((f, i) => {
      const type = sqlType(f);
      const key = sqlString(`${i ? ',' : ''}"${f}":`);
      if (type === 'integer') return `${key} || ${f}`;
      if (type === 'json') return `${key} || coalesce(${f}::VARCHAR, 'null')`;
      const cell = duckCell(f, false);
      return `${key} || ${PLAIN(f) ? `coalesce('"' || ${cell} || '"', 'null')` : jsonString(cell)}`;
    });
    members.push(`${sqlString(`,"${CLOCK_FLAG_COLUMN}":`)} || coalesce('"' || ${flag} || '"', 'null')`);
    return `copy (select '{' || ${members.join(' || ')} || '}' from (${source}) ${sorted}) to ${target}
      (format csv, header false, delimiter '|', quote '', escape '', new_line '\\n')`;
  }
  throw new Error(`${spec.id} is not written as records`);
}

/** DuckDB: clock_flag of a row of the archive's schema (TIMESTAMPTZ times, microseconds). */
export function duckClockFlag(clock: ClockFlagLimits): string {
  const { ahead, behind } = clockLimitsUs(clock);
  const skew = '(epoch_us(received_at) - epoch_us(occurred_at))';
  return `(case when ${skew} = 0 then null when ${skew} < -${ahead} then 'ahead' when ${skew} > ${behind} then 'behind' else 'within' end)`;
}

/** The CSV header line (no column name needs quoting); `columns`: the file's (exportColumns). */
export function csvHeader(spec: CsvFormat, columns: readonly string[] = spec.columns): string {
  return columns.join(spec.delimiter) + spec.recordEnd;
}
