-- Which UTC months hold each object's and each actor's events, per tenant.
--
-- An object's history (or an actor's activity) without a time range would
-- otherwise probe the object index of every hot month partition. With these
-- maps the read path first asks which months hold the object, then reads only
-- those partitions (plan-time partition pruning).
--
-- Kept by a statement trigger on audit_events, so every way rows arrive (the
-- write path's INSERT, COPY by tooling) keeps the maps complete. The trigger
-- runs as the owner: the runtime role can read the maps but not write, change
-- or delete a row. A row left behind by a month that retention dropped points
-- at a partition that no longer exists and so reads nothing.

create table public.audit_object_months (
  tenant_id uuid not null,
  object_type text collate "C" not null,
  object_id text collate "C" not null,
  month date not null,
  primary key (tenant_id, object_type, object_id, month)
);

create table public.audit_actor_months (
  tenant_id uuid not null,
  actor_id text collate "C" not null,
  month date not null,
  primary key (tenant_id, actor_id, month)
);

comment on table public.audit_object_months is
  'The UTC months (first day) that hold events of each object, per tenant; kept by a trigger on audit_events. Lets an object''s history read only those month partitions.';
comment on table public.audit_actor_months is
  'The UTC months (first day) that hold events of each actor, per tenant; kept by a trigger on audit_events. Lets an actor''s activity read only those month partitions.';

create function oms_audit.note_event_months() returns trigger
language plpgsql
security definer
set search_path = pg_catalog
as $$
begin
  insert into public.audit_object_months (tenant_id, object_type, object_id, month)
  select distinct tenant_id, object_type, object_id, date_trunc('month', occurred_at at time zone 'UTC')::date
  from new_rows
  on conflict do nothing;
  insert into public.audit_actor_months (tenant_id, actor_id, month)
  select distinct tenant_id, actor_id, date_trunc('month', occurred_at at time zone 'UTC')::date
  from new_rows
  on conflict do nothing;
  return null;
end
$$;
revoke all on function oms_audit.note_event_months() from public;

create trigger audit_events_months
  after insert on public.audit_events
  referencing new table as new_rows
  for each statement execute function oms_audit.note_event_months();
-- Fires whatever session_replication_role says: a map that missed rows would hide events from a history.
alter table public.audit_events enable always trigger audit_events_months;

-- Append-only, like the trail they index.
create trigger audit_object_months_append_only
  before update or delete on public.audit_object_months
  for each row execute function oms_audit.refuse_change('audit_object_months');
create trigger audit_object_months_no_truncate
  before truncate on public.audit_object_months
  for each statement execute function oms_audit.refuse_change('audit_object_months');
create trigger audit_actor_months_append_only
  before update or delete on public.audit_actor_months
  for each row execute function oms_audit.refuse_change('audit_actor_months');
create trigger audit_actor_months_no_truncate
  before truncate on public.audit_actor_months
  for each statement execute function oms_audit.refuse_change('audit_actor_months');
alter table public.audit_object_months enable always trigger audit_object_months_append_only;
alter table public.audit_object_months enable always trigger audit_object_months_no_truncate;
alter table public.audit_actor_months enable always trigger audit_actor_months_append_only;
alter table public.audit_actor_months enable always trigger audit_actor_months_no_truncate;

-- The events already stored.
insert into public.audit_object_months (tenant_id, object_type, object_id, month)
select distinct tenant_id, object_type, object_id, date_trunc('month', occurred_at at time zone 'UTC')::date
from public.audit_events
on conflict do nothing;
insert into public.audit_actor_months (tenant_id, actor_id, month)
select distinct tenant_id, actor_id, date_trunc('month', occurred_at at time zone 'UTC')::date
from public.audit_events
on conflict do nothing;

-- Row-level security: a tenant's reads see only its own rows.
alter table public.audit_object_months enable row level security;
alter table public.audit_actor_months enable row level security;
create policy audit_object_months_tenant_select on public.audit_object_months
  for select to authenticated
  using (tenant_id = ((select auth.jwt()) ->> 'tenant_id')::uuid);
create policy audit_actor_months_tenant_select on public.audit_actor_months
  for select to authenticated
  using (tenant_id = ((select auth.jwt()) ->> 'tenant_id')::uuid);
create policy audit_object_months_runtime_select on public.audit_object_months for select to oms_audit_runtime using (true);
create policy audit_actor_months_runtime_select on public.audit_actor_months for select to oms_audit_runtime using (true);

-- Privileges: read only (Supabase grants ALL on new public tables by default); the trigger writes as the owner.
revoke all on public.audit_object_months, public.audit_actor_months from public, anon, authenticated, service_role;
grant select on public.audit_object_months, public.audit_actor_months to authenticated, service_role, oms_audit_runtime;
