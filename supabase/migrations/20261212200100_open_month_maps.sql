-- The month maps (audit_object_months, audit_actor_months) stop costing the
-- hot write path: the months being written (the open months) are no longer
-- mapped event by event; each is mapped once, in bulk, when it closes.
--
-- Measured (bench:ingest-cost): the maps' rows were the costliest single part
-- of the stored shape, because most objects of an order flow (fills,
-- allocations) have one or two events, so about every second event added a
-- map row through an INSERT … ON CONFLICT of its own.
--
-- The rule that keeps histories complete:
--   * open months: the two months from oms_audit.month_maps.open_from. The
--     trigger maps no event of an open month; the read path asks each open
--     month's object (or actor) index whether it holds the object, one index
--     probe per open month, and then reads only the months that do;
--   * every other month is mapped: by the trigger for an event written there
--     (a late event, an event dated ahead), and, for a month leaving the open
--     window, by close_oldest_open_month(), which maps the whole month from
--     its partition's indexes and advances open_from in one transaction.
-- Closing a month takes a SHARE lock on its partition: a writer that already
-- inserted into it is waited for (its rows are then mapped), a writer that
-- comes later waits for the close and then finds the month closed, so its
-- trigger maps its rows. One month per transaction: a writer holds at most
-- the partitions it writes, the close at most one, so neither waits in a cycle.
-- A server that does not close months (no background job) keeps correct
-- histories: months past the open window are mapped by the trigger.

create table oms_audit.month_maps (
  singleton boolean primary key default true check (singleton),
  -- First day (UTC) of the older open month; the newer is the month after it.
  open_from date not null check (extract(day from open_from) = 1)
);

comment on table oms_audit.month_maps is
  'Where the month maps stop: events of the two months from open_from are found by probing those partitions; every other month is in audit_object_months / audit_actor_months.';

-- The months already written are all mapped: last month and this month become the open window.
insert into oms_audit.month_maps (open_from)
values ((date_trunc('month', now() at time zone 'UTC') - interval '1 month')::date);

alter table oms_audit.month_maps enable row level security;
revoke all on oms_audit.month_maps from public, anon, authenticated, service_role;

create or replace function oms_audit.note_event_months() returns trigger
language plpgsql
security definer
set search_path = pg_catalog
as $$
declare
  -- Without the window's row, no month is open: everything is mapped.
  lo date := coalesce((select open_from from oms_audit.month_maps), '-infinity'::date);
  hi date := (lo + interval '2 months')::date;
begin
  -- A whole batch inside the open window (the usual case) maps nothing.
  if not exists (
    select 1 from new_rows
    where occurred_at < lo::timestamp at time zone 'UTC' or occurred_at >= hi::timestamp at time zone 'UTC'
  ) then
    return null;
  end if;
  insert into public.audit_object_months (tenant_id, object_type, object_id, month)
  select distinct tenant_id, object_type, object_id, date_trunc('month', occurred_at at time zone 'UTC')::date
  from new_rows
  where occurred_at < lo::timestamp at time zone 'UTC' or occurred_at >= hi::timestamp at time zone 'UTC'
  on conflict do nothing;
  insert into public.audit_actor_months (tenant_id, actor_id, month)
  select distinct tenant_id, actor_id, date_trunc('month', occurred_at at time zone 'UTC')::date
  from new_rows
  where occurred_at < lo::timestamp at time zone 'UTC' or occurred_at >= hi::timestamp at time zone 'UTC'
  on conflict do nothing;
  return null;
end
$$;
revoke all on function oms_audit.note_event_months() from public;

-- The open months, oldest first (two first days).
create function oms_audit.open_map_months() returns setof date
language sql
stable
security definer
set search_path = pg_catalog
as $$
  select open_from from oms_audit.month_maps
  union all
  select (open_from + interval '1 month')::date from oms_audit.month_maps
$$;
revoke all on function oms_audit.open_map_months() from public;
grant execute on function oms_audit.open_map_months() to authenticated, service_role, oms_audit_runtime;

-- Closes the older open month when it lies before p_keep_from (by default: last
-- month and this month stay open): maps every object and actor of that month
-- from its partition and moves the window one month on. Returns the month
-- closed, or null when there was none to close. Call until it returns null.
create function oms_audit.close_oldest_open_month(
  p_keep_from date default (date_trunc('month', now() at time zone 'UTC') - interval '1 month')::date
) returns date
language plpgsql
security definer
set search_path = pg_catalog
as $$
declare
  m date;
  part text;
begin
  -- One close at a time; the row lock also orders this against another close.
  select open_from into m from oms_audit.month_maps for update;
  if m >= date_trunc('month', p_keep_from)::date then
    return null;
  end if;
  part := 'audit_events_' || to_char(m, 'YYYY_MM');
  if to_regclass('oms_audit.' || part) is not null then
    -- Waits for writers already in the month; later ones wait for this transaction.
    execute format('lock table oms_audit.%I in share mode', part);
    execute format(
      'insert into public.audit_object_months (tenant_id, object_type, object_id, month)
       select distinct tenant_id, object_type, object_id, %L::date from oms_audit.%I
       on conflict do nothing', m, part);
    execute format(
      'insert into public.audit_actor_months (tenant_id, actor_id, month)
       select distinct tenant_id, actor_id, %L::date from oms_audit.%I
       on conflict do nothing', m, part);
  end if;
  update oms_audit.month_maps set open_from = (m + interval '1 month')::date;
  return m;
end
$$;
revoke all on function oms_audit.close_oldest_open_month(date) from public;
grant execute on function oms_audit.close_oldest_open_month(date) to oms_audit_runtime, service_role;
