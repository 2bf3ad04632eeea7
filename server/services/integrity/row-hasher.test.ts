/**
 * The row hasher (verification's fast path) against the reference code: the
 * same canonical JSON for contexts as PostgreSQL writes them back, and the
 * same event hashes for rows read from PostgreSQL, on the calling thread and
 * in worker threads.
 */
import * as crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '@/supabase/functions/_shared/canonical-json.ts';
import { connectionUrl } from '@/supabase/functions/_shared/db.ts';
import { postgresIpv6 } from '@/supabase/functions/_shared/ip.ts';
import { copyOutRows } from '@/server/db/copy-rows.ts';
import { call, event, newTenant, testSql } from '@/test/fixtures.ts';
import { rowCheckPool } from './hash-pool.ts';
import { ROW, rowHasherFactory, VERIFY_COLUMNS } from './row-hasher.ts';

const hasher = rowHasherFactory(crypto as never, ROW, postgresIpv6);

const documents: unknown[] = [
  {},
  { b: 1, a: 2, aa: 3, B: 4, '': 5 },
  { '🚀': 1, Ａ: 2, é: 3, e: 4, z: 5 },
  { 'a b': 1, 'a!': 2, a: 3, 'a"': 4, 'a\\': 5, 'a\n': 6, '\u0001': 7 },
  { text: 'quote " backslash \\ tab \t newline \n cr \r bell \u0007 del \u007f sep \u2028 emoji 😀 Ü' },
  { n: [0, -1, 1.5, 0.1, 1e21, 1e-7, 5e-324, 9007199254740992, 1.7976931348623157e308, 123456789012345, 1234567890123456, -0.000001, 2.5e-8] },
  { nested: { z: { y: [{ b: null, a: true }, [], {}, [false, 'x']] }, a: [[[1]]] } },
  { order_id: 'ORD-1', allocations: [{ quantity: 2400, account: 'ACC-1' }], symbol: 'AAPL', after: { venue: 'XETR', status: 'ROUTED' } },
];

describe('the row hasher', () => {
  it('writes every context PostgreSQL gives back in the canonical form the reference writes', async () => {
    for (const doc of documents) {
      const [row] = await testSql()`select ${JSON.stringify(doc)}::jsonb::text as text`;
      const text = Buffer.from(row!.text as string, 'utf8');
      expect(hasher.canonicalJsonb(text), JSON.stringify(doc)).toBe(canonicalJson(JSON.parse(row!.text as string)));
    }
  });

  it('writes decimals as ECMAScript prints them, however PostgreSQL keeps their digits', async () => {
    // jsonb keeps a number's digits as sent (1.50 stays 1.50); the canonical form is the double's shortest form.
    const numbers = ['1.50', '-0.0', '0.0', '100.000', '0.000001', '0.0000012', '0.00000012', '123456789012.345', '1234567890123.456', '-0.50', '10.10', '-12.340', '0.1', '999999999999999.0', '1E2', '2.5e-3', '-0', '7'];
    for (const n of numbers) {
      const [row] = await testSql()`select ${`{"p": ${n}, "list": [${n}]}`}::jsonb::text as text`;
      const text = Buffer.from(row!.text as string, 'utf8');
      expect(hasher.canonicalJsonb(text), n).toBe(canonicalJson(JSON.parse(row!.text as string)));
    }
  });

  it('hashes rows read from PostgreSQL exactly as the reference, on this thread and in workers', async () => {
    const t = await newTenant('row-hasher');
    const events = [
      '192.0.2.7',
      '2001:db8::1',
      '::ffff:10.0.0.1',
      '::10.1.2.3',
      'fe80::1:0:0:1',
      '2001:db8:0:0:1:0:0:1',
      null,
    ].map((ip, i) =>
      event({
        object_id: `ORD-RH-${i}`,
        ip_address: ip ?? undefined,
        occurred_at: ['2000-02-29T23:59:59.999999Z', '2024-12-31T23:59:59.000001Z', '2026-03-01T00:00:00.000000Z'][i % 3],
        user_agent: i % 2 ? 'Agent/1.0 (Überweisung; 東京) "quoted" \\ back' : undefined,
        context: documents[i % documents.length] as Record<string, unknown>,
      }),
    );
    const written = await call('POST', '/api/v1/audit/events', { key: t.writeKey, body: { events }, headers: { 'x-forwarded-for': '2001:db8::ff' } });
    expect(written.status).toBe(201);
    const read = async () => {
      const chunks: Uint8Array[] = [];
      for await (const rows of await copyOutRows(connectionUrl(testSql()), `copy (select ${VERIFY_COLUMNS.join(', ')} from public.audit_events where tenant_id = '${t.id}') to stdout (format binary)`, {}, 64)) chunks.push(rows);
      return chunks;
    };
    const ledger = await testSql()`select seq, encode(event_hash, 'hex') as hash from public.audit_ledger where tenant_id = ${t.id} order by seq`;
    const expected = new Map(ledger.map((r) => [Number(r.seq), r.hash as string]));
    expect(expected.size).toBe(events.length);
    for (const threads of [0, 2]) {
      const pool = rowCheckPool(threads);
      try {
        const hashed = new Map<number, string>();
        for (const rows of await read()) {
          const r = await pool.check(rows);
          for (let i = 0; i < r.count; i++) {
            expect(r.codes[i]).toBe(ROW.HASHED);
            hashed.set(r.seqs[i]!, Buffer.from(r.hashes.subarray(32 * i, 32 * i + 32)).toString('hex'));
          }
        }
        expect(hashed).toEqual(expected);
      } finally {
        await pool.close();
      }
    }
  });
});
