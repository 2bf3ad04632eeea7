-- Retention: per-tenant policies, legal holds, the archive catalog, restores,
-- and the one path that removes events from PostgreSQL (dropping a month
-- partition whose rows are archived and verified), reserved to a dedicated role.

-- The maintenance role. Only it may execute the functions that remove
-- partitions; the server and the CLI switch to it (SET ROLE) for those calls.
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'oms_audit_retention') then
    create role oms_audit_retention nologin noinherit;
  end if;
  if not (select rolsuper from pg_roles where rolname = current_user)
     and not pg_has_role(current_user, 'oms_audit_retention', 'member') then
    execute format('grant oms_audit_retention to %I', current_user);
  end if;
end
$$;
grant usage on schema oms_audit to oms_audit_retention;

-- A tenant's policy. No row: the defaults (13 months hot, 10 years in total).
create table oms_audit.retention_policies (
  tenant_id uuid primary key references oms_audit.tenants (id),
  hot_months int not null check (hot_months between 1 and 600),
  total_years int not null check (total_years between 1 and 100),
  updated_at timestamptz not null default now(),
  updated_by text not null,
  check (hot_months <= total_years * 12)
);

-- Legal holds: while active, nothing in scope is deleted from anywhere.
-- Scope: the whole tenant, or one object, and/or a time range of occurred_at.
create table oms_audit.legal_holds (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references oms_audit.tenants (id),
  object_type text collate "C",
  object_id text collate "C",
  from_at timestamptz,
  to_at timestamptz,
  reason text not null check (length(reason) between 1 and 2000),
  created_at timestamptz not null default now(),
  created_by text not null,
  released_at timestamptz,
  released_by text,
  release_reason text,
  check (object_id is null or object_type is not null),
  check (from_at is null or to_at is null or from_at < to_at)
);
create index legal_holds_tenant_idx on oms_audit.legal_holds (tenant_id, created_at desc);

-- The archive catalog: one row per Parquet part of a tenant's month.
--   writing   being produced (a crash leaves it here; the next run rewrites it)
--   written   data and manifest are in storage
--   verified  read back from storage and checked against the database
--   dropped   the month partition is gone: these rows live only in the archive
--   failed    verification found a problem; superseded by a new part
--   expiring / expired   past the tenant's retention, being / been deleted
create table oms_audit.archive_parts (
  tenant_id uuid not null references oms_audit.tenants (id),
  month date not null check (extract(day from month) = 1),
  part int not null check (part >= 1),
  state text not null check (state in ('writing', 'written', 'verified', 'dropped', 'failed', 'expiring', 'expired')),
  storage_url text not null,
  data_key text not null,
  manifest_key text not null,
  row_count bigint,
  min_seq bigint,
  max_seq bigint,
  seq_sum numeric,
  min_occurred_at timestamptz,
  max_occurred_at timestamptz,
  data_bytes bigint,
  data_sha256 text,
  manifest_sha256 text,
  retain_until timestamptz,
  object_lock boolean not null default false,
  created_at timestamptz not null default now(),
  written_at timestamptz,
  verified_at timestamptz,
  dropped_at timestamptz,
  expired_at timestamptz,
  problem text,
  primary key (tenant_id, month, part)
);
create index archive_parts_month_idx on oms_audit.archive_parts (month, state);

-- Months loaded back from their archive for an investigation, into a partition
-- of public.restored_events, until released.
create table oms_audit.restores (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references oms_audit.tenants (id),
  month date not null check (extract(day from month) = 1),
  row_count bigint not null,
  reason text,
  restored_at timestamptz not null default now(),
  restored_by text not null,
  released_at timestamptz,
  released_by text
);
create unique index restores_active_key on oms_audit.restores (tenant_id, month) where released_at is null;

-- What retention did, in order. Rows with a tenant are also written into that
-- tenant's audit trail (through the normal write path, with the row's id as the
-- event id, so writing it again after a crash is a no-op).
create table oms_audit.retention_log (
  id uuid primary key,
  tenant_id uuid references oms_audit.tenants (id),
  at timestamptz not null default now(),
  action text not null,
  month date,
  actor text not null,
  detail jsonb not null default '{}'::jsonb
);
create index retention_log_tenant_idx on oms_audit.retention_log (tenant_id, at);
create trigger retention_log_append_only
  before update or delete on oms_audit.retention_log
  for each row execute function oms_audit.refuse_change('retention_log');
create trigger retention_log_no_truncate
  before truncate on oms_audit.retention_log
  for each statement execute function oms_audit.refuse_change('retention_log');

revoke all on oms_audit.retention_policies, oms_audit.legal_holds, oms_audit.archive_parts, oms_audit.restores, oms_audit.retention_log
  from public, anon, authenticated, service_role;

