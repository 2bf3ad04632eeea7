/**
 * Exports over hot and archived months, through the real server. A month is
 * archived to Parquet and dropped from PostgreSQL (late events then arrive
 * for it), and every format — CSV, CSV for Excel, JSON Lines, Parquet and a
 * bundle — must hold exactly the events the list API returns for the same
 * filters, in the same order; archived rows must read byte for byte as they
 * did while hot; the bundle must verify complete with the standalone
 * verifier; and a month that cannot be read fails the export, named, never
 * a short file marked complete.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { EVENT_FIELDS } from '@/supabase/functions/_shared/contract.ts';
import { literal, withDuckDB } from '@/server/archive/duckdb.ts';
import { ARCHIVE_COLUMNS } from '@/server/archive/format.ts';
import { CLOCK_FLAG_COLUMN } from '@/lib/export-formats.ts';
import { baseUrl, call, event, newTenant, testSql, adminSql, type TestTenant } from '@/test/fixtures.ts';
import { archiveSharedMonth } from '@/test/retention.ts';
import { unzipTo } from '@/test/unzip.ts';

const run = promisify(execFile);
const BEFORE = '2003-06';
const ARCHIVED = '2003-07';
const BROKEN = '2003-09';

let work: string;
let operatorKey: string;
let t: TestTenant;

const at = (month: string, i: number) => `${month}-${String(1 + (i % 28)).padStart(2, '0')}T${String(i % 24).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:00.${String(i * 7919).slice(-6).padStart(6, '0')}Z`;

function eventsIn(month: string, n: number, offset = 0) {
  return Array.from({ length: n }, (_, k) => {
    const i = k + offset;
    return event({
      occurred_at: at(month, i),
      object_id: `ORD-${i % 9}`,
      actor_id: ['trader-1', '=cmd', 'ünïcode 日本', "o'hara, \"q\""][i % 4]!,
      event_type: ['CREATE', 'UPDATE', 'FILL', 'CANCEL'][i % 4]!,
      source: i % 3 ? 'oms' : undefined,
      ip_address: i % 2 ? '203.0.113.7' : '2001:db8::7',
      context: { symbol: i % 3 ? 'AAPL' : 'MSFT', qty: 100 * (i % 7), px: 187.25, note: `line "${i}", comma\nnewline`, nested: { list: [1, null, 'x'], flag: i % 2 === 0 } },
    });
  });
}

async function post(key: string, events: ReturnType<typeof eventsIn>) {
  for (let i = 0; i < events.length; i += 500) {
    const res = await call('POST', '/api/v1/audit/events', { key, body: { events: events.slice(i, i + 500) } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
}

/** Every event the list API returns for a query, oldest first unless the query says otherwise. */
async function listIds(tenant: TestTenant, query: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor = '';
  do {
    const res = await call('GET', `/api/v1/audit/events?limit=1000&${query.includes('order=') ? '' : 'order=asc&'}${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { key: tenant.readKey });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    ids.push(...(res.body.events as { id: string }[]).map((e) => e.id));
    cursor = res.body.next_cursor ?? '';
  } while (cursor);
  return ids;
}

async function download(tenant: TestTenant, query: string) {
  const res = await fetch(`${baseUrl()}/api/v1/audit/events/export?${query}`, { headers: { authorization: `Bearer ${tenant.readKey}` } });
  const body = Buffer.from(await res.arrayBuffer());
  return { res, body };
}

async function manifestOf(tenant: TestTenant, res: Response) {
  return (await fetch(res.headers.get('x-audit-manifest')!, { headers: { authorization: `Bearer ${tenant.readKey}` } })).json();
}

const csvIds = (body: Buffer, delimiter = ',') => (parse(body, { columns: true, bom: true, delimiter, record_delimiter: '\r\n' }) as { id: string }[]).map((r) => r.id);
const jsonlIds = (body: Buffer) => body.toString('utf8').trimEnd().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { id: string }).id);

async function parquetRows(body: Buffer): Promise<{ ids: string[]; types: [string, string][] }> {
  const file = path.join(work, `export-${Math.random().toString(36).slice(2)}.parquet`);
  await writeFile(file, body);
  return withDuckDB(async (duck) => {
    const ids = (await duck.runAndReadAll(`select id from read_parquet(${literal(file)})`)).getRows().map((r) => r[0] as string);
    const types = (await duck.runAndReadAll(`select column_name, column_type from (describe select * from read_parquet(${literal(file)}))`)).getRows() as [string, string][];
    return { ids, types };
  });
}

/** Unzips a bundle and runs its own verify.mjs with the operator's key. */
async function verifyBundle(body: Buffer): Promise<{ dir: string; code: number; out: string; manifest: Record<string, unknown> & { file_name: string } }> {
  const into = await mkdtemp(path.join(work, 'bundle-'));
  await writeFile(`${into}.zip`, body);
  const dir = await unzipTo(`${into}.zip`, into);
  const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'));
  try {
    const { stdout } = await run(process.execPath, [path.join(dir, 'verify.mjs'), '--public-key', operatorKey, dir]);
    return { dir, code: 0, out: stdout, manifest };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { dir, code: e.code, out: e.stdout + e.stderr, manifest };
  }
}

/** Waits until the tenant's trail records `n` exports (each export is recorded once it ends). */
async function exportsRecorded(tenant: TestTenant, n: number) {
  await expect.poll(async () => (await call('GET', '/api/v1/audit/events?event_type=AUDIT_EXPORT&limit=1000', { key: tenant.readKey })).body.events.length, { timeout: 15_000 }).toBe(n);
}

const HOT_BYTES = new Map<string, Buffer>();
const MONTH_QUERY = `from=${ARCHIVED}-01&to=2003-08-01&object_type=ORDER`;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'oms-audit-archived-exports-'));
  await chmod(work, 0o755);
  const { body: published } = await call('GET', '/api/integrity/public-key');
  operatorKey = path.join(work, 'operator.pem');
  await writeFile(operatorKey, published.public_key_pem);

  t = await newTenant('archived-exports');
  await post(t.key, [...eventsIn(BEFORE, 40), ...eventsIn(ARCHIVED, 150, 40), ...eventsIn(new Date().toISOString().slice(0, 7), 0)]);
  const recent = Array.from({ length: 25 }, (_, i) => event({ occurred_at: new Date(Date.now() - 3600_000 + i * 1000).toISOString(), object_id: `ORD-${i % 9}`, event_type: i % 2 ? 'CANCEL' : 'CREATE', context: { symbol: 'MSFT', i } }));
  await post(t.key, recent);
  // The archived month read while still hot, in every text format: the archive must give the same bytes.
  for (const format of ['format=csv', 'format=csv&excel=true', 'format=jsonl']) HOT_BYTES.set(format, (await download(t, `${format}&${MONTH_QUERY}`)).body);
  await archiveSharedMonth(testSql(), work, ARCHIVED);
  // Events that arrive for the month after it was archived stay hot, beside the archive.
  await post(t.key, eventsIn(ARCHIVED, 6, 1000));
}, 900_000);
afterAll(() => rm(work, { recursive: true, force: true }));

describe('exports over archived months', () => {
  it('reads an archived month back byte for byte as it was exported while hot', async () => {
    const parts = await testSql()`select state from oms_audit.archive_parts where tenant_id = ${t.id} and month = ${`${ARCHIVED}-01`}::date`;
    expect(parts.map((p) => p.state)).toEqual(['dropped']);
    for (const [format, hot] of HOT_BYTES) {
      const { res, body } = await download(t, `${format}&${MONTH_QUERY}`);
      expect(res.status).toBe(200);
      const records = (b: Buffer) => b.toString('utf8').split(format.includes('jsonl') ? '\n' : '\r\n');
      // Every record read from the archive is the record PostgreSQL wrote, in the same order; the 6 late rows are merged in by (occurred_at, seq).
      const before = new Set(records(hot));
      expect(records(body).filter((r) => before.has(r))).toEqual(records(hot));
      expect(records(body)).toHaveLength(records(hot).length + 6);
    }
  });

  it('holds exactly the events the list API returns, hot and archived, in every format', { timeout: 240_000 }, async () => {
    let exported = 0;
    for (const query of ['object_type=ORDER', 'event_type=CANCEL', 'context.symbol=MSFT&order=desc', `from=${ARCHIVED}-10&to=2003-12-01`, 'object_id=ORD-7&actor_id=%3Dcmd', 'actor_id=nobody']) {
      const expected = await listIds(t, query);
      const csv = await download(t, `format=csv&${query}`);
      expect(csv.res.status).toBe(200);
      expect(csvIds(csv.body), `csv ${query}`).toEqual(expected);
      const excel = await download(t, `format=csv&excel=true&${query}`);
      expect(excel.res.headers.get('content-disposition')).toMatch(/-excel\.csv"$/);
      expect(csv.res.headers.get('content-disposition')).not.toMatch(/-excel/);
      expect(csvIds(excel.body, ';'), `excel ${query}`).toEqual(expected);
      const jsonl = await download(t, `format=jsonl&${query}`);
      expect(jsonlIds(jsonl.body), `jsonl ${query}`).toEqual(expected);
      const parquet = await download(t, `format=parquet&${query}`);
      expect(parquet.res.status).toBe(200);
      expect(parquet.res.headers.get('content-type')).toBe('application/vnd.apache.parquet');
      const read = await parquetRows(parquet.body);
      expect(read.ids, `parquet ${query}`).toEqual(expected);
      expect(read.types).toEqual([...ARCHIVE_COLUMNS.map(([name, type]) => [name, type === 'TIMESTAMPTZ' ? 'TIMESTAMP WITH TIME ZONE' : type]), [CLOCK_FLAG_COLUMN, 'VARCHAR']]);
      const bundle = await verifyBundle((await download(t, `format=csv&bundle=true&${query}`)).body);
      expect(bundle, `bundle ${query}`).toMatchObject({ code: 0, out: expect.stringContaining(`VERIFIED: ${expected.length} rows`) });
      expect(csvIds(await readFile(path.join(bundle.dir, bundle.manifest.file_name)))).toEqual(expected);
      exported += 5;

      const manifest = await manifestOf(t, csv.res);
      expect(manifest).toMatchObject({ status: 'complete', row_count: expected.length, manifest_version: 2, expired_months: [] });
      const byMonth = Object.fromEntries((manifest.months as { month: string; hot_rows: number; archived_rows: number }[]).map((m) => [m.month, m]));
      // The archived month was read, whether or not it held matches.
      expect(byMonth[ARCHIVED]).toMatchObject({ archive_parts: [expect.objectContaining({ part: 1, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) })] });
      const counted = (manifest.months as { hot_rows: number; archived_rows: number }[]).reduce((n, m) => n + m.hot_rows + m.archived_rows, 0);
      expect(counted).toBe(expected.length);
    }
    expect(exported).toBeGreaterThan(0);
  });

  it('writes archived months with the CLI too', async () => {
    const out = path.join(work, 'cli.csv');
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['bin/oms-audit.mjs', 'export', '--tenant', t.id, '--format', 'csv', '--out', out, '--from', `${ARCHIVED}-01`, '--to', `${ARCHIVED}-31`, '--object-type', 'ORDER'], { env: { ...process.env, DATABASE_URL: inject('databaseUrl') } });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(result.code, result.stderr).toBe(0);
    expect(csvIds(await readFile(out))).toEqual(await listIds(t, `from=${ARCHIVED}-01&to=${ARCHIVED}-31&object_type=ORDER`));
    expect(JSON.parse(await readFile(`${out}.manifest.json`, 'utf8')).months).toEqual([expect.objectContaining({ month: ARCHIVED, hot_rows: 6, archived_rows: 150 })]);
  });

  it('bundles the whole trail, archived months included, and the bundle verifies complete', { timeout: 900_000 }, async () => {
    const other = await newTenant('archived-complete');
    await post(other.key, [...eventsIn('2003-10', 30), ...eventsIn('2003-11', 20)]);
    await archiveSharedMonth(testSql(), work, '2003-10');
    const expected = await listIds(other, '');
    const { res, body } = await download(other, 'format=jsonl&bundle=true');
    expect(res.status).toBe(200);
    const bundle = await verifyBundle(body);
    expect(bundle).toMatchObject({ code: 0, out: expect.stringContaining(`VERIFIED: ${expected.length} rows`) });
    expect(bundle.manifest).toMatchObject({ row_count: expected.length, bundle: { version: 2, complete: true, seq_from: 1, seq_to: expected.length } });
    expect(jsonlIds(await readFile(path.join(bundle.dir, bundle.manifest.file_name)))).toEqual(expected);
    await exportsRecorded(other, 1);
    const stored = await manifestOf(other, res);
    expect(stored).toMatchObject({ status: 'complete', bundle: { complete: true, seq_from: 1, seq_to: expected.length } });
    expect(stored.months.map((m: { month: string }) => m.month).slice(0, 2)).toEqual(['2003-10', '2003-11']);
    expect(stored.months[0]).toMatchObject({ hot_rows: 0, archived_rows: 30 });
  });
});

describe('a month that cannot be read', () => {
  let b: TestTenant;
  let file: string;

  beforeAll(async () => {
    b = await newTenant('archived-broken');
    await post(b.key, [...eventsIn('2003-08', 800), ...eventsIn(BROKEN, 40)]);
    await archiveSharedMonth(testSql(), work, BROKEN);
    const [part] = await testSql()`select storage_url, data_key from oms_audit.archive_parts where tenant_id = ${b.id} and state = 'dropped'`;
    file = path.join(new URL(part!.storage_url as string).pathname, part!.data_key as string);
  }, 900_000);

  const latestManifest = async () => (await adminSql()`select manifest from public.audit_exports where tenant_id = ${b.id} order by created_at desc limit 1`)[0]!.manifest as { status: string; error: string; row_count: number | null };

  it('fails the export after its first bytes when the file changed, with an error the client sees and a failed manifest', async () => {
    const original = await readFile(file);
    const changed = Buffer.from(original);
    changed[Math.floor(changed.length / 2)]! ^= 0xff;
    await chmod(file, 0o644);
    await writeFile(file, changed);
    try {
      for (const format of ['csv', 'jsonl']) {
        const res = await fetch(`${baseUrl()}/api/v1/audit/events/export?format=${format}`, { headers: { authorization: `Bearer ${b.readKey}` } });
        expect(res.status).toBe(200);
        // The hot month before it streamed; then the stream breaks instead of ending.
        await expect(res.arrayBuffer()).rejects.toThrow();
        await expect.poll(async () => (await latestManifest()).status).toBe('failed');
        expect(await latestManifest()).toMatchObject({ row_count: null, error: expect.stringContaining(BROKEN) });
      }
      const bundle = await fetch(`${baseUrl()}/api/v1/audit/events/export?format=csv&bundle=true`, { headers: { authorization: `Bearer ${b.readKey}` } });
      await expect(bundle.arrayBuffer()).rejects.toThrow();
      await expect.poll(async () => (await latestManifest()).status).toBe('failed');
    } finally {
      await writeFile(file, original);
    }
  });

  it('refuses to start when the file is missing, naming the month', async () => {
    await rm(file);
    for (const format of ['csv', 'parquet', 'jsonl&bundle=true']) {
      const res = await call('GET', `/api/v1/audit/events/export?format=${format}`, { key: b.readKey });
      expect(res.status).toBe(503);
      expect(res.body.error.message).toContain(`The archive of ${BROKEN} cannot be read`);
      expect(await latestManifest()).toMatchObject({ status: 'failed', row_count: null, error: expect.stringContaining(BROKEN) });
    }
    // A range that does not reach the month still exports (a bare date as "to" includes that day).
    const hot = await download(b, 'format=csv&to=2003-08-31');
    expect(hot.res.status).toBe(200);
    expect(csvIds(hot.body)).toHaveLength(800);
  });
});

describe('export requests', () => {
  it('refuse a filter they cannot apply, naming it, before anything starts', async () => {
    for (const [query, field] of [
      ['q=last_px%20%3E%20abc', 'q'],
      ['context=%7Bnot%20json', 'context'],
      ['format=parquet&bundle=true', 'bundle'],
      ['format=jsonl&excel=true', 'excel'],
      ['expected_rows=many', 'expected_rows'],
      ['format=xml', 'format'],
    ] as const) {
      const res = await call('GET', `/api/v1/audit/events/export?${query}`, { key: t.readKey });
      expect(res.status, query).toBe(400);
      expect(res.body.error.issues[0].field, query).toBe(field);
    }
  });

  it('records the count the search showed beside the rows exported', async () => {
    const expected = await listIds(t, 'event_type=FILL');
    const { res } = await download(t, `format=csv&event_type=FILL&expected_rows=${expected.length}`);
    expect(await manifestOf(t, res)).toMatchObject({ expected_row_count: expected.length, row_count: expected.length, filters: { event_type: ['FILL'] }, columns: [...EVENT_FIELDS, CLOCK_FLAG_COLUMN] });
  });
});
