/**
 * Personal data under per-subject keys, end to end against the real database:
 * sealed at ingest (schema version 3), shown opened to readers, found by the
 * blind index, erased by destroying keys — after which every hash and every
 * checkpoint still verifies, the fields read as "[erased]", and no plaintext
 * of the subject is anywhere in PostgreSQL. Refusals change nothing; the
 * runtime role cannot bring a key back.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '@/test/cli.ts';
import { unzipTo } from '@/test/unzip.ts';
import { parseBatch, type AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import { ERASED } from '@/supabase/functions/_shared/personal-data.ts';
import { adminSql, baseUrl, call, countEvents, event, newTenant, testSql, type TestTenant } from '@/test/fixtures.ts';
import { logEvents } from '../ingest.ts';
import { getEvent, listEvents } from '../query.ts';
import { sealTenant } from '../integrity/checkpoints.ts';
import { signer, trustedKeys } from '../integrity/signing-key.ts';
import { verifyTenant } from '../integrity/verify.ts';
import { placeHold } from '../retention/policy.ts';
import { declarePersonalData } from './settings.ts';
import { eraseSubject } from './erase.ts';
import { startExport } from '../export.ts';
import { listEventsInput } from '@/supabase/functions/_shared/filters.ts';

const ALICE = {
  actor_type: 'TRADER',
  actor_id: 'alice.trader@example.com',
  ip_address: '192.0.2.10',
  user_agent: 'AliceBrowser/1.0',
  device_fingerprint: 'alice-device-fp',
  context: { client_name: 'Alice Clientname', email: 'alice.client@example.com', qty: 5 },
} satisfies Partial<AuditEventRequest>;
const BOB = {
  actor_type: 'TRADER',
  actor_id: 'bob.trader@example.com',
  ip_address: '198.51.100.7',
  user_agent: 'BobBrowser/2.0',
  device_fingerprint: 'bob-device-fp',
  subject_id: 'client-bob-42',
  context: { client_name: 'Bob Clientname', phone: '+44 20 7946 0000', qty: 7 },
} satisfies Partial<AuditEventRequest>;
const ALICE_PLAINTEXT = ['alice.trader@example.com', '192.0.2.10', 'AliceBrowser', 'alice-device-fp', 'Alice Clientname', 'alice.client@example.com', 'alice-observed-ua', '203.0.113.5'];

const claims = (t: TestTenant) => ({ tenant_id: t.id, sub: 'test', role: 'authenticated' as const });
const list = (t: TestTenant, filters: Record<string, unknown> = {}) => listEvents(testSql(), claims(t), listEventsInput.parse({ order: 'asc', ...filters }));
const verify = (t: TestTenant) => verifyTenant(testSql(), t.id, { keys: trustedKeys(), record: false });

async function write(t: TestTenant, events: AuditEventRequest[], observed = { ip: '203.0.113.5', userAgent: 'alice-observed-ua' }) {
  return logEvents(testSql(), { tenantId: t.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events }, 500), observed, 'cli');
}

/** Every stored byte of the tenant's events, ledger and keys, as the database superuser sees them. */
async function rawText(t: TestTenant): Promise<string> {
  const rows = await adminSql()`
    select (select coalesce(string_agg(e::text, E'\n'), '') from public.audit_events e where e.tenant_id = ${t.id}) as events,
           (select coalesce(string_agg(k::text, E'\n'), '') from oms_audit.subject_keys k where k.tenant_id = ${t.id}) as keys,
           (select coalesce(string_agg(k::text, E'\n'), '') from oms_audit.tenant_data_keys k where k.tenant_id = ${t.id}) as tenant_keys`;
  return `${rows[0]!.events as string}\n${rows[0]!.keys as string}\n${rows[0]!.tenant_keys as string}`;
}

afterAll(async () => {
  await testSql().end();
  await adminSql().end();
});

