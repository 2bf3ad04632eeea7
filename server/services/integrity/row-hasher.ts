/**
 * The event hash computed straight from binary COPY rows, without building an
 * object per event: the canonical JSON (docs/integrity.md, "The event hash") is
 * written byte by byte into one reused buffer from the row's raw fields — text
 * fields are already UTF-8, the context arrives as PostgreSQL's jsonb text and
 * is re-serialized in RFC 8785 form by a small byte-level reader — and hashed
 * where it lies. Verification reads millions of rows; this is what lets it run
 * near the speed PostgreSQL hands them out (event-hash.ts stays the reference,
 * and row-hasher.test.ts checks this against it).
 *
 * `rowHasherFactory` is self-contained on purpose (no imports, no module-level
 * helpers): hash-pool.ts ships its source text to worker threads, so it must
 * only use what it is given (node:crypto, the ROW codes, ip.ts's IPv6 writer) and
 * the language's built-ins. Rows it does not handle itself (a version 1 event
 * with an IPv4-mapped IPv6 address, a timestamp outside years 0–9999) come back
 * marked FALLBACK and are hashed by the reference code on the main thread.
 *
 * Rows are the events alone (VERIFY_COLUMNS), read in any order; the caller
 * matches each row's seq, id and recomputed hash with the ledger's (verify.ts),
 * so PostgreSQL only reads the events, as a plain COPY of them would.
 */
import { EVENT_FIELDS } from '@/supabase/functions/_shared/fields.ts';

/** The SELECT list of verification's events COPY, in the order rowHasherFactory reads: the stored fields. */
export const VERIFY_COLUMNS = EVENT_FIELDS;

/** What became of each row (RowResults.codes). */
export const ROW = {
  /** Hashed: its SHA-256 is in `hashes`. */
  HASHED: 0,
  /** The event claims a schema version no event was written under (`details` has it). */
  BAD_VERSION: 1,
  /** Not hashed here: the caller hashes it with the reference code (`details` holds the row's bytes). */
  FALLBACK: 2,
} as const;

export interface RowResults {
  count: number;
  codes: Uint8Array;
  /** The event's seq. */
  seqs: Float64Array;
  /** The event's id, 16 bytes per row. */
  ids: Uint8Array;
  /** The recomputed event hash, 32 bytes per row (HASHED rows). */
  hashes: Uint8Array;
  /** For every row that is not HASHED, in order. */
  details: RowDetail[];
}

export interface RowDetail {
  index: number;
  version?: number;
  row?: Uint8Array;
}

interface CryptoLike {
  hash?: (algorithm: string, data: Uint8Array, encoding: 'latin1') => string;
  createHash: (algorithm: string) => { update(data: Uint8Array): { digest(encoding: 'latin1'): string } };
}

/** ip.ts's postgresIpv6: the RFC 5952 text PostgreSQL writes for eight 16-bit groups. */
type Ipv6Text = (words: number[]) => string;

