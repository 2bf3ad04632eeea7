/**
 * An erasure's checks and its key destruction are atomic against a concurrent
 * legal hold, retention change or write (docs/personal-data.md, "Erasure").
 * Each race is ordered with PostgreSQL's own locks — a session holds a lock,
 * and the test waits until pg_blocking_pids shows the other session queued
 * behind it — so the interleaving is the same on every run, without sleeps:
 *
 * - a hold placed while the erasure is between its checks and the destruction
 *   waits for the erasure, and is recorded after it (never both: the erasure
 *   never destroys keys under a hold it did not see);
 * - an erasure started while a hold (written by a bare SQL statement, no
 *   service code) is uncommitted waits for it, then is refused naming it;
 * - a tenant's declaration put back inside the retention duty meanwhile
 *   refuses the erasure the same way;
 * - an event of the subject under an active hold committed while the erasure
 *   was checking is checked too: the erasure is refused.
 * A refused erasure changes nothing: keys live, no erasure event, no record.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBatch, type AuditEventRequest } from '@/supabase/functions/_shared/contract.ts';
import { withTenant, type Sql, type TxSql } from '@/supabase/functions/_shared/db.ts';
import { appendEventsWithin } from '@/supabase/functions/_shared/ingest.ts';
import { createTenant } from '@/server/services/tenants.ts';
import { retentionDatabase, timeInMonth, type RetentionDb } from '@/test/retention.ts';
import { logEvents, NO_OBSERVED_CLIENT } from '../ingest.ts';
import { listRecords } from '../retention/records.ts';
import { placeHold, setPolicy } from '../retention/policy.ts';
import { ERASURE_EVENT_TYPE, eraseSubject } from './erase.ts';
import { declarePersonalData } from './settings.ts';
import { forgetSubjectKeys } from './keys.ts';
import { getEvent } from '../query.ts';
import { setPersonalDataSealer, type PersonalDataSealer } from '@/supabase/functions/_shared/personal-seal.ts';

let db: RetentionDb;
beforeAll(async () => {
  db = await retentionDatabase();
});
afterAll(() => db?.drop());

const SUBJECT = 'hana@broker.example';
const orderEvent = (orderId: string, n: number): AuditEventRequest => ({
  occurred_at: timeInMonth(0, n),
  actor_type: 'TRADER',
  actor_id: SUBJECT,
  object_type: 'ORDER',
  object_id: orderId,
  event_type: 'CREATE',
  ip_address: '192.0.2.77',
  context: { qty: n },
});
const writer = { kind: 'operator', name: 'test' } as const;

/** A tenant whose personal fields are outside the retention duty (so only holds refuse), with the subject's events on ORD-1. */
async function tenantWithSubject(label: string) {
  const tenant = await createTenant(db.sql, `${label}-${Date.now()}`);
  await declarePersonalData(db.sql, tenant.id, 'operator:test', { outsideRetention: true });
  await logEvents(db.sql, { tenantId: tenant.id, writer }, parseBatch({ events: [orderEvent('ORD-1', 1), orderEvent('ORD-1', 2)] }, 10), NO_OBSERVED_CLIENT, 'cli');
  return tenant.id;
}

/** The error an erasure is refused with, or null when it succeeded. */
const refusalOf = (erasure: Promise<unknown>) => erasure.then(
  () => null,
  (err: Error) => err,
);

const erase = (tenantId: string) =>
  eraseSubject(db.sql, { tenantId, subjectId: SUBJECT, reason: 'GDPR request 31', actor: { kind: 'operator', name: 'dpo' }, minTotalYears: 1, env: db.env() });

/**
 * Waits until a session whose current statement contains `statement` is
 * queued behind the session `blocker` (pg_blocking_pids), and returns its pid.
 * A condition on PostgreSQL's lock table, not a guess at timing. Fails at once
 * when `waiter` (the operation expected to wait) finishes instead.
 */
