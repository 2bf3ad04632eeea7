/**
 * The personal_opened column of an export opened or masked for its requester
 * (docs/export-format.md, section 8). The stored columns leave PostgreSQL and
 * DuckDB byte for byte as in a stored export — they are what the event hashes
 * cover — and each record gets one more cell: the RFC 8785 JSON object of the
 * event's reference pointers and their values ("[erased]" where the subject's
 * key was destroyed, "[personal]" when masked), or null for an event without
 * personal data. Hot and archived months pass through the same code, so a
 * file reads the same whatever the month's state.
 *
 * Records are split from the format's bytes (a CSV record ends at an LF outside
 * quotes, a JSON Lines record at any LF) and read back into the stored event
 * with the registry's readers (lib/export-formats.ts); the seals are opened
 * once per subject and event, each key looked up once per export (the keys a
 * chunk meets first in one query). The tally is the
 * manifest's `personal` object: every event with erased fields, by seq.
 */
import { parse as parseCsv } from 'csv-parse/sync';
import { eventValues, type CsvCell, type ExportFormatSpec, type PersonalExportMode } from '@/lib/export-formats.ts';
import { canonicalJson } from '@/supabase/functions/_shared/canonical-json.ts';
import type { AuditEvent } from '@/supabase/functions/_shared/contract.ts';
import type { Sql } from '@/supabase/functions/_shared/db.ts';
import { openedPersonalData, referencesOf, SEALED_SCHEMA_VERSION } from '@/supabase/functions/_shared/personal-data.ts';
import { keysById } from '../personal/keys.ts';
import type { ManifestPersonal } from './manifest.ts';

const LF = 0x0a;
const QUOTE = 0x22;

/** A manifest's `personal` before anything is examined (stored mode keeps it so). */
export function unexaminedPersonal(mode: PersonalExportMode): ManifestPersonal {
  return mode === 'stored' ? { mode, rows: null, opened_subjects: null, erased_fields: null, erased: null } : { mode, rows: 0, opened_subjects: 0, erased_fields: 0, erased: [] };
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

/** Splits a format's bytes into whole records, across chunks. */
class RecordSplitter {
  private carry: Buffer[] = [];
  private inQuotes = false;

  constructor(private readonly csv: boolean) {}

  split(chunk: Buffer): Buffer[] {
    const records: Buffer[] = [];
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      // A doubled quote inside a quoted field toggles twice: the state is right at every record end.
      if (this.csv && b === QUOTE) this.inQuotes = !this.inQuotes;
      else if (b === LF && !this.inQuotes) {
        const piece = chunk.subarray(start, i + 1);
        records.push(this.carry.length ? Buffer.concat([...this.carry.splice(0), piece]) : piece);
        start = i + 1;
      }
    }
    if (start < chunk.length) this.carry.push(Buffer.from(chunk.subarray(start)));
    return records;
  }

  /** Bytes left without a record end (never expected: the file ends with one). */
  rest(): number {
    return this.carry.reduce((n, b) => n + b.length, 0);
  }
}

export class PersonalColumn {
  readonly tally: ManifestPersonal;
  private readonly subjects = new Set<string>();
  /** Subject keys by key id: the live key, or null when destroyed (or unknown). */
  private readonly keys = new Map<string, Uint8Array | null>();
  private readonly splitter: RecordSplitter;

  constructor(
    private readonly sql: Sql,
    private readonly tenantId: string,
    private readonly spec: ExportFormatSpec,
    mode: 'opened' | 'masked',
  ) {
    if (spec.framing === 'parquet') throw new Error('personal_opened is written in CSV and JSON Lines files only');
    this.tally = unexaminedPersonal(mode);
    this.splitter = new RecordSplitter(spec.framing === 'csv');
  }

  /** The stored events of whole records, in order. */
  private eventsOf(records: Buffer[]): AuditEvent[] {
    if (this.spec.framing === 'jsonl') return records.map((r) => JSON.parse(r.toString('utf8')) as AuditEvent);
    const spec = this.spec;
    if (spec.framing !== 'csv') throw new Error('unreachable');
    const rows = parseCsv(Buffer.concat(records).toString('utf8'), {
      delimiter: spec.delimiter,
      record_delimiter: spec.recordEnd,
      columns: [...spec.columns],
      relax_column_count: false,
      cast: (value: string, context: { quoting: boolean }) => ({ text: value, quoted: context.quoting }) satisfies CsvCell,
    }) as Record<string, CsvCell>[];
    if (rows.length !== records.length) throw new Error(`read ${rows.length} events from ${records.length} records`);
    return rows.map((row) => eventValues(spec, row) as unknown as AuditEvent);
  }

  /** The records of `chunk` (and of what earlier chunks left unfinished), each with its personal_opened cell. */
  async transform(chunk: Buffer): Promise<Buffer> {
    const records = this.splitter.split(chunk);
    if (!records.length) return Buffer.alloc(0);
    const events = this.eventsOf(records);
    const masked = this.tally.mode === 'masked';
    // Keys are looked up once per export (a key is live or destroyed as the export first meets it).
    const unknown = events.flatMap((e) => (e.schema_version === SEALED_SCHEMA_VERSION ? referencesOf(e).map((r) => r.reference.keyId) : [])).filter((id) => !this.keys.has(id));
    if (unknown.length) {
      const found = await keysById(this.sql, this.tenantId, unknown);
      for (const id of unknown) this.keys.set(id, found.get(id)?.key ?? null);
    }
    const opened = events.map((e) => openedPersonalData(e, this.tenantId, (id) => this.keys.get(id) ?? null, masked));
    const out: Buffer[] = [];
    records.forEach((record, i) => {
      const data = opened[i];
      const event = events[i]!;
      if (data) {
        this.tally.rows!++;
        for (const s of data.opened) this.subjects.add(s);
        if (data.erased.length) {
          this.tally.erased!.push({ seq: Number(event.seq), id: event.id, pointers: data.erased });
          this.tally.erased_fields! += data.erased.length;
        }
      }
      out.push(...withPersonalCell(this.spec, record, data ? canonicalJson(data.values) : null));
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
