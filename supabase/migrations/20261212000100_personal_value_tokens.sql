-- Equality search on sealed personal values (docs/personal-data.md, "Value tokens").
--
-- A sealing tenant's events carry, in the hashed `personal` object, a token of each sealed value (IP addresses,
-- user agent, device fingerprint, observed IP and user agent, subject id, declared context members):
-- HMAC-SHA-256 under a key derived from the subject's data key over [JSON pointer, value]. A search computes the
-- tokens of the value it looks for under each live key that holds it; this table says which keys those are, by
-- the value's index (HMAC under the tenant's index key, never the value). When a key is destroyed its entries are
-- deleted in the same transaction, and its tokens, in rows and archives alike, can no longer be computed by anyone.

create table oms_audit.personal_value_keys (
  tenant_id uuid not null references oms_audit.tenants (id),
  value_index text collate "C" not null check (value_index ~ '^[0-9a-f]{64}$'),
  key_id uuid not null references oms_audit.subject_keys (key_id),
  primary key (tenant_id, value_index, key_id)
);
create index personal_value_keys_key_idx on oms_audit.personal_value_keys (key_id);

-- Adds entries for keys that are live, locking them (FOR SHARE, which a destruction's UPDATE waits for) against a
-- concurrent destruction: one that commits first makes this add none; one that waits deletes these entries after.
create function oms_audit.add_personal_value_keys(p_tenant uuid, p_values text[], p_keys uuid[])
returns void language sql security definer set search_path = pg_catalog, oms_audit as $$
  insert into oms_audit.personal_value_keys (tenant_id, value_index, key_id)
  select p_tenant, v.value_index, v.key_id
    from unnest(p_values, p_keys) as v(value_index, key_id)
   where v.key_id in (select k.key_id from oms_audit.subject_keys k
                       where k.tenant_id = p_tenant and k.key_id = any(p_keys) and k.erased_at is null
                       for share)
  on conflict do nothing
$$;

-- A destroyed key's entries go with it: nothing left in the database links a value to an erased subject.
create function oms_audit.forget_destroyed_key_values() returns trigger language plpgsql
security definer set search_path = pg_catalog, oms_audit as $$
begin
  delete from oms_audit.personal_value_keys where key_id = new.key_id;
  return null;
end $$;
create trigger subject_keys_forget_values after update of erased_at on oms_audit.subject_keys
  for each row when (new.erased_at is not null) execute function oms_audit.forget_destroyed_key_values();
alter table oms_audit.subject_keys enable always trigger subject_keys_forget_values;

-- The tokens of sealed events, for `personal -> 'tokens' ?| array[…]` (only rows that carry tokens are indexed).
create index audit_events_personal_tokens_idx on public.audit_events using gin ((personal -> 'tokens')) where personal ? 'tokens';

revoke all on oms_audit.personal_value_keys from public, anon, authenticated;
revoke all on function oms_audit.add_personal_value_keys(uuid, text[], uuid[]) from public;
revoke all on function oms_audit.forget_destroyed_key_values() from public;

do $$ begin
  if exists (select 1 from pg_roles where rolname = 'oms_audit_runtime') then
    -- Read to search; entries are added through the function (live keys only) and never changed or deleted by it.
    grant select on oms_audit.personal_value_keys to oms_audit_runtime;
    grant execute on function oms_audit.add_personal_value_keys(uuid, text[], uuid[]) to oms_audit_runtime;
  end if;
end $$;