describe('personal data under per-subject keys', () => {
  it('seals, opens, finds, erases one subject and leaves every proof intact', async () => {
    const t = await newTenant('personal');
    await declarePersonalData(testSql(), t.id, 'operator:test', { outsideRetention: true });
    await write(t, [event({ ...ALICE, object_id: 'ORD-A' }), event({ ...BOB, object_id: 'ORD-B' })]);
    await write(t, [event({ actor_type: 'SERVICE', actor_id: 'matching-engine', object_id: 'ORD-A' })], { ip: '10.9.9.9', userAgent: 'engine/1' });
    await sealTenant(testSql(), t.id, signer());

    // Stored sealed: no plaintext of either trader in any row, key or index.
    const raw = await rawText(t);
    for (const text of [...ALICE_PLAINTEXT, 'bob.trader@example.com', 'client-bob-42', 'Bob Clientname', '+44 20 7946']) expect(raw).not.toContain(text);
    const stored = await adminSql()`select schema_version, actor_id, ip_address, personal from public.audit_events where tenant_id = ${t.id} order by seq`;
    expect(stored.map((r) => r.schema_version)).toEqual([3, 3, 3]);
    expect(stored[0]!.actor_id).toMatch(/^pd2:[0-9a-f]{64}:[0-9a-f-]{36}$/);
    expect(stored[0]!.ip_address).toBeNull();
    expect(stored[2]!.actor_id).toBe('matching-engine'); // not a person: not sealed

    // Readers see the values opened.
    const before = (await list(t)).events;
    expect(before[0]).toMatchObject({ actor_id: ALICE.actor_id, ip_address: ALICE.ip_address, user_agent: ALICE.user_agent, observed_ip: '203.0.113.5', observed_user_agent: 'alice-observed-ua', context: ALICE.context, personal: null, personal_data: { subject_id: null, erased: [] } });
    expect(before[1]).toMatchObject({ actor_id: BOB.actor_id, context: BOB.context, personal_data: { subject_id: 'client-bob-42', erased: [] } });
    expect(before[2]).toMatchObject({ actor_id: 'matching-engine', personal_data: { erased: [] } });
    // The blind index finds a sealed actor.
    expect((await list(t, { actor_id: ALICE.actor_id })).events.map((e) => e.object_id)).toEqual(['ORD-A']);
    expect((await verify(t)).ok).toBe(true);

    const erasure = await eraseSubject(testSql(), { tenantId: t.id, subjectId: ALICE.actor_id, reason: 'GDPR Art. 17 request 2026-118', actor: { kind: 'operator', name: 'dpo-jane' }, minTotalYears: 1 });
    expect(erasure).toMatchObject({ erased: true, events: 1 });
    expect(erasure.key_ids).toHaveLength(1);

    // Erased everywhere a reader looks, stated, never blank or ciphertext; the other subject untouched.
    const after = (await list(t)).events;
    const erasedEvent = after.find((e) => e.object_id === 'ORD-A' && e.actor_type === 'TRADER')!;
    expect(erasedEvent).toMatchObject({ actor_id: ERASED, ip_address: ERASED, user_agent: ERASED, device_fingerprint: ERASED, observed_ip: ERASED, observed_user_agent: ERASED });
    expect(erasedEvent.context).toEqual({ client_name: ERASED, email: ERASED, qty: 5 });
    expect(erasedEvent.personal_data!.erased.sort()).toEqual(['/actor_id', '/context/client_name', '/context/email', '/device_fingerprint', '/ip_address', '/observed_ip', '/observed_user_agent', '/user_agent']);
    expect(after.find((e) => e.object_id === 'ORD-B')).toMatchObject({ actor_id: BOB.actor_id, context: BOB.context, personal_data: { subject_id: 'client-bob-42', erased: [] } });
    expect(await getEvent(testSql(), claims(t), erasedEvent.id)).toMatchObject({ actor_id: ERASED });

    // The erasure is on the record, naming who acted and the subject only by its ref.
    const record = after.find((e) => e.event_type === 'AUDIT_PERSONAL_DATA_ERASED')!;
    expect(record).toMatchObject({ id: erasure.erasure_event_id, actor_id: 'dpo-jane', object_type: 'DATA_SUBJECT', object_id: erasure.subject_ref, written_by: 'operator:dpo-jane' });
    expect(JSON.stringify(record)).not.toContain(ALICE.actor_id);

    // Search finds nothing of the erased subject; every hash and checkpoint still verifies.
    expect((await list(t, { actor_id: ALICE.actor_id })).events).toEqual([]);
    await sealTenant(testSql(), t.id, signer());
    const report = await verify(t);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);

    // No key that opens the subject's data remains in the database.
    const keys = await adminSql()`select wrapped, erased_by, erasure_event_id from oms_audit.subject_keys where tenant_id = ${t.id} and key_id = ${erasure.key_ids[0]!}`;
    expect(keys).toEqual([{ wrapped: null, erased_by: 'operator:dpo-jane', erasure_event_id: erasure.erasure_event_id }]);

    // Erasing again changes nothing.
    expect(await eraseSubject(testSql(), { tenantId: t.id, subjectId: ALICE.actor_id, reason: 'again', actor: { kind: 'operator', name: 'dpo-jane' }, minTotalYears: 1 })).toMatchObject({ erased: false, key_ids: [] });

    // A later event about the same person gets a new key and is readable and found again.
    await write(t, [event({ ...ALICE, object_id: 'ORD-A2' })]);
    expect((await list(t, { actor_id: ALICE.actor_id })).events.map((e) => [e.object_id, e.actor_id])).toEqual([['ORD-A2', ALICE.actor_id]]);
  });

  it('refuses erasure inside the retention duty or under a legal hold, and changes nothing', async () => {
    const kept = await newTenant('personal-retained');
    await declarePersonalData(testSql(), kept.id, 'operator:test');
    await write(kept, [event({ ...ALICE, object_id: 'ORD-R' })]);
    const eventsBefore = (await list(kept)).events.length;
    const refused = eraseSubject(testSql(), { tenantId: kept.id, subjectId: ALICE.actor_id, reason: 'request', actor: { kind: 'operator', name: 'dpo' }, minTotalYears: 1 });
    await expect(refused).rejects.toMatchObject({ code: 'forbidden', block: { holds: [], retention: [{ events: 1 }] } });
    await expect(refused).rejects.toThrow(/retention policy requires 1 record\(s\) of \d{4}-\d{2} until \d{4}-/);

    const held = await newTenant('personal-held');
    await declarePersonalData(testSql(), held.id, 'operator:test', { outsideRetention: true });
    await write(held, [event({ ...ALICE, object_type: 'ORDER', object_id: 'ORD-H' })]);
    const hold = await placeHold(testSql(), { tenantId: held.id, reason: 'FCA enquiry', objectType: 'ORDER', objectId: 'ORD-H', actor: 'test' });
    await expect(
      eraseSubject(testSql(), { tenantId: held.id, subjectId: ALICE.actor_id, reason: 'request', actor: { kind: 'operator', name: 'dpo' }, minTotalYears: 1 }),
    ).rejects.toMatchObject({ code: 'forbidden', block: { holds: [{ id: hold.id, events: 1 }] } });

    for (const t of [kept, held]) {
      const live = await adminSql()`select count(*)::int as n from oms_audit.subject_keys where tenant_id = ${t.id} and wrapped is not null`;
      expect(live[0]!.n).toBe(1);
      expect((await list(t)).events.filter((e) => e.event_type === 'AUDIT_PERSONAL_DATA_ERASED')).toEqual([]);
      expect((await list(t)).events.find((e) => e.object_id.startsWith('ORD-'))!.actor_id).toBe(ALICE.actor_id);
    }
    expect((await list(kept)).events.length).toBe(eventsBefore);
  });

  it('the runtime role cannot change, delete or restore a key, nor read another place of a key', async () => {
    const t = await newTenant('personal-attack');
    await declarePersonalData(testSql(), t.id, 'operator:test', { outsideRetention: true });
    await write(t, [event({ ...ALICE })]);
    const [key] = await testSql()`select key_id, wrapped from oms_audit.subject_keys where tenant_id = ${t.id}`;
    await expect(testSql()`update oms_audit.subject_keys set wrapped = ${key!.wrapped as Buffer} where key_id = ${key!.key_id as string}`).rejects.toThrow(/permission denied/);
    await expect(testSql()`delete from oms_audit.subject_keys where key_id = ${key!.key_id as string}`).rejects.toThrow(/permission denied/);
    await expect(testSql()`update oms_audit.tenant_data_keys set master_key_id = 'x' where tenant_id = ${t.id}`).rejects.toThrow(/permission denied/);
    // Whoever has the database owner's or a superuser's rights still cannot bring a destroyed key back through SQL.
    await eraseSubject(testSql(), { tenantId: t.id, subjectId: ALICE.actor_id, reason: 'request', actor: { kind: 'operator', name: 'dpo' }, minTotalYears: 1 });
    await expect(adminSql()`update oms_audit.subject_keys set wrapped = ${key!.wrapped as Buffer}, erased_at = null, erased_by = null where key_id = ${key!.key_id as string}`).rejects.toThrow(/destroyed/);
    await expect(adminSql()`delete from oms_audit.subject_keys where key_id = ${key!.key_id as string}`).rejects.toThrow(/never deleted/);
  });

  it('refuses subject ids from tenants that do not seal, and envelope-like values from tenants that do', async () => {
    const plain = await newTenant('personal-plain');
    await expect(write(plain, [event({ subject_id: 'client-1' })])).rejects.toMatchObject({ code: 'invalid_request', issues: [{ index: 0, field: 'subject_id' }] });
    const sealing = await newTenant('personal-forged');
    await declarePersonalData(testSql(), sealing.id, 'operator:test');
    const forged = `pd2:${'a'.repeat(64)}:00000000-0000-4000-8000-000000000000:AAAA`;
    await expect(write(sealing, [event({ context: { note: forged } })])).rejects.toMatchObject({ code: 'invalid_request', issues: [{ index: 0, field: 'context' }] });
    // Wherever a client puts the envelope form — a member or a name, declared or not, nested, or a whole
    // reference of the exact form — the batch is refused, naming each event, before any key is made.
    const reference = `pd2:${'0'.repeat(64)}:00000000-0000-0000-0000-000000000000`;
    const batch = [
      event({ ...ALICE }),
      event({ ...ALICE, context: { note: reference } }),
      event({ ...ALICE, context: { email: reference } }),
      event({ ...ALICE, context: { email: { work: 'pd2:x' } } }),
      event({ ...ALICE, context: { nested: { ['pd2:name']: 1 } } }),
      event({ ...ALICE, user_agent: reference }),
      event({ actor_type: 'SERVICE', actor_id: 'engine', context: { client_name: reference } }),
    ];
    await expect(write(sealing, batch)).rejects.toMatchObject({
      code: 'invalid_request',
      issues: [1, 2, 3, 4].map((index) => ({ index, field: 'context' })).concat([{ index: 5, field: 'user_agent' }, { index: 6, field: 'context' }]),
    });
    expect(await adminSql()`select key_id from oms_audit.subject_keys where tenant_id = ${sealing.id}`).toEqual([]);
    expect(await countEvents(sealing.id)).toBe(0);
    // The same batch without them is stored, its contexts as sent with references in place of the declared members.
    await write(sealing, [batch[0]!, event({ ...ALICE, context: { note: 'pd2 in prose', email: { work: 'a@example.net' }, nested: { name: 1 } } })]);
    const stored = await adminSql()`select context from public.audit_events where tenant_id = ${sealing.id} order by seq`;
    expect(stored.map((r) => Object.keys(r.context as object).sort())).toEqual([['client_name', 'email', 'qty'], ['email', 'nested', 'note']]);
    expect((stored[1]!.context as Record<string, unknown>).email).toMatch(/^pd2:[0-9a-f]{64}:[0-9a-f-]{36}$/);
    expect((await list(sealing)).events.map((e) => e.context)).toEqual([ALICE.context, { note: 'pd2 in prose', email: { work: 'a@example.net' }, nested: { name: 1 } }]);
    expect((await verify(sealing)).ok).toBe(true);
  });

  it('seals a declared member inside another declared member with the outer one, in whichever order they are declared', async () => {
    const t = await newTenant('personal-nested-paths');
    await declarePersonalData(testSql(), t.id, 'operator:test', { contextPaths: ['client.email', 'client', 'client.email'] });
    const context = { client: { name: 'Carol Client', email: 'carol@example.net' }, qty: 3 };
    await write(t, [event({ ...ALICE, context })]);
    const [row] = await adminSql()`select context from public.audit_events where tenant_id = ${t.id}`;
    expect(JSON.stringify(row!.context)).not.toContain('carol');
    expect((row!.context as Record<string, unknown>).client).toMatch(/^pd2:/);
    expect((await list(t)).events[0]).toMatchObject({ context, personal_data: { erased: [] } });
    expect((await verify(t)).ok).toBe(true);
  });
});

