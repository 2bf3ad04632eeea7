-- Retention through narrow SECURITY DEFINER functions. The archive catalog
-- (oms_audit.archive_parts) and the restores are evidence of where a month's
-- events are: the runtime role may read them, and changes them only through
-- these functions, each of which allows one step of the documented lifecycle
-- (docs/retention.md) and checks its arguments:
--
--   begin_archive_part            a new part (the next number), or an interrupted one again
--   record_archive_part_written   writing -> written, with what was uploaded
--   set_archive_part_state        written/verified -> verified or failed; a re-verification
--                                 of a dropped part; -> expiring only once the tenant's
--                                 retention has ended and no tenant-wide legal hold nor
--                                 restore covers the month; expiring -> expired
--   drop_archived_month           (as before) only a month past its tenants' hot windows
--                                 whose rows are exactly its verified parts
--   create_restore_partition, finish_restore, release_restore
--
-- The separate role oms_audit_retention protected nothing once the server held
-- more than it; its rights go to these checks instead, and it keeps none.

create function oms_audit.archive_part_keys(p_tenant uuid, p_month date, p_part int)
returns table (data_key text, manifest_key text)
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select base || '.parquet', base || '.manifest.json'
  from (select format('tenant_id=%s/month=%s/part-%s', p_tenant, to_char(p_month, 'YYYY-MM'), lpad(p_part::text, 4, '0')) as base) b
$$;
revoke all on function oms_audit.archive_part_keys(uuid, date, int) from public;

create function oms_audit.begin_archive_part(p_tenant uuid, p_month date, p_part int, p_storage_url text, p_data_key text, p_manifest_key text)
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  current_state text;
  last_part int;
  keys record;
begin
  if p_month is null or p_month <> date_trunc('month', p_month)::date then
    raise exception 'archive part: % is not the first day of a month', p_month using errcode = '22023';
  end if;
  if to_regclass('oms_audit.audit_events_' || to_char(p_month, 'YYYY_MM')) is null then
    raise exception 'archive part: month % has no partition to archive', to_char(p_month, 'YYYY-MM') using errcode = '22023';
  end if;
  select * into keys from oms_audit.archive_part_keys(p_tenant, p_month, p_part);
  if p_data_key is distinct from keys.data_key or p_manifest_key is distinct from keys.manifest_key
     or p_storage_url is null or p_storage_url !~ '^(file|s3)://' then
    raise exception 'archive part: part % of % for tenant % is stored at %, not %', p_part, to_char(p_month, 'YYYY-MM'), p_tenant, keys.data_key, p_data_key
      using errcode = '22023';
  end if;
  select state into current_state from oms_audit.archive_parts where tenant_id = p_tenant and month = p_month and part = p_part for update;
  if found and current_state <> 'writing' then
    raise exception 'archive part % of % for tenant % is %; only a part still being written may be written again', p_part, to_char(p_month, 'YYYY-MM'), p_tenant, current_state
      using errcode = 'OA003';
  end if;
  if not found then
    select coalesce(max(part), 0) into last_part from oms_audit.archive_parts where tenant_id = p_tenant and month = p_month;
    if p_part <> last_part + 1 then
      raise exception 'archive part: the next part of % for tenant % is %, not %', to_char(p_month, 'YYYY-MM'), p_tenant, last_part + 1, p_part
        using errcode = '22023';
    end if;
  end if;
  insert into oms_audit.archive_parts (tenant_id, month, part, state, storage_url, data_key, manifest_key)
  values (p_tenant, p_month, p_part, 'writing', p_storage_url, p_data_key, p_manifest_key)
  on conflict (tenant_id, month, part) do update set state = 'writing', storage_url = excluded.storage_url, problem = null;
end
$$;

