/**
 * Sealed personal data (schema version 3) through the read paths that hash,
 * index or count events by their stored fields: verification's row hasher
 * (worker threads, binary COPY), the actor month map, the query language's
 * actor conditions (blind index), the search's shape and the administration
 * Activity view. Each holds or shows no plaintext of a sealed person, and
 * each still answers the question a reader asks of the plaintext.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as crypto from 'node:crypto';
import { parseBatch, type AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import { connectionUrl } from '@/supabase/functions/_shared/db.ts';
import { listEventsInput } from '@/supabase/functions/_shared/filters.ts';
import { ERASED } from '@/supabase/functions/_shared/personal-data.ts';
import { postgresIpv6 } from '@/supabase/functions/_shared/ip.ts';
import { copyOutRows } from '@/server/db/copy-rows.ts';
import { adminSql, event, newTenant, tamper, testSql, type TestTenant } from '@/test/fixtures.ts';
import { logEvents } from '../ingest.ts';
import { listEvents } from '../query.ts';
import { searchShape } from '../search-shape.ts';
import { administrationActivity } from '../activity.ts';
import { rowCheckPool } from '../integrity/hash-pool.ts';
import { ROW, rowHasherFactory, VERIFY_COLUMNS, type RowResults } from '../integrity/row-hasher.ts';
import { trustedKeys } from '../integrity/signing-key.ts';
import { verifyTenant } from '../integrity/verify.ts';
import { declarePersonalData } from './settings.ts';
import { eraseSubject } from './erase.ts';

const CAROL = {
  actor_type: 'TRADER',
  actor_id: 'carol.trader@example.com',
  ip_address: '2001:db8::c',
  user_agent: 'CarolBrowser/3.0 "quoted" \\',
  context: { client_name: 'Carol Client', email: 'carol.client@example.com', qty: 3, nested: { z: 1, a: [true, null] } },
} satisfies Partial<AuditEventRequest>;

const claims = (t: TestTenant) => ({ tenant_id: t.id, sub: 'test', role: 'authenticated' as const });
const list = (t: TestTenant, filters: Record<string, unknown>) => listEvents(testSql(), claims(t), listEventsInput.parse({ order: 'asc', ...filters }));

async function write(t: TestTenant, events: AuditEventRequest[]) {
  return logEvents(testSql(), { tenantId: t.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events }, 500), { ip: '203.0.113.9', userAgent: 'carol-observed' }, 'cli');
}

async function sealingTenant(name: string): Promise<TestTenant> {
  const t = await newTenant(name);
  await declarePersonalData(testSql(), t.id, 'operator:test', { outsideRetention: true });
  return t;
}

afterAll(async () => {
  await testSql().end();
  await adminSql().end();
});

describe('sealed events on the read paths that index or hash stored fields', () => {
  it('the row hasher hashes sealed rows as stored, in workers and on the calling thread, and finds a seal taken from another event', async () => {
    const t = await sealingTenant('sealed-row-hasher');
    await write(t, [
      event({ ...CAROL, object_id: 'ORD-S1', subject_id: 'client-carol-1' }),
      event({ ...CAROL, object_id: 'ORD-S2', ip_address: '192.0.2.44' }),
      event({ actor_type: 'SERVICE', actor_id: 'router', object_id: 'ORD-S3', context: { client_name: 'Carol Client' } }),
    ]);
    const read = async () => {
      const chunks: Uint8Array[] = [];
      for await (const rows of await copyOutRows(connectionUrl(testSql()), `copy (select ${VERIFY_COLUMNS.join(', ')} from public.audit_events where tenant_id = '${t.id}' order by seq) to stdout (format binary)`, {}, 64)) chunks.push(rows);
      return chunks;
    };
    // Per event in seq order: whether the row hasher's hash equals the ledger's.
    const matches = async (check: (rows: Uint8Array) => Promise<RowResults> | RowResults) => {
      const ledger = await testSql()`select seq, encode(event_hash, 'hex') as hash from public.audit_ledger where tenant_id = ${t.id} order by seq`;
      const out: boolean[] = [];
      for (const rows of await read()) {
        const r = await check(rows);
        for (let i = 0; i < r.count; i++) {
          expect(r.codes[i]).toBe(ROW.HASHED);
          out.push(Buffer.from(r.hashes.subarray(32 * i, 32 * i + 32)).toString('hex') === ledger[out.length]!.hash);
        }
      }
      return out;
    };
    const withPool = async (threads: number) => {
      const pool = rowCheckPool(threads);
      try {
        return await matches((rows) => pool.check(rows));
      } finally {
        await pool.close();
      }
    };
    expect(await withPool(0)).toEqual([true, true, true]);
    expect(await withPool(2)).toEqual([true, true, true]);
    // The same, from the factory itself (what the workers run).
    const direct = rowHasherFactory(crypto as never, ROW, postgresIpv6);
    expect(await matches((rows) => direct.checkRows(rows))).toEqual([true, true, true]);

    // A seal replaced by another event's (which does not open here either): the hash shows it.
    await tamper(
      `update public.audit_events e set personal = jsonb_set(e.personal, '{sealed}', o.personal -> 'sealed') from public.audit_events o
       where e.tenant_id = '${t.id}' and e.object_id = 'ORD-S2' and o.tenant_id = e.tenant_id and o.object_id = 'ORD-S1'`,
    );
    expect(await withPool(2)).toEqual([true, false, true]);
    const report = await verifyTenant(testSql(), t.id, { keys: trustedKeys(), record: false });
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => [p.seq, p.kind])).toEqual([[2, 'modified']]);
  });

  it('the actor month map files a sealed actor by subject key, never in clear, and the actor\'s history still reads its months', async () => {
    const t = await sealingTenant('sealed-actor-months');
    await write(t, [
      event({ ...CAROL, object_id: 'ORD-M1', occurred_at: '2026-09-03T10:00:00.000000Z' }),
      event({ ...CAROL, object_id: 'ORD-M2', occurred_at: '2026-09-20T10:00:00.000000Z' }),
      event({ ...CAROL, object_id: 'ORD-M3', occurred_at: '2026-10-02T10:00:00.000000Z' }),
      event({ actor_type: 'SERVICE', actor_id: 'router', object_id: 'ORD-M4', occurred_at: '2026-10-02T11:00:00.000000Z' }),
    ]);
    const map = await adminSql()`select actor_id, to_char(month, 'YYYY-MM') as month from public.audit_actor_months where tenant_id = ${t.id} order by actor_id, month`;
    expect(JSON.stringify(map)).not.toContain(CAROL.actor_id);
    const sealed = map.filter((r) => (r.actor_id as string).startsWith('pd2:'));
    // One row per subject key and month, holding only the subject's reference.
    expect(sealed.map((r) => r.month)).toEqual(['2026-09', '2026-10']);
    for (const r of sealed) expect(r.actor_id).toMatch(/^pd2:[0-9a-f]{64}:[0-9a-f-]{36}$/);
    expect(map.filter((r) => r.actor_id === 'router').map((r) => r.month)).toEqual(['2026-10']);

    expect((await list(t, { actor_id: CAROL.actor_id })).events.map((e) => [e.object_id, e.actor_id])).toEqual([
      ['ORD-M1', CAROL.actor_id],
      ['ORD-M2', CAROL.actor_id],
      ['ORD-M3', CAROL.actor_id],
    ]);
    expect((await list(t, { actor_id: CAROL.actor_id, from: '2026-10-01' })).events.map((e) => e.object_id)).toEqual(['ORD-M3']);
    expect((await list(t, { actor_id: 'router' })).events.map((e) => e.object_id)).toEqual(['ORD-M4']);
  });

  it('the query language finds a sealed actor by equality, negated or in a list, through the blind index', async () => {
    const t = await sealingTenant('sealed-query-language');
    await write(t, [
      event({ ...CAROL, object_id: 'ORD-Q1' }),
      event({ ...CAROL, actor_id: 'dave.trader@example.com', object_id: 'ORD-Q2' }),
      event({ actor_type: 'SERVICE', actor_id: 'router', object_id: 'ORD-Q3' }),
    ]);
    const ids = async (q: string) => (await list(t, { q })).events.map((e) => e.object_id);
    expect(await ids(`actor = "${CAROL.actor_id}"`)).toEqual(['ORD-Q1']);
    expect(await ids(`actor_id = "${CAROL.actor_id}" OR actor = router`)).toEqual(['ORD-Q1', 'ORD-Q3']);
    expect(await ids(`NOT actor = "${CAROL.actor_id}"`)).toEqual(['ORD-Q2', 'ORD-Q3']);
    await eraseSubject(testSql(), { tenantId: t.id, subjectId: CAROL.actor_id, reason: 'request', actor: { kind: 'operator', name: 'dpo' }, minTotalYears: 1 });
    expect(await ids(`actor = "${CAROL.actor_id}"`)).toEqual([]);
  });

  it('the search\'s shape counts a sealed actor once and shows it opened, masked for viewers, erased once erased', async () => {
    const t = await sealingTenant('sealed-shape');
    const at = (i: number) => `2026-11-0${1 + i}T10:00:00.000000Z`;
    await write(t, [0, 1, 2].map((i) => event({ ...CAROL, object_id: `ORD-F${i}`, occurred_at: at(i) })));
    await write(t, [event({ actor_type: 'SERVICE', actor_id: 'router', object_id: 'ORD-F9', occurred_at: at(3) })]);
    const filters = { from: '2026-11-01', to: '2026-11-08' };
    const actors = async (masked = false) => (await searchShape(testSql(), claims(t), filters, { masked })).facets.actor_id;
    expect(await actors()).toEqual([
      { value: CAROL.actor_id, count: 3 },
      { value: 'router', count: 1 },
    ]);
    expect(await actors(true)).toEqual([
      { value: '[personal]', count: 3 },
      { value: 'router', count: 1 },
    ]);
    // Filtering the shape by the sealed actor goes through the blind index too.
    expect((await searchShape(testSql(), claims(t), { ...filters, actor_id: CAROL.actor_id })).buckets.reduce((n, b) => n + b.count, 0)).toBe(3);
    await eraseSubject(testSql(), { tenantId: t.id, subjectId: CAROL.actor_id, reason: 'request', actor: { kind: 'operator', name: 'dpo' }, minTotalYears: 1 });
    expect(await actors()).toEqual([
      { value: ERASED, count: 3, erased: true },
      { value: 'router', count: 1 },
    ]);
    // An actor id sent as the text "[erased]" is a value like any other: not flagged.
    await write(t, [event({ ...CAROL, actor_id: ERASED, object_id: 'ORD-F10', occurred_at: at(4) })]);
    const after = await actors();
    expect(after).toHaveLength(3);
    expect(after).toEqual(expect.arrayContaining([{ value: ERASED, count: 3, erased: true }, { value: 'router', count: 1 }, { value: ERASED, count: 1 }]));
  });

  it('the Activity view shows the people who administered opened, never their references', async () => {
    const t = await sealingTenant('sealed-activity');
    await write(t, [event({ ...CAROL, object_type: 'LEGAL_HOLD', object_id: 'HOLD-1', event_type: 'HOLD_PLACED' })]);
    const page = await administrationActivity(testSql(), claims(t), { limit: 10 });
    expect(page.events.map((e) => [e.object_id, e.actor_id, e.ip_address, e.personal])).toEqual([['HOLD-1', CAROL.actor_id, CAROL.ip_address, null]]);
  });
});
