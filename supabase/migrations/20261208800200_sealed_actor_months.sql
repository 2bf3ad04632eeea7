-- The actor month map files a sealed actor (schema version 3, docs/personal-data.md) by
-- its envelope's prefix `pd1:<subject ref>:<key id>:` instead of the whole envelope:
-- one row per subject key and month (not one per event, as each envelope is unique), and
-- nothing in the map beyond the keyed pseudonym the envelopes already carry. A search by
-- the actor's id finds the prefixes through the blind index (server/services/personal/search.ts).

create function oms_audit.actor_month_key(p_actor_id text) returns text
language sql immutable parallel safe
set search_path = pg_catalog
as $$
  select case
    when p_actor_id ~ '^pd1:[0-9a-f]{64}:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:[A-Za-z0-9_-]+$'
      then left(p_actor_id, 106)
    else p_actor_id
  end
$$;
revoke all on function oms_audit.actor_month_key(text) from public;

create or replace function oms_audit.note_event_months() returns trigger
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
  select distinct tenant_id, oms_audit.actor_month_key(actor_id), date_trunc('month', occurred_at at time zone 'UTC')::date
  from new_rows
  on conflict do nothing;
  return null;
end
$$;
revoke all on function oms_audit.note_event_months() from public;

-- Sealed events already stored are filed by their prefix too.
insert into public.audit_actor_months (tenant_id, actor_id, month)
select distinct tenant_id, oms_audit.actor_month_key(actor_id), date_trunc('month', occurred_at at time zone 'UTC')::date
from public.audit_events
where schema_version = 3
on conflict do nothing;
