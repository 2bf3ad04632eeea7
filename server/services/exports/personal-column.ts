/**
 * The personal_opened column of an export opened or masked for its requester
 * (docs/export-format.md, section 8). The stored columns leave PostgreSQL and
 * DuckDB byte for byte as in a stored export — they are what the event hashes
 * cover — and each record gets one more cell: the RFC 8785 JSON object of the
 * event's erased reference pointers and the other pointers' values
 * ("[personal]" when masked; column version 2, personalOpenedCell), or null
 * for an event without personal data. Hot and archived months pass through the same code, so a
 * file reads the same whatever the month's state.
 *
 * Records are split from the format's bytes (a CSV record ends at an LF outside
 * quotes, a JSON Lines record at any LF). Only what opening needs is read back
 * (id, seq, schema_version, the actor's reference-bearing columns, context and
 * personal): a CSV record's cells are delimited in the same pass that finds
 * its end, and only those cells are unquoted and read with the registry's
 * reader (lib/export-formats.ts); a record of another schema version, or
 * whose bytes cannot hold a reference, is not read further. Reading every
 * cell of every record with a general CSV reader cost more than the rest of
 * the export together (bench/personal-export.ts). The seals are opened once
 * per subject and event, each key looked up once per export (the keys a
 * chunk meets first in one query). The tally is the manifest's `personal`
 * object: every event with erased fields, by seq.
 */
import { valueOfCsvCell, type CsvCell, type ExportFormatSpec, type PersonalExportMode } from '@/lib/export-formats.ts';
import { canonicalJson } from '@/supabase/functions/_shared/canonical-json.ts';
import type { AuditEvent } from '@/supabase/functions/_shared/contract.ts';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { ACTOR_PERSONAL_FIELDS, ENVELOPE_PREFIX, openedPersonalData, personalOpenedCell, PERSONAL_OPENED_VERSION, referencesOf, SEALED_SCHEMA_VERSION } from '@/supabase/functions/_shared/personal-data.ts';
import { keysById } from '../personal/keys.ts';
import type { ManifestPersonal } from './manifest.ts';

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;

/** The stored columns that opening reads: the event's identity, its version and every place a reference can be. */
const OPENING_COLUMNS = ['id', 'seq', 'schema_version', ...ACTOR_PERSONAL_FIELDS, 'context', 'personal'] as const;
type OpeningEvent = Pick<AuditEvent, (typeof OPENING_COLUMNS)[number]>;

/**
 * Bytes a record must hold to carry a reference: the envelope's prefix, or a
 * JSON \u escape (inside context or personal, a string can spell the prefix
 * with escapes only: none of its characters has a short escape).
 */
const PREFIX_BYTES = Buffer.from(ENVELOPE_PREFIX, 'utf8');
const UNICODE_ESCAPE = Buffer.from('\\u', 'utf8');
const mayHoldReference = (record: Buffer) => record.includes(PREFIX_BYTES) || record.includes(UNICODE_ESCAPE);

/** A manifest's `personal` before anything is examined (stored mode keeps it so). */
export function unexaminedPersonal(mode: PersonalExportMode): ManifestPersonal {
  return mode === 'stored'
    ? { mode, column_version: null, rows: null, opened_subjects: null, erased_fields: null, erased: null }
    : { mode, column_version: PERSONAL_OPENED_VERSION, rows: 0, opened_subjects: 0, erased_fields: 0, erased: [] };
}

/**
 * A whole record (ending CRLF in CSV, `}` LF in JSON Lines) with its
 * personal_opened cell: CSV, the delimiter and the JSON text quoted (it holds
 * quotes), or nothing for null; JSON Lines, the member `"personal_opened":`
 * and the JSON text (or null) before the closing brace.
 */
