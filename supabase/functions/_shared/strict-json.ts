/**
 * Request bodies are stored exactly as sent, or refused. JSON.parse alone
 * repairs or drops things silently: invalid UTF-8 becomes U+FFFD, the last of
 * two equal keys wins, `12345678901234567890` becomes 12345678901234567000,
 * and `"\ud800"` becomes a string PostgreSQL cannot store. This module reads a
 * body with JSON.parse (native, fast) and refuses, naming the JSON path:
 *
 *   - bytes that are not UTF-8 (decoded with a fatal decoder);
 *   - an object with the same key twice (after unescaping: "a" and "\u0061" are one key);
 *   - a number whose decimal value a double does not keep exactly (an integer
 *     beyond 2^53, more significant digits than a double holds, out of range);
 *     `0.1`, `150.00` (= 150) and `1e2` (= 100) keep their value and pass;
 *   - a string or key with a lone surrogate escape (`"\ud800"`).
 *
 * The check is one pass over the text that JSON.parse has already accepted
 * (so it need not handle syntax errors): strings are skipped with indexOf,
 * and only strings holding a backslash and numbers of more than 15 characters
 * get a closer look. docs/integrity.md ("What is stored") states the rules.
 */

export type JsonPath = (string | number)[];

export interface StrictJsonProblem {
  path: JsonPath;
  message: string;
}

export type StrictJsonResult = { ok: true; value: unknown } | { ok: false; kind: 'malformed'; message: string } | { ok: false; kind: 'strict'; problem: StrictJsonProblem };

const utf8 = new TextDecoder('utf-8', { fatal: true });
const lossy = new TextDecoder('utf-8');

/** Parses a body: UTF-8, then JSON, then the fidelity rules. A leading byte order mark is ignored. */
export function parseStrictJson(bytes: Uint8Array): StrictJsonResult {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return invalidUtf8(bytes);
  }
  return parseStrictJsonText(text);
}

/** The same rules for a body already decoded to a string (the SDK's and tests' view). */
export function parseStrictJsonText(text: string): StrictJsonResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, kind: 'malformed', message: (err as Error).message };
  }
  const problem = strictJsonProblem(text);
  return problem ? { ok: false, kind: 'strict', problem } : { ok: true, value };
}

/** Where the first byte that is not UTF-8 is, as a JSON path (or a byte offset outside any string). */
function invalidUtf8(bytes: Uint8Array): StrictJsonResult {
  const offset = firstInvalidUtf8(bytes);
  const text = lossy.decode(bytes);
  const at = lossy.decode(bytes.subarray(0, offset)).length;
  try {
    JSON.parse(text);
  } catch {
    return { ok: false, kind: 'malformed', message: `the body is not UTF-8 (invalid byte at offset ${offset})` };
  }
  const path = strictJsonScan(text, at).pathAt ?? [];
  return { ok: false, kind: 'strict', problem: { path, message: `is not valid UTF-8 (byte offset ${offset} of the body); send JSON text encoded as UTF-8` } };
}

/** Offset of the first byte that does not start or continue a well-formed UTF-8 sequence (RFC 3629). */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f; // no encoded surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return i;
    }
    i += need + 1;
  }
  return n;
}

/** The first fidelity problem of a text JSON.parse accepted, or null. */
export function strictJsonProblem(text: string): StrictJsonProblem | null {
  return strictJsonScan(text, -1).problem;
}

// The path of the value being read, and of a key of the innermost object (functions of the module, not
// closures made on every scan).
const valuePath = (at: readonly (string | number)[], depth: number): JsonPath => at.slice(0, depth);
const keyPath = (at: readonly (string | number)[], depth: number, key: string): JsonPath => [...at.slice(0, depth - 1), key];

const OBJECT = 0;
const ARRAY = 1;

/**
 * One pass over valid JSON text. With `stopAt` ≥ 0 it also reports the path of
 * the string value or key that contains that character offset.
 */
