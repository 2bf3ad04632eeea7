/**
 * A trail written over two versions of the event hash: events of schema
 * version 1 (before events recorded their writer; IPv6 hashed in hex groups)
 * and of version 2 (written_by hashed; IP addresses as PostgreSQL shows them)
 * verify side by side in the database, through inclusion proofs and in export
 * bundles checked by the standalone verifier. Rewriting either is detected.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventHash } from '@/supabase/functions/_shared/event-hash.ts';
import { adminSql, baseUrl, call, event, newTenant, tamper, testSql, type TestTenant } from '@/test/fixtures.ts';
import { writeVersion1Events } from '@/test/legacy-events.ts';
import { unzipTo } from '@/test/unzip.ts';
import { sealTenant } from './checkpoints.ts';
import { signer, trustedKeys } from './signing-key.ts';
import { verifyTenant } from './verify.ts';

const run = promisify(execFile);
let work: string;
let t: TestTenant;
let v1Ids: string[];
let v2Ids: string[];

const tricky = (i: number) =>
  event({
    object_id: `ORD-V-${i}`,
    ip_address: ['::ffff:10.0.0.1', '2001:DB8::1', '192.0.2.7', '::10.1.2.3'][i % 4],
    user_agent: 'Agent/1.0 (Überweisung; 東京)',
    context: { symbol: 'ÄÖÜ', px: 187.25, tiny: 5e-324, big: 9007199254740992, none: null, empty: '', list: [1, 'two', { three: 3 }] },
  });

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'oms-audit-versions-'));
  t = await newTenant('versions');
  v1Ids = await writeVersion1Events(adminSql(), t.id, Array.from({ length: 6 }, (_, i) => tricky(i)));
  const written = await call('POST', '/api/v1/audit/events', { key: t.writeKey, body: { events: Array.from({ length: 6 }, (_, i) => tricky(i + 6)) }, headers: { 'x-forwarded-for': '::ffff:10.9.9.9' } });
  expect(written.status).toBe(201);
  v2Ids = written.body.ids;
  await sealTenant(testSql(), t.id, signer());
});
afterAll(() => rm(work, { recursive: true, force: true }));

describe('events of schema versions 1 and 2 in one trail', () => {
  it('are stored with their version and writer, and verify intact together', async () => {
    const rows = await testSql()`select seq, schema_version, written_by, host(ip_address) as ip from public.audit_events where tenant_id = ${t.id} order by seq`;
    expect(rows.map((r) => r.schema_version)).toEqual([1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2]);
    expect(rows.slice(0, 6).every((r) => r.written_by === null)).toBe(true);
    const [writeKey] = await testSql()`select id from oms_audit.api_keys where tenant_id = ${t.id} and name = 'write'`;
    expect(rows.slice(6).every((r) => r.written_by === `api_key:${writeKey!.id}`)).toBe(true);
    expect((await verifyTenant(testSql(), t.id, { keys: trustedKeys(), record: false })).problems).toEqual([]);
  });

  it('prove each event by its own version, showing IP addresses in one form', async () => {
    for (const id of [v1Ids[0]!, v1Ids[3]!, v2Ids[0]!, v2Ids[3]!]) {
      const { body: proof } = await call('GET', `/api/v1/audit/events/${id}/proof`, { key: t.readKey });
      expect(proof.verified, id).toBe(true);
      expect(eventHash(proof.event)).toBe(proof.event_hash);
    }
    const { body: mapped } = await call('GET', `/api/v1/audit/events/${v1Ids[0]}`, { key: t.readKey });
    expect(mapped).toMatchObject({ schema_version: 1, ip_address: '::ffff:10.0.0.1', written_by: null });
    const { body: mappedV2 } = await call('GET', `/api/v1/audit/events/${v2Ids[2]}`, { key: t.readKey });
    expect(mappedV2).toMatchObject({ schema_version: 2, ip_address: '::ffff:10.0.0.1', observed_ip: '127.0.0.1' });
    const { body: compatible } = await call('GET', `/api/v1/audit/events/${v1Ids[3]}`, { key: t.readKey });
    expect(compatible.ip_address).toBe('::10.1.2.3');
  });

  it('verify in export bundles with the standalone verifier, CSV and JSON Lines', async () => {
    const { body: published } = await call('GET', '/api/integrity/public-key');
    const keyFile = path.join(work, 'operator.pem');
    await writeFile(keyFile, published.public_key_pem);
    // The first export records itself (AUDIT_EXPORT), so the second holds one event more.
    for (const [format, rows] of [['csv', 12], ['jsonl', 13]] as const) {
      const res = await fetch(`${baseUrl()}/api/v1/audit/events/export?bundle=true&format=${format}`, { headers: { authorization: `Bearer ${t.readKey}` } });
      expect(res.status).toBe(200);
      const zip = path.join(work, `${format}.zip`);
      await writeFile(zip, Buffer.from(await res.arrayBuffer()));
      const dir = await unzipTo(zip, await mkdtemp(path.join(work, `${format}-`)));
      const { stdout } = await run(process.execPath, [path.join(dir, 'verify.mjs'), '--public-key', keyFile, dir]);
      expect(stdout).toContain(`VERIFIED: ${rows} rows`);
    }
  });

  it('detect a version downgrade, a writer added to a version 1 event and a changed writer', async () => {
    const other = await newTenant('versions-tamper');
    await writeVersion1Events(adminSql(), other.id, [tricky(0), tricky(1)]);
    await call('POST', '/api/v1/audit/events', { key: other.key, body: { events: [tricky(2), tricky(3)] } });
    await sealTenant(testSql(), other.id, signer());
    await tamper(
      `update public.audit_events set written_by = 'api_key:${other.keyId}' where tenant_id = '${other.id}' and seq = 1`,
      `update public.audit_events set schema_version = 1, written_by = null where tenant_id = '${other.id}' and seq = 3`,
      `update public.audit_events set written_by = 'console' where tenant_id = '${other.id}' and seq = 4`,
    );
    const report = await verifyTenant(testSql(), other.id, { keys: trustedKeys(), record: false });
    expect(report.problems.map((p) => [p.seq, p.kind])).toEqual([
      [1, 'modified'],
      [3, 'modified'],
      [4, 'modified'],
    ]);
  });
});
