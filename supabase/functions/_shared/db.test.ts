/**
 * pgArray writes the array literals the write path sends PostgreSQL: every
 * text comes back exactly as given, whatever quotes and backslashes it holds.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { testSql } from '@/test/fixtures.ts';
import { pgArray } from './db.ts';

afterAll(async () => {
  await testSql().end();
});

describe('pgArray', () => {
  it('round-trips texts with quotes, backslashes, braces, commas and NULL through PostgreSQL', async () => {
    const values = ['plain', 'say "hi"', 'C:\\path\\', '\\"', '"\\', '{a,b}', ' spaced ', '', 'NULL', '{"k":"v \\" \\\\ \\u0000"}', null, 'ünï "ç" \\ 🙂'];
    // Read back as JSON, which PostgreSQL writes itself (a NULL element as null).
    const [row] = await testSql().unsafe('select (select json_agg(t order by n) from unnest($1::text[]) with ordinality as u(t, n)) as texts, to_json($2::jsonb[]) as docs', [
      pgArray(values, (v) => v),
      pgArray([{ a: 'x"y\\z' }, ['\\', '"']], (v) => JSON.stringify(v)),
    ]);
    expect(row!.texts).toEqual(values);
    expect(row!.docs).toEqual([{ a: 'x"y\\z' }, ['\\', '"']]);
  });
});
