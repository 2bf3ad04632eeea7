-- A tenant's events are sealed from its declaration on, enforced at commit (docs/personal-data.md, "Search cost").
--
-- Servers read a tenant's declaration through a short cache, so a server that has not yet noticed a declaration
-- would seal nothing and store the tenant's next events in clear (schema version 2). Searches by a sealed value
-- rely on the opposite: after the declaration an event never holds a personal value, or a reference-like actor id
-- ('pd2:…'), in clear. So:
--
--   - oms_audit.declare_sealing(tenant), called in the declaration's transaction, takes the tenant's sequence lock
--     (the one every insert of events takes, held until commit) and, at the first declaration, records the actor
--     ids of the references' range ('pd2:' up to 'pd2;') that the tenant's events hold in clear, and the tenant's
--     last seq: sealed_from_seq. Every event stored before holds a seq up to it; every event after is sealed.
--   - oms_audit.require_sealing_undeclared(), called by the writer in its transaction after its insert of an
--     unsealed batch (so after it holds the sequence lock, in a new statement, with a new snapshot), raises OA002
--     when the tenant has declared: the batch rolls back, and the writer reads the tenant's settings again, seals
--     the batch and stores it. A declaration that commits before the writer takes the lock is seen by the call; one
--     that takes the lock later waits for the writer's commit and records its events as before the declaration.
--
-- Searches then read the recorded list (with the actor ids outside that range, listed per search) in the same
-- snapshot as the search itself, from the declaration on: no margin of time is needed.
--
-- A server with the runtime role could skip the call, as it could skip require_live_subject_keys; what it stored so
-- is visible from outside: an unsealed event (schema version 2) above sealed_from_seq.

alter table oms_audit.personal_data_settings add column clear_reference_like_actors text[];
alter table oms_audit.personal_data_settings add column sealed_from_seq bigint;

comment on column oms_audit.personal_data_settings.clear_reference_like_actors is
  'Actor ids beginning "pd2:" that events stored before the first declaration hold in clear (none can be stored after). Null: not recorded yet.';
comment on column oms_audit.personal_data_settings.sealed_from_seq is
  'The tenant''s last seq when it first declared: every later event is sealed (schema version 3). Null: declared before this was kept.';

create function oms_audit.declare_sealing(p_tenant uuid) returns void
language plpgsql volatile security definer set search_path = pg_catalog as $$
declare
  s bigint;
begin
  -- The sequence lock: writers of the tenant that hold it commit first; later ones see this declaration.
  select last_seq into s from oms_audit.tenant_sequences where tenant_id = p_tenant for update;
  if not found then
    insert into oms_audit.tenant_sequences (tenant_id) values (p_tenant) on conflict do nothing;
    select last_seq into s from oms_audit.tenant_sequences where tenant_id = p_tenant for update;
  end if;
  -- A new statement, a new snapshot: every event committed before the lock was taken.
  update oms_audit.personal_data_settings
     set clear_reference_like_actors = array(
           select distinct e.actor_id::text from public.audit_events e
            where e.tenant_id = p_tenant and e.actor_id >= 'pd2:' and e.actor_id < 'pd2;' and e.schema_version <> 3
            order by 1),
         sealed_from_seq = s
   where tenant_id = p_tenant and clear_reference_like_actors is null;
end $$;

create function oms_audit.require_sealing_undeclared() returns void
language plpgsql volatile security definer set search_path = pg_catalog as $$
declare
  t uuid := nullif((select auth.jwt()) ->> 'tenant_id', '')::uuid;
begin
  if t is null then
    raise exception 'no tenant_id in request.jwt.claims' using errcode = '42501';
  end if;
  if exists (select 1 from oms_audit.personal_data_settings where tenant_id = t) then
    raise exception 'tenant % declared its personal data before this unsealed batch committed; seal it and store it again', t
      using errcode = 'OA002';
  end if;
end $$;

-- Tenants that declared already: recorded now (their servers seal since they noticed the declaration).
update oms_audit.personal_data_settings p
   set clear_reference_like_actors = array(
         select distinct e.actor_id::text from public.audit_events e
          where e.tenant_id = p.tenant_id and e.actor_id >= 'pd2:' and e.actor_id < 'pd2;' and e.schema_version <> 3
          order by 1)
 where clear_reference_like_actors is null;

revoke all on function oms_audit.declare_sealing(uuid) from public;
revoke all on function oms_audit.require_sealing_undeclared() from public;
grant execute on function oms_audit.require_sealing_undeclared() to authenticated, service_role;

-- The runtime role declares (and changes) settings, but never writes what only declare_sealing records.
do $$ begin
  if exists (select 1 from pg_roles where rolname = 'oms_audit_runtime') then
    revoke insert, update on oms_audit.personal_data_settings from oms_audit_runtime;
    grant insert (tenant_id, human_actor_types, context_paths, outside_retention, updated_at, updated_by, context_paths_throughout),
          update (human_actor_types, context_paths, outside_retention, updated_at, updated_by, context_paths_throughout)
       on oms_audit.personal_data_settings to oms_audit_runtime;
    grant execute on function oms_audit.declare_sealing(uuid) to oms_audit_runtime;
  end if;
end $$;
