/**
 * Exports opened and masked for their requester, through the real server
 * (docs/export-format.md, section 8). A sealing tenant has two traders' events
 * in a hot month and in an archived month (Parquet, dropped from PostgreSQL);
 * one trader is erased. Then:
 *
 * - a console viewer asking for opened personal data gets 403 and nothing is
 *   exported (no manifest, no AUDIT_EXPORT record);
 * - an opened export keeps every stored column byte for byte as a stored
 *   export, adds personal_opened with the live trader's values and the
 *   erased one's pointers listed as erased, hot and archived months alike
 *   (a client name sent as the text "[erased]" stays a value), and its
 *   manifest lists every erased field by seq; a masked export shows
 *   "[personal]";
 * - an opened bundle verifies with its own verifier, also against the seals
 *   with the live subject's key (--subject-keys), and reports a key that does
 *   not open the seals;
 * - the database and the stored columns of every file hold no plaintext;
 * - the AUDIT_EXPORT record names the mode.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPORT_FORMATS, PERSONAL_OPENED_COLUMN } from '@/lib/export-formats.ts';
import { ERASED, MASKED } from '@/supabase/functions/_shared/personal-data.ts';
import { adminSql, baseUrl, call, event, newMember, newTenant, testSql, type TestMember, type TestTenant } from '@/test/fixtures.ts';
import { archiveSharedMonth } from '@/test/retention.ts';
import { unzipTo } from '@/test/unzip.ts';
import { eraseSubject } from '../personal/erase.ts';
import { keysById } from '../personal/keys.ts';
import { declarePersonalData } from '../personal/settings.ts';
import { PersonalColumn } from './personal-column.ts';

const run = promisify(execFile);
/** A month no other test file writes: the whole partition is archived. */
const ARCHIVED = '2001-05';
const HOT = '2026-11';

let work: string;
let operatorKeyFile: string;
let t: TestTenant;
let viewer: TestMember;

const trader = (name: 'dana' | 'eric', month: string, n: number, clientName = `${name} client`) =>
  event({
    occurred_at: `${month}-1${n}T10:00:00.000000Z`,
    actor_type: 'TRADER',
    actor_id: `${name}@broker.example`,
    object_id: `ORD-${name}-${month}-${n}`,
    ip_address: name === 'dana' ? '192.0.2.31' : '192.0.2.32',
    user_agent: `${name}-workstation`,
    context: { client_name: clientName, email: `${name}.client@example.net`, qty: n },
  });
const SECRETS = ['dana@broker.example', '192.0.2.31', 'dana-workstation', 'dana client', 'dana.client@example.net', 'eric@broker.example', '192.0.2.32', 'eric client'];

async function download(query: string, auth: { key?: string; member?: TestMember } = { key: t.readKey }) {
  const headers: Record<string, string> = auth.member ? { cookie: auth.member.cookie, 'x-csrf-token': auth.member.csrf } : { authorization: `Bearer ${auth.key}` };
  // The tenant's own records (AUDIT_EXPORT, the erasure) are left out: the ORDER events are the subject here.
  const res = await fetch(`${baseUrl()}/api/v1/audit/events/export?object_type=ORDER&${query}`, { headers });
  return { res, body: Buffer.from(await res.arrayBuffer()) };
}

async function manifestOf(res: Response) {
  return (await fetch(res.headers.get('x-audit-manifest')!, { headers: { authorization: `Bearer ${t.readKey}` } })).json();
}

