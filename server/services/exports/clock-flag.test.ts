/**
 * The clock flag in exports (docs/export-format.md §2, docs/clock.md): with
 * our clock pinned, a source 200 ms fast, one 300 ms slow, one within
 * tolerance and an event without its own occurred_at, exported over HTTP in
 * every format. A regulator sees which rows came from a clock out of
 * tolerance, under the tolerance the manifest states; a bundle whose flags
 * were edited — even with the manifest re-signed by the operator's own key —
 * fails the standalone verifier, naming the row.
 */
import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, randomUUID, sign } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { CLOCK_FLAG_COLUMN } from '@/lib/export-formats.ts';
import { literal, withDuckDB } from '@/server/archive/duckdb.ts';
import { canonicalJson } from '@/supabase/functions/_shared/canonical-json.ts';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { appendEvents } from '@/supabase/functions/_shared/ingest.ts';
import { baseUrl, call, event, newTenant, testSql, type TestTenant } from '@/test/fixtures.ts';
import { unzipTo } from '@/test/unzip.ts';
import { setClockTolerance } from '../clock.ts';

const run = promisify(execFile);
const MINUTE = 60_000;
let work: string;
let tenant: TestTenant;
let operatorKeyFile: string;

/** What each order's row must say: its source's clock against ours. */
const EXPECTED: Record<string, string | null> = { 'ORD-FAST': 'ahead', 'ORD-SLOW': 'behind', 'ORD-GOOD': 'within', 'ORD-GOOD-EDGE': 'within', 'ORD-UNDATED': null };

const iso = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z');

async function download(query: string): Promise<{ res: Response; body: Buffer }> {
  const res = await fetch(`${baseUrl()}/api/v1/audit/events/export?${query}`, { headers: { authorization: `Bearer ${tenant.readKey}` } });
  expect(res.status).toBe(200);
  return { res, body: Buffer.from(await res.arrayBuffer()) };
}

async function verify(dir: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(process.execPath, [path.join(dir, 'verify.mjs'), '--public-key', operatorKeyFile, dir]);
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'oms-audit-clock-flag-'));
  const { body: published } = await call('GET', '/api/integrity/public-key');
  operatorKeyFile = path.join(work, 'operator.pem');
  await writeFile(operatorKeyFile, published.public_key_pem);

  tenant = await newTenant('clock-flag');
  // 40 ms on top of FINRA's 50 for the delivery delay of the slow side.
  await setClockTolerance(testSql(), { tenant_id: tenant.id, sub: 'test', role: 'authenticated' }, { tolerance_ms: 50, network_delay_ms: 40 }, 'test');
  // Our clock pinned in the middle of the previous minute; the sources' clocks are what their occurred_at says.
  const now = Math.floor(Date.now() / MINUTE) * MINUTE - MINUTE + 30_000;
  const events = [
    event({ object_id: 'ORD-FAST', source: 'oms-fast', occurred_at: iso(now + 200) }),
    event({ object_id: 'ORD-SLOW', source: 'oms-slow', occurred_at: iso(now - 300) }),
    event({ object_id: 'ORD-GOOD', source: 'oms-good', occurred_at: iso(now - 12) }),
    // Behind by 90 ms: within 50 ms plus the 40 ms network delay.
    event({ object_id: 'ORD-GOOD-EDGE', source: 'oms-good', occurred_at: iso(now - 90) }),
    event({ object_id: 'ORD-UNDATED', source: 'oms-good' }),
  ];
  const spy = vi.spyOn(performance, 'now').mockReturnValue(now - performance.timeOrigin);
  try {
    await appendEvents(testSql(), { tenantId: tenant.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events }, 500), { ip: null, userAgent: null }, 'rest');
  } finally {
    spy.mockRestore();
  }
});
afterAll(() => rm(work, { recursive: true, force: true }));

describe('the clock flag in exports', () => {
  it('marks each row ahead, behind, within or nothing in CSV, CSV for Excel, JSON Lines and Parquet, under the tolerance the manifest states', async () => {
    const query = 'object_type=ORDER';
    const csv = await download(`format=csv&${query}`);
    const rows = parse(csv.body, { columns: true, record_delimiter: '\r\n' }) as Record<string, string>[];
    // An empty, unquoted cell: no flag, the event brought no occurred_at of its own.
    expect(Object.fromEntries(rows.map((r) => [r.object_id, r[CLOCK_FLAG_COLUMN] || null]))).toEqual(EXPECTED);
    expect(csv.body.toString('utf8')).toMatch(/,oms-good,[^\r\n]*,\r\n/);

    const excel = await download(`format=csv&excel=true&${query}`);
    const excelRows = parse(excel.body, { columns: true, bom: true, delimiter: ';', record_delimiter: '\r\n' }) as Record<string, string>[];
    expect(Object.fromEntries(excelRows.map((r) => [r.object_id, r[CLOCK_FLAG_COLUMN] || null]))).toEqual(EXPECTED);

    const jsonl = await download(`format=jsonl&${query}`);
    const lines = jsonl.body.toString('utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(Object.fromEntries(lines.map((l) => [l.object_id, l[CLOCK_FLAG_COLUMN]]))).toEqual(EXPECTED);

    const parquet = await download(`format=parquet&${query}`);
    const file = path.join(work, 'export.parquet');
    await writeFile(file, parquet.body);
    const fromParquet = await withDuckDB(async (duck) => (await duck.runAndReadAll(`select object_id, ${CLOCK_FLAG_COLUMN} from read_parquet(${literal(file)})`)).getRows());
    expect(Object.fromEntries(fromParquet)).toEqual(EXPECTED);

    for (const res of [csv.res, jsonl.res, parquet.res]) {
      const manifest = (await call('GET', new URL(res.headers.get('x-audit-manifest')!, baseUrl()).pathname, { key: tenant.readKey })).body;
      expect(manifest).toMatchObject({ clock: { tolerance_ms: 50, network_delay_ms: 40 }, columns: expect.arrayContaining([CLOCK_FLAG_COLUMN]) });
    }
  });

  it('verifies in a bundle, and fails a bundle whose flag was edited even when the manifest is re-signed with the operator key', async () => {
    const zip = path.join(work, `${randomUUID()}.zip`);
    await writeFile(zip, (await download('format=csv&bundle=true&object_type=ORDER')).body);
    const dir = await unzipTo(zip, path.join(work, randomUUID()));
    expect(await verify(dir)).toMatchObject({ code: 0, out: expect.stringContaining('VERIFIED: 5 rows') });

    // The operator hides the slow clock: "behind" becomes "within", the file's hash and the manifest's signature made to match.
    const manifestFile = path.join(dir, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8'));
    const file = path.join(dir, manifest.file_name as string);
    const text = await readFile(file, 'utf8');
    const edited = text.replace(/(,oms-slow,[^\r\n]*),behind\r\n/, '$1,within\r\n');
    expect(edited).not.toBe(text);
    await writeFile(file, edited);
    manifest.sha256 = createHash('sha256').update(edited).digest('hex');
    await writeFile(manifestFile, JSON.stringify(manifest));
    const operatorKey = createPrivateKey(await readFile(inject('signingKeyFile'), 'utf8'));
    await writeFile(path.join(dir, 'manifest.sig'), sign(null, Buffer.from(canonicalJson(manifest)), operatorKey).toString('base64') + '\n');
    const result = await verify(dir);
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/row \d \(seq \d\): clock_flag is "within", but its times under the manifest's tolerance give "behind"/);
  });
});