export function withPersonalCell(spec: ExportFormatSpec, record: Buffer, json: string | null): Buffer[] {
  const head = record.subarray(0, record.length - 2);
  if (spec.framing === 'csv') return [head, Buffer.from(`${spec.delimiter}${json === null ? '' : `"${json.replace(/"/g, '""')}"`}\r\n`)];
  if (spec.framing === 'jsonl') return [head, Buffer.from(`,"personal_opened":${json ?? 'null'}}\n`)];
  throw new Error(`${spec.id} has no personal_opened column`);
}

/** A whole record; in CSV, also where each cell starts, then where the record end (CRLF) starts, less one. */
interface SplitRecord {
  bytes: Buffer;
  /** CSV: cell k spans bytes [bounds[k], bounds[k + 1] - 1). Empty in JSON Lines. */
  bounds: number[];
}

/** Splits a format's bytes into whole records (and CSV records into cells), across chunks. */
class RecordSplitter {
  private carry: Buffer[] = [];
  private carried = 0;
  private inQuotes = false;
  private bounds: number[] = [0];
  private readonly delimiter: number;

  constructor(private readonly csv: boolean, delimiter = ',') {
    this.delimiter = delimiter.charCodeAt(0);
  }

  split(chunk: Buffer): SplitRecord[] {
    const records: SplitRecord[] = [];
    const csv = this.csv;
    const delimiter = this.delimiter;
    let start = 0;
    const endRecord = (lf: number) => {
      const piece = chunk.subarray(start, lf + 1);
      const bytes = this.carry.length ? Buffer.concat([...this.carry.splice(0), piece]) : piece;
      if (csv) {
        if (bytes[bytes.length - 2] !== CR) throw new Error('a CSV record of the export does not end with CRLF');
        this.bounds.push(bytes.length - 1);
      }
      records.push({ bytes, bounds: csv ? this.bounds : [] });
      this.bounds = [0];
      this.carried = 0;
      start = lf + 1;
    };
    // Long stretches (a quoted cell, a JSON Lines record) are crossed with indexOf; the short unquoted cells byte by byte.
    let i = 0;
    while (i < chunk.length) {
      if (!csv || this.inQuotes) {
        const next = chunk.indexOf(csv ? QUOTE : LF, i);
        if (next < 0) break;
        // A doubled quote inside a quoted cell closes and reopens it: the state is right at every cell and record end.
        if (csv) this.inQuotes = false;
        else endRecord(next);
        i = next + 1;
        continue;
      }
      const b = chunk[i]!;
      if (b === QUOTE) this.inQuotes = true;
      else if (b === delimiter) this.bounds.push(this.carried + i - start + 1);
      else if (b === LF) endRecord(i);
      i++;
    }
    if (start < chunk.length) {
      this.carry.push(Buffer.from(chunk.subarray(start)));
      this.carried += chunk.length - start;
    }
    return records;
  }

  /** Bytes left without a record end (never expected: the file ends with one). */
  rest(): number {
    return this.carried;
  }
}

/** One cell of a CSV record as written (RFC 4180: a quoted cell doubles its quotes). */
function csvCell(record: Buffer, from: number, to: number): CsvCell {
  if (record[from] !== QUOTE) return { text: record.toString('utf8', from, to), quoted: false };
  if (to - from < 2 || record[to - 1] !== QUOTE) throw new Error('a quoted CSV cell of the export does not end with a quote');
  const text = record.toString('utf8', from + 1, to - 1);
  return { text: text.includes('"') ? text.replaceAll('""', '"') : text, quoted: true };
}

export class PersonalColumn {
  readonly tally: ManifestPersonal;
  private readonly subjects = new Set<string>();
  /** Subject keys by key id: the live key, or null when destroyed (or unknown). */
  private readonly keys = new Map<string, Uint8Array | null>();
  private readonly splitter: RecordSplitter;
  /** Where each of OPENING_COLUMNS is among the format's columns. */
  private readonly cellIndex: number[];