const csvRows = (body: Buffer) => parse(body.toString('utf8'), { columns: true, record_delimiter: '\r\n' }) as Record<string, string>[];
const exportCount = async () => Number((await adminSql()`select count(*) as n from public.audit_exports where tenant_id = ${t.id}`)[0]!.n);

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'oms-audit-personal-exports-'));
  const { body: published } = await call('GET', '/api/integrity/public-key');
  operatorKeyFile = path.join(work, 'operator.pem');
  await writeFile(operatorKeyFile, published.public_key_pem);

  t = await newTenant('personal-exports');
  await declarePersonalData(testSql(), t.id, 'operator:test', { outsideRetention: true });
  const events = [trader('dana', ARCHIVED, 1), trader('eric', ARCHIVED, 2, ERASED), trader('dana', HOT, 3), trader('eric', HOT, 4), event({ occurred_at: `${HOT}-15T10:00:00.000000Z`, actor_type: 'SERVICE', actor_id: 'router', context: { qty: 5 } })];
  const res = await call('POST', '/api/v1/audit/events', { key: t.writeKey, body: { events } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  await archiveSharedMonth(testSql(), work, ARCHIVED);
  viewer = await newMember(t.id, 'viewer');
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('exports with personal data opened or masked', () => {
  it('refuses a viewer opened (and masked) personal data with 403, exporting and recording nothing', async () => {
    const before = await exportCount();
    for (const mode of ['opened', 'masked']) {
      const { res, body } = await download(`format=csv&personal=${mode}`, { member: viewer });
      expect(res.status).toBe(403);
      expect(body.toString()).not.toContain('pd2:');
    }
    expect(await exportCount()).toBe(before);
    const [records] = await adminSql()`select count(*)::int as n from public.audit_events where tenant_id = ${t.id} and event_type = 'AUDIT_EXPORT'`;
    expect(records!.n).toBe(0);
    // Parquet keeps the archive schema: opened is refused there, naming the parameter.
    const parquet = await call('GET', '/api/v1/audit/events/export?format=parquet&personal=opened&object_type=ORDER', { key: t.readKey });
    expect(parquet.status).toBe(400);
    expect(parquet.body.error.issues[0].field).toBe('personal');
  });

  it('opens hot and archived months beside the unchanged stored columns, lists erased fields in the manifest, and verifies as a bundle', async () => {
    const stored = await download('format=csv');
    expect(stored.res.status).toBe(200);
    const storedRows = csvRows(stored.body);
    expect(storedRows).toHaveLength(5);
    expect((await manifestOf(stored.res)).personal).toEqual({ mode: 'stored', column_version: null, rows: null, opened_subjects: null, erased_fields: null, erased: null });

    // Before the erasure: each trader's values opened, from the archived month as from the hot one.
    const opened = await download('format=csv&personal=opened');
    expect(opened.res.status).toBe(200);
    const openedRows = csvRows(opened.body);
    const manifest = await manifestOf(opened.res);
    expect(manifest).toMatchObject({ status: 'complete', columns: expect.arrayContaining([PERSONAL_OPENED_COLUMN]), personal: { mode: 'opened', column_version: 2, rows: 4, opened_subjects: 2, erased_fields: 0, erased: [] } });
    expect(manifest.months.map((m: { month: string; archived_rows: number }) => [m.month, m.archived_rows])).toEqual([
      [ARCHIVED, 2],
      [HOT, 0],
    ]);
    // Every stored column exactly as in the stored export (what the hashes cover).
    expect(openedRows.map(({ [PERSONAL_OPENED_COLUMN]: _o, ...rest }) => rest)).toEqual(storedRows);
    const byObject = (rows: Record<string, string>[], id: string) => JSON.parse(rows.find((r) => r.object_id === id)![PERSONAL_OPENED_COLUMN]!) as { erased: string[]; values: Record<string, unknown> };
    expect(byObject(openedRows, `ORD-dana-${ARCHIVED}-1`).erased).toEqual([]);
    expect(byObject(openedRows, `ORD-dana-${ARCHIVED}-1`).values).toMatchObject({ '/actor_id': 'dana@broker.example', '/ip_address': '192.0.2.31', '/context/client_name': 'dana client', '/context/email': 'dana.client@example.net' });
    expect(byObject(openedRows, `ORD-eric-${HOT}-4`).values).toMatchObject({ '/actor_id': 'eric@broker.example', '/user_agent': 'eric-workstation' });
    expect(openedRows.find((r) => r.actor_id === 'router')![PERSONAL_OPENED_COLUMN]).toBe('');

    // The same cells and tally however the stored bytes arrive: records, quoted cells and doubled quotes cut at any byte.
    const afterHeader = (body: Buffer) => body.subarray(body.indexOf('\r\n') + 2);
    const column = new PersonalColumn(testSql(), t.id, EXPORT_FORMATS.csv, 'opened');
    const storedRecords = afterHeader(stored.body);
    const pieces: Buffer[] = [];
    for (let at = 0, n = 1; at < storedRecords.length; at += n, n = (n % 7) + 1) pieces.push(await column.transform(storedRecords.subarray(at, at + n)));
    column.finish();
    expect(Buffer.concat(pieces).equals(afterHeader(opened.body))).toBe(true);
    expect(column.tally).toEqual(manifest.personal);

    await eraseSubject(testSql(), { tenantId: t.id, subjectId: 'dana@broker.example', reason: 'GDPR request', actor: { kind: 'operator', name: 'dpo' }, minTotalYears: 1 });

    // After: an opened JSON Lines bundle shows dana's fields erased everywhere and lists each of them in the signed manifest.
    const bundled = await download('format=jsonl&bundle=true&personal=opened');
    expect(bundled.res.status).toBe(200);
    const zip = path.join(work, 'opened.zip');
    await writeFile(zip, bundled.body);
    const dir = await unzipTo(zip, path.join(work, 'opened'));
    const signed = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'));
    const lines = (await readFile(path.join(dir, signed.file_name), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    const dana = lines.filter((l) => l.object_id.startsWith('ORD-dana'));
    expect(dana).toHaveLength(2);
    for (const l of dana) {
      expect(l.personal_opened.values).toEqual({});
      expect(l.personal_opened.erased).toEqual(expect.arrayContaining(['/actor_id', '/ip_address', '/user_agent', '/context/client_name', '/context/email']));
      expect(l.actor_id).toMatch(/^pd2:/);
    }
    // Eric's client name was sent as the text "[erased]": a value among the values, not an erased field.
    expect(lines.find((l) => l.object_id === `ORD-eric-${ARCHIVED}-2`).personal_opened).toEqual({
      erased: [],
      values: expect.objectContaining({ '/actor_id': 'eric@broker.example', '/context/email': 'eric.client@example.net', '/context/client_name': ERASED }),
    });
    expect(signed.personal.mode).toBe('opened');
    const listed = signed.personal.erased.map((e: { seq: number; id: string; pointers: string[] }) => ({ ...e, pointers: [...e.pointers].sort() }));
    expect(listed).toEqual(dana.map((l) => ({ seq: l.seq, id: l.id, pointers: [...l.personal_opened.erased].sort() })));
    expect(signed.personal.erased_fields).toBe(dana.reduce((n, l) => n + l.personal_opened.erased.length, 0));

    const verify = async (...extra: string[]) => {
      try {
        return { code: 0, out: (await run(process.execPath, [path.join(dir, 'verify.mjs'), '--public-key', operatorKeyFile, ...extra, dir])).stdout };
      } catch (err) {
        const e = err as { code: number; stdout: string };
        return { code: e.code, out: e.stdout };
      }
    };
    expect(await verify()).toMatchObject({ code: 0, out: expect.stringContaining('VERIFIED') });
    // With the live subject's key (as a tenant may hand it to a regulator), each opened value is checked against its seal.
    const ericRef = lines.find((l) => l.object_id === `ORD-eric-${HOT}-4`).actor_id as string;
    const ericKeyId = ericRef.slice(-36);
    const key = (await keysById(testSql(), t.id, [ericKeyId])).get(ericKeyId)!.key!;
    const keysFile = path.join(work, 'keys.json');
    await writeFile(keysFile, JSON.stringify({ [ericKeyId]: Buffer.from(key).toString('base64') }));
    expect(await verify('--subject-keys', keysFile)).toMatchObject({ code: 0 });
    // A wrong key for that subject is reported, naming the key.
    await writeFile(keysFile, JSON.stringify({ [ericKeyId]: Buffer.alloc(32, 7).toString('base64') }));
    expect(await verify('--subject-keys', keysFile)).toMatchObject({ code: 1, out: expect.stringContaining(`does not open with the key given for it`) });

    // A masked export (for someone who may not see the values) shows "[personal]" for live values, and dana's as erased.
    const masked = await download('format=csv&personal=masked');
    const maskedRows = csvRows(masked.body);
    expect(Object.values(byObject(maskedRows, `ORD-eric-${HOT}-4`).values).every((v) => v === MASKED)).toBe(true);
    expect(byObject(maskedRows, `ORD-dana-${HOT}-3`)).toEqual({ erased: expect.arrayContaining(['/actor_id', '/context/email']), values: {} });
    expect((await manifestOf(masked.res)).personal).toMatchObject({ mode: 'masked', opened_subjects: 0, erased_fields: signed.personal.erased_fields });
    expect(masked.body.toString()).not.toContain('eric@broker.example');

    // No plaintext in the database, nor in the stored columns of any file: only in personal_opened of an opened one.
    const raw = JSON.stringify(await adminSql()`select * from public.audit_events where tenant_id = ${t.id}`);
    for (const secret of SECRETS) expect(raw).not.toContain(secret);
    const storedColumns = JSON.stringify(openedRows.map(({ [PERSONAL_OPENED_COLUMN]: _o, ...rest }) => rest)) + JSON.stringify(lines.map(({ personal_opened: _o, ...rest }) => rest));
    for (const secret of SECRETS) expect(storedColumns).not.toContain(secret);

    // Each export is on the record with its mode.
    await expect
      .poll(async () => (await adminSql()`select context->>'personal' as mode from public.audit_events where tenant_id = ${t.id} and event_type = 'AUDIT_EXPORT' order by seq`).map((r) => r.mode))
      .toEqual(['stored', 'opened', 'opened', 'masked']);
  });
});