async function queuedBehind(blocker: number, statement: string, waiter: Promise<unknown>): Promise<number> {
  let settled = false;
  void waiter.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (;;) {
    const [row] = await db.admin`
      select pid from pg_stat_activity
      where datname = current_database() and query like ${`%${statement}%`} and ${blocker} = any(pg_blocking_pids(pid))`;
    if (row) return row.pid as number;
    if (settled) throw new Error(`it finished without waiting at ${statement} behind session ${blocker}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** Opens a transaction on `sql` that runs `first`, then stays open until the returned `finish` is called. */
async function openTransaction<T>(sql: Sql, first: (tx: TxSql) => Promise<T>) {
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  let started!: (value: { pid: number; result: T }) => void;
  const ready = new Promise<{ pid: number; result: T }>((r) => (started = r));
  const done = sql.begin(async (tx) => {
    const [me] = await tx`select pg_backend_pid() as pid`;
    started({ pid: me!.pid as number, result: await first(tx) });
    await finished;
  });
  const { pid, result } = await ready;
  return { pid, result, commit: async () => (finish(), done) };
}

async function state(tenantId: string) {
  const keys = await db.admin`select count(*) filter (where erased_at is null)::int as live, count(*) filter (where erased_at is not null)::int as erased from oms_audit.subject_keys where tenant_id = ${tenantId}`;
  const [erasures] = await db.admin`select count(*)::int as n from public.audit_events where tenant_id = ${tenantId} and event_type = ${ERASURE_EVENT_TYPE}`;
  return { ...keys[0], erasure_events: erasures!.n as number, records: (await listRecords(db.sql, tenantId)).filter((r) => r.kind === 'erased').length };
}

describe('an erasure against a concurrent hold, policy change or write', () => {
  it('a hold placed between the checks and the destruction waits for the erasure, which the trail shows first', async () => {
    const tenantId = await tenantWithSubject('erase-then-hold');
    // Holding the tenant's sequence row stops the erasure after its checks, before it records and destroys anything.
    const paused = await openTransaction(db.admin, (tx) => tx`select last_seq from oms_audit.tenant_sequences where tenant_id = ${tenantId} for update`);
    const erasure = erase(tenantId);
    const erasurePid = await queuedBehind(paused.pid, 'lock_tenant_sequence', erasure);

    const hold = placeHold(db.sql, { tenantId, objectType: 'ORDER', objectId: 'ORD-1', reason: 'Regulator inquiry 12', actor: 'operator:legal' });
    await queuedBehind(erasurePid, 'legal_holds', hold);
    expect(await state(tenantId)).toMatchObject({ live: 1, erased: 0, erasure_events: 0 });

    await paused.commit();
    const erased = await erasure;
    expect(erased).toMatchObject({ erased: true, events: 2 });
    const placed = await hold;
    expect(placed.active).toBe(true);
    expect(await state(tenantId)).toMatchObject({ live: 0, erased: 1, erasure_events: 1, records: 1 });
    // The hold was placed after the erasure committed: the trail records the erasure, then the hold.
    const trail = await db.admin`
      select event_type, object_type from public.audit_events
      where tenant_id = ${tenantId} and (event_type = ${ERASURE_EVENT_TYPE} or object_type = 'LEGAL_HOLD') order by seq`;
    expect(trail.map((e) => e.event_type)).toEqual([ERASURE_EVENT_TYPE, 'CREATE']);
  });

  it('an erasure started while a hold is being placed (a bare SQL insert) waits for it and is refused, changing nothing', async () => {
    const tenantId = await tenantWithSubject('hold-then-erase');
    const placing = await openTransaction(db.sql, async (tx) => {
      const [row] = await tx`
        insert into oms_audit.legal_holds (tenant_id, object_type, object_id, reason, created_by)
        values (${tenantId}, 'ORDER', 'ORD-1', 'Court order 7', 'operator:legal') returning id`;
      return row!.id as string;
    });
    const erasure = refusalOf(erase(tenantId));
    await queuedBehind(placing.pid, 'lock_erasure_rules', erasure);
    await placing.commit();
    const refused = await erasure;
    expect(refused).toMatchObject({ code: 'forbidden', block: { holds: [{ id: placing.result, events: 2 }] } });
    expect(refused?.message).toContain(placing.result);
    expect(await state(tenantId)).toEqual({ live: 1, erased: 0, erasure_events: 0, records: 0 });
  });

  it('a declaration put back inside the retention duty while the erasure waits refuses it; a policy change waits for an erasure', async () => {
    const tenantId = await tenantWithSubject('retention-then-erase');
    const changing = await openTransaction(db.sql, (tx) => tx`update oms_audit.personal_data_settings set outside_retention = false, updated_by = 'operator:dpo' where tenant_id = ${tenantId}`);
    const erasure = refusalOf(erase(tenantId));
    await queuedBehind(changing.pid, 'lock_erasure_rules', erasure);
    await changing.commit();
    const refused = await erasure;
    expect(refused).toMatchObject({ code: 'forbidden', block: { holds: [], retention: [{ events: 2, archived: false }] } });
    expect(await state(tenantId)).toEqual({ live: 1, erased: 0, erasure_events: 0, records: 0 });

    // The other order: a retention policy change while an erasure is between its checks and the destruction waits for it.
    await declarePersonalData(db.sql, tenantId, 'operator:test', { outsideRetention: true });
    const paused = await openTransaction(db.admin, (tx) => tx`select last_seq from oms_audit.tenant_sequences where tenant_id = ${tenantId} for update`);
    const second = erase(tenantId);
    const erasurePid = await queuedBehind(paused.pid, 'lock_tenant_sequence', second);
    const policy = setPolicy(db.sql, { tenantId, change: { total_years: 30 }, actor: 'operator:legal', minTotalYears: 1 });
    await queuedBehind(erasurePid, 'lock_erasure_rules', policy);
    await paused.commit();
    expect(await second).toMatchObject({ erased: true });
    expect(await policy).toMatchObject({ total_years: 30 });
  });

  it('an event of the subject under a hold, committed while the erasure was checking, is checked too: refused', async () => {
    const tenantId = await tenantWithSubject('write-during-erase');
    const hold = await placeHold(db.sql, { tenantId, objectType: 'ORDER', objectId: 'ORD-77', reason: 'Best-execution review', actor: 'operator:legal' });
    // A write of the subject's event on the held order, not yet committed: it holds the tenant's sequence lock.
    const claims = { tenant_id: tenantId, sub: 'test', role: 'authenticated' } as const;
    const writing = await openTransaction(db.sql, async (tx) => {
      await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${JSON.stringify(claims)}, true)`;
      return appendEventsWithin(db.sql, tx, { tenantId, writer }, parseBatch({ events: [orderEvent('ORD-77', 3)] }, 1), NO_OBSERVED_CLIENT);
    });
    const erasure = refusalOf(erase(tenantId));
    // The erasure has checked (the event was not yet visible) and waits to record itself behind the write.
    await queuedBehind(writing.pid, 'lock_tenant_sequence', erasure);
    await writing.commit();
    const refused = await erasure;
    expect(refused).toMatchObject({ code: 'forbidden', block: { holds: [{ id: hold.id, events: 1 }], checked: { hot_events: 3 } } });
    expect(await state(tenantId)).toEqual({ live: 1, erased: 0, erasure_events: 0, records: 0 });
    expect(await withTenant(db.sql, claims, (tx) => tx`select count(*)::int as n from public.audit_events where object_id = 'ORD-77'`)).toEqual([{ n: 1 }]);
  });

  it("an event sealed under the subject's key before an erasure and committed after it is sealed again under a new key, never stored under the destroyed one", async () => {
    const tenantId = await tenantWithSubject('seal-then-erase');
    const [{ key_id: erasedKey }] = (await db.admin`select key_id from oms_audit.subject_keys where tenant_id = ${tenantId} and erased_at is null`) as unknown as [{ key_id: string }];
    // The write path's sealer, paused once right after it sealed the write's batch: sealed under the live key, not yet stored.
    const registered = (globalThis as { __omsAuditSealer?: PersonalDataSealer }).__omsAuditSealer!;
    let sealedWrite!: () => void;
    const writeSealed = new Promise<void>((resolve) => (sealedWrite = resolve));
    let resume!: () => void;
    const resumed = new Promise<void>((resolve) => (resume = resolve));
    let writeSeals = 0;
    setPersonalDataSealer(async (sql, tenant, rows) => {
      await registered(sql, tenant, rows);
      if (rows.some((r) => r.object_id === 'ORD-9') && ++writeSeals === 1) {
        sealedWrite();
        await resumed;
      }
    }, forgetSubjectKeys);
    try {
      const writing = logEvents(db.sql, { tenantId, writer }, parseBatch({ events: [orderEvent('ORD-9', 5)] }, 1), NO_OBSERVED_CLIENT, 'cli');
      await writeSealed;
      expect(await erase(tenantId)).toMatchObject({ erased: true, key_ids: [erasedKey], events: 2 });
      resume();
      expect(await writing).toMatchObject({ created_count: 1, duplicate_count: 0 });
      expect(writeSeals).toBe(2);
    } finally {
      setPersonalDataSealer(registered, forgetSubjectKeys);
    }
    const [stored] = await db.admin`select id, personal from public.audit_events where tenant_id = ${tenantId} and object_id = 'ORD-9'`;
    const keyIds = Object.keys((stored!.personal as { sealed: Record<string, string> }).sealed);
    const [{ key_id: newKey }] = (await db.admin`select key_id from oms_audit.subject_keys where tenant_id = ${tenantId} and erased_at is null`) as unknown as [{ key_id: string }];
    expect(keyIds).toEqual([newKey]);
    expect(newKey).not.toBe(erasedKey);
    // The event reads as it was sent; the events the erasure checked read as erased.
    const claims = { tenant_id: tenantId, sub: 'test', role: 'authenticated' } as const;
    const event = await getEvent(db.sql, claims, stored!.id as string);
    expect(event).toMatchObject({ actor_id: SUBJECT, ip_address: '192.0.2.77', personal_data: { erased: [] } });
  });
});