  constructor(
    private readonly sql: Sql,
    private readonly tenantId: string,
    private readonly spec: ExportFormatSpec,
    mode: 'opened' | 'masked',
  ) {
    if (spec.framing === 'parquet') throw new Error('personal_opened is written in CSV and JSON Lines files only');
    this.tally = unexaminedPersonal(mode);
    this.splitter = spec.framing === 'csv' ? new RecordSplitter(true, spec.delimiter) : new RecordSplitter(false);
    this.cellIndex = OPENING_COLUMNS.map((c) => spec.columns.indexOf(c));
    if (this.cellIndex.some((i) => i < 0)) throw new Error(`${spec.id} lacks a column that opening reads`);
  }

  /**
   * What opening reads of each whole record's stored event, in order; null for
   * a record that cannot hold personal data (another schema version, or no
   * reference in its bytes).
   */
  private eventsOf(records: SplitRecord[]): (OpeningEvent | null)[] {
    if (this.spec.framing === 'jsonl') return records.map((r) => (mayHoldReference(r.bytes) ? (JSON.parse(r.bytes.toString('utf8')) as AuditEvent) : null));
    const columns = this.spec.columns.length;
    const index = this.cellIndex;
    return records.map(({ bytes, bounds }) => {
      if (bounds.length !== columns + 1) throw new Error(`a CSV record of the export has ${bounds.length - 1} cells, not ${columns}`);
      const value = (k: number) => valueOfCsvCell(OPENING_COLUMNS[k]!, csvCell(bytes, bounds[index[k]!]!, bounds[index[k]! + 1]! - 1));
      // OPENING_COLUMNS[2] is schema_version.
      if (value(2) !== SEALED_SCHEMA_VERSION || !mayHoldReference(bytes)) return null;
      const event: Record<string, unknown> = {};
      for (let k = 0; k < OPENING_COLUMNS.length; k++) event[OPENING_COLUMNS[k]!] = value(k);
      return event as OpeningEvent;
    });
  }

  /** The records of `chunk` (and of what earlier chunks left unfinished), each with its personal_opened cell. */
  async transform(chunk: Buffer): Promise<Buffer> {
    const records = this.splitter.split(chunk);
    if (!records.length) return Buffer.alloc(0);
    const events = this.eventsOf(records);
    const masked = this.tally.mode === 'masked';
    // Keys are looked up once per export (a key is live or destroyed as the export first meets it).
    const found = events.map((e) => (e?.schema_version === SEALED_SCHEMA_VERSION ? referencesOf(e) : []));
    const unknown = [...new Set(found.flatMap((refs) => refs.map((r) => r.reference.keyId)))].filter((id) => !this.keys.has(id));
    if (unknown.length) {
      const found = await keysById(this.sql, this.tenantId, unknown);
      for (const id of unknown) this.keys.set(id, found.get(id)?.key ?? null);
    }
    const keyOf = (id: string) => this.keys.get(id) ?? null;
    const opened = events.map((e, i) => (e ? openedPersonalData(e, this.tenantId, keyOf, masked, found[i]) : null));
    const out: Buffer[] = [];
    records.forEach((record, i) => {
      const data = opened[i];
      if (data) {
        const event = events[i]!;
        this.tally.rows!++;
        for (const s of data.opened) this.subjects.add(s);
        if (data.erased.length) {
          this.tally.erased!.push({ seq: Number(event.seq), id: event.id, pointers: data.erased });
          this.tally.erased_fields! += data.erased.length;
        }
      }
      out.push(...withPersonalCell(this.spec, record.bytes, data ? canonicalJson(personalOpenedCell(data)) : null));
    });
    this.tally.opened_subjects = this.subjects.size;
    return Buffer.concat(out);
  }

  /** At the end of the file: every byte belonged to a whole record. */
  finish(): void {
    const rest = this.splitter.rest();
    if (rest) throw new Error(`the export ended inside a record (${rest} bytes without a record end)`);
  }
}
