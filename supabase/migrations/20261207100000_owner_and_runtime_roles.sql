-- Least privilege at run time: two roles.
--
--   oms_audit_owner    owns every oms-audit object and runs DDL (migrations, and
--                      through SECURITY DEFINER functions, month partitions).
--   oms_audit_runtime  what the server, the edge function and the CLI's everyday
--                      commands connect as: owns nothing, is no superuser, has no
--                      BYPASSRLS, and has no UPDATE, DELETE, TRUNCATE or TRIGGER on
--                      the trail (events, ledger, sequence counters, checkpoints,
--                      retention log, archive catalog). It reads what it must,
--                      appends as `authenticated` under row-level security, and
--                      does everything else through narrow SECURITY DEFINER
--                      functions that check their arguments.
--
-- Both roles are created NOLOGIN where missing (embedded PostgreSQL creates them
-- beforehand, with passwords); an operator gives them LOGIN and a password (see
-- README, "Database roles"). The objects themselves are handed to
-- oms_audit_owner by `oms-audit migrate` (server/db/roles.ts) when the migrating
-- role is another one (a superuser, Supabase's postgres).

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'oms_audit_owner') then
    create role oms_audit_owner nologin;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'oms_audit_runtime') then
    create role oms_audit_runtime nologin noinherit;
  end if;
exception when insufficient_privilege then
  raise exception 'oms-audit needs the roles oms_audit_owner and oms_audit_runtime, and % may not create roles', current_user
    using hint = 'Create them as a superuser first: create role oms_audit_owner nologin; create role oms_audit_runtime nologin noinherit; (README, "Database roles")';
end
$$;

-- The migrating role acts as the owner (to hand objects over and run later migrations).
do $$
begin
  if current_user <> 'oms_audit_owner'
     and not (select rolsuper from pg_roles where rolname = current_user)
     and not pg_has_role(current_user, 'oms_audit_owner', 'member') then
    execute format('grant oms_audit_owner to %I', current_user);
  end if;
exception when insufficient_privilege then
  raise exception '% must be able to act as oms_audit_owner', current_user
    using hint = format('As a superuser: grant oms_audit_owner to %I;', current_user);
end
$$;

-- Tenant-scoped work runs as `authenticated` (SET ROLE inside each transaction).
do $$
begin
  if not pg_has_role('oms_audit_runtime', 'authenticated', 'member') then
    grant authenticated to oms_audit_runtime;
  end if;
exception when insufficient_privilege then
  raise exception 'oms_audit_runtime must be a member of authenticated, and % may not grant it', current_user
    using hint = 'As a superuser (or Supabase''s postgres): grant authenticated to oms_audit_runtime;';
end
$$;

grant usage on schema oms_audit to oms_audit_runtime;

-- auth.jwt(), read by the row-level security policies; where it belongs to
-- someone else (Supabase) and we may not grant, the existing grants stand.
do $$
begin
  grant usage on schema auth to oms_audit_owner, oms_audit_runtime;
  grant execute on function auth.jwt() to oms_audit_owner, oms_audit_runtime;
exception when insufficient_privilege then
  raise notice 'auth.jwt(): grants to the oms-audit roles left as they are (%)', sqlerrm;
end
$$;

-- Later migrations run by oms_audit_owner itself create tables in public.
do $$
begin
  grant usage, create on schema public to oms_audit_owner;
exception when insufficient_privilege then
  raise notice 'schema public: CREATE for oms_audit_owner left as it is (%)', sqlerrm;
end
$$;

-- Append-only triggers fire whatever session_replication_role says (ENABLE ALWAYS):
-- `set session_replication_role = replica` no longer switches them off. The
-- row triggers of partitioned tables carry the setting to every partition.
do $$
declare
  t record;
begin
  for t in
    select tg.tgrelid::regclass as rel, tg.tgname
    from pg_trigger tg
    join pg_proc p on p.oid = tg.tgfoid
    where not tg.tgisinternal
      and tg.tgparentid = 0
      and p.pronamespace = 'oms_audit'::regnamespace
      and p.proname in ('refuse_change', 'advance_tenant_sequence')
  loop
    execute format('alter table %s enable always trigger %I', t.rel, t.tgname);
  end loop;
end
$$;

-- What a month partition gets besides its rows: no access for the API roles
-- (they go through audit_events), reads for the runtime role (archiving,
-- sealing and verification read partitions directly), and a TRUNCATE guard
-- that fires always. Called by ensure_month_partition for new partitions.
create function oms_audit.protect_event_partition(p_partition regclass) returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  execute format('alter table %s enable row level security', p_partition);
  execute format('revoke all on %s from public, anon, authenticated, service_role', p_partition);
  execute format('grant select on %s to oms_audit_runtime', p_partition);
  if not exists (select 1 from pg_policy where polrelid = p_partition and polname = 'runtime_select') then
    execute format('create policy runtime_select on %s for select to oms_audit_runtime using (true)', p_partition);
  end if;
  if not exists (select 1 from pg_trigger where tgrelid = p_partition and tgname = 'no_truncate') then
    execute format('create trigger no_truncate before truncate on %s for each statement execute function oms_audit.refuse_change(%L)', p_partition, 'audit_events');
  end if;
  execute format('alter table %s enable always trigger no_truncate', p_partition);