describe('bundles of sealed personal data', () => {
  it('verify offline before and after an erasure, carry no plaintext, and the API shows the erasure', async () => {
    const work = await mkdtemp(path.join(tmpdir(), 'oms-audit-personal-bundles-'));
    try {
      const { body: published } = await call('GET', '/api/integrity/public-key');
      const keyFile = path.join(work, 'operator.pem');
      await writeFile(keyFile, published.public_key_pem);
      const t = await newTenant('personal-bundle');
      await declarePersonalData(testSql(), t.id, 'operator:test', { outsideRetention: true });
      const sent = await call('POST', '/api/v1/audit/events', { key: t.writeKey, body: { events: [event({ ...ALICE, object_id: 'ORD-A' }), event({ ...BOB, object_id: 'ORD-B' })] }, headers: { 'user-agent': 'alice-observed-ua' } });
      expect(sent.status).toBe(201);
      await sealTenant(testSql(), t.id, signer());

      const bundle = async (format: string) => {
        const res = await fetch(`${baseUrl()}/api/v1/audit/events/export?bundle=true&format=${format}`, { headers: { authorization: `Bearer ${t.readKey}` } });
        expect(res.status).toBe(200);
        const into = await mkdtemp(path.join(work, 'bundle-'));
        await writeFile(`${into}.zip`, Buffer.from(await res.arrayBuffer()));
        return unzipTo(`${into}.zip`, into);
      };
      const verifyBundle = async (dir: string) => {
        const { stdout } = await promisify(execFile)(process.execPath, [path.join(dir, 'verify.mjs'), '--public-key', keyFile, dir]);
        return stdout;
      };
      const dataOf = async (dir: string) => readFile(path.join(dir, JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')).file_name as string), 'utf8');

      const earlier = [await bundle('csv'), await bundle('jsonl')];
      for (const dir of earlier) {
        expect(await verifyBundle(dir)).toContain('VERIFIED');
        const data = await dataOf(dir);
        expect(data).toContain('pd2:');
        for (const text of ALICE_PLAINTEXT) expect(data).not.toContain(text);
      }

      expect((await call('GET', `/api/v1/audit/events?actor_id=${encodeURIComponent(ALICE.actor_id)}`, { key: t.readKey })).body.events).toHaveLength(1);
      // An export filtered by a sealed actor finds the actor's events by the blind index, as a search does.
      const byActor = await startExport(testSql(), claims(t), { format: 'jsonl', filters: { actor_id: ALICE.actor_id }, exporter: { kind: 'cli', os_user: 'test' } });
      let exported = '';
      for await (const chunk of byActor.stream) exported += chunk;
      expect(await byActor.done).toMatchObject({ status: 'complete', row_count: 1, filters: { actor_id: ALICE.actor_id } });
      expect(JSON.parse(exported).object_id).toBe('ORD-A');
      await eraseSubject(testSql(), { tenantId: t.id, subjectId: ALICE.actor_id, reason: 'request', actor: { kind: 'operator', name: 'dpo' }, minTotalYears: 1 });
      await sealTenant(testSql(), t.id, signer());

      // The bundles made before the erasure, and new ones, verify; the REST API states the erasure.
      for (const dir of [...earlier, await bundle('csv'), await bundle('jsonl')]) expect(await verifyBundle(dir)).toContain('VERIFIED');
      const listed = (await call('GET', '/api/v1/audit/events?order=asc', { key: t.readKey })).body.events as { object_id: string; actor_id: string; personal_data?: { erased: string[] } }[];
      expect(listed.find((e) => e.object_id === 'ORD-A')).toMatchObject({ actor_id: ERASED, personal_data: { erased: expect.arrayContaining(['/actor_id', '/ip_address']) } });
      expect(listed.find((e) => e.object_id === 'ORD-B')).toMatchObject({ actor_id: BOB.actor_id });
      expect((await call('GET', `/api/v1/audit/events?actor_id=${encodeURIComponent(ALICE.actor_id)}`, { key: t.readKey })).body.events).toEqual([]);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});

describe('the master key and the processes without it', () => {
  it('a wrong or missing master key stops the CLI at start with a message naming it; nothing is decrypted', async () => {
    const t = await newTenant('personal-master');
    await declarePersonalData(testSql(), t.id, 'operator:test');
    await write(t, [event({ ...ALICE })]);
    const wrong = await runCli(['retention', 'policy', '--tenant', t.id], { OMS_AUDIT_MASTER_KEY: randomBytes(32).toString('base64'), OMS_AUDIT_MASTER_KEY_FILE: '' });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/wrapped by master key [0-9a-f]{16}, but this process has master key [0-9a-f]{16}/);
    expect(wrong.stdout).not.toContain(ALICE.actor_id);
    const missing = await runCli(['retention', 'policy', '--tenant', t.id], { OMS_AUDIT_MASTER_KEY_FILE: '/nonexistent/master-key' });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('OMS_AUDIT_MASTER_KEY_FILE /nonexistent/master-key does not exist');
    const right = await runCli(['retention', 'policy', '--tenant', t.id]);
    expect(right.stderr).toBe('');
    expect(right.code).toBe(0);
  });

  it('the edge function, which holds no master key, refuses a sealing tenant\'s events rather than store them in clear', async () => {
    const t = await newTenant('personal-edge');
    await declarePersonalData(testSql(), t.id, 'operator:test');
    const res = await fetch(`${inject('functionsBaseUrl')}/functions/v1/audit-logger`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.writeKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events: [event({ ...ALICE })] }),
    });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('per-subject keys');
    expect(await countEvents(t.id)).toBe(0);
  });
});