-- Restored copies of archived months: same columns as audit_events plus the
-- restore they belong to; searched through the same tenant-scoped path.
create table public.restored_events (
  like public.audit_events including defaults including constraints,
  restore_id uuid not null,
  primary key (restore_id, tenant_id, occurred_at, seq)
) partition by list (restore_id);
create index restored_events_object_idx on public.restored_events (tenant_id, object_type, object_id, occurred_at, seq);
create index restored_events_actor_idx on public.restored_events (tenant_id, actor_id, occurred_at, seq);
create trigger restored_events_append_only
  before update or delete on public.restored_events
  for each row execute function oms_audit.refuse_change('restored_events');
create trigger restored_events_no_truncate
  before truncate on public.restored_events
  for each statement execute function oms_audit.refuse_change('restored_events');
alter table public.restored_events enable row level security;
create policy restored_events_tenant_select on public.restored_events
  for select to authenticated
  using (tenant_id = ((select auth.jwt()) ->> 'tenant_id')::uuid);
revoke all on public.restored_events from public, anon, authenticated, service_role;
grant select on public.restored_events to authenticated, service_role;

-- The archived parts of the caller's tenant (from the request's claims) whose
-- rows have left audit_events, overlapping [p_from, p_to). The read path calls
-- it in the same transaction as its query of audit_events: a partition drop
-- needs an exclusive lock on audit_events, so the two always agree on where
-- each event is.
create function oms_audit.tenant_archived_parts(p_from timestamptz, p_to timestamptz)
returns table (month date, part int, storage_url text, data_key text, data_sha256 text, row_count bigint,
               min_seq bigint, max_seq bigint, min_occurred_at timestamptz, max_occurred_at timestamptz, restore_id uuid)
language sql
stable
security definer
set search_path = pg_catalog
as $$
  select p.month, p.part, p.storage_url, p.data_key, p.data_sha256, p.row_count, p.min_seq, p.max_seq,
         p.min_occurred_at, p.max_occurred_at, r.id
  from oms_audit.archive_parts p
  left join oms_audit.restores r on r.tenant_id = p.tenant_id and r.month = p.month and r.released_at is null
  where p.tenant_id = nullif((select auth.jwt()) ->> 'tenant_id', '')::uuid
    and p.state = 'dropped'
    and (p_from is null or p.max_occurred_at >= p_from)
    and (p_to is null or p.min_occurred_at < p_to)
  order by p.month, p.part
$$;
revoke all on function oms_audit.tenant_archived_parts(timestamptz, timestamptz) from public;
grant execute on function oms_audit.tenant_archived_parts(timestamptz, timestamptz) to authenticated, service_role;

-- The only path that removes events from PostgreSQL: detaches and drops the
-- partition of p_month, after checking, under a lock that stops new writes to
-- it, that every tenant's rows in it are exactly those of its verified archive
-- parts (count, lowest and highest seq, sum of seqs). Marks the parts dropped and
-- records the operation, in one transaction. Returns the rows removed per tenant.
create function oms_audit.drop_archived_month(p_month date, p_actor text) returns jsonb
language plpgsql
security definer
set search_path = pg_catalog
as $$
declare
  first_day date := date_trunc('month', p_month)::date;
  part_name text := 'audit_events_' || to_char(first_day, 'YYYY_MM');
  r record;
  a record;
  removed jsonb := '{}'::jsonb;
begin
  if to_regclass('oms_audit.' || part_name) is null then
    return null;
  end if;
  -- Writers of this month wait (ROW EXCLUSIVE conflicts with SHARE) until we commit.
  set local lock_timeout = '10s';
  execute format('lock table oms_audit.%I in share mode', part_name);
  for r in execute format(
    'select tenant_id, count(*) as n, min(seq) as lo, max(seq) as hi, sum(seq) as s from oms_audit.%I group by tenant_id', part_name)
  loop
    select count(*) as parts, coalesce(sum(row_count), 0) as n, min(min_seq) as lo, max(max_seq) as hi, coalesce(sum(seq_sum), 0) as s
      into a
      from oms_audit.archive_parts
     where tenant_id = r.tenant_id and month = first_day and state = 'verified';
    if a.parts = 0 or a.n <> r.n or a.lo <> r.lo or a.hi <> r.hi or a.s <> r.s then
      raise exception 'month % of tenant %: % rows in PostgreSQL (seq % to %) are not exactly the verified archive (% rows in % parts)',
        to_char(first_day, 'YYYY-MM'), r.tenant_id, r.n, r.lo, r.hi, a.n, a.parts
        using errcode = 'OA002', hint = 'Archive and verify the month again; nothing was removed.';
    end if;
    removed := removed || jsonb_build_object(r.tenant_id::text, r.n);
    insert into oms_audit.retention_log (id, tenant_id, action, month, actor, detail)
    values (gen_random_uuid(), r.tenant_id, 'partition_drop', first_day, p_actor,
            jsonb_build_object('partition', part_name, 'events', r.n, 'min_seq', r.lo, 'max_seq', r.hi, 'parts', a.parts));
  end loop;
  -- A verified part for a tenant without rows here would claim events that are not in the archive's month.
  if exists (
    select 1 from oms_audit.archive_parts
     where month = first_day and state = 'verified' and not (removed ? tenant_id::text)
  ) then
    raise exception 'month %: a verified archive part has no rows in PostgreSQL', to_char(first_day, 'YYYY-MM') using errcode = 'OA002';
  end if;
  execute format('alter table public.audit_events detach partition oms_audit.%I', part_name);
  execute format('drop table oms_audit.%I', part_name);
  update oms_audit.archive_parts set state = 'dropped', dropped_at = now()
   where month = first_day and state = 'verified';
  insert into oms_audit.retention_log (id, tenant_id, action, month, actor, detail)
  values (gen_random_uuid(), null, 'partition_drop', first_day, p_actor,
          jsonb_build_object('partition', part_name, 'events_by_tenant', removed, 'session_user', session_user));
  return removed;