function strictJsonScan(text: string, stopAt: number): { problem: StrictJsonProblem | null; pathAt?: JsonPath } {
  const kinds: number[] = [];
  const at: (string | number)[] = [];
  const seen: (string[] | Set<string>)[] = [];
  let depth = 0;
  let expectKey = false;
  const n = text.length;
  let backslash = text.indexOf('\\');
  if (backslash < 0) backslash = n;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: its end is the next quote unless a backslash comes first.
      let end = text.indexOf('"', i + 1);
      const escaped = backslash < end;
      if (escaped) {
        let j = i + 1;
        for (;;) {
          const ch = text.charCodeAt(j);
          if (ch === 0x5c) j += 2;
          else if (ch === 0x22) break;
          else j++;
        }
        end = j;
        backslash = text.indexOf('\\', end + 1);
        if (backslash < 0) backslash = n;
      }
      if (expectKey) {
        const key: string = escaped ? JSON.parse(text.slice(i, end + 1)) : text.slice(i + 1, end);
        if (stopAt >= i && stopAt <= end) return { problem: null, pathAt: keyPath(at, depth, key) };
        if (escaped && !key.isWellFormed()) {
          return { problem: { path: keyPath(at, depth, key), message: 'has a key with a lone surrogate (an unpaired \\ud800–\\udfff escape), which is not Unicode text' } };
        }
        const keys = seen[depth - 1]!;
        if (Array.isArray(keys)) {
          if (keys.includes(key)) return { problem: { path: keyPath(at, depth, key), message: 'appears twice in the same object; send each key once' } };
          keys.push(key);
          if (keys.length > 16) seen[depth - 1] = new Set(keys);
        } else {
          if (keys.has(key)) return { problem: { path: keyPath(at, depth, key), message: 'appears twice in the same object; send each key once' } };
          keys.add(key);
        }
        at[depth - 1] = key;
        expectKey = false;
      } else {
        if (stopAt >= i && stopAt <= end) return { problem: null, pathAt: valuePath(at, depth) };
        if (escaped && !(JSON.parse(text.slice(i, end + 1)) as string).isWellFormed()) {
          return { problem: { path: valuePath(at, depth), message: 'contains a lone surrogate (an unpaired \\ud800–\\udfff escape), which is not Unicode text' } };
        }
      }
      i = end + 1;
      continue;
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      let exponent = false;
      for (;;) {
        const d = text.charCodeAt(j);
        if ((d >= 0x30 && d <= 0x39) || d === 0x2e || d === 0x2d || d === 0x2b) j++;
        else if (d === 0x65 || d === 0x45) {
          exponent = true;
          j++;
        } else break;
      }
      // At most 15 characters without an exponent: at most 15 significant digits, which a double always keeps.
      if ((j - i > 15 || exponent) && !numberKeepsValue(text.slice(i, j))) {
        return {
          problem: {
            path: valuePath(at, depth),
            message: `is the number ${truncate(text.slice(i, j))}, which cannot be stored exactly (a double keeps about 15–17 significant digits and integers up to 2^53); send it as a string, e.g. "${truncate(text.slice(i, j))}"`,
          },
        };
      }
      i = j;
      continue;
    }
    switch (c) {
      case 0x7b: // {
        kinds[depth] = OBJECT;
        seen[depth] = [];
        at[depth] = '';
        depth++;
        expectKey = true;
        break;
      case 0x5b: // [
        kinds[depth] = ARRAY;
        at[depth] = 0;
        depth++;
        expectKey = false;
        break;
      case 0x7d: // }
      case 0x5d: // ]
        depth--;
        expectKey = false;
        break;
      case 0x2c: // ,
        if (kinds[depth - 1] === OBJECT) expectKey = true;
        else (at[depth - 1] as number)++;
        break;
      default:
        break;
    }
    i++;
  }
  return { problem: null };
}

function truncate(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

interface Decimal {
  negative: boolean;
  /** Significant digits without leading or trailing zeros; empty for zero. */
  digits: string;
  /** value = 0.digits… × 10^exponent, scaled so that digits is an integer: digits × 10^exponent. */
  exponent: number;
}

function decimalOf(lexeme: string): Decimal {
  let s = lexeme;
  const negative = s.startsWith('-');
  if (negative) s = s.slice(1);
  let exponent = 0;
  const e = s.search(/[eE]/);
  if (e !== -1) {
    exponent = Number(s.slice(e + 1));
    s = s.slice(0, e);
  }
  const dot = s.indexOf('.');
  if (dot !== -1) {
    exponent -= s.length - dot - 1;
    s = s.slice(0, dot) + s.slice(dot + 1);
  }
  let start = 0;
  while (start < s.length && s.charCodeAt(start) === 0x30) start++;
  let end = s.length;
  while (end > start && s.charCodeAt(end - 1) === 0x30) {
    end--;
    exponent++;
  }
  const digits = s.slice(start, end);
  return { negative: negative && digits.length > 0, digits, exponent: digits.length ? exponent : 0 };
}

/**
 * Whether a JSON number lexeme has the same decimal value as the double it
 * parses to (as that double is written back: the shortest form that reads
 * back as it, which is what the canonical JSON and the database hold).
 * `0.1` → 0.1 keeps it; `12345678901234567890` → 12345678901234567000 does not.
 */
export function numberKeepsValue(lexeme: string): boolean {
  const n = Number(lexeme);
  if (!Number.isFinite(n)) return false;
  const sent = decimalOf(lexeme);
  const kept = decimalOf(String(n));
  return sent.negative === kept.negative && sent.digits === kept.digits && sent.exponent === kept.exponent;
}

/**
 * A JSON path as people read it: context.legs[2].price, context["a.b"]. The
 * first key is written as it is (it names a field of the event, or one the
 * event should not have); deeper keys that are not plain names are quoted.
 */
export function formatJsonPath(path: JsonPath): string {
  let out = '';
  for (const [i, part] of path.entries()) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (i === 0) out += part;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(part)) out += `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out || '(body)';
}
