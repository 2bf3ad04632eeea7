/** Records of COPY output: counted by message, CRLF at record ends only, months and time range read from the rows. */
import { describe, expect, it } from 'vitest';
import { CopyRecords, csvLayout, jsonlLayout, MonthTally } from './records.ts';

const row = (n: number, at: string, rest: string) => `0000000${n}-0000-4000-8000-000000000000,11111111-1111-4111-8111-111111111111,${n},${at},${rest}\n`;

describe('CSV records', () => {
  it('counts rows by message, turns only record ends into CRLF, and reads months and the time range', () => {
    const months = new MonthTally();
    const r = new CopyRecords({ crlf: true, layout: csvLayout(0x2c), months });
    const rows = [row(1, '2026-01-01T00:00:00.000001Z', '"a\nb, ""c"""'), row(2, '2026-01-02T00:00:00.000002Z', '"{""k"": 1}"'), row(3, '2026-02-01T00:00:00.000000Z', 'x')];
    // A message may in principle arrive in parts: it is one record once its LF arrives.
    r.add(Buffer.from(rows[0]!.slice(0, 100)));
    r.add(Buffer.from(rows[0]!.slice(100)));
    r.add(Buffer.from(rows[1]!));
    r.add(Buffer.from(rows[2]!));
    expect(r.finish().toString()).toBe(rows.map((l) => l.replace(/\n$/, '\r\n')).join(''));
    expect(r.stats()).toEqual({ rows: 3, firstOccurredAt: '2026-01-01T00:00:00.000001Z', lastOccurredAt: '2026-02-01T00:00:00.000000Z' });
    expect([...months.flush()]).toEqual([
      ['2026-01', 2],
      ['2026-02', 1],
    ]);
  });

  it('reports no rows and no range when nothing came, and reads ; separated rows', () => {
    const r = new CopyRecords({ crlf: true, layout: csvLayout(0x3b) });
    expect(r.stats()).toEqual({ rows: 0, firstOccurredAt: null, lastOccurredAt: null });
    r.add(Buffer.from(row(3, '2026-03-03T00:00:00.000003Z', 'x').replace(/,/g, ';')));
    expect(r.stats()).toMatchObject({ rows: 1, firstOccurredAt: '2026-03-03T00:00:00.000003Z' });
  });
});

describe('JSON Lines records', () => {
  it('passes lines through and reads occurred_at', () => {
    const months = new MonthTally();
    const r = new CopyRecords({ crlf: false, layout: jsonlLayout, months });
    const id = '0000000a-0000-4000-8000-000000000000';
    const tenant = '11111111-1111-4111-8111-111111111111';
    const lines = [
      `{"id":"${id}","tenant_id":"${tenant}","seq":12,"occurred_at":"2026-01-02T00:00:00.000002Z","context":{"a": "b"}}\n`,
      `{"id":"${id}","tenant_id":"${tenant}","seq":1,"occurred_at":"2025-12-01T00:00:00.000001Z","context":{}}\n`,
    ];
    for (const l of lines) r.add(Buffer.from(l));
    expect(r.take().toString()).toBe(lines.join(''));
    expect(r.stats()).toEqual({ rows: 2, firstOccurredAt: '2026-01-02T00:00:00.000002Z', lastOccurredAt: '2025-12-01T00:00:00.000001Z' });
    expect(Object.fromEntries(months.flush())).toEqual({ '2026-01': 1, '2025-12': 1 });
  });
});