export function rowHasherFactory(crypto: CryptoLike, codes: typeof ROW, ipv6Text: Ipv6Text) {
  const FIELDS = 22;
  const PG_EPOCH_MICROS = 946_684_800_000_000;
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const HEX = new Uint8Array(512);
  for (let i = 0; i < 256; i++) {
    const h = i.toString(16).padStart(2, '0');
    HEX[2 * i] = h.charCodeAt(0);
    HEX[2 * i + 1] = h.charCodeAt(1);
  }
  const ascii = (s: string) => encoder.encode(s);
  // Member names in canonical (RFC 8785) order, with their separators.
  const K = {
    actor_id: ascii('{"actor_id":'),
    actor_type: ascii(',"actor_type":'),
    context: ascii(',"context":'),
    device_fingerprint: ascii(',"device_fingerprint":'),
    event_type: ascii(',"event_type":'),
    id: ascii(',"id":'),
    ip_address: ascii(',"ip_address":'),
    object_id: ascii(',"object_id":'),
    object_type: ascii(',"object_type":'),
    observed_ip: ascii(',"observed_ip":'),
    observed_user_agent: ascii(',"observed_user_agent":'),
    occurred_at: ascii(',"occurred_at":'),
    outcome: ascii(',"outcome":'),
    personal: ascii(',"personal":'),
    received_at: ascii(',"received_at":'),
    request_id: ascii(',"request_id":'),
    schema_version: ascii(',"schema_version":'),
    source: ascii(',"source":'),
    tenant_id: ascii(',"tenant_id":'),
    user_agent: ascii(',"user_agent":'),
    written_by: ascii(',"written_by":'),
  };
  const NULL = ascii('null');
  const [OPEN_OBJECT, CLOSE_OBJECT, OPEN_ARRAY, CLOSE_ARRAY, COMMA, TRUE, FALSE] = ['{', '}', '[', ']', ',', 'true', 'false'].map(ascii) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array];

  const PAIRS = new Uint8Array(200);
  for (let i = 0; i < 100; i++) {
    PAIRS[2 * i] = 0x30 + Math.floor(i / 10);
    PAIRS[2 * i + 1] = 0x30 + (i % 10);
  }
  // The last date written for each timestamp field (occurred_at, received_at): events come in time order.
  const dateDays = [NaN, NaN];
  const dateText = [new Uint8Array(10), new Uint8Array(10)];
  let out = new Uint8Array(1 << 16);
  let o = 0;
  // out[0, n) by n, made once: rows repeat their lengths, and a view per row would be garbage per row.
  let views: Uint8Array[] = [];
  const start = new Int32Array(FIELDS);
  const len = new Int32Array(FIELDS);
  let b: Uint8Array = new Uint8Array(0);

  function ensure(n: number) {
    if (o + n <= out.length) return;
    const next = new Uint8Array(Math.max(out.length * 2, o + n + 1024));
    next.set(out.subarray(0, o));
    out = next;
    views = [];
  }
  // Loops copy through locals: the closure's `out` and `o` are written back once, not per byte.
  function put(bytes: Uint8Array) {
    const n = bytes.length;
    ensure(n);
    if (n > 12) out.set(bytes, o);
    else {
      const to = out;
      const at = o;
      for (let i = 0; i < n; i++) to[at + i] = bytes[i]!;
    }
    o += n;
  }
  function putString(s: string) {
    ensure(s.length * 3);
    o += encoder.encodeInto(s, out.subarray(o)).written;
  }
  function i32(p: number) {
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) | 0;
  }
  function u32(p: number) {
    return i32(p) >>> 0;
  }
  function int8(f: number) {
    const p = start[f]!;
    return i32(p) * 4294967296 + u32(p + 4);
  }
  /** A text field as a JSON string: its UTF-8 bytes as they are unless something needs escaping. */
  function text(f: number) {
    const s = start[f]!;
    const n = len[f]!;
    if (n < 0) return put(NULL);
    ensure(n + 2);
    const to = out;
    const row = b;
    const shift = o + 1 - s;
    to[o] = 0x22;
    for (let i = s, e = s + n; i < e; i++) {
      const c = row[i]!;
      if (c < 0x20 || c === 0x22 || c === 0x5c) return putString(JSON.stringify(decoder.decode(row.subarray(s, e))));
      to[shift + i] = c;
    }
    o = shift + s + n;
    to[o++] = 0x22;
  }
  /** 0–255 in decimal. */
  function octet(v: number) {
    if (v >= 100) {
      out[o++] = 0x30 + Math.floor(v / 100);
      v %= 100;
      out[o++] = 0x30 + Math.floor(v / 10);
    } else if (v >= 10) out[o++] = 0x30 + Math.floor(v / 10);
    out[o++] = 0x30 + (v % 10);
  }
  function uuid(f: number) {
    const s = start[f]!;
    ensure(38);
    out[o++] = 0x22;
    for (let i = 0; i < 16; i++) {
      const v = b[s + i]!;
      out[o++] = HEX[2 * v]!;
      out[o++] = HEX[2 * v + 1]!;
      if (i === 3 || i === 5 || i === 7 || i === 9) out[o++] = 0x2d;
    }
    out[o++] = 0x22;
  }
  /** YYYY-MM-DDTHH:MM:SS.ffffffZ (UTC), as fromMicros writes it, for years 0–9999. */
  function timestamp(f: number, cache: 0 | 1) {
    const micros = int8(f) + PG_EPOCH_MICROS;
    const second = Math.floor(micros / 1_000_000);
    const fraction = micros - second * 1_000_000;
    const days = Math.floor(second / 86400);
    let rest = second - days * 86400;
    // Events come in time order: the date is mostly the previous one's.
    if (days !== dateDays[cache]) civilDate(days, cache);
    const date = dateText[cache]!;
    ensure(29);
    out[o++] = 0x22;
    for (let i = 0; i < 10; i++) out[o++] = date[i]!;
    out[o++] = 0x54;
    const hour = Math.floor(rest / 3600);
    rest -= hour * 3600;
    pair(hour);
    out[o++] = 0x3a;
    const minute = Math.floor(rest / 60);
    pair(minute);
    out[o++] = 0x3a;
    pair(rest - minute * 60);
    out[o++] = 0x2e;
    const high = Math.floor(fraction / 10000);
    const low = fraction - high * 10000;
    const mid = Math.floor(low / 100);
    pair(high);
    pair(mid);
    pair(low - mid * 100);
    out[o++] = 0x5a;
    out[o++] = 0x22;
  }
  /** Two decimal digits of 0–99. */
  function pair(v: number) {
    out[o++] = PAIRS[2 * v]!;
    out[o++] = PAIRS[2 * v + 1]!;
  }
  /** YYYY-MM-DD of days since 1970-01-01 into dateText[cache] (H. Hinnant's civil-from-days), for years 0–9999. */
  function civilDate(days: number, cache: 0 | 1) {
    const z = days + 719468;
    const era = Math.floor(z / 146097);
    const doe = z - era * 146097;
    const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
    const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
    const mp = Math.floor((5 * doy + 2) / 153);
    const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
    const month = mp < 10 ? mp + 3 : mp - 9;
    const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
    if (year < 0 || year > 9999) throw new RangeError('year outside 0–9999');
    const text = `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
    for (let i = 0; i < 10; i++) dateText[cache]![i] = text.charCodeAt(i);
    dateDays[cache] = days;
  }
  /**
   * An inet as the event's schema version hashes it (ip.ts): IPv4 dotted, IPv6 as
   * PostgreSQL writes it; version 1 never dotted, so a dotted IPv6 form of a
   * version 1 event is left to the reference code (false).
   */
  function inet(f: number, version: number): boolean {
    const s = start[f]!;
    if (len[f]! < 0) {
      put(NULL);
      return true;
    }
    if (b[s] === 2 && b[s + 3] === 4) {
      ensure(17);
      out[o++] = 0x22;
      for (let i = 4; i < 8; i++) {
        if (i > 4) out[o++] = 0x2e;
        octet(b[s + i]!);
      }
      out[o++] = 0x22;
      return true;
    }
    if (b[s] !== 3 || b[s + 3] !== 16) return false;
    const words: number[] = [];
    for (let i = 0; i < 16; i += 2) words.push((b[s + 4 + i]! << 8) | b[s + 5 + i]!);
    const text = ipv6Text(words);
    if (version === 1 && text.includes('.')) return false;
    putString('"' + text + '"');
    return true;
  }

  // ---- jsonb text (PostgreSQL's output) to RFC 8785 ----
  let j = 0;
  function ws(end: number) {
    while (j < end) {
      const c = b[j]!;
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      j++;
    }
  }
  /** Reads a string token at j; returns [start, end) of the token and whether it is written as is. */
  function stringToken(end: number): boolean {
    let plain = true;
    j++;
    while (j < end) {
      const c = b[j]!;
      if (c === 0x22) {
        j++;
        return plain;
      }
      if (c === 0x5c) {
        plain = false;
        j += 2;
        continue;
      }
      if (c < 0x20) plain = false;
      j++;
    }
    throw new Error('unterminated string');
  }
  /**
   * Copies the string token at j to out while scanning it (one pass) and moves j and o past it, if it has no escape,
   * no control character and no byte at or above `limit`; otherwise leaves j and o where they were (false).
   */
  function copyString(end: number, limit: number): boolean {
    const s = j;
    ensure(end - s);
    const to = out;
    const from = b;
    const shift = o - s;
    to[o] = 0x22;
    for (let i = s + 1; i < end; i++) {
      const c = from[i]!;
      if (c === 0x22) {
        to[shift + i] = c;
        j = i + 1;
        o = shift + j;
        return true;
      }
      if (c === 0x5c || c < 0x20 || c >= limit) return false;
      to[shift + i] = c;
    }
    return false;
  }
  /** Plain ASCII keys (nearly all) are copied as they are; any other is only skipped here (false) and rewritten by the caller. */
  function asciiKey(end: number): boolean {
    if (copyString(end, 0x80)) return true;
    stringToken(end);
    return false;
  }
  /** A string value: copied as it is unless it has escapes or control characters, then rewritten. */
  function jsonString(end: number) {
    const s = j;
    if (copyString(end, 0x100)) return;
    stringToken(end);
    putString(JSON.stringify(JSON.parse(decoder.decode(b.subarray(s, j))) as string));
  }
  function jsonNumber(end: number) {
    const s = j;
    if (b[j] === 0x2d) j++;
    const intStart = j;
    while (j < end && b[j]! >= 0x30 && b[j]! <= 0x39) j++;
    const intEnd = j;
    let fracStart = -1;
    let fracEnd = -1;
    if (j < end && b[j] === 0x2e) {
      fracStart = ++j;
      while (j < end && b[j]! >= 0x30 && b[j]! <= 0x39) j++;
      fracEnd = j;
    }
    let exponent = false;
    if (j < end && (b[j] === 0x65 || b[j] === 0x45)) {
      exponent = true;
      j++;
      if (b[j] === 0x2b || b[j] === 0x2d) j++;
      while (j < end && b[j]! >= 0x30 && b[j]! <= 0x39) j++;
    }
    // A plain decimal of at most 15 significant digits is the shortest form of its double, and
    // ECMAScript prints it as written without the fraction's trailing zeros (fixed notation: the
    // integer part below 1e21, and below 1 at most five zeros after the point). Anything else as ECMAScript prints it.
    const intDigits = intEnd - intStart;
    if (!exponent && intDigits > 0 && (intDigits === 1 || b[intStart] !== 0x30)) {
      let fe = fracEnd;
      if (fracStart >= 0) while (fe > fracStart && b[fe - 1] === 0x30) fe--;
      let significant = intDigits;
      let fast = true;
      if (b[intStart] === 0x30) {
        let q = fracStart < 0 ? fe : fracStart;
        while (q < fe && b[q] === 0x30) q++;
        significant = fe - q;
        // 0 and -0 (and 0.000): only unsigned zero prints as written; 1e-7 and below print with an exponent.
        if (significant === 0) fast = intStart === s;
        else if (q - fracStart > 5) fast = false;
      } else if (fracStart >= 0) significant += fe - fracStart;
      if (fast && significant <= 15) {
        ensure(fe - s + 1);
        for (let i = s; i < intEnd; i++) out[o++] = b[i]!;
        if (fracStart >= 0 && fe > fracStart) {
          out[o++] = 0x2e;
          for (let i = fracStart; i < fe; i++) out[o++] = b[i]!;
        }
        return;
      }
    }
    putString(JSON.stringify(JSON.parse(decoder.decode(b.subarray(s, j))) as number));
  }
  // Object members being written, five ints each: key token start and end in the
  // row, 1 if the key is plain ASCII, start and end of "key":value in out.
  let members = new Int32Array(5 * 256);
  let top = 0;
  let order = new Int32Array(64);
  function compareKeys(x: number, y: number): number {
    const m = members;
    if (m[x + 2] && m[y + 2]) {
      const xs = m[x]!;
      const ys = m[y]!;
      const xn = m[x + 1]! - xs;
      const yn = m[y + 1]! - ys;
      const n = Math.min(xn, yn) - 1;
      for (let i = 1; i < n; i++) {
        const d = b[xs + i]! - b[ys + i]!;
        if (d) return d;
      }
      return xn - yn;
    }
    const kx = JSON.parse(decoder.decode(b.subarray(m[x]!, m[x + 1]!))) as string;
    const ky = JSON.parse(decoder.decode(b.subarray(m[y]!, m[y + 1]!))) as string;
    return kx < ky ? -1 : kx > ky ? 1 : 0;
  }
  function jsonValue(end: number) {
    ws(end);
    const c = b[j];
    if (c === 0x7b) {
      j++;
      ws(end);
      const from = o;
      put(OPEN_OBJECT);
      if (b[j] === 0x7d) {
        j++;
        put(CLOSE_OBJECT);
        return;
      }
      const base = top;
      let sorted = true;
      for (;;) {
        ws(end);
        const ks = j;
        if (top > base) {
          ensure(1);
          out[o++] = 0x2c;
        }
        // Plain ASCII keys (nearly all) are copied while scanned; others are rewritten below.
        const keyAt = o;
        const plain = asciiKey(end);
        const ke = j;
        if (top + 5 > members.length) {
          const grown = new Int32Array(members.length * 2);
          grown.set(members);
          members = grown;
        }
        const m = top;
        top += 5;
        members[m] = ks;
        members[m + 1] = ke;
        members[m + 2] = plain ? 1 : 0;
        members[m + 3] = keyAt;
        if (!plain) putString(JSON.stringify(JSON.parse(decoder.decode(b.subarray(ks, ke))) as string));
        ws(end);
        j++; // :
        ensure(1);
        out[o++] = 0x3a;
        jsonValue(end);
        members[m + 4] = o;
        if (m > base && sorted && compareKeys(m - 5, m) > 0) sorted = false;
        ws(end);
        if (b[j] === 0x2c) {
          j++;
          continue;
        }
        j++; // }
        break;
      }
      if (!sorted) {
        // Insertion sort of the members (objects are small), then copy them back in that order.
        const first = from + 1;
        const n = (top - base) / 5;
        if (order.length < n) order = new Int32Array(n * 2);
        for (let i = 0; i < n; i++) {
          const m = base + 5 * i;
          let k = i;
          while (k > 0 && compareKeys(order[k - 1]!, m) > 0) {
            order[k] = order[k - 1]!;
            k--;
          }
          order[k] = m;
        }
        // Members in order after the object as written, then moved back over it (no allocation).
        const end = o;
        ensure(end - first + n);
        for (let i = 0; i < n; i++) {
          const m = order[i]!;
          if (i) out[o++] = 0x2c;
          out.copyWithin(o, members[m + 3]!, members[m + 4]!);
          o += members[m + 4]! - members[m + 3]!;
        }
        out.copyWithin(first, end, o);
        o = first + (o - end);
      }
      top = base;
      put(CLOSE_OBJECT);
    } else if (c === 0x5b) {
      j++;
      put(OPEN_ARRAY);
      ws(end);
      if (b[j] === 0x5d) {
        j++;
        put(CLOSE_ARRAY);
        return;
      }
      for (let first = true; ; first = false) {
        if (!first) put(COMMA);
        jsonValue(end);
        ws(end);
        if (b[j] === 0x2c) {
          j++;
          continue;
        }
        j++; // ]
        break;
      }
      put(CLOSE_ARRAY);
    } else if (c === 0x22) {
      jsonString(end);
    } else if (c === 0x74) {
      j += 4;
      put(TRUE);
    } else if (c === 0x66) {
      j += 5;
      put(FALSE);
    } else if (c === 0x6e) {
      j += 4;
      put(NULL);
    } else {
      jsonNumber(end);
    }
  }

  /** SHA-256 of out[0, o), as a string of 32 one-byte characters (the cheapest form Node returns). */
  function digest(): string {
    const data = views[o] ?? (views[o] = out.subarray(0, o));
    if (crypto.hash) return crypto.hash('sha256', data, 'latin1');
    return crypto.createHash('sha256').update(data).digest('latin1');
  }

  /** The canonical JSON of the row's event, preceded by 0x00, in out[0, o); false if left to the reference code. */
  function canonical(version: number): boolean {
    o = 0;
    out[o++] = 0;
    put(K.actor_id);
    text(6);
    put(K.actor_type);
    text(5);
    put(K.context);
    // jsonb binary: a version byte (1), then the JSON text.
    j = start[18]! + 1;
    jsonValue(start[18]! + len[18]!);
    put(K.device_fingerprint);
    text(15);
    put(K.event_type);
    text(9);
    put(K.id);
    uuid(0);
    put(K.ip_address);
    if (!inet(13, version)) return false;
    put(K.object_id);
    text(8);
    put(K.object_type);
    text(7);
    put(K.observed_ip);
    if (!inet(16, version)) return false;
    put(K.observed_user_agent);
    text(17);
    put(K.occurred_at);
    timestamp(3, 0);
    put(K.outcome);
    text(10);
    // Version 3 hashes its sealed personal object (or null); before, only an event that shows one has the member.
    if (version === 3 || len[21]! >= 0) {
      put(K.personal);
      if (len[21]! < 0) put(NULL);
      else {
        j = start[21]! + 1;
        jsonValue(start[21]! + len[21]!);
      }
    }
    put(K.received_at);
    timestamp(4, 1);
    put(K.request_id);
    text(12);
    put(K.schema_version);
    ensure(1);
    out[o++] = 0x30 + version;
    put(K.source);
    text(11);
    put(K.tenant_id);
    uuid(1);
    put(K.user_agent);
    text(14);
    // Version 1 events have no written_by: one that shows one gets a hash no genuine version 1 event has.
    if (version === 1 && len[20]! < 0) put(CLOSE_OBJECT);
    else {
      put(K.written_by);
      text(20);
      put(CLOSE_OBJECT);
    }
    return true;
  }

  /** Hashes every row of `bytes` (whole binary COPY rows, no header or trailer). */
  function checkRows(bytes: Uint8Array): RowResults {
    b = bytes;
    let count = 0;
    for (let p = 0; p < b.length; count++) {
      const n = (b[p]! << 8) | b[p + 1]!;
      p += 2;
      for (let f = 0; f < n; f++) {
        const l = i32(p);
        p += 4 + (l > 0 ? l : 0);
      }
    }
    // One allocation (one buffer to hand to the main thread): seqs, ids, hashes, codes.
    const memory = new ArrayBuffer(57 * count);
    const seqs = new Float64Array(memory, 0, count);
    const ids = new Uint8Array(memory, 8 * count, 16 * count);
    const hashes = new Uint8Array(memory, 24 * count, 32 * count);
    const results = new Uint8Array(memory, 56 * count, count);
    const details: RowDetail[] = [];
    let p = 0;
    for (let r = 0; r < count; r++) {
      const rowStart = p;
      p += 2;
      for (let f = 0; f < FIELDS; f++) {
        const l = i32(p);
        p += 4;
        start[f] = p;
        len[f] = l;
        if (l > 0) p += l;
      }
      seqs[r] = int8(2);
      const at = start[0]!;
      for (let i = 0; i < 16; i++) ids[16 * r + i] = b[at + i]!;
      const version = (b[start[19]!]! << 8) | b[start[19]! + 1]!;
      const signed = version > 0x7fff ? version - 0x10000 : version;
      if (signed !== 1 && signed !== 2 && signed !== 3) {
        results[r] = codes.BAD_VERSION;
        details.push({ index: r, version: signed });
        continue;
      }
      let handled = false;
      try {
        handled = canonical(signed);
      } catch {
        handled = false;
      }
      if (!handled) {
        results[r] = codes.FALLBACK;
        details.push({ index: r, row: b.slice(rowStart, p) });
        continue;
      }
      const h = digest();
      for (let i = 0; i < 32; i++) hashes[32 * r + i] = h.charCodeAt(i);
      results[r] = codes.HASHED;
    }
    return { count, codes: results, seqs, ids, hashes, details };
  }

  /** RFC 8785 form of a JSON text as PostgreSQL writes jsonb (for tests). */
  function canonicalJsonb(text: Uint8Array): string {
    b = text;
    o = 0;
    j = 0;
    jsonValue(text.length);
    return decoder.decode(out.subarray(0, o));
  }

  return { checkRows, canonicalJsonb };
}