end
$$;
revoke all on function oms_audit.drop_archived_month(date, text) from public;
grant execute on function oms_audit.drop_archived_month(date, text) to oms_audit_retention;

-- A partition of restored_events for one restore.
create function oms_audit.create_restore_partition(p_restore uuid) returns text
language plpgsql
security definer
set search_path = pg_catalog
as $$
declare
  part_name text := 'restored_' || replace(p_restore::text, '-', '');
begin
  if to_regclass('oms_audit.' || part_name) is null then
    execute format('create table oms_audit.%I partition of public.restored_events for values in (%L)', part_name, p_restore);
    execute format('alter table oms_audit.%I enable row level security', part_name);
    execute format('revoke all on oms_audit.%I from public, anon, authenticated, service_role', part_name);
  end if;
  return part_name;
end
$$;

-- Drops a restore's copy of an archived month (the archive itself stays).
create function oms_audit.drop_restore_partition(p_restore uuid) returns boolean
language plpgsql
security definer
set search_path = pg_catalog
as $$
declare
  part_name text := 'restored_' || replace(p_restore::text, '-', '');
begin
  if to_regclass('oms_audit.' || part_name) is null then
    return false;
  end if;
  set local lock_timeout = '10s';
  execute format('alter table public.restored_events detach partition oms_audit.%I', part_name);
  execute format('drop table oms_audit.%I', part_name);
  return true;
end
$$;
revoke all on function oms_audit.create_restore_partition(uuid) from public;
revoke all on function oms_audit.drop_restore_partition(uuid) from public;
grant execute on function oms_audit.create_restore_partition(uuid) to oms_audit_retention;
grant execute on function oms_audit.drop_restore_partition(uuid) to oms_audit_retention;

-- Months whose partition may be archived now: every tenant with rows in it is
-- past its hot window (the month's last day is more than hot_months ago).
-- For pg_cron this tells what `oms-audit retention run` would archive.
create function oms_audit.archivable_months(p_now timestamptz default now()) returns setof date
language plpgsql
stable
security definer
set search_path = pg_catalog
as $$
declare
  c record;
  first_day date;
  longest int;
begin
  for c in
    select ch.relname from pg_inherits i
      join pg_class ch on ch.oid = i.inhrelid
     where i.inhparent = 'public.audit_events'::regclass and ch.relname ~ '^audit_events_\d{4}_\d{2}$'
     order by ch.relname
  loop
    first_day := to_date(substr(c.relname, 14), 'YYYY_MM');
    if (first_day + interval '1 month') > p_now then
      continue;
    end if;
    execute format(
      'select max(coalesce(p.hot_months, 13)) from (select distinct tenant_id from oms_audit.%I) t
         left join oms_audit.retention_policies p on p.tenant_id = t.tenant_id', c.relname)
      into longest;
    if (first_day + interval '1 month' + make_interval(months => coalesce(longest, 0))) <= p_now then
      return next first_day;
    end if;
  end loop;
end
$$;
revoke all on function oms_audit.archivable_months(timestamptz) from public;
grant execute on function oms_audit.archivable_months(timestamptz) to oms_audit_retention, service_role;

-- For pg_cron: drops every archivable month whose rows are all archived and
-- verified (a month that is not is skipped and left untouched). Archiving
-- itself (Parquet, object storage) runs in `oms-audit retention run` or the server.
create function oms_audit.drop_verified_months(p_actor text default 'pg_cron') returns setof date
language plpgsql
security definer
set search_path = pg_catalog
as $$
declare
  m date;
begin
  for m in select * from oms_audit.archivable_months(now()) loop
    if exists (select 1 from oms_audit.archive_parts where month = m and state = 'verified') then
      begin
        perform oms_audit.drop_archived_month(m, p_actor);
        return next m;
      exception when sqlstate 'OA002' or lock_not_available then
        raise notice 'month % not dropped: %', m, sqlerrm;
      end;
    end if;
  end loop;
end
$$;
revoke all on function oms_audit.drop_verified_months(text) from public;
grant execute on function oms_audit.drop_verified_months(text) to oms_audit_retention;
