/**
 * The server's own credentials cannot rewrite the trail. Every attack here
 * runs as oms_audit_runtime — what the server, the edge function and the CLI
 * connect as — and must be refused, leaving the trail as it was. The
 * append-only triggers also hold against a superuser who only flips
 * session_replication_role.
 */
import { describe, expect, it } from 'vitest';
import { parseBatch } from '@/supabase/functions/_shared/contract.ts';
import { withTenant } from '@/supabase/functions/_shared/db.ts';
import { appendEvents } from '@/supabase/functions/_shared/ingest.ts';
import { checkRuntimeRole } from '@/supabase/functions/_shared/runtime-role.ts';
import { sealTenant } from '@/server/services/integrity/checkpoints.ts';
import { signer } from '@/server/services/integrity/signing-key.ts';
import { adminSql, call, event, newTenant, testSql } from '@/test/fixtures.ts';

async function sealedTenant() {
  const t = await newTenant('runtime-attack');
  await appendEvents(testSql(), { tenantId: t.id, writer: { kind: 'operator', name: 'test' } }, parseBatch({ events: Array.from({ length: 5 }, () => event()) }, 500), { ip: null, userAgent: null }, 'cli');
  await sealTenant(testSql(), t.id, signer());
  return t;
}

/** What an attacker would change, per tenant: counts and the head of every part of the trail. */
async function trailOf(tenantId: string) {
  const [row] = await adminSql()`
    select (select count(*)::int from public.audit_events where tenant_id = ${tenantId}) as events,
           (select count(*)::int from public.audit_ledger where tenant_id = ${tenantId}) as ledger,
           (select count(*)::int from oms_audit.checkpoints where tenant_id = ${tenantId}) as checkpoints,
           (select last_seq from oms_audit.tenant_sequences where tenant_id = ${tenantId}) as last_seq,
           (select string_agg(actor_id || outcome, ',' order by seq) from public.audit_events where tenant_id = ${tenantId}) as content`;
  return row;
}

/** A partition holding the tenant's events (this month's). */
async function partitionOf(tenantId: string): Promise<string> {
  const [row] = await adminSql()`select tableoid::regclass::text as name from public.audit_events where tenant_id = ${tenantId} limit 1`;
  return row!.name as string;
}

