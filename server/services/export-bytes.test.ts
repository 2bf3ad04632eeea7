/** Records of COPY output: counted by message, CRLF at record ends only, time range from the first and last rows. */
import { describe, expect, it } from 'vitest';
import { CopyRecords, csvOccurredAt, jsonOccurredAt } from './export-bytes.ts';

const HEADER = 'id,tenant_id,seq,occurred_at,context\n';
const row = (n: number, at: string, rest: string) => `0000000${n}-0000-4000-8000-000000000000,11111111-1111-4111-8111-111111111111,${n},${at},${rest}\n`;

describe('CSV records', () => {
  it('counts data rows by message, turns only record ends into CRLF, and reads the time range', () => {
    const r = new CopyRecords({ header: true, crlf: true, occurredAt: csvOccurredAt(0x2c) });
    const rows = [row(1, '2026-01-01T00:00:00.000001Z', '"a\nb, ""c"""'), row(2, '2026-01-02T00:00:00.000002Z', '"{""k"": 1}"')];
    r.add(Buffer.from(HEADER));
    // A message may in principle arrive in parts: it is one record once its LF arrives.
    r.add(Buffer.from(rows[0]!.slice(0, 100)));
    r.add(Buffer.from(rows[0]!.slice(100)));
    r.add(Buffer.from(rows[1]!));
    expect(r.finish().toString()).toBe([HEADER, ...rows].map((l) => l.replace(/\n$/, '\r\n')).join(''));
    expect(r.stats()).toEqual({ rows: 2, firstOccurredAt: '2026-01-01T00:00:00.000001Z', lastOccurredAt: '2026-01-02T00:00:00.000002Z' });
  });

  it('reports no rows and no range for a header alone, and reads ; separated rows', () => {
    const r = new CopyRecords({ header: true, crlf: true, occurredAt: csvOccurredAt(0x3b) });
    r.add(Buffer.from(HEADER));
    expect(r.stats()).toEqual({ rows: 0, firstOccurredAt: null, lastOccurredAt: null });
    r.add(Buffer.from(row(3, '2026-03-03T00:00:00.000003Z', 'x').replace(/,/g, ';')));
    expect(r.stats()).toMatchObject({ rows: 1, firstOccurredAt: '2026-03-03T00:00:00.000003Z' });
  });
});

describe('JSON Lines records', () => {
  it('passes lines through and reads occurred_at', () => {
    const r = new CopyRecords({ header: false, crlf: false, occurredAt: jsonOccurredAt });
    const lines = ['{"id":"a","seq":1,"occurred_at":"2026-01-01T00:00:00.000001Z","context":{"a": "b"}}\n', '{"id":"b","seq":2,"occurred_at":"2026-01-02T00:00:00.000002Z","context":{}}\n'];
    for (const l of lines) r.add(Buffer.from(l));
    expect(r.take().toString()).toBe(lines.join(''));
    expect(r.stats()).toEqual({ rows: 2, firstOccurredAt: '2026-01-01T00:00:00.000001Z', lastOccurredAt: '2026-01-02T00:00:00.000002Z' });
  });
});
