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
 * Row layout (VERIFY_COLUMNS): the ledger's seq, id, event_hash, occurred_at,
 * then the event's columns; a row whose event is absent has nulls there.
 */

/** The SELECT list of verification's ledger ⟗ events COPY, in the order rowHasherFactory reads. */
export const VERIFY_COLUMNS = [
  'l.seq',
  'l.id',
  'l.event_hash',
  'l.occurred_at',
  'e.id',
  'e.seq',
  'e.tenant_id',
  'e.occurred_at',
  'e.received_at',
  'e.actor_type',
  'e.actor_id',
  'e.object_type',
  'e.object_id',
  'e.event_type',
  'e.outcome',
  'e.source',
  'e.request_id',
  'e.ip_address',
  'e.user_agent',
  'e.device_fingerprint',
  'e.observed_ip',
  'e.observed_user_agent',
  'e.context',
  'e.schema_version',
  'e.written_by',
  'e.personal',
] as const;

/** What became of each row (RowResults.codes). */
export const ROW = {
  /** The event's recomputed hash equals the ledger's. */
  OK: 0,
  /** It does not. */
  MODIFIED: 1,
  /** The event claims a schema version no event was written under. */
  BAD_VERSION: 2,
  /** The ledger has the seq, PostgreSQL has no event for it (archived or missing). */
  ABSENT: 3,
  /** An event without its ledger seq, or with another id than the ledger's. */
  MISPLACED: 4,
  /** Not hashed here: the caller hashes it with the reference code (`rows` holds its bytes). */
  FALLBACK: 5,
} as const;

export interface RowResults {
  count: number;
  codes: Uint8Array;
  /** The event's seq (the ledger's for ABSENT rows). */
  seqs: Float64Array;
  /** For every row that is not OK, in order: its ids, and the row's bytes for FALLBACK. */
  details: RowDetail[];
}

export interface RowDetail {
  index: number;
  id: string | null;
  ledgerId: string | null;
  /** ABSENT: the month of the ledger's occurred_at, YYYY-MM-01. */
  month?: string;
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
  const FIELDS = 26;
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

  let out = new Uint8Array(1 << 16);
  let o = 0;
  const start = new Int32Array(FIELDS);
  const len = new Int32Array(FIELDS);
  let b: Uint8Array = new Uint8Array(0);

