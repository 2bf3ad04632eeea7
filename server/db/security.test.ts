/**
 * The database defends itself: row-level security by tenant, append-only
 * events and ledger for every role, partitions unreachable directly.
 * (What the runtime role itself cannot do: runtime-role.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { withTenant } from '@/supabase/functions/_shared/db.ts';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { appendEvents } from '@/supabase/functions/_shared/ingest.ts';
import { adminSql, event, newTenant, testSql } from '@/test/fixtures.ts';

async function seeded() {
  const [a, b] = await Promise.all([newTenant('rls-a'), newTenant('rls-b')]);
  for (const t of [a, b]) {
    await appendEvents(testSql(), { tenantId: t.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events: [event(), event()] }, 500), { ip: null, userAgent: null }, 'cli');
  }
  return { a, b };
}

/** Runs `statement` as `role` (assumed by the superuser, who may be any role) with the given claims. */
async function as(role: string, claims: object | null, statement: string): Promise<unknown[]> {
  return adminSql().begin(async (tx) => {
    await tx`select set_config('role', ${role}, true), set_config('request.jwt.claims', ${claims ? JSON.stringify(claims) : ''}, true)`;
    return [...(await tx.unsafe(statement))];
  });
}

describe('row-level security', () => {
  it('shows the authenticated role only the tenant in its claims, and nothing without claims', async () => {
    const { a, b } = await seeded();
    const rows = await as('authenticated', { tenant_id: a.id, role: 'authenticated' }, `select distinct tenant_id from public.audit_events where tenant_id in ('${a.id}', '${b.id}')`);
    expect(rows).toEqual([{ tenant_id: a.id }]);
    const ledger = await as('authenticated', { tenant_id: a.id }, `select distinct tenant_id from public.audit_ledger where tenant_id in ('${a.id}', '${b.id}')`);
    expect(ledger).toEqual([{ tenant_id: a.id }]);
    expect(await as('authenticated', null, `select count(*)::int as n from public.audit_events`)).toEqual([{ n: 0 }]);
    // The policy applies whatever the query asks for.
    expect(await as('authenticated', { tenant_id: a.id }, `select count(*)::int as n from public.audit_events where tenant_id = '${b.id}'`)).toEqual([{ n: 0 }]);
  });

  it("refuses inserts of another tenant's rows", async () => {
    const { a, b } = await seeded();
    await expect(
      as(
        'authenticated',
        { tenant_id: a.id },
        `insert into public.audit_events (id, tenant_id, seq, occurred_at, received_at, actor_type, actor_id, object_type, object_id, event_type, outcome)
         values (gen_random_uuid(), '${b.id}', 99, now(), now(), 'USER', 'x', 'ORDER', 'o', 'CREATE', 'success')`,
      ),
    ).rejects.toMatchObject({ message: expect.stringContaining('row-level security') });
  });

  it('gives anon nothing and keeps partitions out of reach', async () => {
    const { a } = await seeded();
    await expect(as('anon', { tenant_id: a.id }, 'select * from public.audit_events limit 1')).rejects.toMatchObject({ code: '42501' });
    const [part] = await testSql()`select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'public.audit_events'::regclass limit 1`;
    await expect(as('authenticated', { tenant_id: a.id }, `select * from oms_audit.${part!.relname as string} limit 1`)).rejects.toMatchObject({ code: '42501' });
    await expect(as('authenticated', { tenant_id: a.id }, 'select * from oms_audit.api_keys limit 1')).rejects.toMatchObject({ code: '42501' });
  });
});

describe('append-only', () => {
  const changes = (tenantId: string) => [
    `update public.audit_events set actor_id = 'forged' where tenant_id = '${tenantId}'`,
    `delete from public.audit_events where tenant_id = '${tenantId}'`,
    `update public.audit_ledger set event_hash = event_hash where tenant_id = '${tenantId}'`,
    `delete from public.audit_ledger where tenant_id = '${tenantId}'`,
  ];

  it('refuses UPDATE and DELETE to the application roles', async () => {
    const { a } = await seeded();
    for (const statement of changes(a.id)) {
      for (const role of ['authenticated', 'service_role']) {
        await expect(as(role, { tenant_id: a.id }, statement), `${role}: ${statement}`).rejects.toMatchObject({ code: '42501' });
      }
    }
  });

  it('refuses UPDATE, DELETE and TRUNCATE even to the owner and superuser, naming the rule', async () => {
    const { a } = await seeded();
    for (const statement of [...changes(a.id), 'truncate public.audit_events', 'truncate public.audit_ledger']) {
      await expect(adminSql().unsafe(statement), statement).rejects.toMatchObject({ message: expect.stringMatching(/append-only: (UPDATE|DELETE|TRUNCATE) is not allowed/) });
    }
    const [part] = await testSql()`select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'public.audit_events'::regclass limit 1`;
    await expect(adminSql().unsafe(`truncate oms_audit.${part!.relname as string}`)).rejects.toMatchObject({ message: expect.stringContaining('append-only') });
  });

  it('refuses ledger rows that would leave a gap in the sequence', async () => {
    const { a } = await seeded();
    await expect(
      withTenant(testSql(), { tenant_id: a.id, sub: 'x', role: 'authenticated' }, async (tx) => {
        await tx`select oms_audit.lock_tenant_sequence()`;
        await tx`insert into public.audit_ledger (tenant_id, seq, id, occurred_at, event_hash) values (${a.id}, 10, gen_random_uuid(), now(), decode(repeat('ab', 32), 'hex'))`;
      }),
    ).rejects.toMatchObject({ message: expect.stringContaining("does not continue the tenant's sequence") });
  });
});