create function oms_audit.record_archive_part_written(
  p_tenant uuid, p_month date, p_part int,
  p_row_count bigint, p_min_seq bigint, p_max_seq bigint, p_seq_sum numeric,
  p_min_occurred_at timestamptz, p_max_occurred_at timestamptz,
  p_data_bytes bigint, p_data_sha256 text, p_manifest_sha256 text,
  p_retain_until timestamptz, p_object_lock boolean)
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if coalesce(p_row_count, 0) < 1 or p_min_seq is null or p_max_seq < p_min_seq or p_seq_sum is null
     or p_min_occurred_at is null or p_max_occurred_at < p_min_occurred_at or coalesce(p_data_bytes, 0) < 1
     or coalesce(p_data_sha256, '') !~ '^[0-9a-f]{64}$' or coalesce(p_manifest_sha256, '') !~ '^[0-9a-f]{64}$'
     or p_retain_until is null or p_object_lock is null then
    raise exception 'archive part % of % for tenant %: incomplete or malformed description of what was written', p_part, to_char(p_month, 'YYYY-MM'), p_tenant
      using errcode = '22023';
  end if;
  update oms_audit.archive_parts
     set state = 'written', written_at = now(), problem = null,
         row_count = p_row_count, min_seq = p_min_seq, max_seq = p_max_seq, seq_sum = p_seq_sum,
         min_occurred_at = p_min_occurred_at, max_occurred_at = p_max_occurred_at,
         data_bytes = p_data_bytes, data_sha256 = p_data_sha256, manifest_sha256 = p_manifest_sha256,
         retain_until = p_retain_until, object_lock = p_object_lock
   where tenant_id = p_tenant and month = p_month and part = p_part and state = 'writing';
  if not found then
    raise exception 'archive part % of % for tenant % is not being written', p_part, to_char(p_month, 'YYYY-MM'), p_tenant
      using errcode = 'OA003';
  end if;
end
$$;

-- One step of a part's lifecycle; see the header for what each allows.
create function oms_audit.set_archive_part_state(p_tenant uuid, p_month date, p_part int, p_state text, p_problem text)
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  p oms_audit.archive_parts%rowtype;
  month_end timestamptz;
  retention_end timestamptz;
  hold uuid;
begin
  select * into p from oms_audit.archive_parts where tenant_id = p_tenant and month = p_month and part = p_part for update;
  if not found then
    raise exception 'no archive part % of % for tenant %', p_part, to_char(p_month, 'YYYY-MM'), p_tenant using errcode = 'OA003';
  end if;
  if not (
       (p_state = 'failed' and p.state in ('writing', 'written', 'verified') and p_problem is not null)
    or (p_state = 'verified' and p.state in ('written', 'verified') and p_problem is null)
    or (p_state = 'dropped' and p.state = 'dropped')
    or (p_state = 'expiring' and p.state in ('dropped', 'failed', 'expiring'))
    or (p_state = 'expired' and p.state = 'expiring')
  ) then
    raise exception 'archive part % of % for tenant % is %; it cannot become %', p_part, to_char(p_month, 'YYYY-MM'), p_tenant, p.state, coalesce(p_state, 'null')
      using errcode = 'OA003';
  end if;

  if p_state = 'expiring' then
    month_end := (p.month + interval '1 month')::timestamp at time zone 'UTC';
    retention_end := month_end + make_interval(years => coalesce(
      (select total_years from oms_audit.retention_policies where tenant_id = p.tenant_id), 10));
    if now() < retention_end then
      raise exception 'archive part % of % for tenant %: its retention runs until %; nothing is deleted before', p_part, to_char(p_month, 'YYYY-MM'), p_tenant, retention_end
        using errcode = 'OA003';
    end if;
    select h.id into hold from oms_audit.legal_holds h
     where h.tenant_id = p.tenant_id and h.released_at is null and h.object_type is null
       and (h.from_at is null or h.from_at < month_end)
       and (h.to_at is null or h.to_at > p.month::timestamp at time zone 'UTC')
     limit 1;
    if hold is not null then
      raise exception 'archive part % of % for tenant % is under legal hold %', p_part, to_char(p_month, 'YYYY-MM'), p_tenant, hold
        using errcode = 'OA003';
    end if;
    if exists (select 1 from oms_audit.restores r where r.tenant_id = p.tenant_id and r.month = p.month and r.released_at is null) then
      raise exception 'archive part % of % for tenant %: the month is restored; release the restore first', p_part, to_char(p_month, 'YYYY-MM'), p_tenant
        using errcode = 'OA003';
    end if;
  end if;

  update oms_audit.archive_parts
     set state = p_state,
         problem = p_problem,
         verified_at = case when p_state in ('verified', 'dropped') and p_problem is null then now() else verified_at end,
         expired_at = case when p_state = 'expired' then now() else expired_at end
   where tenant_id = p_tenant and month = p_month and part = p_part;
