import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { connect } from '@/supabase/functions/_shared/db.ts';
import { parseBatch, type AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import { appendEvents } from '@/supabase/functions/_shared/ingest.ts';
import { countEvents, event, newTenant, testSql } from '@/test/fixtures.ts';

const observed = { ip: '127.0.0.1', userAgent: 'ingest-test' };
const write = (sql: ReturnType<typeof testSql>, tenantId: string, events: AuditEventRequest[]) =>
  appendEvents(sql, { tenantId, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events }, 1000), observed, 'cli');

async function seqs(tenantId: string): Promise<number[]> {
  const rows = await testSql()`select seq from public.audit_events where tenant_id = ${tenantId} order by seq`;
  return rows.map((r) => r.seq as number);
}

// Separate pools behave like separate server processes: no shared group commit.
const otherProcesses = Array.from({ length: 3 }, () => connect(inject('databaseUrl'), { max: 4 }));
afterAll(() => Promise.all(otherProcesses.map((s) => s.end())));

describe('write path', () => {
  it('stores a retried batch once and reports the duplicates', async () => {
    const t = await newTenant();
    const batch = Array.from({ length: 20 }, () => event({ id: randomUUID() }));
    const first = await write(testSql(), t.id, batch);
    expect(first).toMatchObject({ created_count: 20, duplicate_count: 0, duplicate_ids: [] });
    const again = await write(testSql(), t.id, batch);
    expect(again).toMatchObject({ created_count: 0, duplicate_count: 20 });
    expect(again.ids).toEqual(batch.map((e) => e.id));
    expect(await countEvents(t.id)).toBe(20);
    expect(await seqs(t.id)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('counts an id repeated inside one batch once, and a new id after an old one', async () => {
    const t = await newTenant();
    const id = randomUUID();
    const result = await write(testSql(), t.id, [event({ id }), event({ id }), event()]);
    expect(result).toMatchObject({ created_count: 2, duplicate_count: 1, duplicate_ids: [id] });
    const next = await write(testSql(), t.id, [event({ id }), event()]);
    expect(next).toMatchObject({ created_count: 1, duplicate_count: 1 });
    expect(await seqs(t.id)).toEqual([1, 2, 3]);
  });

  it('keeps seq gap-free and unique when retries of the same batches race from several processes', async () => {
    const t = await newTenant();
    const batches = Array.from({ length: 12 }, () => Array.from({ length: 50 }, () => event({ id: randomUUID() })));
    // Every batch is sent three times at once, from three "processes".
    const results = await Promise.all(batches.flatMap((b) => otherProcesses.map((sql) => write(sql, t.id, b))));
    const created = results.reduce((n, r) => n + r.created_count, 0);
    expect(created).toBe(600);
    expect(results.reduce((n, r) => n + r.duplicate_count, 0)).toBe(1200);
    expect(await seqs(t.id)).toEqual(Array.from({ length: 600 }, (_, i) => i + 1));
    const [ledger] = await testSql()`select count(*)::int as n, max(seq)::int as hi from public.audit_ledger where tenant_id = ${t.id}`;
    expect(ledger).toEqual({ n: 600, hi: 600 });
  });

  it('keeps each tenant its own sequence under concurrent writers', async () => {
    const [a, b] = await Promise.all([newTenant(), newTenant()]);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => write(otherProcesses[i % 3]!, i % 2 ? a.id : b.id, Array.from({ length: 25 }, () => event()))),
    );
    expect(await seqs(a.id)).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
    expect(await seqs(b.id)).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
  });

  it('creates month partitions for backfilled events automatically', async () => {
    const t = await newTenant();
    const result = await write(testSql(), t.id, [event({ occurred_at: '2015-06-15T10:00:00.000001Z' }), event({ occurred_at: '2009-02-28T23:59:59.999999Z' })]);
    expect(result.created_count).toBe(2);
    const parts = await testSql()`
      select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'public.audit_events'::regclass and c.relname in ('audit_events_2015_06', 'audit_events_2009_02')`;
    expect(parts.map((p) => p.relname).sort()).toEqual(['audit_events_2009_02', 'audit_events_2015_06']);
  });

  it('stamps received_at, fills IP and user agent from the connection only where the event has none', async () => {
    const t = await newTenant();
    const before = new Date().toISOString();
    const result = await write(testSql(), t.id, [event({ ip_address: '2001:db8::7', user_agent: 'TraderWorkstation/9' }), event()]);
    const rows = await testSql()`
      select id, ip_address, user_agent, observed_ip, observed_user_agent, received_at, occurred_at
      from public.audit_events where tenant_id = ${t.id} order by seq`;
    expect(rows[0]).toMatchObject({ ip_address: '2001:db8::7', user_agent: 'TraderWorkstation/9', observed_ip: '127.0.0.1', observed_user_agent: 'ingest-test' });
    expect(rows[1]).toMatchObject({ ip_address: '127.0.0.1', user_agent: 'ingest-test', observed_ip: '127.0.0.1' });
    expect(rows[1]!.received_at >= before.replace('Z', '000Z')).toBe(true);
    // Without occurred_at, the event happened when it was received.
    expect(rows[1]!.occurred_at).toBe(rows[1]!.received_at);
    expect(rows.map((r) => r.id)).toEqual(result.ids);
    // Server ids are UUIDv7 (time-ordered).
    expect(result.ids[1]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
  });

  it('refuses a payload tenant_id that is not the credential\'s tenant, storing nothing', async () => {
    const [t, other] = await Promise.all([newTenant(), newTenant()]);
    await expect(write(testSql(), t.id, [event({ tenant_id: t.id }), event({ tenant_id: other.id })])).rejects.toMatchObject({
      status: 403,
      issues: [{ index: 1, field: 'tenant_id', message: expect.any(String) }],
    });
    expect(await countEvents(t.id)).toBe(0);
    expect(await countEvents(other.id)).toBe(0);
  });
});
