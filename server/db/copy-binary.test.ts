import { describe, expect, inject, it } from 'vitest';
import { copyOut } from './copy-out.ts';
import { testSql } from '@/test/fixtures.ts';
import { binaryCopyRows, decodeInet, decodeInt2, decodeInt8, decodeJsonbText, decodeText, decodeTimestamptz, decodeUuid } from './copy-binary.ts';

describe('binary COPY reader', () => {
  it('decodes every stored type exactly as the text protocol does', async () => {
    const query = `select * from (values
      ('0190f0e2-1b2c-7d3e-8f40-123456789abc'::uuid, 9007199254740991::int8, '2026-11-26 14:00:00.000007+00'::timestamptz, 'unicode é 注文 🚀'::text, '2001:db8::42'::inet, '{"b":[1,"x"],"a":null}'::jsonb, 7::int2),
      ('00000000-0000-0000-0000-000000000000'::uuid, -3::int8, '2000-01-01 00:00:00+00'::timestamptz, null, '10.0.0.1'::inet, '{}'::jsonb, -1::int2),
      ('ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid, 0::int8, '1999-12-31 23:59:59.999999+00'::timestamptz, '', '::ffff:1.2.3.4'::inet, '[]'::jsonb, 0::int2)
    ) as t(u, n, ts, s, ip, j, sm)`;
    const expected = await testSql().unsafe(query);
    const stream = await copyOut(inject('databaseUrl'), `copy (${query}) to stdout (format binary)`);
    const rows = [];
    for await (const batch of binaryCopyRows(stream)) rows.push(...batch);
    expect(rows.map((r) => ({
      u: decodeUuid(r[0]!),
      n: decodeInt8(r[1]!),
      ts: decodeTimestamptz(r[2]!),
      s: r[3] === null ? null : decodeText(r[3]!),
      ip: decodeInet(r[4]!),
      j: JSON.parse(decodeJsonbText(r[5]!)),
      sm: decodeInt2(r[6]!),
    }))).toEqual(expected.map((e) => ({ ...e })));
  });
});
