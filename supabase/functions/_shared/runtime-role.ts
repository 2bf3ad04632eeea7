/**
 * What the server, the edge function and the CLI check about their own
 * database connection before they serve: that it is the runtime role, which
 * cannot change the trail (docs/design.md, "Security in the database"). A
 * connection as a superuser, as the owner, or with UPDATE/DELETE/TRUNCATE/
 * TRIGGER on the trail is refused unless the operator explicitly allows it
 * (OMS_AUDIT_ALLOW_PRIVILEGED_RUNTIME=true).
 */
import type { AnySql } from './db.ts';

export const RUNTIME_ROLE = 'oms_audit_runtime';
export const OWNER_ROLE = 'oms_audit_owner';
export const ALLOW_PRIVILEGED_RUNTIME = 'OMS_AUDIT_ALLOW_PRIVILEGED_RUNTIME';

/** The record: rows the runtime role may read and append, never change. */
export const TRAIL_TABLES = [
  'public.audit_events',
  'public.audit_ledger',
  'public.restored_events',
  'oms_audit.tenant_sequences',
  'oms_audit.checkpoints',
  'oms_audit.retention_log',
  'oms_audit.archive_parts',
] as const;

export interface RuntimeRoleCheck {
  /** The role the connection acts as (current_user). */
  user: string;
  /** Why this role must not serve; empty when it is fit. */
  problems: string[];
}

export async function checkRuntimeRole(sql: AnySql): Promise<RuntimeRoleCheck> {
  const [row] = await sql`
    with me as (select * from pg_roles where rolname = current_user),
    trail as (
      select c.oid, t.name, c.relowner, o.rolname as owner
      from unnest(${TRAIL_TABLES as unknown as string[]}::text[]) as t(name)
      join pg_class c on c.oid = to_regclass(t.name)
      join pg_roles o on o.oid = c.relowner
    )
    select
      current_user as user,
      (select rolsuper from me) as superuser,
      (select rolbypassrls from me) as bypassrls,
      has_parameter_privilege('session_replication_role', 'SET') as replication_role,
      to_regrole(${RUNTIME_ROLE}) is not null and pg_has_role(current_user, ${RUNTIME_ROLE}, 'member') as is_runtime,
      to_regrole(${OWNER_ROLE}) is not null and pg_has_role(current_user, ${OWNER_ROLE}, 'member') as acts_as_owner,
      to_regrole('authenticated') is not null and pg_has_role(current_user, 'authenticated', 'member') as can_be_authenticated,
      array(
        select r.rolname::text from pg_roles r
        where r.rolname <> current_user and (r.rolsuper or r.rolbypassrls) and pg_has_role(current_user, r.oid, 'member')
        order by r.rolname) as privileged_roles,
      array(
        select t.name || ' (owned by ' || t.owner || ')' from trail t
        where pg_has_role(current_user, t.relowner, 'member') order by t.name) as owns_trail,
      array(
        select t.name || ': ' || array_to_string(array_remove(array[
          case when has_any_column_privilege(t.oid, 'UPDATE') then 'UPDATE' end,
          case when has_table_privilege(t.oid, 'DELETE') then 'DELETE' end,
          case when has_table_privilege(t.oid, 'TRUNCATE') then 'TRUNCATE' end,
          case when has_table_privilege(t.oid, 'TRIGGER') then 'TRIGGER' end], null), ', ')
        from trail t
        where not pg_has_role(current_user, t.relowner, 'member')
          and (has_any_column_privilege(t.oid, 'UPDATE') or has_table_privilege(t.oid, 'DELETE')
               or has_table_privilege(t.oid, 'TRUNCATE') or has_table_privilege(t.oid, 'TRIGGER'))
        order by t.name) as trail_rights,
      (select count(*)::int from pg_class c
        where c.relowner = (select oid from me)
          and c.relnamespace in (coalesce(to_regnamespace('oms_audit')::oid, 0::oid), 'public'::regnamespace::oid)) as owned`;
  const r = row as Record<string, unknown>;
  const user = r.user as string;
  // What makes the role dangerous, most telling first.
  const problems: string[] = [];
  if (r.superuser) {
    problems.push('it is a superuser (it could disable the append-only triggers and drop partitions)');
  } else {
    if (user === OWNER_ROLE) problems.push(`it is ${OWNER_ROLE}, which owns the trail`);
    else if (r.acts_as_owner) problems.push(`it can act as ${OWNER_ROLE}, which owns the trail`);
    if (r.bypassrls) problems.push('it has BYPASSRLS');
    if (r.replication_role) problems.push('it may set session_replication_role');
    for (const role of r.privileged_roles as string[]) if (role !== OWNER_ROLE) problems.push(`it can act as ${role}, a superuser or a role with BYPASSRLS`);
    const owns = r.owns_trail as string[];
    if (owns.length && !r.acts_as_owner) problems.push(`it owns or can act as the owner of ${owns.join(', ')}`);
    for (const rights of r.trail_rights as string[]) problems.push(`it may change ${rights}`);
    if ((r.owned as number) > 0 && !owns.length) problems.push(`it owns ${r.owned as number} oms-audit objects`);
  }
  // What makes it unfit to work, when nothing worse was found.
  if (!problems.length) {
    if (!r.is_runtime) problems.push(`it is not ${RUNTIME_ROLE} (nor a member of it), the role oms-audit grants its rights to`);
    if (!r.can_be_authenticated) problems.push('it cannot SET ROLE authenticated (grant authenticated to it)');
  }
  return { user, problems };
}

/**
 * The boot error for a connection that is not fit to serve, naming the
 * variable that holds its URL and the one to set instead (the same, unless
 * the URL came from a platform's own variable).
 */
export function runtimeRoleRefusal(variable: string, check: RuntimeRoleCheck, fix = variable): string {
  return (
    `${variable} connects as ${check.user}, which oms-audit will not serve as: ${check.problems.join('; ')}. ` +
    `Set ${fix} to the URL of the ${RUNTIME_ROLE} role (README, "Database roles"), or set ${ALLOW_PRIVILEGED_RUNTIME}=true ` +
    `to run with these rights anyway (the trail is then not protected from this process's own credentials).`
  );
}
