/**
 * The two database roles (docs/design.md, "Security in the database"):
 * oms_audit_owner owns every oms-audit object and runs DDL; oms_audit_runtime
 * is what the server, the edge function and the CLI's everyday commands
 * connect as. This module sets them up where oms-audit has the rights to
 * (embedded PostgreSQL, as its superuser) and hands objects to the owner after
 * migrations run by another role (a superuser, Supabase's postgres).
 */
import type { AnySql } from '@/supabase/functions/_shared/db.ts';
import { OWNER_ROLE, RUNTIME_ROLE } from '@/supabase/functions/_shared/runtime-role.ts';

export { OWNER_ROLE, RUNTIME_ROLE };

/** Tables oms-audit creates in `public` (everything else of ours lives in the oms_audit schema). */
export const PUBLIC_TABLES = ['audit_events', 'audit_ledger', 'saved_searches', 'audit_exports', 'restored_events', 'audit_object_months', 'audit_actor_months', 'related_order_keys'] as const;

/**
 * Gives oms_audit_owner the oms_audit schema, every relation, type and
 * function in it, and oms-audit's tables in public, where another role owns them. Run by
 * a superuser or a member of oms_audit_owner; changes nothing when all is in
 * order. Another application's tables in public are never touched.
 */
const HAND_OVER_SQL = `
do $$
declare
  r record;
begin
  if to_regnamespace('oms_audit') is null or to_regrole('${OWNER_ROLE}') is null then
    return;
  end if;
  if (select nspowner from pg_namespace where nspname = 'oms_audit') <> to_regrole('${OWNER_ROLE}') then
    alter schema oms_audit owner to ${OWNER_ROLE};
  end if;
  for r in
    select c.oid::regclass as rel
    from pg_class c
    where c.relowner <> to_regrole('${OWNER_ROLE}')
      and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
      and (c.relnamespace = 'oms_audit'::regnamespace
           or (c.relnamespace = 'public'::regnamespace and c.relname = any (array[${PUBLIC_TABLES.map((t) => `'${t}'`).join(', ')}])))
      -- Sequences of identity and serial columns follow their table.
      and not (c.relkind = 'S' and exists (
        select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype in ('a', 'i')))
  loop
    execute format('alter table %s owner to ${OWNER_ROLE}', r.rel);
  end loop;
  -- Enums, domains and composite types of their own (a table's row type and array types follow their owner).
  for r in
    select t.oid::regtype as typ
    from pg_type t
    where t.typnamespace = 'oms_audit'::regnamespace and t.typowner <> to_regrole('${OWNER_ROLE}')
      and (t.typtype in ('e', 'd') or (t.typtype = 'c' and (select relkind from pg_class where oid = t.typrelid) = 'c'))
  loop
    execute format('alter type %s owner to ${OWNER_ROLE}', r.typ);
  end loop;
  for r in
    select p.oid::regprocedure as fn, p.prokind
    from pg_proc p
    where p.pronamespace = 'oms_audit'::regnamespace and p.proowner <> to_regrole('${OWNER_ROLE}')
  loop
    execute format('alter %s %s owner to ${OWNER_ROLE}', case r.prokind when 'p' then 'procedure' else 'function' end, r.fn);
  end loop;
end
$$`;

/** Whether the connected role should hand objects over: it is not the owner but may act as it. */
export async function mayHandOver(sql: AnySql): Promise<boolean> {
  const [row] = await sql`
    select to_regrole(${OWNER_ROLE}) is not null
       and current_user <> ${OWNER_ROLE}
       and ((select rolsuper from pg_roles where rolname = current_user) or pg_has_role(current_user, ${OWNER_ROLE}, 'member')) as ok`;
  return row!.ok === true;
}

export async function handOverToOwner(sql: AnySql): Promise<void> {
  await sql.unsafe(HAND_OVER_SQL);
}

export interface RolePasswords {
  owner: string;
  runtime: string;
}

/**
 * Embedded PostgreSQL, as its superuser: both roles with LOGIN and their
 * generated passwords, the roles the migrations expect a superuser to have
 * created (Supabase's API roles, and oms_audit_retention, which the 2026-11
 * migrations grant to and which holds nothing since), the database owned by
 * oms_audit_owner, and the objects of a data folder from before the roles
 * existed handed over to it. Idempotent; one process at a time.
 */
export async function setUpEmbeddedRoles(superuser: AnySql, database: string, passwords: RolePasswords): Promise<void> {
  const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
  await superuser.unsafe(`
    select pg_advisory_lock(hashtext('oms_audit.roles'));
    do $$
    begin
      if not exists (select 1 from pg_roles where rolname = 'anon') then create role anon nologin noinherit; end if;
      if not exists (select 1 from pg_roles where rolname = 'authenticated') then create role authenticated nologin noinherit; end if;
      if not exists (select 1 from pg_roles where rolname = 'service_role') then create role service_role nologin noinherit bypassrls; end if;
      if not exists (select 1 from pg_roles where rolname = 'oms_audit_retention') then create role oms_audit_retention nologin noinherit; end if;
      if not exists (select 1 from pg_roles where rolname = '${OWNER_ROLE}') then create role ${OWNER_ROLE}; end if;
      if not exists (select 1 from pg_roles where rolname = '${RUNTIME_ROLE}') then create role ${RUNTIME_ROLE}; end if;
    end
    $$;
    alter role ${OWNER_ROLE} login nosuperuser nocreaterole nocreatedb noreplication nobypassrls password ${quote(passwords.owner)};
    alter role ${RUNTIME_ROLE} login noinherit nosuperuser nocreaterole nocreatedb noreplication nobypassrls password ${quote(passwords.runtime)};
    grant anon, authenticated, service_role, oms_audit_retention to ${OWNER_ROLE};
    grant authenticated to ${RUNTIME_ROLE};
    alter database ${database} owner to ${OWNER_ROLE};
    select pg_advisory_unlock(hashtext('oms_audit.roles'));`);
}

