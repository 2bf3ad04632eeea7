/**
 * Writing to the outbox in the OMS's own transaction, on a real PostgreSQL
 * database of the OMS's own: an event exists if and only if its transaction
 * committed (node-postgres, postgres.js, and plain SQL through psql); what can
 * be told without the server is refused at once; the roles get only what
 * they need.
 */
import { spawnSync } from 'node:child_process';
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditClientError } from '../errors.ts';
import { createOmsDatabase, type OmsDatabase } from '@/test/oms-database.ts';
import { installOutbox } from './admin.ts';
import { createOutbox, outbox } from './writer.ts';

let db: OmsDatabase;
let app: postgres.Sql;
let owner: postgres.Sql;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createOmsDatabase();
  app = postgres(db.appUrl, { max: 4, onnotice: () => {} });
  owner = postgres(db.ownerUrl, { max: 2, onnotice: () => {} });
  pool = new pg.Pool({ connectionString: db.appUrl, max: 2 });
});

afterAll(async () => {
  await app?.end();
  await owner?.end();
  await pool?.end();
  await db?.drop();
});

const fill = (orderId: string, extra: Record<string, unknown> = {}) => ({
  actor_id: 'fix-engine',
  actor_type: 'SERVICE',
  object_type: 'ORDER',
  object_id: orderId,
  event_type: 'FILL',
  context: { quantity: 100, price: '187.25' },
  ...extra,
});

async function queued(objectId: string) {
  return owner`select id::text, event, created_at from oms_audit_outbox.audit_outbox where event->>'object_id' = ${objectId} order by position`;
}

describe('outbox(tx) with postgres.js', () => {
  it('inserts the event with the order change: an id (UUID v7) and occurred_at to the µs when the event has none', async () => {
    const before = Date.now();
    const id = await app.begin(async (tx) => {
      await tx`insert into orders (id, status, quantity) values ('O-pjs-1', 'NEW', 100)`;
      return outbox(tx).log(fill('O-pjs-1'));
    });
    const [row] = await queued('O-pjs-1');
    expect(row!.id).toBe(id);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // The first 48 bits of a v7 id are the time in ms.
    expect(Math.abs(parseInt(id.replace(/-/g, '').slice(0, 12), 16) - before)).toBeLessThan(5000);
    expect(row!.event).toEqual({ ...fill('O-pjs-1'), id, occurred_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/) });
    expect(Math.abs(Date.parse(row!.event.occurred_at) - before)).toBeLessThan(5000);
  });

  it('leaves no event when the transaction rolls back, after the event was logged', async () => {
    await expect(
      app.begin(async (tx) => {
        await tx`insert into orders (id, status, quantity) values ('O-pjs-2', 'NEW', 100)`;
        await outbox(tx).log(fill('O-pjs-2'));
        throw new Error('the exchange refused the order');
      }),
    ).rejects.toThrow('the exchange refused');
    expect(await queued('O-pjs-2')).toEqual([]);
    expect(await owner`select 1 from orders where id = 'O-pjs-2'`).toHaveLength(0);
  });

  it('keeps an id and occurred_at the event brings, and logs several events in order', async () => {
    const own = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
    const ids = await app.begin(async (tx) => {
      const writer = outbox(tx);
      const first = await writer.log(fill('O-pjs-3', { id: own, occurred_at: '2026-12-01T09:30:00.123456+01:00' }));
      const more = await writer.logBulk([fill('O-pjs-3', { event_type: 'ROUTE' }), fill('O-pjs-3', { event_type: 'ACK' })]);
      return [first, ...more];
    });
    expect(ids[0]).toBe(own);
    const rows = await queued('O-pjs-3');
    expect(rows.map((r) => r.id)).toEqual(ids);
    expect(rows.map((r) => r.event.event_type)).toEqual(['FILL', 'ROUTE', 'ACK']);
    expect(rows[0]!.event.occurred_at).toBe('2026-12-01T09:30:00.123456+01:00');
  });

  it('adds the defaults of createOutbox under each event, and logs the helpers’ shapes', async () => {
    const audit = createOutbox({ defaults: { source: 'oms-eu-1' } });
    await app.begin(async (tx) => {
      await audit.outbox(tx).logStatusChange({ actor_id: 'trader-7', actor_type: 'USER', object_type: 'ORDER', object_id: 'O-pjs-4', from: 'NEW', to: 'FILLED' });
      await audit.outbox(tx).log(fill('O-pjs-4', { source: 'fix-gateway' }));
    });
    const rows = await queued('O-pjs-4');
    expect(rows.map((r) => [r.event.event_type, r.event.source])).toEqual([
      ['STATUS_CHANGE', 'oms-eu-1'],
      ['FILL', 'fix-gateway'],
    ]);
    expect(rows[0]!.event.context).toMatchObject({ before: { status: 'NEW' }, after: { status: 'FILLED' } });
  });

  it('refuses the root sql (an event there would commit on its own) and a pg Pool', async () => {
    expect(() => outbox(app)).toThrow(/sql\.begin/);
    expect(() => outbox(pool)).toThrow(/client that ran BEGIN/);
  });
});