end
$$;

-- As before, and only for a month past the hot window of every tenant with rows in it.
create or replace function oms_audit.drop_archived_month(p_month date, p_actor text) returns jsonb
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
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
  if coalesce(length(p_actor), 0) not between 1 and 200 then
    raise exception 'drop_archived_month: name who drops the month (1 to 200 characters)' using errcode = '22023';
  end if;
  -- Writers of this month wait (ROW EXCLUSIVE conflicts with SHARE) until we commit.
  set local lock_timeout = '10s';
  execute format('lock table oms_audit.%I in share mode', part_name);
  if not exists (select 1 from oms_audit.archivable_months(now()) m where m = first_day) then
    raise exception 'month % is still inside the hot window of a tenant with events in it', to_char(first_day, 'YYYY-MM')
      using errcode = 'OA002', hint = 'Nothing was removed.';
  end if;
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

-- A partition of restored_events for a restore being loaded: the runtime role
-- may COPY into it (COPY FROM cannot go through row-level security) until
-- finish_restore checks the rows against the archive catalog and closes it.
create or replace function oms_audit.create_restore_partition(p_restore uuid) returns text
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  part_name text := 'restored_' || replace(p_restore::text, '-', '');
begin
  if p_restore is null or exists (select 1 from oms_audit.restores where id = p_restore) then
    raise exception 'restore %: recorded already, or no id', p_restore using errcode = 'OA003';
  end if;
  if to_regclass('oms_audit.' || part_name) is not null then
    raise exception 'restore %: its partition exists already', p_restore using errcode = 'OA003';
  end if;
  execute format('create table oms_audit.%I partition of public.restored_events for values in (%L)', part_name, p_restore);
  execute format('revoke all on oms_audit.%I from public, anon, authenticated, service_role', part_name);
  execute format('grant insert on oms_audit.%I to oms_audit_runtime', part_name);
  return 'oms_audit.' || part_name;
end
$$;

-- Records a loaded restore once its rows are exactly the tenant's archived
-- month (count and sum of seq of the dropped parts, nothing of another tenant
-- or month), and closes the partition to further rows.
create function oms_audit.finish_restore(p_restore uuid, p_tenant uuid, p_month date, p_reason text, p_actor text) returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  part regclass := to_regclass('oms_audit.restored_' || replace(p_restore::text, '-', ''));
  lo timestamptz := p_month::timestamp at time zone 'UTC';
  hi timestamptz := (p_month + interval '1 month')::timestamp at time zone 'UTC';
  expected record;
  loaded record;
