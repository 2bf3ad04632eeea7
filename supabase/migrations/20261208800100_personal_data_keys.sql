-- Personal data under per-subject keys (crypto-shredding, docs/personal-data.md).
-- A tenant that declares its personal data (a row in personal_data_settings) has
-- its new events written under schema version 3: each personal value is sealed
-- (AES-256-GCM) under its data subject's key, and the event hash covers the
-- ciphertext. Destroying a subject's key erases the subject everywhere the
-- ciphertext went (rows, archives, exports, backups) without changing a hash.
--
-- Keys: each subject key is wrapped by its tenant's key, which is wrapped by the
-- master key held outside the database (a file in the data folder, or a KMS). The
-- database therefore holds no key that opens anything by itself.

-- The sealed IP addresses and subject id of version 3 events (their inet columns stay null).
-- A nullable column without a default changes only the catalog: no partition is rewritten.
alter table public.audit_events add column personal jsonb;
alter table public.restored_events add column personal jsonb;
comment on column public.audit_events.personal is
  'Schema version 3 on: {ip_address, observed_ip, subject_id} as sealed envelopes (pd1:…), or null. Covered by the event hash.';

create table oms_audit.personal_data_settings (
  tenant_id uuid primary key references oms_audit.tenants (id),
  human_actor_types text[] not null,
  context_paths text[] not null,
  -- The tenant's policy: personal fields are outside the retention duty, so erasure need not wait for it.
  outside_retention boolean not null default false,
  updated_at timestamptz not null default now(),
  updated_by text not null
);

create table oms_audit.tenant_data_keys (
  tenant_id uuid primary key references oms_audit.tenants (id),
  -- Which master key wraps it (first 16 hex of SHA-256 of the master key): a wrong master key is named at start.
  master_key_id text not null,
  wrapped bytea not null,
  created_at timestamptz not null default now()
);

create table oms_audit.subject_keys (
  key_id uuid primary key,
  tenant_id uuid not null references oms_audit.tenants (id),
  subject_ref text collate "C" not null check (subject_ref ~ '^[0-9a-f]{64}$'),
  -- The subject's data key wrapped by the tenant key; null once destroyed.
  wrapped bytea,
  created_at timestamptz not null default now(),
  erased_at timestamptz,
  erased_by text,
  erasure_event_id uuid,
  check ((wrapped is null) = (erased_at is not null)),
  check (erased_at is null or erased_by is not null)
);
-- One live key per subject; after an erasure a later event about the subject gets a new key.
create unique index subject_keys_live_key on oms_audit.subject_keys (tenant_id, subject_ref) where erased_at is null;
create index subject_keys_subject_idx on oms_audit.subject_keys (tenant_id, subject_ref);

-- A key row never changes except by being destroyed, and a destroyed key never comes back.
create function oms_audit.subject_keys_destroy_only() returns trigger language plpgsql as $$
begin
  if tg_op = 'DELETE' then
    raise exception 'subject keys are destroyed (wrapped set to null), never deleted' using errcode = '42501';
  end if;
  if old.erased_at is not null then
    raise exception 'subject key % was destroyed at %; it cannot change', old.key_id, old.erased_at using errcode = '42501';
  end if;
  if new.wrapped is not null or new.key_id <> old.key_id or new.tenant_id <> old.tenant_id
     or new.subject_ref <> old.subject_ref or new.created_at <> old.created_at then
    raise exception 'a subject key can only be destroyed' using errcode = '42501';
  end if;
  return new;
end $$;
create trigger subject_keys_destroy_only before update or delete on oms_audit.subject_keys
  for each row execute function oms_audit.subject_keys_destroy_only();
alter table oms_audit.subject_keys enable always trigger subject_keys_destroy_only;

create function oms_audit.tenant_data_keys_fixed() returns trigger language plpgsql as $$
begin
  raise exception 'tenant data keys are never changed or deleted' using errcode = '42501';
end $$;
create trigger tenant_data_keys_fixed before update or delete on oms_audit.tenant_data_keys
  for each row execute function oms_audit.tenant_data_keys_fixed();
alter table oms_audit.tenant_data_keys enable always trigger tenant_data_keys_fixed;

-- Destroys every live key of a subject, as the recorded erasure `p_event` says; returns the keys destroyed.
create function oms_audit.destroy_subject_keys(p_tenant uuid, p_subject_ref text, p_by text, p_event uuid)
returns setof uuid language sql security definer set search_path = pg_catalog, oms_audit as $$
  update oms_audit.subject_keys
     set wrapped = null, erased_at = now(), erased_by = p_by, erasure_event_id = p_event
   where tenant_id = p_tenant and subject_ref = p_subject_ref and erased_at is null
  returning key_id
$$;

-- Destroys one key again by its id: an erasure recorded outside the database, re-applied after a restored backup.
create function oms_audit.destroy_subject_key(p_tenant uuid, p_key_id uuid, p_by text, p_event uuid)
returns setof uuid language sql security definer set search_path = pg_catalog, oms_audit as $$
  update oms_audit.subject_keys
     set wrapped = null, erased_at = now(), erased_by = p_by, erasure_event_id = p_event
   where tenant_id = p_tenant and key_id = p_key_id and erased_at is null
  returning key_id
$$;

revoke all on oms_audit.personal_data_settings, oms_audit.tenant_data_keys, oms_audit.subject_keys from public, anon, authenticated;
revoke all on function oms_audit.destroy_subject_keys(uuid, text, text, uuid) from public;
revoke all on function oms_audit.destroy_subject_key(uuid, uuid, text, uuid) from public;

do $$ begin
  if exists (select 1 from pg_roles where rolname = 'oms_audit_runtime') then
    grant select, insert, update on oms_audit.personal_data_settings to oms_audit_runtime;
    -- Wrapped keys are useless without the master key, which never enters the database. The runtime role may add
    -- keys and destroy them (through the function), never change or restore one.
    grant select, insert on oms_audit.tenant_data_keys, oms_audit.subject_keys to oms_audit_runtime;
    grant execute on function oms_audit.destroy_subject_keys(uuid, text, text, uuid) to oms_audit_runtime;
    grant execute on function oms_audit.destroy_subject_key(uuid, uuid, text, uuid) to oms_audit_runtime;
  end if;
end $$;