end
$$;
revoke all on function oms_audit.protect_event_partition(regclass) from public;

do $$
declare
  p record;
begin
  for p in select inhrelid::regclass as rel from pg_inherits where inhparent = 'public.audit_events'::regclass loop
    perform oms_audit.protect_event_partition(p.rel);
  end loop;
end
$$;

-- Month partitions on demand and ahead of time, for any month an event may fall
-- in (2000-01 onwards, as the contract accepts) up to two years ahead: the
-- runtime role may call it with any date, so it creates no more than that.
create or replace function oms_audit.ensure_month_partition(p_month date) returns text
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  first_day date := date_trunc('month', p_month)::date;
  part text := 'audit_events_' || to_char(first_day, 'YYYY_MM');
  lo timestamptz := first_day::timestamp at time zone 'UTC';
  hi timestamptz := (first_day + interval '1 month')::timestamp at time zone 'UTC';
begin
  if p_month is null or first_day < date '2000-01-01'
     or first_day > date_trunc('month', now() at time zone 'UTC') + interval '25 months' then
    raise exception 'no month partition for %: months from 2000-01 to 25 months ahead only', coalesce(p_month::text, 'null')
      using errcode = '22023';
  end if;
  if to_regclass('oms_audit.' || part) is not null then
    return part;
  end if;
  perform pg_advisory_xact_lock(hashtext('oms_audit.ensure_month_partition'));
  if to_regclass('oms_audit.' || part) is not null then
    return part;
  end if;
  execute format('create table oms_audit.%I (like public.audit_events including defaults including constraints including generated)', part);
  execute format('alter table public.audit_events attach partition oms_audit.%I for values from (%L) to (%L)', part, lo, hi);
  perform oms_audit.protect_event_partition(('oms_audit.' || quote_ident(part))::regclass);
  return part;
end
$$;

create or replace function oms_audit.ensure_partitions_ahead(months_ahead int default 3) returns setof text
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if months_ahead is null or months_ahead < 0 or months_ahead > 24 then
    raise exception 'months_ahead must be from 0 to 24, not %', coalesce(months_ahead::text, 'null') using errcode = '22023';
  end if;
  return query
    select oms_audit.ensure_month_partition((date_trunc('month', now() at time zone 'UTC') + make_interval(months => m))::date)
    from generate_series(0, months_ahead) as m;
end
$$;

-- The runtime role reads every tenant's rows (archiving, sealing, verification
-- and the sealer's lag work across tenants); it changes none of them.
-- Row-level security stays on: `authenticated` sees its claims' tenant only.
create policy audit_events_runtime_select on public.audit_events for select to oms_audit_runtime using (true);
create policy audit_ledger_runtime_select on public.audit_ledger for select to oms_audit_runtime using (true);
create policy restored_events_runtime_select on public.restored_events for select to oms_audit_runtime using (true);
grant select on public.audit_events, public.audit_ledger, public.restored_events to oms_audit_runtime;

-- What the runtime role may do, table by table. No UPDATE or DELETE on the
-- trail; on operational tables only the columns its features change.
grant select on oms_audit.schema_migrations to oms_audit_runtime;
grant select, insert on oms_audit.tenants to oms_audit_runtime;
-- A new tenant's counter starts at 0 (the column default); only the
-- SECURITY DEFINER ledger trigger moves it, and only forward.
grant select on oms_audit.tenant_sequences to oms_audit_runtime;
grant insert (tenant_id) on oms_audit.tenant_sequences to oms_audit_runtime;
grant select, insert on oms_audit.api_keys to oms_audit_runtime;
grant update (revoked_at, last_used_at) on oms_audit.api_keys to oms_audit_runtime;
grant select, insert on oms_audit.users to oms_audit_runtime;
grant select, insert, delete on oms_audit.tenant_memberships to oms_audit_runtime;
grant update (role) on oms_audit.tenant_memberships to oms_audit_runtime;
grant select, insert on oms_audit.retention_policies to oms_audit_runtime;
grant update (hot_months, total_years, updated_at, updated_by) on oms_audit.retention_policies to oms_audit_runtime;
grant select, insert on oms_audit.legal_holds to oms_audit_runtime;
grant update (released_at, released_by, release_reason) on oms_audit.legal_holds to oms_audit_runtime;
grant select, insert on oms_audit.retention_log to oms_audit_runtime;
grant select, insert on oms_audit.checkpoints to oms_audit_runtime;
grant select, insert on oms_audit.integrity_verifications to oms_audit_runtime;
-- The archive catalog and restores change only through the functions of the next migration.
grant select on oms_audit.archive_parts, oms_audit.restores to oms_audit_runtime;

revoke all on function oms_audit.ensure_month_partition(date) from public;
revoke all on function oms_audit.ensure_partitions_ahead(int) from public;
grant execute on function oms_audit.ensure_month_partition(date) to oms_audit_runtime, service_role;
grant execute on function oms_audit.ensure_partitions_ahead(int) to oms_audit_runtime, service_role;
grant execute on function oms_audit.archivable_months(timestamptz) to oms_audit_runtime;
