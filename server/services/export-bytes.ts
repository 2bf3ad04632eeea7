/**
 * The one piece of per-byte work Node does on an export, on PostgreSQL's own
 * COPY output: it counts records, turns record ends into CRLF (RFC 4180),
 * removes the insignificant spaces jsonb puts in `context` (compact JSON),
 * and notes the first and last `occurred_at`. It keeps a few bytes of state
 * between chunks, so memory stays constant whatever the size.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SPACE = 0x20;
const LF = 0x0a;
const CR = 0x0d;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;

const MAX_TIMESTAMP = 40;

export interface RecordStats {
  /** Data records (the CSV header is not counted). */
  rows: number;
  firstOccurredAt: string | null;
  lastOccurredAt: string | null;
}

export interface ByteTransformer {
  /** Transforms one chunk; the result may share no memory with the input. */
  push(chunk: Uint8Array): Uint8Array;
  /** Bytes held back at the end of the stream (a closing quote whose meaning depended on the next byte). */
  end(): Uint8Array;
  stats(): RecordStats;
}

class TimestampCapture {
  private readonly current = new Uint8Array(MAX_TIMESTAMP);
  private currentLength = 0;
  private first: string | null = null;
  private readonly last = new Uint8Array(MAX_TIMESTAMP);
  private lastLength = 0;

  byte(b: number): void {
    if (this.currentLength < MAX_TIMESTAMP) this.current[this.currentLength++] = b;
  }

  /** A record ended: its timestamp becomes the last (and, the first time, the first). */
  endRecord(): void {
    if (this.first === null) this.first = Buffer.from(this.current.subarray(0, this.currentLength)).toString('latin1');
    this.last.set(this.current.subarray(0, this.currentLength));
    this.lastLength = this.currentLength;
    this.currentLength = 0;
  }

  reset(): void {
    this.currentLength = 0;
  }

  firstValue(): string | null {
    return this.first;
  }

  lastValue(): string | null {
    return this.first === null ? null : Buffer.from(this.last.subarray(0, this.lastLength)).toString('latin1');
  }
}

/**
 * CSV as COPY writes it (fields quoted with ", quotes doubled, LF record ends).
 * `delimiter` is , or ; ; `contextColumn` is the column whose JSON is compacted,
 * `timeColumn` the column of occurred_at. The first record is the header.
 */
export function csvTransformer(options: { delimiter: number; contextColumn: number; timeColumn: number }): ByteTransformer {
  const { delimiter, contextColumn, timeColumn } = options;
  let quoted = false; // inside a quoted field
  let quotePending = false; // saw " inside a quoted field: an escaped quote or the field's end
  let column = 0;
  let records = 0; // including the header
  let jsonString = false; // inside a JSON string of the context column
  let jsonEscape = false;
  const time = new TimestampCapture();

  return {
    push(chunk) {
      // At most one extra byte per record end (CR); compaction only shrinks.
      let records_in_chunk = 0;
      for (let i = 0; i < chunk.length; i++) if (chunk[i] === LF) records_in_chunk++;
      // A quote held back from the previous chunk may be written here too.
      const out = new Uint8Array(chunk.length + records_in_chunk + (quotePending ? 1 : 0));
      let o = 0;
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i]!;
        if (quotePending) {
          quotePending = false;
          if (b === QUOTE) {
            // An escaped quote: one " of the value.
            out[o++] = QUOTE;
            out[o++] = QUOTE;
            if (column === contextColumn) {
              if (jsonEscape) jsonEscape = false;
              else jsonString = !jsonString;
            }
            continue;
          }
          // The closing quote of the field.
          quoted = false;
          out[o++] = QUOTE;
          // fall through: b is outside quotes
        } else if (quoted) {
          if (b === QUOTE) {
            quotePending = true;
            continue;
          }
          if (column === contextColumn) {
            if (jsonString) {
              if (jsonEscape) jsonEscape = false;
              else if (b === BACKSLASH) jsonEscape = true;
            } else if (b === SPACE) {
              continue;
            }
          } else if (column === timeColumn) {
            time.byte(b);
          }
          out[o++] = b;
          continue;
        }
        // Outside quotes.
        if (b === QUOTE) {
          quoted = true;
          jsonString = false;
          jsonEscape = false;
          out[o++] = b;
        } else if (b === delimiter) {
          column++;
          out[o++] = b;
        } else if (b === LF) {
          if (records > 0) time.endRecord();
          else time.reset();
          records++;
          column = 0;
          out[o++] = CR;
          out[o++] = LF;
        } else {
          if (column === timeColumn) time.byte(b);
          out[o++] = b;
        }
      }
      return o === out.length ? out : out.subarray(0, o);
    },
    end() {
      if (!quotePending) return new Uint8Array(0);
      quotePending = false;
      quoted = false;
      return new Uint8Array([QUOTE]);
    },
    stats() {
      return { rows: Math.max(0, records - 1), firstOccurredAt: time.firstValue(), lastOccurredAt: time.lastValue() };
    },
  };
}

/**
 * JSON Lines: one JSON object per line (no raw LF can occur inside JSON).
 * Removes spaces outside strings and notes each line's occurred_at: the
 * string value of the top-level key "occurred_at" (the 4th key).
 */
export function jsonlTransformer(options: { timeKeyIndex: number }): ByteTransformer {
  let inString = false;
  let escape = false;
  let depth = 0;
  let colons = 0; // top-level key/value separators seen on this line
  let afterColon = false; // the next string is a value, not a key
  let capturing = false;
  let records = 0;
  const time = new TimestampCapture();

  return {
    push(chunk) {
      const out = new Uint8Array(chunk.length);
      let o = 0;
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i]!;
        if (inString) {
          if (escape) escape = false;
          else if (b === BACKSLASH) escape = true;
          else if (b === QUOTE) {
            inString = false;
            capturing = false;
            out[o++] = b;
            continue;
          }
          if (capturing) time.byte(b);
          out[o++] = b;
          continue;
        }
        if (b === SPACE) continue;
        if (b === QUOTE) {
          inString = true;
          capturing = depth === 1 && afterColon && colons === options.timeKeyIndex + 1;
          afterColon = false;
        } else if (b === OPEN_BRACE || b === OPEN_BRACKET) depth++;
        else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) depth--;
        else if (b === COLON && depth === 1) {
          colons++;
          afterColon = true;
        } else if (b === COMMA) afterColon = false;
        else if (b === LF) {
          time.endRecord();
          records++;
          depth = 0;
          colons = 0;
          afterColon = false;
        }
        out[o++] = b;
      }
      return out.subarray(0, o);
    },
    end() {
      return new Uint8Array(0);
    },
    stats() {
      return { rows: records, firstOccurredAt: time.firstValue(), lastOccurredAt: time.lastValue() };
    },
  };
}
