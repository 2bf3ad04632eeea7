/** The export's byte pass: the same output however the stream is cut into chunks. */
import { describe, expect, it } from 'vitest';
import { csvTransformer, jsonlTransformer, type ByteTransformer } from './export-bytes.ts';

function run(make: () => ByteTransformer, input: string, cuts: number[]): { text: string; stats: ReturnType<ByteTransformer['stats']> } {
  const bytes = Buffer.from(input, 'utf8');
  const t = make();
  const out: Buffer[] = [];
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(Buffer.from(t.push(bytes.subarray(at, cut))));
    at = cut;
  }
  out.push(Buffer.from(t.end()));
  return { text: Buffer.concat(out).toString('utf8'), stats: t.stats() };
}

const CSV = [
  'id,seq,occurred_at,actor_id,context',
  'a,1,2026-01-01T00:00:00.000001Z,"x, ""quoted""","{""k"": ""a, b: c"", ""n"": [1, 2], ""esc"": ""q\\"" x""}"',
  'b,2,2026-01-02T00:00:00.000002Z,"line1',
  'line2","{}"',
  '',
].join('\n');

describe('CSV byte pass', () => {
  const make = () => csvTransformer({ delimiter: 0x2c, contextColumn: 4, timeColumn: 2 });
  const expected = [
    'id,seq,occurred_at,actor_id,context',
    'a,1,2026-01-01T00:00:00.000001Z,"x, ""quoted""","{""k"":""a, b: c"",""n"":[1,2],""esc"":""q\\"" x""}"',
    'b,2,2026-01-02T00:00:00.000002Z,"line1\nline2","{}"',
    '',
  ].join('\r\n');

  it('counts records, ends them with CRLF, compacts context JSON and notes the time range, for every cut', () => {
    for (let cut = 0; cut <= Buffer.byteLength(CSV); cut++) {
      const { text, stats } = run(make, CSV, [cut]);
      expect(text, `cut at ${cut}`).toBe(expected);
      expect(stats).toEqual({ rows: 2, firstOccurredAt: '2026-01-01T00:00:00.000001Z', lastOccurredAt: '2026-01-02T00:00:00.000002Z' });
    }
  });

  it('keeps a closing quote that ends the stream', () => {
    expect(run(make, 'id,seq,occurred_at,actor_id,context\na,1,t,x,"{}"', []).text).toBe('id,seq,occurred_at,actor_id,context\r\na,1,t,x,"{}"');
  });

  it('reports no rows and no range for a header alone', () => {
    expect(run(make, 'id,seq,occurred_at,actor_id,context\n', []).stats).toEqual({ rows: 0, firstOccurredAt: null, lastOccurredAt: null });
  });
});

describe('JSON Lines byte pass', () => {
  const input = '{"id":"a","tenant_id":"t","seq":1,"occurred_at":"2026-01-01T00:00:00.000001Z","received_at":"x","context":{"a": "b: c, d", "e": [1, {"f": "\\" g"}]}}\n{"id":"b","tenant_id":"t","seq":2,"occurred_at":"2026-01-02T00:00:00.000002Z","context":{}}\n';
  it('compacts, counts and notes occurred_at of the first and last line, for every cut', () => {
    for (let cut = 0; cut <= Buffer.byteLength(input); cut++) {
      const { text, stats } = run(() => jsonlTransformer({ timeKeyIndex: 3 }), input, [cut]);
      expect(text.split('\n').filter(Boolean).map((l) => JSON.parse(l))).toEqual(input.split('\n').filter(Boolean).map((l) => JSON.parse(l)));
      expect(text).toContain('{"a":"b: c, d","e":[1,{"f":"\\" g"}]}');
      expect(stats).toEqual({ rows: 2, firstOccurredAt: '2026-01-01T00:00:00.000001Z', lastOccurredAt: '2026-01-02T00:00:00.000002Z' });
    }
  });
});