describe('the runtime role', () => {
  it('is what the tests, the server and the CLI connect as, and passes its own check', async () => {
    expect(await checkRuntimeRole(testSql())).toEqual({ user: 'oms_audit_runtime', problems: [] });
    const [me] = await testSql()`select rolsuper, rolbypassrls, rolinherit from pg_roles where rolname = current_user`;
    expect(me).toEqual({ rolsuper: false, rolbypassrls: false, rolinherit: false });
    const [owned] = await testSql()`
      select count(*)::int as n from pg_class where relowner = (select oid from pg_roles where rolname = current_user)`;
    expect(owned!.n).toBe(0);
  });

  it('is checked at start: a role with any right to change the trail is named and refused', async () => {
    const leaky = `oms_audit_leaky_${Date.now()}`;
    await adminSql().unsafe(`create role ${leaky} nologin; grant oms_audit_runtime to ${leaky}; grant update (sealed_at) on oms_audit.checkpoints to ${leaky}; grant truncate on public.audit_ledger to ${leaky}`);
    try {
      const check = await adminSql().begin(async (tx) => {
        await tx.unsafe(`set local role ${leaky}`);
        return checkRuntimeRole(tx);
      });
      expect(check).toEqual({ user: leaky, problems: ['it may change oms_audit.checkpoints: UPDATE', 'it may change public.audit_ledger: TRUNCATE'] });
    } finally {
      await adminSql().unsafe(`revoke all on oms_audit.checkpoints, public.audit_ledger from ${leaky}; drop role ${leaky}`);
    }
  });

  it('cannot switch the append-only triggers off, set session_replication_role, or detach or drop a partition', async () => {
    const t = await sealedTenant();
    const before = await trailOf(t.id);
    const partition = await partitionOf(t.id);
    const attacks = [
      'alter table public.audit_events disable trigger audit_events_append_only',
      'alter table public.audit_events disable trigger all',
      'alter table public.audit_ledger disable trigger audit_ledger_sequence',
      'alter table oms_audit.checkpoints disable trigger checkpoints_append_only',
      `alter table ${partition} disable trigger no_truncate`,
      'set session_replication_role = replica',
      `alter table public.audit_events detach partition ${partition}`,
      `drop table ${partition}`,
      'drop table public.audit_ledger',
      `create trigger sneak before insert on public.audit_events for each row execute function oms_audit.refuse_change('x')`,
      'alter table public.audit_events no force row level security',
      'set role oms_audit_owner',
      'set role service_role',
    ];
    for (const attack of attacks) {
      await expect(testSql().unsafe(attack), attack).rejects.toMatchObject({ code: '42501' });
    }
    expect(await trailOf(t.id)).toEqual(before);
  });

  it('cannot update, delete or truncate events, ledger, checkpoints, or the archive and retention records', async () => {
    const t = await sealedTenant();
    const before = await trailOf(t.id);
    const partition = await partitionOf(t.id);
    const where = `where tenant_id = '${t.id}'`;
    const attacks = [
      `update public.audit_events set outcome = 'failure' ${where}`,
      `delete from public.audit_events ${where}`,
      'truncate public.audit_events',
      `update ${partition} set outcome = 'failure' ${where}`,
      `delete from ${partition} ${where}`,
      `truncate ${partition}`,
      `update public.audit_ledger set event_hash = event_hash ${where}`,
      `delete from public.audit_ledger ${where}`,
      'truncate public.audit_ledger',
      `update oms_audit.checkpoints set signature = signature ${where}`,
      `delete from oms_audit.checkpoints ${where}`,
      'truncate oms_audit.checkpoints',
      `update oms_audit.archive_parts set state = 'expired' ${where}`,
      `delete from oms_audit.archive_parts ${where}`,
      `update oms_audit.retention_log set actor = 'x' ${where}`,
      `delete from oms_audit.retention_log ${where}`,
      `update oms_audit.restores set released_at = now() ${where}`,
      'delete from public.restored_events',
    ];
    for (const attack of attacks) {
      await expect(testSql().unsafe(attack), attack).rejects.toMatchObject({ code: '42501' });
    }
    // Not as `authenticated` either (the role it may switch to).
    await expect(
      testSql().begin(async (tx) => {
        await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${JSON.stringify({ tenant_id: t.id })}, true)`;
        await tx.unsafe(`delete from public.audit_events ${where}`);
      }),
    ).rejects.toMatchObject({ code: '42501' });
    expect(await trailOf(t.id)).toEqual(before);
  });

  it('cannot wind back, remove or preset a tenant sequence counter', async () => {
    const t = await sealedTenant();
    const before = await trailOf(t.id);
    expect(before!.last_seq).toBe(5);
    const attacks = [
      `update oms_audit.tenant_sequences set last_seq = 0 where tenant_id = '${t.id}'`,
      `delete from oms_audit.tenant_sequences where tenant_id = '${t.id}'`,
      'truncate oms_audit.tenant_sequences',
      `select last_seq from oms_audit.tenant_sequences where tenant_id = '${t.id}' for update`,
    ];
    for (const attack of attacks) {
      await expect(testSql().unsafe(attack), attack).rejects.toMatchObject({ code: '42501' });
    }
    // A new tenant's counter starts at 0: the runtime role may insert the row, not choose its value.
    const [tenant] = await adminSql()`insert into oms_audit.tenants (name) values (${`preset-${t.id}`}) returning id`;
    await expect(testSql()`insert into oms_audit.tenant_sequences (tenant_id, last_seq) values (${tenant!.id as string}, 1000)`).rejects.toMatchObject({ code: '42501' });
    // Nor through the ledger: rows that do not continue the sequence exactly are refused.
    await expect(
      testSql().begin(async (tx) => {
        await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${JSON.stringify({ tenant_id: t.id })}, true)`;
        await tx`select oms_audit.lock_tenant_sequence()`;
        await tx`insert into public.audit_ledger (tenant_id, seq, id, occurred_at, event_hash) values (${t.id}, 10, gen_random_uuid(), now(), decode(repeat('ab', 32), 'hex'))`;
      }),
    ).rejects.toMatchObject({ code: 'OA001' });
    expect(await trailOf(t.id)).toEqual(before);
  });

  it('cannot rewrite the manifest of a finished export', async () => {
    const t = await newTenant('runtime-manifest');
    const exported = await call('GET', '/api/v1/audit/events/export?format=csv', { key: t.readKey });
    expect(exported.status).toBe(200);
    const id = /exports\/([0-9a-f-]{36})\/manifest/.exec(exported.headers.get('x-audit-manifest') ?? '')![1]!;
    const claims = { tenant_id: t.id, sub: 'attacker', role: 'authenticated' as const };
    await expect(
      withTenant(testSql(), claims, (tx) => tx`update public.audit_exports set manifest = '{"sha256":"forged"}'::json where id = ${id}`),
    ).rejects.toMatchObject({ code: '42501', message: expect.stringContaining('does not change any more') });
    const [row] = await adminSql()`select status, manifest->>'sha256' as sha256 from public.audit_exports where id = ${id}`;
    expect(row).toEqual({ status: 'complete', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it('creates month partitions only for months an event may fall in', async () => {
    for (const month of ['1999-12-01', '2999-01-01']) {
      await expect(testSql()`select oms_audit.ensure_month_partition(${month}::date)`, month).rejects.toMatchObject({ code: '22023' });
    }
    await expect(testSql()`select oms_audit.ensure_partitions_ahead(1000)`).rejects.toMatchObject({ code: '22023' });
    const [made] = await testSql()`select oms_audit.ensure_month_partition('2001-02-14'::date) as name`;
    expect(made!.name).toBe('audit_events_2001_02');
    // The new partition is the owner's, with the same defences as the others.
    const [part] = await adminSql()`
      select pg_get_userbyid(c.relowner) as owner, c.relrowsecurity as rls,
             (select tgenabled from pg_trigger where tgrelid = c.oid and tgname = 'no_truncate') as truncate_guard,
             (select tgenabled from pg_trigger where tgrelid = c.oid and tgname = 'audit_events_append_only') as append_only
      from pg_class c where c.oid = 'oms_audit.audit_events_2001_02'::regclass`;
    expect(part).toEqual({ owner: 'oms_audit_owner', rls: true, truncate_guard: 'A', append_only: 'A' });
  });

  it('drops no month that is inside its hot window or not archived and verified', async () => {
    const t = await sealedTenant();
    const month = new Date().toISOString().slice(0, 8) + '01';
    await expect(testSql()`select oms_audit.drop_archived_month(${month}::date, 'attacker')`).rejects.toMatchObject({
      code: 'OA002',
      message: expect.stringContaining('hot window'),
    });
    expect((await trailOf(t.id))!.events).toBe(5);
  });
});

describe('the append-only triggers', () => {
  it('fire always: on every table and partition of the trail, whatever session_replication_role says', async () => {
    const triggers = await adminSql()`
      select tg.tgrelid::regclass::text as rel, tg.tgname, tg.tgenabled
      from pg_trigger tg join pg_proc p on p.oid = tg.tgfoid
      where not tg.tgisinternal and p.pronamespace = 'oms_audit'::regnamespace and p.proname in ('refuse_change', 'advance_tenant_sequence')`;
    expect(triggers.length).toBeGreaterThan(10);
    expect(triggers.filter((t) => t.tgenabled !== 'A')).toEqual([]);

    const t = await sealedTenant();
    const before = await trailOf(t.id);
    for (const statement of [
      `update public.audit_events set outcome = 'failure' where tenant_id = '${t.id}'`,
      `delete from public.audit_ledger where tenant_id = '${t.id}'`,
      `delete from oms_audit.checkpoints where tenant_id = '${t.id}'`,
      'truncate public.audit_events',
    ]) {
      await expect(
        adminSql().begin(async (tx) => {
          await tx`set local session_replication_role = replica`;
          await tx.unsafe(statement);
        }),
        statement,
      ).rejects.toMatchObject({ message: expect.stringMatching(/append-only: (UPDATE|DELETE|TRUNCATE) is not allowed/) });
    }
    expect(await trailOf(t.id)).toEqual(before);
  });
});