  function ensure(n: number) {
    if (o + n <= out.length) return;
    const next = new Uint8Array(Math.max(out.length * 2, o + n + 1024));
    next.set(out.subarray(0, o));
    out = next;
  }
  function put(bytes: Uint8Array) {
    const n = bytes.length;
    ensure(n);
    for (let i = 0; i < n; i++) out[o++] = bytes[i]!;
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
    const e = s + n;
    for (let i = s; i < e; i++) {
      const c = b[i]!;
      if (c < 0x20 || c === 0x22 || c === 0x5c) return putString(JSON.stringify(decoder.decode(b.subarray(s, e))));
    }
    ensure(n + 2);
    out[o++] = 0x22;
    for (let i = s; i < e; i++) out[o++] = b[i]!;
    out[o++] = 0x22;
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
  function sameBytes(f: number, g: number, n: number) {
    const x = start[f]!;
    const y = start[g]!;
    for (let i = 0; i < n; i++) if (b[x + i] !== b[y + i]) return false;
    return true;
  }
  function uuidText(f: number) {
    let s = '';
    const p = start[f]!;
    for (let i = 0; i < 16; i++) {
      const v = b[p + i]!;
      s += String.fromCharCode(HEX[2 * v]!, HEX[2 * v + 1]!);
      if (i === 3 || i === 5 || i === 7 || i === 9) s += '-';
    }
    return s;
  }
  function digits(v: number, n: number) {
    for (let i = n - 1; i >= 0; i--) {
      out[o + i] = 0x30 + (v % 10);
      v = Math.floor(v / 10);
    }
    o += n;
  }
  /** YYYY-MM-DDTHH:MM:SS.ffffffZ (UTC), as fromMicros writes it, for years 0–9999. */
  function timestamp(f: number) {
    const micros = int8(f) + PG_EPOCH_MICROS;
    const second = Math.floor(micros / 1_000_000);
    const fraction = micros - second * 1_000_000;
    const days = Math.floor(second / 86400);
    let rest = second - days * 86400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
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
    ensure(29);
    out[o++] = 0x22;
    digits(year, 4);
    out[o++] = 0x2d;
    digits(month, 2);
    out[o++] = 0x2d;
    digits(day, 2);
    out[o++] = 0x54;
    const hour = Math.floor(rest / 3600);
    rest -= hour * 3600;
    digits(hour, 2);
    out[o++] = 0x3a;
    digits(Math.floor(rest / 60), 2);
    out[o++] = 0x3a;
    digits(rest % 60, 2);
    out[o++] = 0x2e;
    digits(fraction, 6);
    out[o++] = 0x5a;
    out[o++] = 0x22;
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
      putString('"' + b[s + 4] + '.' + b[s + 5] + '.' + b[s + 6] + '.' + b[s + 7] + '"');
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
  function putToken(s: number, e: number) {
    ensure(e - s);
    for (let i = s; i < e; i++) out[o++] = b[i]!;
  }
  function jsonString(end: number) {
    const s = j;
    if (stringToken(end)) putToken(s, j);
    else putString(JSON.stringify(JSON.parse(decoder.decode(b.subarray(s, j))) as string));
  }
  function jsonNumber(end: number) {
    const s = j;
    let simple = true;
    let digits = 0;
    if (b[j] === 0x2d) j++;
    const first = j;
    while (j < end) {
      const c = b[j]!;
      if (c >= 0x30 && c <= 0x39) digits++;
      else if (c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d) simple = false;
      else break;
      j++;
    }
    // Integers of up to 15 digits are doubles exactly and print as they are; anything else as ECMAScript prints it.
    if (simple && digits > 0 && digits <= 15 && (b[first] !== 0x30 || digits === 1) && !(b[s] === 0x2d && b[first] === 0x30)) putToken(s, j);
    else putString(JSON.stringify(JSON.parse(decoder.decode(b.subarray(s, j))) as number));
  }
  // Object members being written, five ints each: key token start and end in the
  // row, 1 if the key is plain ASCII, start and end of "key":value in out.
  let members = new Int32Array(5 * 256);
  let top = 0;
  let order = new Int32Array(64);
  let scratch = new Uint8Array(1 << 12);
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
        let plain = stringToken(end);
        const ke = j;
        if (plain) for (let i = ks; i < ke; i++) if (b[i]! >= 0x80) plain = false;
        if (top > base) put(COMMA);
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
        members[m + 3] = o;
        if (plain) putToken(ks, ke);
        else putString(JSON.stringify(JSON.parse(decoder.decode(b.subarray(ks, ke))) as string));
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
        const size = o - first;
        if (scratch.length < size) scratch = new Uint8Array(size * 2);
        for (let i = 0; i < size; i++) scratch[i] = out[first + i]!;
        o = first;
        for (let i = 0; i < n; i++) {
          const m = order[i]!;
          if (i) out[o++] = 0x2c;
          const e = members[m + 4]! - first;
          for (let q = members[m + 3]! - first; q < e; q++) out[o++] = scratch[q]!;
        }
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
    const data = out.subarray(0, o);
    if (crypto.hash) return crypto.hash('sha256', data, 'latin1');
    return crypto.createHash('sha256').update(data).digest('latin1');
  }

  /** The canonical JSON of the row's event, preceded by 0x00, in out[0, o); false if left to the reference code. */
  function canonical(version: number): boolean {
    o = 0;
    out[o++] = 0;
    put(K.actor_id);
    text(10);
    put(K.actor_type);
    text(9);
    put(K.context);
    // jsonb binary: a version byte (1), then the JSON text.
    j = start[22]! + 1;
    jsonValue(start[22]! + len[22]!);
    put(K.device_fingerprint);
    text(19);
    put(K.event_type);
    text(13);
    put(K.id);
    uuid(4);
    put(K.ip_address);
    if (!inet(17, version)) return false;
    put(K.object_id);
    text(12);
    put(K.object_type);
    text(11);
    put(K.observed_ip);
    if (!inet(20, version)) return false;
    put(K.observed_user_agent);
    text(21);
    put(K.occurred_at);
    timestamp(7);
    put(K.outcome);
    text(14);
    // Version 3 hashes its sealed personal object (or null); before, only an event that shows one has the member.
    if (version === 3 || len[25]! >= 0) {
      put(K.personal);
      if (len[25]! < 0) put(NULL);
      else {
        j = start[25]! + 1;
        jsonValue(start[25]! + len[25]!);
      }
    }
    put(K.received_at);
    timestamp(8);
    put(K.request_id);
    text(16);
    put(K.schema_version);
    putString(String(version));
    put(K.source);
    text(15);
    put(K.tenant_id);
    uuid(6);
    put(K.user_agent);
    text(18);
    // Version 1 events have no written_by: one that shows one gets a hash no genuine version 1 event has.
    if (version === 1 && len[24]! < 0) put(CLOSE_OBJECT);
    else {
      put(K.written_by);
      text(24);
      put(CLOSE_OBJECT);
    }
    return true;
  }

  /** Checks every row of `bytes` (whole binary COPY rows, no header or trailer). */
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
    const results = new Uint8Array(count);
    const seqs = new Float64Array(count);
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
      if (len[4]! < 0) {
        // Not in PostgreSQL: its month may be archived.
        results[r] = codes.ABSENT;
        seqs[r] = int8(0);
        const at = int8(3) + PG_EPOCH_MICROS;
        details.push({ index: r, id: null, ledgerId: uuidText(1), month: new Date(Math.floor(at / 1000)).toISOString().slice(0, 7) + '-01' });
        continue;
      }
      seqs[r] = int8(5);
      if (len[0]! < 0 || !sameBytes(1, 4, 16)) {
        results[r] = codes.MISPLACED;
        details.push({ index: r, id: uuidText(4), ledgerId: len[1]! < 0 ? null : uuidText(1) });
        continue;
      }
      const version = (b[start[23]!]! << 8) | b[start[23]! + 1]!;
      const signed = version > 0x7fff ? version - 0x10000 : version;
      if (signed !== 1 && signed !== 2 && signed !== 3) {
        results[r] = codes.BAD_VERSION;
        details.push({ index: r, id: uuidText(4), ledgerId: null, version: signed });
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
        details.push({ index: r, id: uuidText(4), ledgerId: null, row: b.slice(rowStart, p) });
        continue;
      }
      const h = digest();
      const l = start[2]!;
      let same = len[2] === 32;
      for (let i = 0; same && i < 32; i++) if (h.charCodeAt(i) !== b[l + i]) same = false;
      if (same) results[r] = codes.OK;
      else {
        results[r] = codes.MODIFIED;
        details.push({ index: r, id: uuidText(4), ledgerId: null });
      }
    }
    return { count, codes: results, seqs, details };
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
