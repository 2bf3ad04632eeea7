/**
 * Exports against the real database and the real server: CSV escaping and
 * formula neutralisation checked with a standard CSV parser, JSON Lines equal
 * to the API's events, manifests whose hash matches the file, and a
 * 1,000,000-row export in bounded memory.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse/sync';
import { describe, expect, inject, it } from 'vitest';
import { CLOCK_FLAG_COLUMN, clockFlagOf } from '@/lib/export-formats.ts';
import { DEFAULT_CLOCK_TOLERANCE_MS, DEFAULT_NETWORK_DELAY_MS } from '@/supabase/functions/_shared/clock.ts';
import { EVENT_FIELDS, parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { withTenant } from '@/supabase/functions/_shared/db.ts';
import { appendEvents } from '@/supabase/functions/_shared/ingest.ts';
import { adminSql, call, event, newTenant, testSql, type TestTenant } from '@/test/fixtures.ts';
import { baseUrl } from '@/test/fixtures.ts';
import { startExport } from './export.ts';

const TRICKY = [
  event({ actor_id: '=HYPERLINK("http://evil.example","click")', object_id: 'a,b "quoted" c', context: { note: 'line1\nline2, "x": y', emoji: '😀 日本語 ü', n: -1.5, nested: { list: [1, null, 'z'] } } }),
  event({ actor_id: '+1+1', object_id: '-2', request_id: '@SUM(A1)', source: 'plain' }),
  event({ actor_id: 'ok', object_id: "'already quoted", user_agent: 'Mozilla/5.0 (X11; Linux x86_64) "quoted", comma' }),
];

/** Rows with values the contract refuses from clients but the export must still handle: tab, CR, LF. */
async function insertRaw(t: TestTenant) {
  await testSql()`select oms_audit.ensure_month_partition('2026-01-01'::date)`;
  await withTenant(testSql(), { tenant_id: t.id, sub: 'test', role: 'authenticated' }, async (tx) => {
    const [row] = await tx`select oms_audit.lock_tenant_sequence() as last`;
    const seq = Number(row!.last) + 1;
    const id = randomUUID();
    await tx`insert into public.audit_ledger (tenant_id, seq, id, occurred_at, event_hash) values (${t.id}, ${seq}, ${id}, '2026-01-01T00:00:00Z', decode(repeat('00', 32), 'hex'))`;
    await tx`insert into public.audit_events (id, tenant_id, seq, occurred_at, received_at, actor_type, actor_id, object_type, object_id, event_type, outcome, user_agent, device_fingerprint, source)
             values (${id}, ${t.id}, ${seq}, '2026-01-01T00:00:00Z', now(), 'USER', ${'\tcmd'}, 'ORDER', ${'\rcr'}, 'CREATE', 'success', ${'a\nb'}, ${'x\r\ny'}, null)`;
  });
}

async function seeded() {
  const t = await newTenant('export');
  await appendEvents(testSql(), { tenantId: t.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events: TRICKY }, 500), { ip: '10.0.0.1', userAgent: 'test' }, 'cli');
  await insertRaw(t);
  return t;
}

async function exportText(t: TestTenant, query: string) {
  const res = await fetch(`${baseUrl()}/api/v1/audit/events/export?${query}`, { headers: { authorization: `Bearer ${t.readKey}` } });
  const body = Buffer.from(await res.arrayBuffer());
  return { res, body };
}