begin
  if part is null or exists (select 1 from oms_audit.restores where id = p_restore) then
    raise exception 'restore %: no partition being loaded', p_restore using errcode = 'OA003';
  end if;
  if exists (select 1 from oms_audit.restores where tenant_id = p_tenant and month = p_month and released_at is null) then
    raise exception 'month % of tenant % is restored already', to_char(p_month, 'YYYY-MM'), p_tenant using errcode = 'OA003';
  end if;
  select count(*) as parts, coalesce(sum(row_count), 0) as n, coalesce(sum(seq_sum), 0) as s into expected
    from oms_audit.archive_parts where tenant_id = p_tenant and month = p_month and state = 'dropped';
  execute format('select count(*) as n, coalesce(sum(seq), 0) as s, count(*) filter (where tenant_id <> $1 or occurred_at < $2 or occurred_at >= $3) as strays from %s', part)
    into loaded using p_tenant, lo, hi;
  if expected.parts = 0 or loaded.n <> expected.n or loaded.s <> expected.s or loaded.strays > 0 then
    raise exception 'restore of % for tenant %: % rows loaded, the archive holds % in % parts', to_char(p_month, 'YYYY-MM'), p_tenant, loaded.n, expected.n, expected.parts
      using errcode = 'OA003';
  end if;
  execute format('revoke insert on %s from oms_audit_runtime', part);
  execute format('alter table %s enable row level security', part);
  insert into oms_audit.restores (id, tenant_id, month, row_count, reason, restored_by)
  values (p_restore, p_tenant, p_month, expected.n, nullif(btrim(p_reason), ''), p_actor);
end
$$;

-- Drops a restore's copy and records the release (the archive stays).
create function oms_audit.release_restore(p_restore uuid, p_actor text) returns boolean
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  part_name text := 'restored_' || replace(p_restore::text, '-', '');
begin
  perform 1 from oms_audit.restores where id = p_restore and released_at is null for update;
  if not found then
    return false;
  end if;
  if to_regclass('oms_audit.' || part_name) is not null then
    set local lock_timeout = '10s';
    execute format('alter table public.restored_events detach partition oms_audit.%I', part_name);
    execute format('drop table oms_audit.%I', part_name);
  end if;
  update oms_audit.restores set released_at = now(), released_by = p_actor where id = p_restore;
  return true;
end
$$;

-- Rights: the runtime role runs the lifecycle functions; the retention role keeps nothing.
revoke all on function oms_audit.begin_archive_part(uuid, date, int, text, text, text) from public;
revoke all on function oms_audit.record_archive_part_written(uuid, date, int, bigint, bigint, bigint, numeric, timestamptz, timestamptz, bigint, text, text, timestamptz, boolean) from public;
revoke all on function oms_audit.set_archive_part_state(uuid, date, int, text, text) from public;
revoke all on function oms_audit.finish_restore(uuid, uuid, date, text, text) from public;
revoke all on function oms_audit.release_restore(uuid, text) from public;
revoke all on function oms_audit.drop_archived_month(date, text) from public;
revoke all on function oms_audit.create_restore_partition(uuid) from public;
grant execute on function
  oms_audit.begin_archive_part(uuid, date, int, text, text, text),
  oms_audit.record_archive_part_written(uuid, date, int, bigint, bigint, bigint, numeric, timestamptz, timestamptz, bigint, text, text, timestamptz, boolean),
  oms_audit.set_archive_part_state(uuid, date, int, text, text),
  oms_audit.drop_archived_month(date, text),
  oms_audit.create_restore_partition(uuid),
  oms_audit.finish_restore(uuid, uuid, date, text, text),
  oms_audit.release_restore(uuid, text)
to oms_audit_runtime;

do $$
begin
  if exists (select 1 from pg_roles where rolname = 'oms_audit_retention') then
    revoke all on function oms_audit.drop_archived_month(date, text) from oms_audit_retention;
    revoke all on function oms_audit.create_restore_partition(uuid) from oms_audit_retention;
    revoke all on function oms_audit.drop_restore_partition(uuid) from oms_audit_retention;
    revoke all on function oms_audit.archivable_months(timestamptz) from oms_audit_retention;
    revoke all on function oms_audit.drop_verified_months(text) from oms_audit_retention;
    revoke usage on schema oms_audit from oms_audit_retention;
  end if;
end
$$;