describe('outbox(tx) with node-postgres', () => {
  it('commits the event with the order change, and a rollback leaves neither', async () => {
    const client = await pool.connect();
    try {
      await client.query('begin');
      await client.query(`insert into orders (id, status, quantity) values ('O-pg-1', 'NEW', 5)`);
      const id = await outbox(client).log(fill('O-pg-1'));
      await client.query('commit');
      expect((await queued('O-pg-1')).map((r) => r.id)).toEqual([id]);

      await client.query('begin');
      await client.query(`update orders set status = 'CANCELLED' where id = 'O-pg-1'`);
      await outbox(client).log(fill('O-pg-1', { event_type: 'CANCEL' }));
      await client.query('rollback');
    } finally {
      client.release();
    }
    expect((await queued('O-pg-1')).map((r) => r.event.event_type)).toEqual(['FILL']);
    expect((await owner`select status from orders where id = 'O-pg-1'`)[0]!.status).toBe('NEW');
  });
});

describe('what is refused before the server sees it', () => {
  it('the contract: every bad field named, nothing inserted, the transaction still usable', async () => {
    const error = await app
      .begin(async (tx) => {
        const writer = outbox(tx);
        const caught = await writer.logBulk([fill('O-bad-1'), fill('O-bad-1', { event_type: 'order filled', actor_id: '' })]).catch((e: unknown) => e);
        await writer.log(fill('O-bad-1', { event_type: 'REJECT' }));
        return caught;
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuditClientError);
    const e = error as AuditClientError;
    expect(e.status).toBe(400);
    expect(e.issues).toEqual(
      expect.arrayContaining([
        { index: 1, field: 'event_type', message: expect.stringContaining('identifier') },
        { index: 1, field: 'actor_id', message: 'must not be empty' },
      ]),
    );
    expect(e.message).toMatch(/Nothing was logged/);
    expect((await queued('O-bad-1')).map((r) => r.event.event_type)).toEqual(['REJECT']);
  });

  it('the SQL function: a missing required field or a bad id aborts the transaction, naming it', async () => {
    for (const [event, message] of [
      [{ actor_type: 'USER', object_type: 'ORDER', object_id: 'O-bad-2', event_type: 'NEW' }, 'actor_id is required (a non-empty string)'],
      [{ ...fill('O-bad-2'), actor_type: 7 }, 'actor_type is required (a non-empty string)'],
      [{ ...fill('O-bad-2'), id: 'not-a-uuid' }, 'id must be a UUID'],
      [{ ...fill('O-bad-2'), occurred_at: 1700000000 }, 'occurred_at must be a string'],
      [['not', 'an', 'object'], 'must be a JSON object, not array'],
    ] as const) {
      const error = await app
        .begin(async (tx) => {
          await tx`insert into orders (id, status, quantity) values ('O-bad-2', 'NEW', 1)`;
          await tx.unsafe('select oms_audit_outbox.log($1::text::jsonb)', [JSON.stringify(event)]);
        })
        .catch((e: unknown) => e as { message: string; code: string });
      expect(error).toMatchObject({ code: '22023', message: expect.stringContaining(message) });
    }
    expect(await queued('O-bad-2')).toEqual([]);
    expect(await owner`select 1 from orders where id = 'O-bad-2'`).toHaveLength(0);
  });
});

describe('plain SQL, from any language', () => {
  const psql = (script: string) => spawnSync('psql', [db.appUrl, '-v', 'ON_ERROR_STOP=1', '-X', '-q', '-t', '-A'], { input: script, encoding: 'utf8' });

  it('select oms_audit_outbox.log(…) inside BEGIN … COMMIT logs; inside BEGIN … ROLLBACK it does not', async () => {
    const committed = psql(`
      begin;
      insert into orders (id, status, quantity) values ('O-sql-1', 'NEW', 300);
      select oms_audit_outbox.log('{"actor_type":"SERVICE","actor_id":"fix-engine","object_type":"ORDER","object_id":"O-sql-1","event_type":"CREATE","context":{"quantity":300,"limit":"12.50"}}'::jsonb);
      commit;`);
    expect(committed.stderr).toBe('');
    expect(committed.status).toBe(0);
    const id = committed.stdout.trim().split('\n').find((l) => /^[0-9a-f-]{36}$/.test(l));
    const rolledBack = psql(`
      begin;
      update orders set status = 'CANCELLED' where id = 'O-sql-1';
      select oms_audit_outbox.log('{"actor_type":"SERVICE","actor_id":"fix-engine","object_type":"ORDER","object_id":"O-sql-1","event_type":"CANCEL"}'::jsonb);
      rollback;`);
    expect(rolledBack.status).toBe(0);
    const rows = await queued('O-sql-1');
    expect(rows.map((r) => [r.id, r.event.event_type])).toEqual([[id, 'CREATE']]);
    expect(rows[0]!.event.context).toEqual({ quantity: 300, limit: '12.50' });
  });

  it('log_many takes an array and names the bad event by its index', () => {
    const ok = psql(`select array_length(oms_audit_outbox.log_many('[{"actor_type":"USER","actor_id":"a","object_type":"ORDER","object_id":"O-sql-2","event_type":"NEW"},{"actor_type":"USER","actor_id":"a","object_type":"ORDER","object_id":"O-sql-2","event_type":"ACK"}]'::jsonb), 1)`);
    expect(ok.stdout.trim()).toBe('2');
    const bad = psql(`select oms_audit_outbox.log_many('[{"actor_type":"USER","actor_id":"a","object_type":"ORDER","object_id":"O-sql-2","event_type":"X"},{"actor_type":"USER"}]'::jsonb)`);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('event 1: actor_id is required');
  });
});

describe('least privilege', () => {
  it('the application may log but not read, change or remove queued events; the relay may not log', async () => {
    await app.begin((tx) => outbox(tx).log(fill('O-priv-1')));
    for (const statement of [
      'select * from oms_audit_outbox.audit_outbox',
      "insert into oms_audit_outbox.audit_outbox (id, event) values (gen_random_uuid(), '{}')",
      'delete from oms_audit_outbox.audit_outbox',
      'select * from oms_audit_outbox.audit_outbox_parked',
    ]) {
      await expect(app.unsafe(statement), statement).rejects.toMatchObject({ code: '42501' });
    }
    const relay = postgres(db.relayUrl, { max: 1, onnotice: () => {} });
    try {
      await expect(relay.unsafe(`select oms_audit_outbox.log('{}'::jsonb)`)).rejects.toMatchObject({ code: '42501' });
      await expect(relay.unsafe(`update oms_audit_outbox.audit_outbox set event = '{}'`)).rejects.toMatchObject({ code: '42501' });
      expect((await relay`select count(*)::int as n from oms_audit_outbox.audit_outbox`)[0]!.n).toBeGreaterThan(0);
    } finally {
      await relay.end();
    }
  });

  it('installing again changes nothing and keeps what is queued', async () => {
    const [before] = await owner`select count(*)::int as n from oms_audit_outbox.audit_outbox`;
    await installOutbox(db.ownerUrl, { writerRoles: [db.roles.app], relayRoles: [db.roles.relay] });
    const ownerPool = new pg.Pool({ connectionString: db.ownerUrl, max: 1 });
    try {
      await installOutbox(ownerPool, {});
    } finally {
      await ownerPool.end();
    }
    const [after] = await owner`select count(*)::int as n from oms_audit_outbox.audit_outbox`;
    expect(after).toEqual(before);
    expect(await owner`select version from oms_audit_outbox.schema_version`).toEqual([{ version: 1 }]);
  });
});