// A leading quote is doubled too, so readers restore every value by removing one leading quote.
const NEUTRAL = /^[=+\-@\t\r']/;
const neutralised = (v: string | null) => (v === null ? '' : NEUTRAL.test(v) ? `'${v}` : v);

describe('CSV export over HTTP', () => {
  it('survives a standard CSV parser: header, commas, quotes, newlines, unicode, formula cells', async () => {
    const t = await seeded();
    const { res, body } = await exportText(t, 'format=csv');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="oms-audit-export-.*\.csv"$/);
    const records = parse(body, { columns: true, record_delimiter: '\r\n' }) as Record<string, string>[];
    expect(Object.keys(records[0]!)).toEqual([...EVENT_FIELDS, CLOCK_FLAG_COLUMN]);
    expect(records).toHaveLength(4);
    const api = (await call('GET', '/api/v1/audit/events?order=asc&limit=10', { key: t.readKey })).body.events as Record<string, unknown>[];
    for (const [i, record] of records.entries()) {
      const e = api[i]!;
      for (const f of ['actor_type', 'actor_id', 'object_type', 'object_id', 'event_type', 'source', 'request_id', 'user_agent', 'device_fingerprint', 'observed_user_agent'] as const) {
        expect(record[f], `${f} of row ${i}`).toBe(neutralised(e[f] as string | null));
      }
      for (const f of ['id', 'tenant_id', 'occurred_at', 'received_at', 'outcome', 'ip_address', 'observed_ip'] as const) expect(record[f]).toBe(e[f] ?? '');
      expect(Number(record.seq)).toBe(e.seq);
      // The stored context as one line of JSON.
      expect(JSON.parse(record.context!)).toEqual(e.context);
      expect(record.context).not.toMatch(/\n/);
    }
    expect(records[1]!.actor_id).toBe('\'=HYPERLINK("http://evil.example","click")');
    expect(records[0]!.actor_id).toBe("'\tcmd");
    expect(records[0]!.object_id).toBe("'\rcr");
    expect(records[0]!.user_agent).toBe('a\nb');
    expect(records[2]!.object_id).toBe("'-2");
    expect(records[3]!.object_id).toBe("''already quoted");
  });

  it('gives each export a manifest whose SHA-256 and row count match the file, and records the export', async () => {
    const t = await seeded();
    const { res, body } = await exportText(t, 'format=csv&excel=true&actor_type=USER&from=2000-01-01');
    const manifestUrl = res.headers.get('x-audit-manifest')!;
    expect(manifestUrl).toMatch(/\/api\/v1\/audit\/exports\/[0-9a-f-]{36}\/manifest$/);
    // Excel: BOM, semicolons.
    expect([...body.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const records = parse(body, { columns: true, bom: true, delimiter: ';' }) as Record<string, string>[];
    expect(records).toHaveLength(4);
    const manifest = await (await fetch(manifestUrl, { headers: { authorization: `Bearer ${t.readKey}` } })).json();
    expect(manifest).toMatchObject({
      manifest_version: 2,
      tenant_id: t.id,
      status: 'complete',
      format: 'csv',
      excel: true,
      row_count: 4,
      byte_count: body.length,
      sha256: createHash('sha256').update(body).digest('hex'),
      columns: [...EVENT_FIELDS, CLOCK_FLAG_COLUMN],
      filters: { actor_type: 'USER', from: '2000-01-01T00:00:00.000000Z' },
      order: 'asc',
      exported_by: { kind: 'api_key' },
      time_range: { requested: { from: '2000-01-01T00:00:00.000000Z', to: null }, covered: { first_occurred_at: records[0]!.occurred_at, last_occurred_at: records[3]!.occurred_at } },
      // Where its rows were read: the primary, or a streaming replica when the suite runs with one (OMS_AUDIT_TEST_TOPOLOGY=replica).
      read_from: inject('readDatabaseUrl')
        ? { database: 'replica', primary_lsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/), reason: null }
        : { database: 'primary', primary_lsn: null, reason: 'no replica configured (DATABASE_READ_URL)' },
    });
    // Another tenant's key cannot read it.
    const other = await newTenant();
    expect((await fetch(manifestUrl, { headers: { authorization: `Bearer ${other.readKey}` } })).status).toBe(404);
    // The export is in the tenant's own trail.
    await expect
      .poll(async () => (await call('GET', '/api/v1/audit/events?event_type=AUDIT_EXPORT', { key: t.readKey })).body.events, { timeout: 10_000 })
      .toEqual([expect.objectContaining({ actor_type: 'API_KEY', object_type: 'AUDIT_EXPORT', object_id: manifest.export_id, context: expect.objectContaining({ row_count: 4, sha256: manifest.sha256 }) })]);
  });

  it('writes JSON Lines equal to what the API returns, and refuses bad requests without a stack trace', async () => {
    const t = await seeded();
    // ORDER events only: the export's own AUDIT_EXPORT event may land before the list is read.
    const { res, body } = await exportText(t, 'format=jsonl&order=desc&object_type=ORDER');
    expect(res.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    const lines = body.toString('utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    const api = (await call('GET', '/api/v1/audit/events?limit=10&object_type=ORDER', { key: t.readKey })).body.events;
    expect(lines).toHaveLength(4);
    // The event as the API returns it, then its clock flag under the default tolerance (none for events that brought no occurred_at).
    const limits = { tolerance_ms: DEFAULT_CLOCK_TOLERANCE_MS, network_delay_ms: DEFAULT_NETWORK_DELAY_MS };
    expect(lines).toEqual(api.map((e: Record<string, string>) => ({ ...e, [CLOCK_FLAG_COLUMN]: clockFlagOf(e.occurred_at!, e.received_at!, limits) })));
    expect(lines.map((l) => l[CLOCK_FLAG_COLUMN])).toContain('behind');
    expect(Object.keys(lines[0])).toEqual([...EVENT_FIELDS, CLOCK_FLAG_COLUMN]);

    for (const [query, field] of [['format=xml', 'format'], ['cursor=abc', 'cursor'], ['limit=5', 'limit'], ['from=yesterday', 'from']] as const) {
      const bad = await call('GET', `/api/v1/audit/events/export?${query}`, { key: t.readKey });
      expect(bad.status, query).toBe(400);
      expect(bad.body.error.issues[0].field).toBe(field);
    }
    expect((await call('GET', '/api/v1/audit/events/export', { key: t.writeKey })).status).toBe(403);
    expect((await call('GET', '/api/v1/audit/events/export')).status).toBe(401);
  });
});

describe('an export its reader abandons', () => {
  it('is marked failed in every format, and frees its connections and pipes', { timeout: 120_000 }, async () => {
    const t = await newTenant('export-abandoned');
    for (let i = 0; i < 10; i++) {
      const res = await call('POST', '/api/v1/audit/events', { key: t.key, body: { events: Array.from({ length: 500 }, () => event({ context: { note: 'x'.repeat(300) } })) } });
      expect(res.status).toBe(201);
    }
    const claims = { tenant_id: t.id, sub: 'test', role: 'authenticated' as const };
    for (const format of ['csv', 'jsonl', 'parquet'] as const) {
      const started = await startExport(testSql(), claims, { format, filters: {}, exporter: { kind: 'cli', os_user: 'test' } });
      await started.stream[Symbol.asyncIterator]().next();
      started.stream.destroy();
      expect(await started.done, format).toMatchObject({ status: 'failed', row_count: null, sha256: null, error: 'The export was aborted before it completed' });
    }
    await expect.poll(async () => (await testSql()`select count(*)::int as n from pg_stat_activity where application_name like 'oms-audit-export%'`)[0]!.n).toBe(0);
  });
});

describe('a 1,000,000-row export', () => {
  it('streams in bounded memory, and the manifest hash matches the file', { timeout: 300_000 }, async () => {
    const t = await newTenant('export-1m');
    // Bulk-loaded with SQL by the superuser (the export is under test here, not ingest).
    await testSql()`select oms_audit.ensure_month_partition('2026-01-01'::date)`;
    await adminSql()`
      insert into public.audit_events (id, tenant_id, seq, occurred_at, received_at, actor_type, actor_id, object_type, object_id, event_type, outcome, source, request_id, ip_address, user_agent, context)
      select gen_random_uuid(), ${t.id}, g, timestamptz '2026-01-01' + g * interval '1 second', now(), 'USER', 'trader-' || (g % 97), 'ORDER', 'ORD-' || (g / 5),
             (array['CREATE','ROUTE','FILL','CANCEL'])[1 + g % 4], 'success', 'oms-gateway', 'req-' || g, '203.0.113.10', 'Mozilla/5.0 (X11; Linux x86_64)',
             jsonb_build_object('symbol', 'AAPL', 'after', jsonb_build_object('status', 'ROUTED', 'quantity', g % 1000, 'note', 'a, "b"'))
      from generate_series(1, 1000000) g`;

    const claims = { tenant_id: t.id, sub: 'test', role: 'authenticated' as const };
    const started = await startExport(testSql(), claims, { format: 'csv', filters: {}, exporter: { kind: 'cli', os_user: 'test' } });
    const hash = createHash('sha256');
    let bytes = 0;
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 25);
    // A sink slower than PostgreSQL at times: backpressure must hold the data in PostgreSQL, not here.
    let n = 0;
    await pipeline(
      started.stream,
      new Writable({
        highWaterMark: 64 * 1024,
        write(chunk: Buffer, _enc, done) {
          hash.update(chunk);
          bytes += chunk.length;
          if (++n % 2000 === 0) setTimeout(done, 5);
          else done();
        },
      }),
    );
    clearInterval(sampler);
    const manifest = await started.done;
    console.log(`1M-row export: ${(bytes / 1e6).toFixed(0)} MB, RSS ${(baseline / 1e6).toFixed(0)} → peak ${(peak / 1e6).toFixed(0)} MB`);
    expect(manifest).toMatchObject({ status: 'complete', row_count: 1_000_000, byte_count: bytes, sha256: hash.digest('hex') });
    expect(bytes).toBeGreaterThan(200_000_000);
    // The file is hundreds of MB; the process grows by a small constant amount.
    expect(peak - baseline).toBeLessThan(96 * 1024 * 1024);
  });
});
