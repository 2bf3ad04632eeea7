import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json.ts';

describe('canonicalJson', () => {
  it('sorts keys by UTF-16 code units and drops whitespace (RFC 8785)', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], '€': 1, '\u0080': 2, A: { z: 1, y: 2 } })).toBe('{"A":{"y":2,"z":1},"a":[true,null,"x"],"b":1,"\u0080":2,"€":1}');
    expect(canonicalJson({ n: 1e21, m: 0.1 + 0.2, k: -0 })).toBe('{"k":0,"m":0.30000000000000004,"n":1e+21}');
    // Holes and values JSON has no place for are written as JSON.stringify writes them, in short and long arrays.
    for (const length of [3, 12]) {
      const sparse = new Array<unknown>(length);
      sparse[1] = undefined;
      sparse[2] = () => 1;
      expect(canonicalJson(sparse)).toBe(JSON.stringify(sparse));
    }
    expect(canonicalJson({ a: undefined, b: 'x\n"y"' })).toBe('{"b":"x\\n\\"y\\""}');
  });

  it('gives the same bytes as the reference implementation for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(canonicalJson(value)).toBe(canonicalize(value));
      }),
      { numRuns: 500 },
    );
  });
});
