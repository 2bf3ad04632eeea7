import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { firstInvalidUtf8, formatJsonPath, numberKeepsValue, parseStrictJson, parseStrictJsonText, strictJsonProblem } from './strict-json.ts';

const bytes = (...parts: (string | number[])[]) => {
  const chunks = parts.map((p) => (typeof p === 'string' ? new TextEncoder().encode(p) : new Uint8Array(p)));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
};
const problemOf = (text: string) => strictJsonProblem(text);

describe('numbers', () => {
  it('keeps numbers whose decimal value a double holds, in any value-preserving form', () => {
    for (const n of ['0', '-0', '0.1', '150.00', '1e2', '1E+2', '100e-2', '0.30000000000000004', '9007199254740992', '-9007199254740992', '100000000000000000000', '5e-324', '2.2250738585072014e-308', '1.7976931348623157e308', '123456789012345', '1.5', '-187.25', '0.000001']) {
      expect(numberKeepsValue(n), n).toBe(true);
    }
  });

  it('refuses numbers a double would change: big integers, too many digits, out of range', () => {
    for (const n of ['12345678901234567890', '9007199254740993', '0.1000000000000000055511151231257827', '0.30000000000000000001', '123456789012345678', '1e400', '-1e400', '1e-400', '2.5e-324', '3.14159265358979323846']) {
      expect(numberKeepsValue(n), n).toBe(false);
    }
  });

  it('agrees with a round trip through the double and back for any number JavaScript writes', () => {
    fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (d) => numberKeepsValue(JSON.stringify(d))));
    // Integers (below 10^21, which JavaScript writes without an exponent): kept exactly when the double,
    // written back, is the same integer. Every integer within ±2^53 is.
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 69n), max: 2n ** 69n }), (b) => {
        const text = b.toString();
        expect(numberKeepsValue(text)).toBe(BigInt(String(Number(text))) === b);
        if (b >= -(2n ** 53n) && b <= 2n ** 53n) expect(numberKeepsValue(text)).toBe(true);
      }),
    );
  });
});

describe('strictJsonProblem', () => {
  it('names the path of a duplicate key, after unescaping, in small and large objects', () => {
    expect(problemOf('{"a":1,"a":1}')).toMatchObject({ path: ['a'], message: expect.stringMatching(/twice/) });
    expect(problemOf('{"a":1,"\\u0061":2}')).toMatchObject({ path: ['a'] });
    expect(problemOf('{"events":[{"x":1},{"context":{"y":{"z":1,"q":[1,{"k":1,"k":2}]}}}]}')).toMatchObject({ path: ['events', 1, 'context', 'y', 'q', 1, 'k'] });
    const wide = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i]));
    expect(problemOf(JSON.stringify(wide).replace('}', ',"k33":0}'))).toMatchObject({ path: ['k33'] });
    expect(problemOf('{"a":{"b":1},"c":{"b":1},"d":[{"b":1},{"b":1}]}')).toBeNull();
    expect(problemOf('{"a\\"b":1,"a\\"c":2,"x":"\\\\","y":"q\\"","a\\"b ":3}')).toBeNull();
  });

  it('names the path of a number a double would change, with a hint', () => {
    expect(problemOf('{"events":[{"context":{"qty":12345678901234567890}}]}')).toMatchObject({
      path: ['events', 0, 'context', 'qty'],
      message: expect.stringContaining('send it as a string'),
    });
    expect(problemOf('[1, 2, [3, 1e999]]')).toMatchObject({ path: [2, 1] });
    expect(problemOf('{"a":[0.1, 150.00, 1e2, -0, 5e-324]}')).toBeNull();
  });

  it('names the path of a lone surrogate in a value or a key; pairs are fine', () => {
    expect(problemOf('{"a":["ok","\\ud800"]}')).toMatchObject({ path: ['a', 1], message: expect.stringMatching(/lone surrogate/) });
    expect(problemOf('{"\\udc00x":1}')).toMatchObject({ path: ['\udc00x'] });
    expect(problemOf('{"rocket":"\\ud83d\\ude80","raw":"🚀"}')).toBeNull();
  });

  it('finds nothing wrong in JSON that JavaScript writes from objects (no false alarms)', () => {
    fc.assert(fc.property(fc.jsonValue({ stringUnit: 'binary' }), (v) => problemOf(JSON.stringify(v)) === null && problemOf(JSON.stringify(v, null, 2)) === null));
  });
});

describe('parseStrictJson', () => {
  it('parses UTF-8 JSON, a leading byte order mark included', () => {
    expect(parseStrictJson(bytes('{"a":"ü 🚀","b":[1.5]}'))).toEqual({ ok: true, value: { a: 'ü 🚀', b: [1.5] } });
    expect(parseStrictJson(bytes([0xef, 0xbb, 0xbf], '{"a":1}'))).toEqual({ ok: true, value: { a: 1 } });
  });

  it('refuses bytes that are not UTF-8 inside a string, naming its path; elsewhere the body is malformed', () => {
    for (const bad of [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80]]) {
      const result = parseStrictJson(bytes('{"events":[{"actor_id":"a","context":{"note":"x', bad, 'y"}}]}'));
      expect(result, JSON.stringify(bad)).toMatchObject({ ok: false, kind: 'strict', problem: { path: ['events', 0, 'context', 'note'], message: expect.stringMatching(/not valid UTF-8/) } });
    }
    expect(parseStrictJson(bytes('{"k', [0xff], '":1}'))).toMatchObject({ ok: false, kind: 'strict', problem: { path: ['k\ufffd'] } });
    expect(parseStrictJson(bytes('{"a":1}', [0xff]))).toMatchObject({ ok: false, kind: 'malformed' });
    expect(parseStrictJsonText('{"a":')).toMatchObject({ ok: false, kind: 'malformed' });
  });

  it('finds the first byte that is not UTF-8 exactly where a fatal decoder fails', () => {
    const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), (b) => {
        let valid = true;
        try {
          fatal.decode(b);
        } catch {
          valid = false;
        }
        const at = firstInvalidUtf8(b);
        expect(at === b.length).toBe(valid);
        // Everything before the reported byte decodes.
        fatal.decode(b.subarray(0, at));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('formatJsonPath', () => {
  it('writes paths as people read them', () => {
    expect(formatJsonPath(['context', 'legs', 2, 'px'])).toBe('context.legs[2].px');
    expect(formatJsonPath(['context', 'a.b', 'c d'])).toBe('context["a.b"]["c d"]');
    expect(formatJsonPath(['odd key!'])).toBe('odd key!');
    expect(formatJsonPath([2, 'a'])).toBe('[2].a');
    expect(formatJsonPath([])).toBe('(body)');
  });
});
